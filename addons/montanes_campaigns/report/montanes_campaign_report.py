from odoo import fields, models, tools
from odoo.tools import SQL


class MontanesCampaignReport(models.Model):
    """Statistics of each automated campaign, stored as a database view so
    that campaigns can be grouped, compared and charted.

    The counts follow the campaign form: traces of the step mailings (opened
    counts human opens and replies), unsubscriptions, participants converted
    to an opportunity, won, or with a confirmed order of the UTM campaign,
    and the untaxed revenue of those orders.
    """

    _name = "montanes.campaign.report"
    _description = "Automated Campaign Analysis"
    _auto = False
    _order = "date_launched desc, campaign_id desc"
    _rec_name = "campaign_id"

    campaign_id = fields.Many2one(comodel_name="montanes.campaign", string="Campaign", readonly=True)
    company_id = fields.Many2one(comodel_name="res.company", string="Company", readonly=True)
    currency_id = fields.Many2one(comodel_name="res.currency", string="Currency", readonly=True)
    user_id = fields.Many2one(comodel_name="res.users", string="Responsible", readonly=True)
    state = fields.Selection(
        selection=[("draft", "Draft"), ("running", "Running"), ("stopped", "Stopped"), ("done", "Done")],
        string="Status",
        readonly=True,
    )
    trigger_type = fields.Selection(
        selection=lambda self: self.env["montanes.campaign"]._fields["trigger_type"].selection,
        string="Entry Trigger",
        readonly=True,
    )
    target_model = fields.Selection(
        selection=[("crm.lead", "Leads"), ("res.partner", "Contacts")],
        string="Target",
        readonly=True,
    )
    date_launched = fields.Datetime(string="Launched On", readonly=True)

    # Counts
    participant_count = fields.Integer(string="Participants", readonly=True)
    sent_count = fields.Integer(string="Sent", readonly=True)
    delivered_count = fields.Integer(string="Delivered", readonly=True)
    opened_count = fields.Integer(string="Opened", readonly=True)
    machine_open_count = fields.Integer(
        string="Machine Opens",
        readonly=True,
        help="Opens made by mail scanners and privacy proxies, not counted as opened.",
    )
    clicked_count = fields.Integer(string="Clicked", readonly=True)
    replied_count = fields.Integer(string="Replied", readonly=True)
    bounced_count = fields.Integer(string="Bounced", readonly=True)
    unsubscribed_count = fields.Integer(string="Unsubscribed", readonly=True)
    converted_count = fields.Integer(string="Converted", readonly=True)
    revenue = fields.Monetary(string="Revenue", currency_field="currency_id", readonly=True)

    # Rates in percent of the delivered e-mails, or of the participants for
    # conversions. Grouped rows show the mean of the campaign rates.
    open_rate = fields.Float(string="Open Rate (%)", digits=(5, 1), aggregator="avg", readonly=True)
    click_rate = fields.Float(string="Click Rate (%)", digits=(5, 1), aggregator="avg", readonly=True)
    reply_rate = fields.Float(string="Reply Rate (%)", digits=(5, 1), aggregator="avg", readonly=True)
    bounce_rate = fields.Float(
        string="Bounce Rate (%)",
        digits=(5, 1),
        aggregator="avg",
        readonly=True,
        help="Bounced e-mails out of the sent ones.",
    )
    unsubscribe_rate = fields.Float(
        string="Unsubscribe Rate (%)",
        digits=(5, 1),
        aggregator="avg",
        readonly=True,
        help="Unsubscriptions out of the delivered e-mails.",
    )
    conversion_rate = fields.Float(
        string="Conversion Rate (%)",
        digits=(5, 1),
        aggregator="avg",
        readonly=True,
        help="Converted participants out of all participants.",
    )

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(SQL(
            "CREATE OR REPLACE VIEW %s AS (%s)",
            SQL.identifier(self._table),
            self._get_report_query(),
        ))

    def _get_report_query(self):
        """Return the SELECT of the view, one row per campaign."""
        percent = "ROUND(100.0 * %s / NULLIF(%s, 0), 1)"
        return SQL(
            """WITH step_mailing AS (
                    SELECT campaign_id, mailing_id FROM montanes_campaign_step WHERE mailing_id IS NOT NULL
                     UNION ALL
                    SELECT campaign_id, mailing_b_id FROM montanes_campaign_step WHERE mailing_b_id IS NOT NULL
               ), mail_stats AS (
                    SELECT step_mailing.campaign_id,
                           COUNT(trace.sent_datetime) AS sent_count,
                           COUNT(*) FILTER (WHERE trace.trace_status IN ('sent', 'open', 'reply')) AS delivered_count,
                           COUNT(*) FILTER (WHERE trace.trace_status IN ('open', 'reply')) AS opened_count,
                           COALESCE(SUM(trace.montanes_machine_open_count), 0) AS machine_open_count,
                           COUNT(trace.links_click_datetime) AS clicked_count,
                           COUNT(*) FILTER (WHERE trace.trace_status = 'reply') AS replied_count,
                           COUNT(*) FILTER (WHERE trace.trace_status = 'bounce') AS bounced_count
                      FROM step_mailing
                      JOIN mailing_trace trace ON trace.mass_mailing_id = step_mailing.mailing_id
                  GROUP BY step_mailing.campaign_id
               ), optout_stats AS (
                    SELECT campaign_id, COUNT(*) AS unsubscribed_count
                      FROM montanes_campaign_optout
                  GROUP BY campaign_id
               ), %(order_ctes)s,
               participant_stats AS (
                    SELECT participant.campaign_id,
                           COUNT(*) AS participant_count,
                           COUNT(*) FILTER (
                               WHERE lead.type = 'opportunity' OR lead.won_status = 'won'
                                  OR customer.commercial_partner_id IS NOT NULL
                           ) AS converted_count
                      FROM montanes_campaign_participant participant
                      JOIN montanes_campaign campaign ON campaign.id = participant.campaign_id
                 LEFT JOIN crm_lead lead ON lead.id = participant.lead_id
                 LEFT JOIN res_partner partner ON partner.id = COALESCE(lead.partner_id, participant.partner_id)
                 LEFT JOIN order_customer customer
                        ON customer.utm_campaign_id = campaign.utm_campaign_id
                       AND customer.commercial_partner_id = partner.commercial_partner_id
                  GROUP BY participant.campaign_id
               ), stats AS (
                    SELECT campaign.id AS campaign_id,
                           COALESCE(participant_stats.participant_count, 0) AS participant_count,
                           COALESCE(mail_stats.sent_count, 0) AS sent_count,
                           COALESCE(mail_stats.delivered_count, 0) AS delivered_count,
                           COALESCE(mail_stats.opened_count, 0) AS opened_count,
                           COALESCE(mail_stats.machine_open_count, 0) AS machine_open_count,
                           COALESCE(mail_stats.clicked_count, 0) AS clicked_count,
                           COALESCE(mail_stats.replied_count, 0) AS replied_count,
                           COALESCE(mail_stats.bounced_count, 0) AS bounced_count,
                           COALESCE(optout_stats.unsubscribed_count, 0) AS unsubscribed_count,
                           COALESCE(participant_stats.converted_count, 0) AS converted_count,
                           COALESCE(order_revenue.revenue, 0) AS revenue
                      FROM montanes_campaign campaign
                 LEFT JOIN mail_stats ON mail_stats.campaign_id = campaign.id
                 LEFT JOIN optout_stats ON optout_stats.campaign_id = campaign.id
                 LEFT JOIN participant_stats ON participant_stats.campaign_id = campaign.id
                 LEFT JOIN order_revenue ON order_revenue.utm_campaign_id = campaign.utm_campaign_id
               )
               SELECT campaign.id AS id,
                      campaign.id AS campaign_id,
                      campaign.company_id,
                      company.currency_id,
                      utm.user_id,
                      campaign.state,
                      campaign.trigger_type,
                      campaign.target_model,
                      campaign.date_launched,
                      stats.participant_count,
                      stats.sent_count,
                      stats.delivered_count,
                      stats.opened_count,
                      stats.machine_open_count,
                      stats.clicked_count,
                      stats.replied_count,
                      stats.bounced_count,
                      stats.unsubscribed_count,
                      stats.converted_count,
                      stats.revenue,
                      COALESCE(%(open_rate)s, 0) AS open_rate,
                      COALESCE(%(click_rate)s, 0) AS click_rate,
                      COALESCE(%(reply_rate)s, 0) AS reply_rate,
                      COALESCE(%(bounce_rate)s, 0) AS bounce_rate,
                      COALESCE(%(unsubscribe_rate)s, 0) AS unsubscribe_rate,
                      COALESCE(%(conversion_rate)s, 0) AS conversion_rate
                 FROM montanes_campaign campaign
                 JOIN utm_campaign utm ON utm.id = campaign.utm_campaign_id
                 JOIN res_company company ON company.id = campaign.company_id
                 JOIN stats ON stats.campaign_id = campaign.id""",
            order_ctes=self._get_order_ctes(),
            open_rate=SQL(percent % ("stats.opened_count", "stats.delivered_count")),
            click_rate=SQL(percent % ("stats.clicked_count", "stats.delivered_count")),
            reply_rate=SQL(percent % ("stats.replied_count", "stats.delivered_count")),
            bounce_rate=SQL(percent % ("stats.bounced_count", "stats.sent_count")),
            unsubscribe_rate=SQL(percent % ("stats.unsubscribed_count", "stats.delivered_count")),
            conversion_rate=SQL(percent % ("stats.converted_count", "stats.participant_count")),
        )

    def _get_order_ctes(self):
        """Return the order_customer and order_revenue CTEs: the customers and
        untaxed revenue of the confirmed orders of each UTM campaign, or empty
        tables without the Sales app.

        NOTE: the view is built when this module is installed or updated.
        Installing Sales afterwards needs an update of this module before
        the revenue shows.
        """
        if "sale.order" not in self.env:
            return SQL(
                """order_customer AS (
                        SELECT NULL::integer AS utm_campaign_id, NULL::integer AS commercial_partner_id WHERE FALSE
                   ), order_revenue AS (
                        SELECT NULL::integer AS utm_campaign_id, NULL::numeric AS revenue WHERE FALSE
                   )""",
            )
        return SQL(
            """order_customer AS (
                    SELECT DISTINCT sale_order.campaign_id AS utm_campaign_id, customer.commercial_partner_id
                      FROM sale_order
                      JOIN res_partner customer ON customer.id = sale_order.partner_id
                     WHERE sale_order.state = 'sale' AND sale_order.campaign_id IS NOT NULL
               ), order_revenue AS (
                    SELECT campaign_id AS utm_campaign_id, SUM(amount_untaxed) AS revenue
                      FROM sale_order
                     WHERE state = 'sale' AND campaign_id IS NOT NULL
                  GROUP BY campaign_id
               )""",
        )
