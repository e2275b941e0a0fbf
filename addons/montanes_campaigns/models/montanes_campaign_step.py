import re
from collections import defaultdict

from dateutil.relativedelta import relativedelta
from lxml import html
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command

from .domain_check import parse_domain

# "{{ expression }}" in the text of a body, the placeholder syntax of
# subjects. The step mailing turns it into a QWeb t-out node.
INLINE_PLACEHOLDER = re.compile(r"\{\{\s*(.+?)\s*\}\}", re.DOTALL)
# Link that mass mailing replaces by the unsubscribe URL of each recipient.
UNSUBSCRIBE_PLACEHOLDER = "/unsubscribe_from_list"


def add_unsubscribe_footer(env, body):
    """Return body with an unsubscribe link appended when it has none, so
    every campaign e-mail lets the recipient leave."""
    if not body or UNSUBSCRIBE_PLACEHOLDER in body:
        return body
    footer = Markup(
        '<p style="font-size: 12px; color: #888888;">{text} '
        '<a href="{base_url}{placeholder}">{link}</a></p>'
    ).format(
        text=env._("You receive this e-mail because you are in touch with us."),
        base_url=env["ir.config_parameter"].sudo().get_param("web.base.url", ""),
        placeholder=UNSUBSCRIBE_PLACEHOLDER,
        link=env._("Unsubscribe"),
    )
    return Markup(body) + footer


def convert_inline_placeholders(body):
    """Return body with every {{ expression }} of its text replaced by
    <t t-out="expression"/>, so the QWeb rendering of mass mailing evaluates
    it. Placeholders inside attributes are left unchanged."""
    if not body or "{{" not in body:
        return body
    root = html.fragment_fromstring(body, create_parent="div")
    for node in list(root.iter()):
        if not isinstance(node.tag, str):
            continue  # comments and processing instructions
        if node.text and "{{" in node.text:
            text, *pairs = INLINE_PLACEHOLDER.split(node.text)
            node.text = text
            for position, t_node in enumerate(_build_t_out_nodes(pairs)):
                node.insert(position, t_node)
        if node is not root and node.tail and "{{" in node.tail:
            tail, *pairs = INLINE_PLACEHOLDER.split(node.tail)
            node.tail = tail
            parent = node.getparent()
            for position, t_node in enumerate(_build_t_out_nodes(pairs), start=parent.index(node) + 1):
                parent.insert(position, t_node)
    return (root.text or "") + "".join(html.tostring(child, encoding="unicode") for child in root)


def _build_t_out_nodes(pairs):
    """Return a <t t-out/> node for each (expression, following text) pair of
    the flat list that INLINE_PLACEHOLDER.split() returns after its first item."""
    nodes = []
    for index in range(0, len(pairs), 2):
        t_node = html.Element("t", {"t-out": pairs[index]})
        t_node.tail = pairs[index + 1]
        nodes.append(t_node)
    return nodes


# Triggers that run the step on an outcome of the parent e-mail, and the
# opposite outcome whose branch is cancelled when it happens.
POSITIVE_OUTCOME_TRIGGERS = {
    "opened": "not_opened",
    "clicked": "not_clicked",
    "replied": "not_replied",
    "bounced": False,
}
# Longest delay or validity of a step, in days. Dates further away overflow Python's
# date arithmetic and would stop the cron for every campaign.
MAX_DELAY_DAYS = 3650
# Days in one unit of a step's delay or validity.
DELAY_UNIT_DAYS = {"hours": 1 / 24, "days": 1, "weeks": 7}

NEGATIVE_OUTCOME_TRIGGERS = {
    "not_opened": "opened",
    "not_clicked": "clicked",
    "not_replied": "replied",
}
CONDITION_TRIGGERS = ("condition_true", "condition_false")


