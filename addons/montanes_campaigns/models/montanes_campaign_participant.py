import secrets

from odoo import api, fields, models
from odoo.tools import SQL

from .montanes_campaign_step import POSITIVE_OUTCOME_TRIGGERS

EXIT_REASONS = [
    ("replied", "Replied"),
    ("meeting", "Booked a meeting"),
    ("won", "Won"),
    ("lost", "Lost"),
    ("unsubscribed", "Unsubscribed"),
    ("bounced", "Bounced"),
    ("segment", "Left the segment"),
    ("archived", "Record archived or deleted"),
    ("exit_step", "Reached an exit step"),
    ("closed", "Campaign closed"),
]


class MontanesCampaignParticipant(models.Model):
    """One person (one e-mail address) going through a campaign.

    The participant is the record the step mailings are sent to: each step
    mailing traces participants, not leads, so a lead or contact whose
    e-mail field holds two addresses gets one participant, and one e-mail,
    per address. The lead or contact stays reachable through lead_id and
    partner_id for placeholders and actions.
    """

    _name = "montanes.campaign.participant"
    _description = "Automated Campaign Participant"
    _inherit = ["mail.thread"]
    _order = "date_enrolled desc, id desc"
    _rec_name = "email_normalized"
    _check_company_auto = True
    _mailing_enabled = True
    _primary_email = "email_normalized"

    campaign_id = fields.Many2one(
        comodel_name="montanes.campaign",
        string="Campaign",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(
        related="campaign_id.company_id",
        store=True,
        index=True,
    )
    lead_id = fields.Many2one(
        comodel_name="crm.lead",
        string="Lead",
        ondelete="cascade",
        index="btree_not_null",
    )
    partner_id = fields.Many2one(
        comodel_name="res.partner",
        string="Contact",
        ondelete="cascade",
        index="btree_not_null",
    )
    email_normalized = fields.Char(
        string="Normalized E-mail",
        required=True,
        help="The one address this participant is mailed at. A lead whose "
        "e-mail field holds several addresses gets one participant per address.",
    )
    entry_number = fields.Integer(
        string="Entry",
        default=1,
        required=True,
        help="1 for the first participation of this address in the campaign, "
        "2 for the first re-entry, and so on.",
    )
    state = fields.Selection(
        selection=[
            ("running", "Running"),
            ("completed", "Completed"),
            ("exited", "Exited"),
        ],
        string="Status",
        default="running",
        required=True,
        index=True,
    )
    exit_reason = fields.Selection(selection=EXIT_REASONS, string="Exit Reason", readonly=True)
    date_exit = fields.Datetime(string="Exited On", readonly=True)
    left_segment = fields.Boolean(
        string="Left the Segment",
        readonly=True,
        help="Set when the record stopped matching the segment after this "
        "participation ended. Only then may the address enter again, when the "
        "campaign allows re-entry.",
    )
    date_enrolled = fields.Datetime(
        string="Enrolled On",
        required=True,
        default=fields.Datetime.now,
    )
    access_token = fields.Char(
        string="Unsubscribe Token",
        copy=False,
        groups="base.group_system",
        default=lambda self: secrets.token_urlsafe(24),
    )
    trace_ids = fields.One2many(
        comodel_name="montanes.campaign.trace",
        inverse_name="participant_id",
        string="Step Activities",
    )

    # Values for the e-mail placeholders: "object" is the participant.
    contact_name = fields.Char(string="Contact Name", compute="_compute_placeholder_values")
    partner_name = fields.Char(string="Company Name", compute="_compute_placeholder_values")
    product_interest = fields.Char(string="Product of Interest", compute="_compute_placeholder_values")
    user_id = fields.Many2one(
        comodel_name="res.users",
        string="Salesperson",
        compute="_compute_placeholder_values",
    )
    tz = fields.Char(string="Time Zone", compute="_compute_placeholder_values")

    # Two workers that enrol the same segment at once would insert the same
    # rows, so this index makes the second insert fail instead of adding a
    # duplicate participant.
    _campaign_email_entry_unique = models.UniqueIndex(
        "(campaign_id, email_normalized, entry_number)",
        "An e-mail address can only be enrolled once in a campaign (per entry).",
    )

    def init(self):
        # One e-mail per step mailing and participant, whatever worker sends
        # it: a second trace for the same pair fails in the database.
        self.env.cr.execute(SQL(
            """CREATE UNIQUE INDEX IF NOT EXISTS montanes_campaign_mailing_trace_unique
                   ON mailing_trace (mass_mailing_id, res_id)
                WHERE model = %s AND mass_mailing_id IS NOT NULL""",
            self._name,
        ))

    @api.depends("lead_id", "partner_id")
    def _compute_placeholder_values(self):
        for participant in self:
            lead = participant.lead_id
            partner = participant.partner_id or lead.partner_id
            if lead:
                participant.contact_name = lead.contact_name or partner.name or False
                participant.partner_name = lead.partner_name or partner.commercial_company_name or False
                participant.product_interest = lead["montanes_product_interest"] or False
                participant.user_id = lead.user_id
            else:
                participant.contact_name = partner.name
                participant.partner_name = partner.commercial_company_name or False
                participant.product_interest = False
                participant.user_id = partner.user_id
            participant.tz = partner.tz or participant.campaign_id.timezone or "Europe/Madrid"

    def _get_record(self):
        """Return the lead, or the contact for contact campaigns."""
        self.ensure_one()
        return self.lead_id or self.partner_id

    def _mail_get_partner_fields(self, introspect_fields=False):
        # Mail only the participant's own address, never the partner's
        # e-mail field, which may hold several addresses.
        return []

    def _message_get_default_recipients(self, with_cc=False, all_tos=False):
        return {
            participant.id: {
                "email_cc": False,
                "email_to": participant.email_normalized,
                "partner_ids": [],
            }
            for participant in self
        }

    def _exit(self, reason):
        """Move the participants out of the campaign and cancel their
        pending steps, keeping the reason. Completed participants exit too,
        so that a late outcome no longer starts a branch for them."""
        running = self.filtered(lambda participant: participant.state != "exited")
        if not running:
            return running
        running.write({"state": "exited", "exit_reason": reason, "date_exit": fields.Datetime.now()})
        reason_label = dict(self._fields["exit_reason"]._description_selection(self.env))[reason]
        running.trace_ids.filtered(lambda trace: trace.state == "scheduled").write({
            "state": "canceled",
            "state_msg": self.env._("Participant exited: %(reason)s", reason=reason_label),
        })
        return running

    def _complete_finished(self, now=None):
        """Mark as completed the running participants with no step left to run.

        A participant keeps running while an outcome branch of one of its
        e-mails (opened, clicked, replied, bounced) may still start: its time
        limit has not passed, or it has none, and the opposite branch did not
        run. Otherwise the branch would start after the completion.
        """
        running = self.filtered(lambda participant: participant.state == "running")
        if not running:
            return
        self.env["montanes.campaign.trace"].flush_model()
        pending = {
            participant.id
            for participant, in self.env["montanes.campaign.trace"].sudo()._read_group(
                [("participant_id", "in", running.ids), ("state", "=", "scheduled")], ["participant_id"],
            )
        }
        finished = running.filtered(lambda participant: participant.id not in pending)
        if any(step.trigger_type in POSITIVE_OUTCOME_TRIGGERS for step in finished.campaign_id.step_ids):
            finished -= finished._filter_open_branch(now or fields.Datetime.now())
        finished.state = "completed"

    def _filter_open_branch(self, now):
        """Return the participants that have an outcome branch that may still start."""
        if not self:
            return self
        self.env["montanes.campaign.trace"].flush_model()
        self.env["montanes.campaign.step"].flush_model()
        self.env.cr.execute(SQL(
            """SELECT participant.id FROM montanes_campaign_participant participant
                WHERE participant.id = ANY(%s) AND %s""",
            self.ids, self._get_open_branch_condition(now),
        ))
        return self.browse([row[0] for row in self.env.cr.fetchall()])

    @api.model
    def _complete_expired_branches(self, now):
        """Complete the running participants of running campaigns that have
        nothing scheduled and whose outcome branches can no longer start."""
        self.env["montanes.campaign.trace"].flush_model()
        self.env["montanes.campaign.step"].flush_model()
        self.flush_model()
        # Raw SQL: one UPDATE checks every waiting participant of the running campaigns.
        self.env.cr.execute(SQL(
            """UPDATE montanes_campaign_participant participant
                  SET state = 'completed', write_date = %(write_date)s, write_uid = %(uid)s
                WHERE participant.state = 'running'
                  AND participant.campaign_id IN (SELECT id FROM montanes_campaign WHERE state = 'running')
                  AND NOT EXISTS (
                      SELECT 1 FROM montanes_campaign_trace scheduled
                       WHERE scheduled.participant_id = participant.id AND scheduled.state = 'scheduled')
                  AND NOT %(open_branch)s
            RETURNING participant.id""",
            write_date=fields.Datetime.now(),
            uid=self.env.uid,
            open_branch=self._get_open_branch_condition(now),
        ))
        completed = self.browse([row[0] for row in self.env.cr.fetchall()])
        completed.invalidate_recordset(["state", "write_date", "write_uid"])
        return completed

    @api.model
    def _get_open_branch_condition(self, now):
        """Return the SQL condition, on the alias participant, that an
        outcome branch of one of its e-mails may still start."""
        return SQL(
            """EXISTS (
                      SELECT 1
                        FROM montanes_campaign_trace activity
                        JOIN montanes_campaign_step child ON child.parent_id = activity.step_id
                       WHERE activity.participant_id = participant.id
                         AND activity.state = 'processed'
                         AND activity.mailing_trace_id IS NOT NULL
                         AND child.trigger_type IN ('opened', 'clicked', 'replied', 'bounced')
                         AND (child.delay_value = 0
                              OR activity.date_done + (child.delay_value || ' ' || child.delay_unit)::interval
                                 >= %(now)s)
                         AND NOT EXISTS (
                             SELECT 1 FROM montanes_campaign_trace started
                              WHERE started.parent_id = activity.id AND started.step_id = child.id)
                         AND NOT EXISTS (
                             SELECT 1 FROM montanes_campaign_trace opposite
                               JOIN montanes_campaign_step opposite_step ON opposite_step.id = opposite.step_id
                              WHERE opposite.parent_id = activity.id
                                AND opposite.state = 'processed'
                                AND opposite_step.trigger_type = 'not_' || child.trigger_type))""",
            now=now,
        )

    def _unsubscribe(self, scope, reason):
        """Record the unsubscription of this participant from its campaign
        (scope 'campaign') or from every e-mail (scope 'all', which also
        blacklists the address), with the reason, as proof.

        An address that unsubscribes twice keeps both records."""
        self.ensure_one()
        reason = (reason or "").strip()[:2000]
        optout = self.env["montanes.campaign.optout"].sudo().create({
            "email_normalized": self.email_normalized,
            "campaign_id": self.campaign_id.id,
            "participant_id": self.id,
            "scope": scope,
            "reason": reason or False,
        })
        if scope == "all":
            self.env["mail.blacklist"].sudo()._add(
                self.email_normalized,
                message=self.env._("Unsubscribed from all e-mails through the campaign %(campaign)s: %(reason)s",
                                   campaign=self.campaign_id.name, reason=reason or "-"),
            )
        if self.lead_id:
            self.lead_id.sudo()._montanes_register_event(
                "unsubscribe", f"montanes.campaign.optout,{optout.id}", description=reason or False,
            )
        if self.campaign_id.exit_on_unsubscribe:
            self._exit("unsubscribed")

    def _get_unsubscribe_url(self):
        self.ensure_one()
        return f"{self.get_base_url()}/montanes_campaigns/unsubscribe/{self.id}/{self.sudo().access_token}"
