from odoo import api, fields, models


class MontanesCampaignOptout(models.Model):
    """Proof of an unsubscription from a campaign e-mail: who, from what,
    when and why."""

    _name = "montanes.campaign.optout"
    _description = "Automated Campaign Unsubscription"
    _order = "date desc, id desc"
    _rec_name = "email_normalized"

    email_normalized = fields.Char(string="E-mail", required=True, index=True, readonly=True)
    campaign_id = fields.Many2one(
        comodel_name="montanes.campaign",
        string="Campaign",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="campaign_id.company_id", store=True)
    participant_id = fields.Many2one(
        comodel_name="montanes.campaign.participant",
        string="Participant",
        ondelete="set null",
        readonly=True,
    )
    scope = fields.Selection(
        selection=[
            ("campaign", "This campaign"),
            ("all", "All e-mails"),
        ],
        string="Unsubscribed From",
        required=True,
        readonly=True,
    )
    reason = fields.Text(string="Reason", readonly=True)
    date = fields.Datetime(string="Date", required=True, readonly=True, default=fields.Datetime.now)

    @api.model
    def _get_opted_out_emails(self, campaign, emails):
        """Return the addresses among emails that unsubscribed from campaign
        or from all campaigns."""
        if not emails:
            return set()
        return set(self.search([
            ("email_normalized", "in", list(emails)),
            "|", ("campaign_id", "=", campaign.id), ("scope", "=", "all"),
        ]).mapped("email_normalized"))
