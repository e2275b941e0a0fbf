import logging
import secrets
import time
from collections import defaultdict

import psycopg2
from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, modules
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.fields import Domain
from odoo.tools import SQL, email_normalize_all, is_html_empty, ormcache

from .domain_check import describe_unsearchable_path, parse_domain
from .send_window import format_hour, next_allowed_datetime

_logger = logging.getLogger(__name__)

# Triggers whose records are enrolled by the processing cron; the others
# enrol a lead when its event happens.
ENROL_ON_SCHEDULE = ("segment", "license_renewal")
# Participants inserted per statement at enrolment.
ENROL_BATCH_SIZE = 1000
WEEKDAY_FIELDS = (
    "window_monday", "window_tuesday", "window_wednesday", "window_thursday",
    "window_friday", "window_saturday", "window_sunday",
)


class MontanesCampaign(models.Model):
    """Automated e-mail flow for a segment of leads or contacts.

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
        help="Filter on the target records. Matching records that have a valid "
        "e-mail address are enrolled at launch and at every run while the "
        "campaign is running, and the filter is checked again before every step.",
    )
    segment_filter_id = fields.Many2one(
        comodel_name="ir.filters",
        string="Saved Filter",
        domain="[('model_id', '=', target_model)]",
        help="Favorite filter whose domain is copied into the segment. The "
        "segment stays editable afterwards.",
    )
    segment_lead_count = fields.Integer(
        string="Matching Leads",
        compute="_compute_segment_lead_count",
    )

    target_model = fields.Selection(
        selection=[
            ("crm.lead", "Leads"),
            ("res.partner", "Contacts"),
        ],
        string="Target",
        default="crm.lead",
        required=True,
        help="Records the segment filters and the participants come from.",
    )
    allow_reentry = fields.Boolean(
        string="Allow Re-entry",
        help="Let an address that completed or left the campaign enter it "
        "again. With the segment trigger it must have left the segment first.",
    )

    # Entry trigger
    trigger_type = fields.Selection(
        selection=[
            ("segment", "Enters the segment"),
            ("lead_created", "Lead created"),
            ("stage", "Stage changed"),
            ("band", "Score band reached"),
            ("tag", "Tag added"),
            ("info_request", "Information request received"),
            ("license_renewal", "Licence ends soon"),
        ],
        string="Entry Trigger",
        default="segment",
        required=True,
        help="What enrols a record. With 'Enters the segment' every run enrols "
        "the new matching records; the other triggers enrol a lead when the "
        "event happens, if it matches the segment.",
    )
    trigger_stage_id = fields.Many2one(comodel_name="crm.stage", string="Trigger Stage")
    trigger_tag_id = fields.Many2one(comodel_name="crm.tag", string="Trigger Tag")
    renewal_days_before = fields.Integer(
        string="Days Before Licence End",
        default=30,
        help="Contacts enter this many days before one of their licences ends. "
        "The licence end dates come from the licence inventory module; "
        "without it nobody enters.",
    )
    trigger_band_code = fields.Char(
        string="Trigger Band",
        help="Code of the lead scoring band that enrols a lead when reached, "
        "e.g. hot.",
    )

    # Goals and exits
    exit_on_reply = fields.Boolean(string="Exit on Reply", default=True)
    exit_on_meeting = fields.Boolean(string="Exit on Meeting", default=True)
    exit_on_won = fields.Boolean(string="Exit when Won", default=True)
    exit_on_lost = fields.Boolean(string="Exit when Lost", default=True)
    exit_on_unsubscribe = fields.Boolean(string="Exit on Unsubscribe", default=True)
    exit_on_bounce = fields.Boolean(string="Exit on Bounce", default=True)
    exit_on_segment_leave = fields.Boolean(string="Exit when Leaving the Segment", default=True)

    # Send window
    window_enabled = fields.Boolean(
        string="Send Window",
        help="Send e-mails only on the chosen days and hours, in the time "
        "zone of each recipient.",
    )
    window_monday = fields.Boolean(string="Monday", default=True)
    window_tuesday = fields.Boolean(string="Tuesday", default=True)
    window_wednesday = fields.Boolean(string="Wednesday", default=True)
    window_thursday = fields.Boolean(string="Thursday", default=True)
    window_friday = fields.Boolean(string="Friday", default=True)
    window_saturday = fields.Boolean(string="Saturday")
    window_sunday = fields.Boolean(string="Sunday")
    window_hour_from = fields.Float(string="From", default=9.0, help="First allowed hour, local time.")
    window_hour_to = fields.Float(string="To", default=19.0, help="End of the allowed hours, local time.")
    timezone = fields.Selection(
        selection="_tz_get",
        string="Default Time Zone",
        default="Europe/Madrid",
        required=True,
        help="Time zone of recipients whose contact has none.",
    )
    holiday_ids = fields.Many2many(
        comodel_name="montanes.campaign.holiday",
        string="Holidays",
        help="Days on which no e-mail is sent.",
    )
    reply_to = fields.Char(
        string="Reply To",
        help="Address the replies go to. Empty: the company catchall.",
    )
    weekly_cap = fields.Integer(
        related="company_id.montanes_campaign_weekly_cap",
        readonly=False,
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
    delivered_count = fields.Integer(string="Delivered", compute="_compute_statistics")
    opened_count = fields.Integer(string="Opened", compute="_compute_statistics")
    machine_open_count = fields.Integer(string="Machine Opens", compute="_compute_statistics")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    replied_count = fields.Integer(string="Replied", compute="_compute_statistics")
    bounced_count = fields.Integer(string="Bounced", compute="_compute_statistics")
    unsubscribed_count = fields.Integer(string="Unsubscribed", compute="_compute_conversions")
    converted_count = fields.Integer(
        string="Converted",
        compute="_compute_conversions",
        help="Participants whose lead became an opportunity, was won, or who "
        "confirmed a quotation attributed to the campaign.",
    )
    revenue = fields.Monetary(
        string="Revenue",
        compute="_compute_conversions",
        currency_field="currency_id",
        help="Untaxed amount of the confirmed sales orders attributed to the "
        "campaign through its UTM campaign.",
    )
    currency_id = fields.Many2one(related="company_id.currency_id")
    # Rates, to compare campaigns with each other in the list view.
    open_rate = fields.Float(string="Open Rate (%)", compute="_compute_rates", digits=(5, 1))
    click_rate = fields.Float(string="Click Rate (%)", compute="_compute_rates", digits=(5, 1))
    conversion_rate = fields.Float(
        string="Conversion Rate (%)",
        compute="_compute_rates",
        digits=(5, 1),
        help="Converted participants out of all participants.",
    )

    # ------------------------------------------------------------
    # COMPUTES AND CONSTRAINTS
    # ------------------------------------------------------------

    @api.onchange("segment_filter_id")
    def _onchange_segment_filter_id(self):
        if self.segment_filter_id:
            self.segment_domain = self.segment_filter_id.domain

    @api.model
    def _tz_get(self):
        return self.env["res.partner"]._fields["tz"]._description_selection(self.env)

    @api.depends("segment_domain", "company_id", "target_model")
    @api.depends_context("uid")
    def _compute_segment_lead_count(self):
        """Count the matching records that the current user can read.

        Enrolment reads every record of the company as superuser, but the
        count runs as the user: a sudo count would let anyone who can edit a
        segment test values of records they cannot read.
        """
        for campaign in self:
            try:
                domain = campaign._get_enrolment_domain()
                with self.env.cr.savepoint():
                    campaign.segment_lead_count = self.env[campaign.target_model].search_count(domain)
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
        """Sum the statistics of the steps of each campaign."""
        for campaign in self:
            steps = campaign.step_ids
            campaign.sent_count = sum(steps.mapped("sent_count"))
            campaign.delivered_count = sum(steps.mapped("delivered_count"))
            campaign.opened_count = sum(steps.mapped("opened_count"))
            campaign.machine_open_count = sum(steps.mapped("machine_open_count"))
            campaign.clicked_count = sum(steps.mapped("clicked_count"))
            campaign.replied_count = sum(steps.mapped("replied_count"))
            campaign.bounced_count = sum(steps.mapped("bounced_count"))

    def _compute_conversions(self):
        """Count unsubscriptions and conversions, and sum the revenue of the
        confirmed sales orders of the UTM campaign."""
        Optout = self.env["montanes.campaign.optout"].sudo()
        unsubscribed = dict(Optout._read_group(
            [("campaign_id", "in", self.ids)], ["campaign_id"], ["__count"],
        ))
        revenue_by_utm = {}
        order_partners = defaultdict(set)
        if "sale.order" in self.env:
            orders = self.env["sale.order"].sudo().search([
                ("campaign_id", "in", self.utm_campaign_id.ids),
                ("state", "=", "sale"),
            ])
            for order in orders:
                revenue_by_utm[order.campaign_id.id] = (
                    revenue_by_utm.get(order.campaign_id.id, 0.0) + order.amount_untaxed
                )
                order_partners[order.campaign_id.id].add(order.partner_id.commercial_partner_id.id)
        for campaign in self:
            participants = campaign.participant_ids.sudo()
            order_partner_ids = order_partners[campaign.utm_campaign_id.id]
            converted_count = 0
            for participant in participants:
                lead = participant.lead_id
                customer = (lead.partner_id or participant.partner_id).commercial_partner_id
                if (lead and (lead.type == "opportunity" or lead.won_status == "won")) \
                        or customer.id in order_partner_ids:
                    converted_count += 1
            campaign.unsubscribed_count = unsubscribed.get(campaign._origin, 0)
            campaign.converted_count = converted_count
            campaign.revenue = revenue_by_utm.get(campaign.utm_campaign_id.id, 0.0)

    def _compute_rates(self):
        for campaign in self:
            delivered = campaign.delivered_count
            campaign.open_rate = 100.0 * campaign.opened_count / delivered if delivered else 0.0
            campaign.click_rate = 100.0 * campaign.clicked_count / delivered if delivered else 0.0
            participants = campaign.participant_count
            campaign.conversion_rate = 100.0 * campaign.converted_count / participants if participants else 0.0

    @api.constrains("segment_domain", "target_model")
    def _check_segment_domain(self):
        """Check that the segment is a valid, non-empty domain on the target."""
        for campaign in self:
            if campaign._get_segment_domain().is_true():
                raise ValidationError(self.env._(
                    "The segment of the campaign %(campaign)s is empty, so it would "
                    "enrol every record. Add at least one condition with the filter editor.",
                    campaign=campaign.name,
                ))

    @api.constrains("window_enabled", "window_hour_from", "window_hour_to", *WEEKDAY_FIELDS)
    def _check_send_window(self):
        """Check that an enabled send window allows at least one hour."""
        for campaign in self.filtered("window_enabled"):
            if not campaign._get_window_weekdays():
                raise ValidationError(self.env._(
                    "The send window of the campaign %(campaign)s allows no day. "
                    "Tick at least one day of the week.",
                    campaign=campaign.name,
                ))
            if not 0 <= campaign.window_hour_from < campaign.window_hour_to <= 24:
                raise ValidationError(self.env._(
                    "The send window of the campaign %(campaign)s allows no hour: it "
                    "goes from %(start)s to %(end)s. The start must be before the end, "
                    "between 00:00 and 24:00.",
                    campaign=campaign.name,
                    start=format_hour(campaign.window_hour_from),
                    end=format_hour(campaign.window_hour_to),
                ))

    @api.constrains(
        "trigger_type", "trigger_stage_id", "trigger_tag_id", "trigger_band_code", "target_model",
        "renewal_days_before",
    )
    def _check_trigger(self):
        """Check that the entry trigger has its value and fits the target."""
        for campaign in self:
            trigger = campaign.trigger_type
            if trigger == "license_renewal":
                if campaign.target_model != "res.partner" or campaign.renewal_days_before <= 0:
                    raise ValidationError(self.env._(
                        "The campaign %(campaign)s starts before licences end: it must "
                        "target contacts and start a positive number of days before.",
                        campaign=campaign.name,
                    ))
                continue
            if trigger != "segment" and campaign.target_model != "crm.lead":
                raise ValidationError(self.env._(
                    "The entry trigger of the campaign %(campaign)s only applies to "
                    "leads. Target leads or enrol contacts by segment.",
                    campaign=campaign.name,
                ))
            missing = (
                (trigger == "stage" and not campaign.trigger_stage_id)
                or (trigger == "tag" and not campaign.trigger_tag_id)
                or (trigger == "band" and not campaign.trigger_band_code)
            )
            if missing:
                raise ValidationError(self.env._(
                    "The entry trigger of the campaign %(campaign)s needs a stage, tag "
                    "or band. Choose the one the trigger waits for.",
                    campaign=campaign.name,
                ))

    @api.model
    def _check_segment_searchable(self, segment_text, campaign_name, target_model="crm.lead"):
        """Run each condition of a lead segment as the current user.

        Enrolment evaluates the segment as superuser, so only a segment its
        author can evaluate is saved. Otherwise the enrolled leads would reveal
        values of records the author cannot read. Constraints run as superuser,
        so create() and write() call this check before saving. A segment that
        does not parse is left to _check_segment_domain.
        """
        if target_model != "crm.lead":
            return
        try:
            parse_domain(self.env, target_model, segment_text)
        except ValueError:
            return  # _check_segment_domain names the wrong part
        unsearchable = self.env["crm.lead"]._montanes_find_unsearchable_condition(segment_text)
        if unsearchable:
            field_path, error_text = unsearchable
            # error_text is Odoo's or PostgreSQL's own message, often in
            # English: the user reads a reason of this module instead.
            _logger.info("Segment of campaign %s rejected on %s: %s", campaign_name, field_path, error_text)
            raise ValidationError(self.env._(
                "The segment of the campaign %(campaign)s cannot filter on %(field)s: "
                "%(reason)s. Remove or correct this condition, or ask an administrator to "
                "write the segment.",
                campaign=campaign_name,
                field=field_path,
                reason=describe_unsearchable_path(self.env, target_model, field_path),
            ))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "segment_domain" in vals:
                self._check_segment_searchable(
                    vals["segment_domain"], vals.get("name"), vals.get("target_model", "crm.lead"),
                )
        campaigns = super().create(vals_list)
        self.env.registry.clear_cache()
        return campaigns

    def write(self, vals):
        if {"state", "trigger_type"} & set(vals):
            self.env.registry.clear_cache()
        if "segment_domain" in vals and self:
            campaign_names = vals.get("name") or ", ".join(self.mapped("name"))
            target_model = vals.get("target_model") or self[0].target_model
            self._check_segment_searchable(vals["segment_domain"], campaign_names, target_model)
        # The UTM campaign displays its title: keep it equal to the name.
        if "name" in vals and "title" not in vals:
            vals = dict(vals, title=vals["name"])
        return super().write(vals)

    def copy(self, default=None):
        """Copy the campaigns with their step tree: the copied children
        follow the copied parents."""
        new_campaigns = super().copy(default=default)
        for campaign, new_campaign in zip(self, new_campaigns):
            new_by_old = dict(zip(campaign.step_ids, new_campaign.step_ids))
            for old_step, new_step in new_by_old.items():
                if old_step.parent_id:
                    new_step.write({
                        "parent_id": new_by_old[old_step.parent_id].id,
                        "trigger_type": old_step.trigger_type,
                    })
        return new_campaigns

    @api.model
    @ormcache()
    def _get_running_triggers(self):
        """Return the entry triggers of the running campaigns, of every
        company, as a frozenset. Lead hooks read it to skip their work when
        no campaign runs. Creating a campaign or changing its status or
        trigger clears the cache."""
        self.flush_model(["state", "trigger_type"])
        self.env.cr.execute("SELECT DISTINCT trigger_type FROM montanes_campaign WHERE state = 'running'")
        return frozenset(row[0] for row in self.env.cr.fetchall())

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

        The first steps run at the next run of the processing cron, which is
        triggered at once. Launching a stopped campaign resumes it: the
        activities it kept scheduled run then, none is repeated."""
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
        for campaign in self.filtered(lambda campaign: campaign.trigger_type in ENROL_ON_SCHEDULE):
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
        self.participant_ids.sudo().filtered(lambda participant: participant.state == "running")._exit("closed")
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

    def action_view_activities(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "montanes_campaigns.action_montanes_campaign_trace",
        )
        action["domain"] = [("campaign_id", "=", self.id)]
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
        mailings = self.step_ids.mailing_id | self.step_ids.mailing_b_id
        action["domain"] = [("mass_mailing_id", "in", mailings.ids), *trace_domain]
        action["context"] = {}
        return action

    # ------------------------------------------------------------
    # PROCESSING
    # ------------------------------------------------------------

    @api.model
    def _cron_process(self):
        """Enrol the segments of the running campaigns, then run the due
        activities, committing after each campaign and each chunk."""
        started = time.monotonic()
        campaigns = self.search([("state", "=", "running"), ("trigger_type", "in", ENROL_ON_SCHEDULE)])
        for done, campaign in enumerate(campaigns, start=1):
            if campaign.try_lock_for_update():
                campaign._enrol_participants()
            else:
                _logger.info("Automated campaign %s is locked by another worker, enrolment skipped", campaign.id)
            remaining_time = self._commit_batch(processed=1, remaining=len(campaigns) - done)
            if remaining_time <= 0:
                return
        queued_count = self.env["montanes.campaign.trace"]._process_due()
        self.env["montanes.campaign.participant"]._complete_expired_branches(fields.Datetime.now())
        _logger.info(
            "Automated campaigns: %s campaigns enrolled, %s e-mails queued in %.2fs",
            len(campaigns), queued_count, time.monotonic() - started,
        )

    def _process_steps(self):
        """Enrol the new records of these running campaigns and run their
        due activities, as the cron does for every campaign.

        :return: number of e-mails queued
        """
        running = self.filtered(lambda campaign: campaign.state == "running")
        for campaign in running.filtered(lambda campaign: campaign.trigger_type in ENROL_ON_SCHEDULE):
            campaign._enrol_participants()
        if not running:
            return 0
        return self.env["montanes.campaign.trace"]._process_due(campaigns=running)

    def _enrol_participants(self):
        """Enrol the records of the segment that are not participants yet,
        one participant per e-mail address.

        The segment is evaluated as superuser, as the processing cron does:
        a marketing user targets every record of the campaign company, not
        only the records the record rules let them read."""
        self.ensure_one()
        self.check_access("write")
        domain = self._get_enrolment_domain()
        if self.trigger_type == "license_renewal":
            domain = Domain.AND([domain, [("id", "in", self._get_renewal_partner_ids())]])
        records = self.env[self.target_model].sudo().search(domain, order="id")
        if self.exit_on_segment_leave or self.allow_reentry:
            self._update_segment_leavers(records)
        return self._enrol_records(records)

    def _get_renewal_partner_ids(self):
        """Return the ids of the contacts with a licence ending within
        renewal_days_before days, read through the licence inventory hook
        when that module is installed."""
        self.ensure_one()
        Partner = self.env["res.partner"].with_company(self.company_id)
        if not hasattr(Partner, "_montanes_license_renewal_candidates"):
            return []
        today = fields.Date.context_today(self)
        candidates = Partner._montanes_license_renewal_candidates(
            today, today + relativedelta(days=self.renewal_days_before),
        )
        return list({candidate["partner_id"] for candidate in candidates})

    def _update_segment_leavers(self, segment_records):
        """Exit the running participants whose record left the segment, and
        mark the finished ones as free to enter again."""
        record_field = self._get_record_field()
        Participant = self.env["montanes.campaign.participant"].sudo()
        outside = Participant.search([
            ("campaign_id", "=", self.id),
            ("state", "in", ("running", "completed", "exited")),
            ("left_segment", "=", False),
            (record_field, "not in", segment_records.ids),
        ])
        if self.exit_on_segment_leave:
            outside.filtered(lambda participant: participant.state == "running")._exit("segment")
        outside.filtered(lambda participant: participant.state != "running").left_segment = True

    def _enrol_records(self, records):
        """Create a participant for each e-mail address of records that may
        enter the campaign, and schedule the root steps for them.

        A record whose e-mail field holds several addresses gives one
        participant per address. An address enters once, unless the campaign
        allows re-entry and its last participation is over (and, for the
        segment trigger, the record left the segment since).

        :return: the new participants
        """
        self.ensure_one()
        Participant = self.env["montanes.campaign.participant"].sudo()
        if not records:
            return Participant
        email_field = "email_from" if self.target_model == "crm.lead" else "email"
        record_field = self._get_record_field()
        emails_by_record = {}
        for record in records:
            emails = [email for email in email_normalize_all(record[email_field] or "") if email]
            if emails:
                emails_by_record[record] = list(dict.fromkeys(emails))
        all_emails = list({email for emails in emails_by_record.values() for email in emails})
        Participant.flush_model()
        self.env.cr.execute(SQL(
            """SELECT DISTINCT ON (email_normalized) email_normalized, entry_number, state, left_segment
                 FROM montanes_campaign_participant
                WHERE campaign_id = %s AND email_normalized = ANY(%s)
             ORDER BY email_normalized, entry_number DESC""",
            self.id, all_emails,
        ))
        last_entry = {row[0]: row[1:] for row in self.env.cr.fetchall()}
        now = fields.Datetime.now()
        rows = []
        for record, emails in emails_by_record.items():
            for email in emails:
                entry = last_entry.get(email)
                if entry:
                    number, state, left_segment = entry
                    reentry_allowed = self.allow_reentry and state != "running" and (
                        left_segment or self.trigger_type != "segment"
                    )
                    if not reentry_allowed:
                        continue
                    next_number = number + 1
                else:
                    next_number = 1
                last_entry[email] = (next_number, "running", False)
                rows.append((record.id, email, next_number))
        if not rows:
            return Participant
        participants = self._insert_participants(rows, record_field, now)
        self._schedule_root_steps(participants, now)
        return participants

    def _insert_participants(self, rows, record_field, now):
        """Insert participants for (record id, e-mail, entry number) rows,
        skipping those another worker inserted first."""
        uid = self.env.uid
        new_ids = []
        for start in range(0, len(rows), ENROL_BATCH_SIZE):
            values = [
                SQL(
                    "(%s, %s, %s, %s, %s, 'running', %s, %s, %s, %s, %s, %s)",
                    self.id, self.company_id.id, record_id, email, entry_number, now,
                    secrets.token_urlsafe(24), uid, now, uid, now,
                )
                for record_id, email, entry_number in rows[start:start + ENROL_BATCH_SIZE]
            ]
            self.env.cr.execute(SQL(
                """INSERT INTO montanes_campaign_participant
                       (campaign_id, company_id, %s, email_normalized, entry_number, state,
                        date_enrolled, access_token, create_uid, create_date, write_uid, write_date)
                   VALUES %s
                   ON CONFLICT (campaign_id, email_normalized, entry_number) DO NOTHING
                   RETURNING id""",
                SQL.identifier(record_field), SQL(", ").join(values),
            ))
            new_ids += [row[0] for row in self.env.cr.fetchall()]
        participants = self.env["montanes.campaign.participant"].sudo().browse(new_ids)
        self.invalidate_recordset(["participant_ids", "participant_count"])
        return participants

    def _schedule_root_steps(self, participants, now):
        Activity = self.env["montanes.campaign.trace"].sudo()
        root_steps = self.step_ids.filtered(lambda step: not step.parent_id)
        rows = [
            {
                "participant_id": participant.id,
                "step_id": step.id,
                "campaign_id": self.id,
                "schedule_date": Activity._get_run_date(step, participant, now),
            }
            for participant in participants
            for step in root_steps
        ]
        return Activity._insert_activities(rows)

    def _enrol_from_event(self, leads, trigger_type, match=None):
        """Enrol leads into the running campaigns started by trigger_type.

        :param match: optional function (campaign, lead) -> bool for triggers
            that carry a value, such as the stage or the tag
        """
        campaigns = self.sudo().search([
            ("state", "=", "running"),
            ("trigger_type", "=", trigger_type),
            ("target_model", "=", "crm.lead"),
        ])
        for campaign in campaigns:
            candidates = leads.filtered(lambda lead: match(campaign, lead)) if match else leads
            if not candidates:
                continue
            in_segment = self.env["crm.lead"].sudo().search(Domain.AND([
                [("id", "in", candidates.ids)], campaign._get_enrolment_domain(),
            ]), order="id")
            campaign._enrol_records(in_segment)

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_record_field(self):
        self.ensure_one()
        return "lead_id" if self.target_model == "crm.lead" else "partner_id"

    def _get_segment_domain(self):
        """Return the segment as a Domain, or raise a ValidationError that
        names the campaign and the wrong part when it is not a valid domain
        on the target."""
        self.ensure_one()
        try:
            return parse_domain(self.env, self.target_model, self.segment_domain)
        except ValueError as error:
            raise ValidationError(self.env._(
                "The segment of the campaign %(campaign)s is not a valid filter: %(reason)s. "
                "Correct it or rebuild it with the filter editor.",
                campaign=self.name,
                reason=error.args[0],
            )) from None

    def _get_enrolment_domain(self):
        """Return the domain of the records to enrol: the segment, restricted
        to records of the campaign company that have a valid e-mail address
        or a list of addresses (which email_normalized leaves empty)."""
        self.ensure_one()
        email_field = "email_from" if self.target_model == "crm.lead" else "email"
        return Domain.AND([
            self._get_segment_domain(),
            Domain("email_normalized", "!=", False)
            | Domain(email_field, "=like", "%@%;%@%")
            | Domain(email_field, "=like", "%@%,%@%"),
            [("company_id", "in", [False, self.company_id.id])],
        ])

    def _filter_in_segment(self, participants):
        """Return the participants whose record still matches the segment."""
        self.ensure_one()
        record_field = self._get_record_field()
        records = participants[record_field]
        matching = self.env[self.target_model].sudo().search(Domain.AND([
            [("id", "in", records.ids)], self._get_enrolment_domain(),
        ]))
        return participants.filtered(lambda participant: participant[record_field] in matching)

    def _get_window_weekdays(self):
        self.ensure_one()
        return [weekday for weekday, field_name in enumerate(WEEKDAY_FIELDS) if self[field_name]]

    def _apply_send_window(self, date_utc, tz_name):
        """Return the first moment at or after date_utc in the send window,
        in the recipient time zone (the campaign one when tz_name is empty)."""
        self.ensure_one()
        if not self.window_enabled:
            return date_utc
        slot = next_allowed_datetime(
            date_utc,
            tz_name or self.timezone,
            self._get_window_weekdays(),
            self.window_hour_from,
            self.window_hour_to,
            self.holiday_ids.mapped("date"),
        )
        if slot is None:
            raise UserError(self.env._(
                "The send window of the campaign %(campaign)s has no free slot in the "
                "next year: check its days and holidays.",
                campaign=self.name,
            ))
        return slot

    def _check_steps_ready(self):
        """Raise a UserError when the campaign has no step or an e-mail step
        misses its subject or body."""
        self.ensure_one()
        if not self.step_ids:
            raise UserError(self.env._(
                "The campaign %(campaign)s has no step. Add at least one step "
                "before launching it.",
                campaign=self.name,
            ))
        for step in self.step_ids.filtered(lambda step: step.step_type == "email"):
            versions = [(step.subject, step.body_html)]
            if step.ab_enabled:
                versions.append((step.subject_b, step.body_html_b))
            if any(not subject or is_html_empty(body) for subject, body in versions):
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

    @api.model
    def _commit_batch(self, processed=0, remaining=None):
        """Commit through ir.cron progress, except on the cursor of a running
        test, which may not commit.

        :return: remaining time of the cron run in seconds (infinite outside a cron)
        """
        if self.env["montanes.campaign.trace"]._is_test_cursor():
            return float("inf")
        return self.env["ir.cron"]._commit_progress(processed, remaining=remaining)
