import logging
import time
from ast import literal_eval
from collections import defaultdict

import psycopg2

from odoo import api, fields, models, modules
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import is_html_empty

_logger = logging.getLogger(__name__)

# Maximum number of participants mailed by one step in one batch. Each batch
# is committed before the next one starts, so a worker killed mid-run leaves
# at most one batch unfinished (see _send_step).
PROCESS_BATCH_SIZE = 500


class MontanesCampaign(models.Model):
    """Multi-step e-mail campaign sent to a segment of CRM leads.

    Each campaign is a UTM campaign (delegation inheritance), so every step
    mailing, link tracker and lead created from a reply is attributed to it.
    """

    _name = "montanes.campaign"
    _description = "Automated Campaign"
    _inherits = {"utm.campaign": "utm_campaign_id"}
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    utm_campaign_id = fields.Many2one(
        comodel_name="utm.campaign",
        string="UTM Campaign",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(
        comodel_name="res.company",
        string="Company",
        required=True,
        default=lambda self: self.env.company,
        index=True,
    )
    state = fields.Selection(
        selection=[
            ("draft", "Draft"),
            ("running", "Running"),
            ("stopped", "Stopped"),
            ("done", "Done"),
        ],
        string="Status",
        default="draft",
        required=True,
        copy=False,
        tracking=True,
        index=True,
    )
    date_launched = fields.Datetime(string="Launched On", copy=False, readonly=True)

    # Segment
    segment_domain = fields.Char(
        string="Segment",
        default="[]",
        required=True,
        help="Filter on leads. Matching leads that have a valid e-mail address "
        "are enrolled at launch and at every run while the campaign is running.",
    )
    segment_lead_count = fields.Integer(
        string="Matching Leads",
        compute="_compute_segment_lead_count",
    )

    # Steps and participants
    step_ids = fields.One2many(
        comodel_name="montanes.campaign.step",
        inverse_name="campaign_id",
        string="Steps",
        copy=True,
    )
    participant_ids = fields.One2many(
        comodel_name="montanes.campaign.participant",
        inverse_name="campaign_id",
        string="Participants",
        copy=False,
    )

    # Statistics
    participant_count = fields.Integer(
        string="Number of Participants", compute="_compute_participant_count",
    )
    sent_count = fields.Integer(string="Sent", compute="_compute_statistics")
    opened_count = fields.Integer(string="Opened", compute="_compute_statistics")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    replied_count = fields.Integer(string="Replied", compute="_compute_statistics")

    # ------------------------------------------------------------
    # COMPUTES AND CONSTRAINTS
    # ------------------------------------------------------------

    @api.depends("segment_domain", "company_id")
    @api.depends_context("uid")
    def _compute_segment_lead_count(self):
        """Count the matching leads that the current user can read.

        Enrolment reads every lead of the company as superuser, but the count
        runs as the user: a sudo count would let anyone who can edit a segment
        test values of records they cannot read.
        """
        for campaign in self:
            try:
                domain = campaign._get_enrolment_domain()
                with self.env.cr.savepoint():
                    campaign.segment_lead_count = self.env["crm.lead"].search_count(domain)
            except (ValidationError, AccessError, ValueError, TypeError, psycopg2.DataError):
                campaign.segment_lead_count = 0

    @api.depends("participant_ids")
    def _compute_participant_count(self):
        counts = dict(self.env["montanes.campaign.participant"]._read_group(
            [("campaign_id", "in", self.ids)], ["campaign_id"], ["__count"],
        ))
        for campaign in self:
            campaign.participant_count = counts.get(campaign._origin, 0)

    @api.depends("step_ids.mailing_id")
    def _compute_statistics(self):
        """Sum the trace counts of every step mailing of the campaign."""
        totals = defaultdict(lambda: defaultdict(int))
        mailings = self.step_ids.mailing_id
        if mailings:
            # sudo: salesmen read the campaigns but have no access to traces.
            trace_groups = self.env["mailing.trace"].sudo()._read_group(
                [("mass_mailing_id", "in", mailings.ids)],
                ["mass_mailing_id", "trace_status"],
                ["__count", "sent_datetime:count", "links_click_datetime:count"],
            )
            campaign_by_mailing = {step.mailing_id: step.campaign_id for step in self.step_ids}
            for mailing, status, count, sent, clicked in trace_groups:
                counts = totals[campaign_by_mailing[mailing].id]
                counts[status] += count
                counts["sent_datetime"] += sent
                counts["links_click_datetime"] += clicked
        for campaign in self:
            counts = totals[campaign._origin.id]
            campaign.sent_count = counts["sent_datetime"]
            campaign.opened_count = counts["open"] + counts["reply"]
            campaign.clicked_count = counts["links_click_datetime"]
            campaign.replied_count = counts["reply"]

    @api.constrains("segment_domain")
    def _check_segment_domain(self):
        """Check that the segment is a valid, non-empty domain on leads."""
        for campaign in self:
            if campaign._get_segment_domain().is_true():
                raise ValidationError(self.env._(
                    "The segment of the campaign %(campaign)s is empty, so it would "
                    "enrol every lead. Add at least one condition with the filter editor.",
                    campaign=campaign.name,
                ))

    @api.model
    def _check_segment_searchable(self, segment_text, campaign_name):
        """Run each condition of a segment as the current user.

        Enrolment evaluates the segment as superuser, so only a segment its
        author can evaluate is saved. Otherwise the enrolled leads would reveal
        values of records the author cannot read. Constraints run as superuser,
        so create() and write() call this check before saving. A segment that
        does not parse is left to _check_segment_domain.
        """
        unsearchable = self.env["crm.lead"]._montanes_find_unsearchable_condition(segment_text)
        if unsearchable:
            field_path, error_text = unsearchable
            raise ValidationError(self.env._(
                "The segment of the campaign %(campaign)s cannot filter on %(field)s: "
                "%(error)s Remove this condition or ask an administrator to "
                "write the segment.",
                campaign=campaign_name,
                field=field_path,
                error=error_text,
            ))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "segment_domain" in vals:
                self._check_segment_searchable(vals["segment_domain"], vals.get("name"))
        return super().create(vals_list)

    def write(self, vals):
        if "segment_domain" in vals and self:
            campaign_names = vals.get("name") or ", ".join(self.mapped("name"))
            self._check_segment_searchable(vals["segment_domain"], campaign_names)
        # The UTM campaign displays its title: keep it equal to the name.
        if "name" in vals and "title" not in vals:
            vals = dict(vals, title=vals["name"])
        return super().write(vals)

    @api.ondelete(at_uninstall=False)
    def _unlink_except_running(self):
        running = self.filtered(lambda campaign: campaign.state == "running")
        if running:
            raise UserError(self.env._(
                "The campaign %(campaign)s is running and cannot be deleted. "
                "Stop it first.",
                campaign=running[0].name,
            ))

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_launch(self):
        """Check the steps, enrol the segment and start sending.

        The first step goes out at the next run of the processing cron,
        which is triggered at once."""
        for campaign in self:
            if campaign.state not in ("draft", "stopped"):
                raise UserError(self.env._(
                    "The campaign %(campaign)s cannot be launched from the status "
                    "%(state)s. Only draft and stopped campaigns can be launched.",
                    campaign=campaign.name,
                    state=dict(self._fields["state"]._description_selection(self.env))[campaign.state],
                ))
            campaign._check_steps_ready()
        self._lock_for_processing()
        self.filtered(lambda campaign: not campaign.date_launched).date_launched = fields.Datetime.now()
        self.state = "running"
        for campaign in self:
            campaign._enrol_participants()
        self.env.ref("montanes_campaigns.ir_cron_montanes_campaign_process")._trigger()
        return True

    def action_stop(self):
        """Pause the sending. Launching again resumes where it stopped."""
        running = self.filtered(lambda campaign: campaign.state == "running")
        running._lock_for_processing()
        running.state = "stopped"
        return True

    def action_close(self):
        """End a stopped campaign: its running participants exit it."""
        for campaign in self:
            if campaign.state != "stopped":
                raise UserError(self.env._(
                    "Only a stopped campaign can be closed. Stop the campaign "
                    "%(campaign)s first.",
                    campaign=campaign.name,
                ))
        self.participant_ids.filtered(lambda participant: participant.state == "running").state = "exited"
        self.state = "done"
        return True

    def action_view_participants(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "montanes_campaigns.action_montanes_campaign_participant",
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        action["context"] = {"default_campaign_id": self.id}
        return action

    def action_view_sent(self):
        return self._action_view_traces([("sent_datetime", "!=", False)])

    def action_view_opened(self):
        return self._action_view_traces([("trace_status", "in", ("open", "reply"))])

    def action_view_clicked(self):
        return self._action_view_traces([("links_click_datetime", "!=", False)])

    def action_view_replied(self):
        return self._action_view_traces([("trace_status", "=", "reply")])

    def _action_view_traces(self, trace_domain):
        """Open the mailing traces of the campaign steps that match trace_domain."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mass_mailing.mailing_trace_action",
        )
        action["domain"] = [("mass_mailing_id", "in", self.step_ids.mailing_id.ids), *trace_domain]
        action["context"] = {}
        return action

    # ------------------------------------------------------------
    # PROCESSING
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        """Process every running campaign, one campaign per commit."""
        started = time.monotonic()
        campaigns = self.search([("state", "=", "running")])
        sent_count = 0
        for done, campaign in enumerate(campaigns, start=1):
            sent_count += campaign._process_steps()
            remaining_time = self._commit_batch(processed=1, remaining=len(campaigns) - done)
            if remaining_time <= 0:
                break
        _logger.info(
            "Automated campaigns: %s campaigns processed, %s e-mails queued in %.2fs",
            len(campaigns), sent_count, time.monotonic() - started,
        )

    def _process_steps(self):
        """Enrol the new leads of each running campaign, then send every step
        to the participants that are due for it.

        A participant is due for a step when the previous step (or the
        enrolment, for the first step) happened at least the step delay ago.
        The campaign row is locked while it is processed, so two workers never
        send the same batch, and leads that already have a trace for the step
        mailing are never mailed again.

        :return: number of participants the steps were sent to
        """
        sent_count = 0
        for campaign in self:
            if campaign.state != "running":
                continue
            if not campaign.try_lock_for_update():
                _logger.info("Automated campaign %s is locked by another worker, skipped", campaign.id)
                continue
            sent_count += campaign._send_due_steps()
        return sent_count

    def _send_due_steps(self):
        """Enrol the new leads of the locked campaign and send its due steps,
        one batch of participants at a time.

        :return: number of leads the steps were sent to
        """
        self.ensure_one()
        self._enrol_participants()
        sent_count = 0
        previous_step = self.env["montanes.campaign.step"]
        for step in self.step_ids:
            while participants := self._get_due_participants(step, previous_step):
                sent_count += self._send_step(step, participants)

                # The commit releases the row lock. Stop when the cron run is
                # out of time, when another worker took the campaign, or when
                # a user stopped it in between.
                remaining_time = self._commit_batch()
                if remaining_time <= 0 or not self.try_lock_for_update():
                    return sent_count
                self.invalidate_recordset(["state"])
                if self.state != "running":
                    return sent_count
            previous_step = step
        return sent_count

    def _enrol_participants(self):
        """Create a participant for each lead of the segment that has a valid
        e-mail address not enrolled yet. Among leads that share an address,
        the oldest lead is enrolled.

        The segment is evaluated as superuser, as the processing cron does:
        a marketing user targets every lead of the campaign company, not only
        the leads the CRM record rules let them read."""
        self.ensure_one()
        self.check_access("write")
        Participant = self.env["montanes.campaign.participant"].sudo()
        new_leads = self.env["crm.lead"].sudo().search(
            Domain.AND([
                self._get_enrolment_domain(),
                [("montanes_campaign_participant_ids", "not any", [("campaign_id", "=", self.id)])],
            ]),
            order="id",
        )
        if not new_leads:
            return Participant
        enrolled_emails = set(Participant.search([
            ("campaign_id", "=", self.id),
            ("email_normalized", "in", new_leads.mapped("email_normalized")),
        ]).mapped("email_normalized"))
        now = fields.Datetime.now()
        vals_list = []
        for lead in new_leads:
            if lead.email_normalized in enrolled_emails:
                continue
            enrolled_emails.add(lead.email_normalized)
            vals_list.append({
                "campaign_id": self.id,
                "lead_id": lead.id,
                "email_normalized": lead.email_normalized,
                "date_enrolled": now,
            })
        return Participant.create(vals_list)

    def _get_due_participants(self, step, previous_step):
        """Return the running participants that are due for step, at most
        PROCESS_BATCH_SIZE of them. previous_step is the step before step, or
        an empty recordset for the first step."""
        self.ensure_one()
        date_limit = fields.Datetime.now() - step._get_delay()
        if previous_step:
            date_domain = [("last_step_id", "=", previous_step.id), ("date_last_step", "<=", date_limit)]
        else:
            date_domain = [("last_step_id", "=", False), ("date_enrolled", "<=", date_limit)]
        return self.env["montanes.campaign.participant"].search(
            Domain.AND([
                [("campaign_id", "=", self.id), ("state", "=", "running")],
                date_domain,
            ]),
            order="id",
            limit=PROCESS_BATCH_SIZE,
        )

    def _send_step(self, step, participants):
        """Send step to participants and move them past it.

        Participants are moved past the step before the mailing is sent. The
        mailing commits its e-mails by batches outside tests, and each commit
        then also records that the participants were handled, so a worker that
        takes over never mails them twice.

        NOTE: the other side of this order is that when a worker dies after
        the first commit of the mailing, the rest of the batch is marked as
        sent without an e-mail, and those participants miss this step.

        :return: number of leads the step mailing was sent to
        """
        self.ensure_one()
        mailing = step._get_or_create_mailing()

        # 1. Participants whose lead was archived leave the campaign.
        archived = participants.filtered(lambda participant: not participant.lead_id.active)
        archived.state = "exited"
        participants -= archived

        # 2. Leads already traced by the step mailing are not mailed again.
        traced_lead_ids = set(self.env["mailing.trace"].search([
            ("mass_mailing_id", "=", mailing.id),
            ("model", "=", "crm.lead"),
            ("res_id", "in", participants.lead_id.ids),
        ]).mapped("res_id"))
        lead_ids_to_mail = [
            participant.lead_id.id
            for participant in participants
            if participant.lead_id.id not in traced_lead_ids
        ]

        # 3. Move the participants past the step, then send it.
        participants.write({"last_step_id": step.id, "date_last_step": fields.Datetime.now()})
        if step == self.step_ids[-1]:
            participants.state = "completed"
        if lead_ids_to_mail:
            mailing.action_send_mail(res_ids=lead_ids_to_mail)
        return len(lead_ids_to_mail)

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_segment_domain(self):
        """Return the segment as a Domain, or raise a ValidationError that
        names the campaign when it is not a valid domain on leads."""
        self.ensure_one()
        try:
            domain = Domain(literal_eval(self.segment_domain or "[]"))
            domain.validate(self.env["crm.lead"])
        except (SyntaxError, ValueError, TypeError, KeyError) as error:
            raise ValidationError(self.env._(
                "The segment of the campaign %(campaign)s is not a valid filter on "
                "leads: %(domain)s (%(error)s). Rebuild it with the filter editor.",
                campaign=self.name,
                domain=self.segment_domain,
                error=error,
            )) from None
        return domain

    def _get_enrolment_domain(self):
        """Return the domain of the leads to enrol: the segment, restricted to
        leads of the campaign company that have a valid e-mail address."""
        self.ensure_one()
        return Domain.AND([
            self._get_segment_domain(),
            [
                ("email_normalized", "!=", False),
                ("company_id", "in", [False, self.company_id.id]),
            ],
        ])

    def _check_steps_ready(self):
        """Raise a UserError when the campaign has no step or a step misses
        its subject or body."""
        self.ensure_one()
        if not self.step_ids:
            raise UserError(self.env._(
                "The campaign %(campaign)s has no step. Add at least one e-mail step "
                "before launching it.",
                campaign=self.name,
            ))
        for step in self.step_ids:
            if not step.subject or is_html_empty(step.body_html):
                raise UserError(self.env._(
                    "The step %(step)s of the campaign %(campaign)s has no subject or no "
                    "body. Write both before launching the campaign.",
                    step=step.name,
                    campaign=self.name,
                ))

    def _lock_for_processing(self):
        """Lock the campaign rows, or raise a UserError when a worker is
        processing one of them."""
        locked = self.try_lock_for_update()
        if locked != self:
            raise UserError(self.env._(
                "The campaign %(campaign)s is being processed right now. Try again "
                "in a few minutes.",
                campaign=(self - locked)[0].name,
            ))

    def _commit_batch(self, processed=0, remaining=None):
        """Commit through ir.cron progress, except in tests, where commits are
        not allowed.

        :return: remaining time of the cron run in seconds (infinite outside a cron)
        """
        if modules.module.current_test:
            return float("inf")
        return self.env["ir.cron"]._commit_progress(processed, remaining=remaining)