class MontanesCampaignStep(models.Model):
    """Node of the step tree of a campaign.

    A root step starts at enrolment. Every other step starts from its parent:
    after it ran, on an outcome of the parent e-mail (opened, not opened
    within the delay, clicked, ...), or on the result of a parent condition.
    When one outcome happens the step of the opposite outcome is cancelled,
    and the children of a cancelled or rejected step never run.
    """

    _name = "montanes.campaign.step"
    _description = "Automated Campaign Step"
    _order = "campaign_id, sequence, id"
    _check_company_auto = True

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
    sequence = fields.Integer(default=10)
    name = fields.Char(string="Step", required=True, translate=False)
    step_type = fields.Selection(
        selection=[
            ("email", "Send e-mail"),
            ("wait", "Wait"),
            ("condition", "Condition"),
            ("action", "Action"),
            ("exit", "Exit"),
        ],
        string="Type",
        default="email",
        required=True,
    )

    # Tree
    parent_id = fields.Many2one(
        comodel_name="montanes.campaign.step",
        string="Parent Step",
        ondelete="cascade",
        index="btree_not_null",
        copy=False,
        domain="[('campaign_id', '=', campaign_id), ('id', '!=', id)]",
        help="Step this one follows. Without a parent the step starts at enrolment.",
    )
    child_ids = fields.One2many(
        comodel_name="montanes.campaign.step",
        inverse_name="parent_id",
        string="Next Steps",
    )
    trigger_type = fields.Selection(
        selection=[
            ("begin", "At enrolment"),
            ("after", "After the parent step"),
            ("opened", "Parent e-mail opened"),
            ("not_opened", "Parent e-mail not opened"),
            ("clicked", "Parent e-mail clicked"),
            ("not_clicked", "Parent e-mail not clicked"),
            ("replied", "Parent e-mail replied"),
            ("not_replied", "Parent e-mail not replied"),
            ("bounced", "Parent e-mail bounced"),
            ("condition_true", "Parent condition met"),
            ("condition_false", "Parent condition not met"),
        ],
        string="Trigger",
        compute="_compute_trigger_type",
        store=True,
        copy=False,
        readonly=False,
        precompute=True,
        required=True,
        help="When the step runs. The 'not' outcomes run at the end of the "
        "delay after the parent e-mail was sent, unless the outcome happened "
        "before; the other outcomes run when they happen within the delay "
        "(no limit when the delay is 0).",
    )

    # Timing
    delay_value = fields.Integer(
        string="Delay",
        default=0,
        required=True,
        help="Time to wait after the parent step (or the enrolment for a root "
        "step). For an outcome of the parent e-mail, the time limit of that "
        "outcome counted from the sending.",
    )
    delay_unit = fields.Selection(
        selection=[
            ("hours", "Hours"),
            ("days", "Days"),
            ("weeks", "Weeks"),
        ],
        string="Delay Unit",
        default="days",
        required=True,
    )
    validity_value = fields.Integer(
        string="Validity",
        default=0,
        help="Cancel the step for a participant when it would run more than "
        "this late. 0 means no limit.",
    )
    validity_unit = fields.Selection(
        selection=[
            ("hours", "Hours"),
            ("days", "Days"),
            ("weeks", "Weeks"),
        ],
        string="Validity Unit",
        default="days",
        required=True,
    )

    # Content
    subject = fields.Char(
        string="Subject",
        help="Subject of the e-mail. It accepts inline placeholders such as "
        "{{ object.contact_name }}, where object is the participant.",
    )
    body_html = fields.Html(
        string="Body",
        sanitize="email_outgoing",
        help="Body of the e-mail, rendered with QWeb for each participant as "
        'mass mailings are, e.g. <t t-out="object.contact_name"/>. '
        "Placeholders written as {{ object.contact_name }} in the text work too.",
    )

    # A/B test
    ab_enabled = fields.Boolean(
        string="A/B Test",
        help="Send a second version to part of the participants and keep "
        "the version that wins on the chosen criterion.",
    )
    subject_b = fields.Char(string="Subject (version B)")
    body_html_b = fields.Html(string="Body (version B)", sanitize="email_outgoing")
    ab_test_size = fields.Integer(
        string="Test Size",
        default=50,
        help="Number of participants per version mailed before the winner is "
        "chosen. The next participants wait for the choice and get the winning version.",
    )
    ab_wait_hours = fields.Integer(
        string="Hours Before Choosing",
        default=24,
        help="Hours counted from the last test e-mail during which opens, clicks, "
        "replies and conversions count for the choice of the winner.",
    )
    ab_decision_date = fields.Datetime(
        string="Winner Chosen On",
        readonly=True,
        copy=False,
        help="When the winner will be chosen: the last test e-mail plus the hours before choosing.",
    )
    ab_criterion = fields.Selection(
        selection=[
            ("opened", "Opens"),
            ("clicked", "Clicks"),
            ("replied", "Replies"),
            ("converted", "Conversions"),
        ],
        string="Winner On",
        default="opened",
    )
    ab_winner = fields.Selection(
        selection=[("a", "Version A"), ("b", "Version B")],
        string="Winning Version",
        readonly=True,
        copy=False,
    )
    mailing_b_id = fields.Many2one(
        comodel_name="mailing.mailing",
        string="Mailing (version B)",
        readonly=True,
        copy=False,
        ondelete="restrict",
    )

    # Condition
    target_model = fields.Selection(related="campaign_id.target_model")
    condition_domain = fields.Char(
        string="Condition",
        default="[]",
        help="Filter on the lead (or contact) of the participant: field "
        "values, score, band, stage. Participants that match go down the "
        "'condition met' branch, the others down the 'not met' branch.",
    )

    # Action
    action_type = fields.Selection(
        selection=[
            ("stage", "Change stage"),
            ("tag", "Add tag"),
            ("score", "Adjust score"),
            ("activity", "Activity for the salesperson"),
            ("notify", "Notify the salesperson"),
            ("convert", "Convert to opportunity"),
        ],
        string="Action",
    )
    action_stage_id = fields.Many2one(comodel_name="crm.stage", string="New Stage")
    action_tag_id = fields.Many2one(comodel_name="crm.tag", string="Tag to Add")
    action_score_points = fields.Integer(string="Score Points")
    action_activity_type_id = fields.Many2one(
        comodel_name="mail.activity.type",
        string="Activity Type",
    )
    action_summary = fields.Char(
        string="Summary",
        help="Summary of the activity, or text of the notification.",
    )

    # Sending
    mailing_id = fields.Many2one(
        comodel_name="mailing.mailing",
        string="Mailing",
        readonly=True,
        copy=False,
        ondelete="restrict",
        help="Mass mailing that sends this step. It is created at the first "
        "sending and keeps the tracking of every e-mail of the step.",
    )
    trace_ids = fields.One2many(
        comodel_name="montanes.campaign.trace",
        inverse_name="step_id",
        string="Activities",
    )

    # Statistics, from the mailing traces of the step mailing
    sent_count = fields.Integer(string="Sent", compute="_compute_statistics")
    delivered_count = fields.Integer(string="Delivered", compute="_compute_statistics")
    opened_count = fields.Integer(string="Opened", compute="_compute_statistics")
    machine_open_count = fields.Integer(
        string="Machine Opens",
        compute="_compute_statistics",
        help="Opens classified as made by a machine (mail scanners, privacy "
        "proxies). They are not counted as opened and trigger no branch.",
    )
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    replied_count = fields.Integer(string="Replied", compute="_compute_statistics")
    bounced_count = fields.Integer(string="Bounced", compute="_compute_statistics")
    canceled_count = fields.Integer(
        string="Cancelled",
        compute="_compute_statistics",
        help="E-mails not sent because the address is blacklisted, opted out, "
        "invalid or already mailed by this step.",
    )
    scheduled_count = fields.Integer(string="Scheduled", compute="_compute_activity_counts")
    processed_count = fields.Integer(string="Done", compute="_compute_activity_counts")
    rejected_count = fields.Integer(string="Cancelled or Failed", compute="_compute_activity_counts")

    _check_validity_value = models.Constraint(
        "CHECK(validity_value >= 0)",
        "The validity of a step cannot be negative.",
    )
    _check_ab_wait_hours = models.Constraint(
        "CHECK(ab_wait_hours >= 0 AND ab_wait_hours <= 8760)",
        "The hours before choosing the A/B test winner must be between 0 and 8760 (one year).",
    )
    _check_ab_test_size = models.Constraint(
        "CHECK(ab_test_size > 0)",
        "The test size of an A/B test must be at least 1 participant per version.",
    )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("parent_id", "parent_id.step_type")
    def _compute_trigger_type(self):
        for step in self:
            if not step.parent_id:
                step.trigger_type = "begin"
            elif step.trigger_type in (False, "begin"):
                step.trigger_type = "condition_true" if step.parent_id.step_type == "condition" else "after"

    @api.depends("mailing_id", "mailing_b_id")
    def _compute_statistics(self):
        """Count the traces of each step mailing by status, as mass_mailing
        counts its own statistics: opened includes replied, and sent and
        clicked count the traces that have a sent or click date."""
        counts_by_step = defaultdict(lambda: defaultdict(int))
        mailings = self.mailing_id | self.mailing_b_id
        if mailings:
            step_by_mailing = {}
            for step in self:
                for mailing in step.mailing_id | step.mailing_b_id:
                    step_by_mailing[mailing.id] = step.id
            Trace = self.env["mailing.trace"].sudo()
            aggregates = ["__count", "sent_datetime:count", "links_click_datetime:count"]
            has_machine_count = "montanes_machine_open_count" in Trace._fields
            if has_machine_count:
                aggregates.append("montanes_machine_open_count:sum")
            # sudo: salesmen read the steps but have no access to traces.
            for row in Trace._read_group(
                [("mass_mailing_id", "in", mailings.ids)],
                ["mass_mailing_id", "trace_status"],
                aggregates,
            ):
                mailing, status, count, sent, clicked = row[:5]
                counts = counts_by_step[step_by_mailing[mailing.id]]
                counts[status] += count
                counts["sent_datetime"] += sent
                counts["links_click_datetime"] += clicked
                if has_machine_count:
                    counts["machine_open"] += row[5] or 0
        for step in self:
            counts = counts_by_step[step._origin.id]
            step.sent_count = counts["sent_datetime"]
            step.delivered_count = counts["sent"] + counts["open"] + counts["reply"]
            step.opened_count = counts["open"] + counts["reply"]
            step.machine_open_count = counts["machine_open"]
            step.clicked_count = counts["links_click_datetime"]
            step.replied_count = counts["reply"]
            step.bounced_count = counts["bounce"]
            step.canceled_count = counts["cancel"]

    def _compute_activity_counts(self):
        counts = defaultdict(int)
        for step, state, count in self.env["montanes.campaign.trace"].sudo()._read_group(
            [("step_id", "in", self.ids)], ["step_id", "state"], ["__count"],
        ):
            counts[step.id, state] += count
        for step in self:
            step.scheduled_count = counts[step._origin.id, "scheduled"]
            step.processed_count = counts[step._origin.id, "processed"]
            step.rejected_count = (
                counts[step._origin.id, "canceled"] + counts[step._origin.id, "rejected"]
                + counts[step._origin.id, "error"]
            )

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains("parent_id", "campaign_id")
    def _check_parent(self):
        """Check that the steps form a tree inside one campaign."""
        for step in self:
            if step.parent_id and step.parent_id.campaign_id != step.campaign_id:
                raise ValidationError(self.env._(
                    "The step %(step)s follows %(parent)s, a step of another campaign. "
                    "Choose a parent step of the same campaign.",
                    step=step.name,
                    parent=step.parent_id.name,
                ))
        if self._has_cycle():
            raise ValidationError(self.env._(
                "The steps %(steps)s form a loop: a step cannot follow itself, "
                "directly or through other steps. Change the parent step of one of them.",
                steps=", ".join(self.mapped("name")),
            ))

    @api.constrains("trigger_type", "parent_id", "step_type")
    def _check_trigger_type(self):
        """Check that the trigger fits the parent step."""
        for step in self:
            trigger = step.trigger_type
            parent = step.parent_id
            if trigger == "begin" and parent:
                message = self.env._(
                    "The step %(step)s has a parent step, so it cannot start at enrolment.",
                    step=step.name,
                )
            elif trigger != "begin" and not parent:
                message = self.env._(
                    "The step %(step)s has no parent step: choose one, or make it "
                    "start at enrolment.",
                    step=step.name,
                )
            elif (trigger in POSITIVE_OUTCOME_TRIGGERS or trigger in NEGATIVE_OUTCOME_TRIGGERS) \
                    and parent.step_type != "email":
                message = self.env._(
                    "The step %(step)s waits for an outcome of an e-mail, but its parent "
                    "step %(parent)s sends no e-mail. Choose an e-mail step as parent.",
                    step=step.name,
                    parent=parent.name,
                )
            elif trigger in CONDITION_TRIGGERS and parent.step_type != "condition":
                message = self.env._(
                    "The step %(step)s follows a condition result, but its parent step "
                    "%(parent)s is not a condition. Choose a condition step as parent.",
                    step=step.name,
                    parent=parent.name,
                )
            else:
                continue
            raise ValidationError(message)

    @api.constrains("step_type", "trigger_type", "delay_value")
    def _check_delay(self):
        """Check that delays are not negative, and that waits and 'not'
        outcomes have a positive delay."""
        for step in self:
            if step.delay_value < 0:
                raise ValidationError(self.env._(
                    "The step %(step)s has a negative delay (%(delay)s). Enter 0 or more.",
                    step=step.name,
                    delay=step.delay_value,
                ))
            if step.step_type == "wait" and step.delay_value <= 0:
                raise ValidationError(self.env._(
                    "The wait step %(step)s waits %(delay)s: a wait must be at least "
                    "1 hour, day or week. Enter a positive delay.",
                    step=step.name,
                    delay=step.delay_value,
                ))
            if step.trigger_type in NEGATIVE_OUTCOME_TRIGGERS and step.delay_value <= 0:
                raise ValidationError(self.env._(
                    "The step %(step)s runs when the parent e-mail has no open, click or "
                    "reply within its delay, but the delay is %(delay)s. Enter a positive delay.",
                    step=step.name,
                    delay=step.delay_value,
                ))

    @api.constrains("delay_value", "delay_unit", "validity_value", "validity_unit")
    def _check_delay_max(self):
        """Reject a delay or validity longer than `MAX_DELAY_DAYS`."""
        for step in self:
            for value, unit in (
                (step.delay_value, step.delay_unit),
                (step.validity_value, step.validity_unit),
            ):
                if value * DELAY_UNIT_DAYS.get(unit, 1) > MAX_DELAY_DAYS:
                    raise ValidationError(self.env._(
                        "The step %(step)s has a delay or validity of %(value)s %(unit)s, "
                        "longer than %(max)s days. Enter a shorter period.",
                        step=step.name,
                        value=value,
                        unit=dict(step._fields["delay_unit"]._description_selection(self.env))
                        .get(unit, unit),
                        max=MAX_DELAY_DAYS,
                    ))

    @api.constrains("condition_domain", "step_type")
    def _check_condition_domain(self):
        """Check that a condition step has a valid filter on the target model."""
        for step in self.filtered(lambda step: step.step_type == "condition"):
            step._get_condition_domain()

    @api.constrains("step_type", "action_type")
    def _check_action(self):
        """Check that an action step has an action that fits the target."""
        for step in self.filtered(lambda step: step.step_type == "action"):
            if not step.action_type:
                raise ValidationError(self.env._(
                    "The action step %(step)s has no action. Choose what it does.",
                    step=step.name,
                ))
            if step.action_type in ("stage", "tag", "score", "convert") \
                    and step.campaign_id.target_model != "crm.lead":
                raise ValidationError(self.env._(
                    "The action of the step %(step)s only applies to leads, and the "
                    "campaign targets contacts. Choose another action.",
                    step=step.name,
                ))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        result = super().write(vals)
        if {"name", "subject", "body_html", "subject_b", "body_html_b"} & set(vals):
            # Later sendings of the step use the new content.
            for step in self:
                if step.mailing_id:
                    step.mailing_id.write(step._prepare_mailing_vals("a"))
                if step.mailing_b_id:
                    step.mailing_b_id.write(step._prepare_mailing_vals("b"))
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_sent(self):
        sent_steps = self.filtered(lambda step: (step.mailing_id | step.mailing_b_id).mailing_trace_ids)
        if sent_steps:
            raise UserError(self.env._(
                "The step %(step)s has already sent e-mails and cannot be deleted. "
                "Stop the campaign instead.",
                step=sent_steps[0].name,
            ))

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_delay(self):
        """Return the delay of the step as a relativedelta."""
        self.ensure_one()
        return relativedelta(**{self.delay_unit: self.delay_value})

    def _get_validity(self):
        """Return the validity of the step as a relativedelta, or None."""
        self.ensure_one()
        if not self.validity_value:
            return None
        return relativedelta(**{self.validity_unit: self.validity_value})

    def _get_condition_domain(self):
        """Return the condition as a Domain on the target model, or raise a
        ValidationError naming the step and the wrong part when it is not a
        valid filter."""
        self.ensure_one()
        try:
            return parse_domain(self.env, self.campaign_id.target_model, self.condition_domain)
        except ValueError as error:
            raise ValidationError(self.env._(
                "The condition of the step %(step)s is not a valid filter: %(reason)s. "
                "Correct it or rebuild it with the filter editor.",
                step=self.name,
                reason=error.args[0],
            )) from None

    def _prepare_mailing_vals(self, variant="a"):
        """Return the values the step mailing copies from the step and its
        campaign. The mailing targets the participants of the campaign, and
        the campaign UTM campaign gives the attribution of every click,
        reply and lead created from the e-mails."""
        self.ensure_one()
        campaign = self.campaign_id
        subject = self.subject_b if variant == "b" else self.subject
        body = convert_inline_placeholders(self.body_html_b if variant == "b" else self.body_html)
        body = add_unsubscribe_footer(self.env, body)
        name = f"{campaign.name} - {self.name}"
        if variant == "b":
            name = f"{name} (B)"
        return {
            "name": name,
            "subject": subject,
            "body_arch": body,
            "body_html": body,
            "campaign_id": campaign.utm_campaign_id.id,
            "mailing_model_id": self.env["ir.model"]._get_id("montanes.campaign.participant"),
            "mailing_domain": repr([("campaign_id", "=", campaign.id), ("state", "=", "running")]),
            "user_id": campaign.user_id.id,
            # Replies go to the participant's thread, where mass mailing
            # marks the trace replied, unless the campaign sets an address.
            "reply_to_mode": "new" if campaign.reply_to else "update",
            "reply_to": campaign.reply_to or False,
            "keep_archives": True,
        }

    def _get_or_create_mailing(self, variant="a"):
        """Return the mailing of the step for the variant, created at the first call."""
        self.ensure_one()
        field_name = "mailing_b_id" if variant == "b" else "mailing_id"
        if not self[field_name]:
            self[field_name] = self.env["mailing.mailing"].create(self._prepare_mailing_vals(variant))
        return self[field_name]

    def action_preview(self):
        """Open the preview of this e-mail step, with a test send."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Preview of %(step)s", step=self.name),
            "res_model": "montanes.campaign.step.preview",
            "view_mode": "form",
            "target": "new",
            "context": {"default_step_id": self.id},
        }

    def _montanes_apply_action(self, record, participant):
        """Apply the action of this step to record, the lead or contact of
        participant. Raise a UserError when it cannot be applied."""
        self.ensure_one()
        action = self.action_type
        if action == "stage":
            record.stage_id = self.action_stage_id
        elif action == "tag":
            record.tag_ids = [Command.link(self.action_tag_id.id)]
        elif action == "score":
            if not hasattr(record, "_montanes_adjust_score"):
                raise UserError(self.env._(
                    "The lead scoring module cannot adjust scores yet: update it "
                    "to use the step %(step)s.",
                    step=self.name,
                ))
            record._montanes_adjust_score(
                self.action_score_points,
                self.action_summary or self.env._("Campaign %(campaign)s", campaign=self.campaign_id.name),
            )
        elif action == "activity":
            salesperson = participant.user_id or self.campaign_id.user_id
            record.activity_schedule(
                activity_type_id=(self.action_activity_type_id or self.env.ref("mail.mail_activity_data_todo")).id,
                summary=self.action_summary or self.name,
                user_id=salesperson.id or self.env.uid,
            )
        elif action == "notify":
            salesperson = participant.user_id or self.campaign_id.user_id
            if not salesperson.partner_id:
                raise UserError(self.env._(
                    "The record %(record)s has no salesperson to notify.",
                    record=record.display_name,
                ))
            record.message_notify(
                partner_ids=salesperson.partner_id.ids,
                subject=self.action_summary or self.name,
                body=self.env._(
                    "%(record)s reached the step %(step)s of the campaign %(campaign)s.",
                    record=record.display_name,
                    step=self.name,
                    campaign=self.campaign_id.name,
                ),
            )
        elif action == "convert":
            if record.type != "opportunity":
                record.convert_opportunity(record.partner_id)

    def _montanes_choose_ab_winner(self):
        """Choose the winning version on the rate of the chosen criterion.

        Only human outcomes count, because machine opens and clicks never
        mark a trace. Opens, clicks and replies count up to the decision
        date. Conversions are read as they are now. A tie keeps version A.
        """
        self.ensure_one()
        activities = self.env["montanes.campaign.trace"].sudo().search([
            ("step_id", "=", self.id),
            ("variant", "!=", False),
            ("state", "=", "processed"),
        ])
        by_variant = activities.grouped("variant")
        hits = {}
        for variant in ("a", "b"):
            variant_activities = by_variant.get(variant, activities.browse())
            if self.ab_criterion == "converted":
                leads = variant_activities.participant_id.lead_id
                hits[variant] = len(leads.filtered(lambda lead: lead.type == "opportunity" or lead.won_status == "won"))
            else:
                hits[variant] = 0
                for trace in variant_activities.mailing_trace_id:
                    outcome_date = trace._montanes_get_outcome_date(self.ab_criterion)
                    if outcome_date and outcome_date <= self.ab_decision_date:
                        hits[variant] += 1
        # Compare hits_b / count_b with hits_a / count_a without float rounding.
        count_a = len(by_variant.get("a", []))
        count_b = len(by_variant.get("b", []))
        self.ab_winner = "b" if hits["b"] * count_a > hits["a"] * count_b else "a"
        return self.ab_winner
