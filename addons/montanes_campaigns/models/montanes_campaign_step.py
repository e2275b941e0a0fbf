import re
from collections import defaultdict

from dateutil.relativedelta import relativedelta
from lxml import html

from odoo import api, fields, models
from odoo.exceptions import UserError

# "{{ expression }}" in the text of a body, the placeholder syntax of
# subjects. The step mailing turns it into a QWeb t-out node.
INLINE_PLACEHOLDER = re.compile(r"\{\{\s*(.+?)\s*\}\}", re.DOTALL)


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


class MontanesCampaignStep(models.Model):
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
    name = fields.Char(string="Step", required=True)

    # Content
    subject = fields.Char(
        string="Subject",
        help="Subject of the e-mail. It accepts inline placeholders such as "
        "{{ object.contact_name }}, where object is the lead.",
    )
    body_html = fields.Html(
        string="Body",
        sanitize="email_outgoing",
        help="Body of the e-mail, rendered with QWeb for each lead as mass "
        'mailings are, e.g. <t t-out="object.contact_name"/>. Placeholders '
        "written as {{ object.contact_name }} in the text work too.",
    )

    # Timing
    delay_value = fields.Integer(
        string="Delay",
        default=0,
        required=True,
        help="Time to wait after the previous step was sent, or after the "
        "enrolment for the first step. With 0, the step is sent in the same "
        "run as the previous one.",
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

    # Statistics, from the mailing traces of the step mailing
    sent_count = fields.Integer(string="Sent", compute="_compute_statistics")
    opened_count = fields.Integer(string="Opened", compute="_compute_statistics")
    clicked_count = fields.Integer(string="Clicked", compute="_compute_statistics")
    replied_count = fields.Integer(string="Replied", compute="_compute_statistics")
    bounced_count = fields.Integer(string="Bounced", compute="_compute_statistics")
    canceled_count = fields.Integer(
        string="Cancelled",
        compute="_compute_statistics",
        help="E-mails not sent because the address is blacklisted, opted out, "
        "invalid or already mailed by this step.",
    )

    _check_delay_value = models.Constraint(
        "CHECK(delay_value >= 0)",
        "The delay of a step cannot be negative.",
    )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends("mailing_id")
    def _compute_statistics(self):
        """Count the traces of each step mailing by status, as mass_mailing
        counts its own statistics: opened includes replied, and sent and
        clicked count the traces that have a sent or click date."""
        counts_by_mailing = defaultdict(lambda: defaultdict(int))
        mailings = self.mailing_id
        if mailings:
            # sudo: salesmen read the steps but have no access to traces.
            trace_groups = self.env["mailing.trace"].sudo()._read_group(
                [("mass_mailing_id", "in", mailings.ids)],
                ["mass_mailing_id", "trace_status"],
                ["__count", "sent_datetime:count", "links_click_datetime:count"],
            )
            for mailing, status, count, sent, clicked in trace_groups:
                counts = counts_by_mailing[mailing.id]
                counts[status] += count
                counts["sent_datetime"] += sent
                counts["links_click_datetime"] += clicked
        for step in self:
            counts = counts_by_mailing[step.mailing_id.id]
            step.sent_count = counts["sent_datetime"]
            step.opened_count = counts["open"] + counts["reply"]
            step.clicked_count = counts["links_click_datetime"]
            step.replied_count = counts["reply"]
            step.bounced_count = counts["bounce"]
            step.canceled_count = counts["cancel"]

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        result = super().write(vals)
        if {"name", "subject", "body_html"} & set(vals):
            # Later sendings of the step use the new content.
            for step in self.filtered("mailing_id"):
                step.mailing_id.write(step._prepare_mailing_vals())
        return result

    @api.ondelete(at_uninstall=False)
    def _unlink_except_sent(self):
        sent_steps = self.filtered(lambda step: step.mailing_id.mailing_trace_ids)
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

    def _prepare_mailing_vals(self):
        """Return the values the step mailing copies from the step and its
        campaign. The mailing only targets the leads enrolled in the campaign,
        and the campaign UTM campaign gives the attribution of every click,
        reply and lead created from the e-mails."""
        self.ensure_one()
        campaign = self.campaign_id
        return {
            "name": f"{campaign.name} - {self.name}",
            "subject": self.subject,
            "body_arch": convert_inline_placeholders(self.body_html),
            "body_html": convert_inline_placeholders(self.body_html),
            "campaign_id": campaign.utm_campaign_id.id,
            "mailing_model_id": self.env["ir.model"]._get_id("crm.lead"),
            "mailing_domain": repr([
                ("montanes_campaign_participant_ids.campaign_id", "=", campaign.id),
            ]),
            "user_id": campaign.user_id.id,
            "reply_to_mode": "update",
        }

    def _get_or_create_mailing(self):
        """Return the mailing of the step, created at the first call."""
        self.ensure_one()
        if not self.mailing_id:
            self.mailing_id = self.env["mailing.mailing"].create(self._prepare_mailing_vals())
        return self.mailing_id
