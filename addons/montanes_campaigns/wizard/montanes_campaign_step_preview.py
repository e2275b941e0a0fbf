from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import email_normalize_all

from ..models.montanes_campaign_step import convert_inline_placeholders


class MontanesCampaignStepPreview(models.TransientModel):
    """Preview of a step e-mail for a chosen lead or contact, and test send
    to the current user."""

    _name = "montanes.campaign.step.preview"
    _description = "Automated Campaign Step Preview"

    step_id = fields.Many2one(
        comodel_name="montanes.campaign.step",
        string="Step",
        required=True,
        ondelete="cascade",
    )
    target_model = fields.Selection(related="step_id.campaign_id.target_model")
    lead_id = fields.Many2one(comodel_name="crm.lead", string="Lead")
    partner_id = fields.Many2one(comodel_name="res.partner", string="Contact")
    variant = fields.Selection(
        selection=[("a", "Version A"), ("b", "Version B")],
        string="Version",
        default="a",
        required=True,
    )
    subject_preview = fields.Char(string="Subject", compute="_compute_preview")
    body_preview = fields.Html(string="Body", compute="_compute_preview", sanitize=False)
    error = fields.Char(string="Rendering Error", compute="_compute_preview")

    @api.depends("step_id", "lead_id", "partner_id", "variant")
    def _compute_preview(self):
        for preview in self:
            preview.subject_preview = False
            preview.body_preview = False
            preview.error = False
            if not (preview.lead_id or preview.partner_id):
                continue
            try:
                preview.subject_preview, preview.body_preview = preview._render()
            except UserError as error:
                preview.error = str(error)

    def _render(self):
        """Return the subject and body of the step e-mail rendered for the
        chosen record, through a participant that is never saved."""
        self.ensure_one()
        step = self.step_id
        record = self.lead_id or self.partner_id
        emails = email_normalize_all(record.email_from if self.lead_id else record.email) or [False]
        participant = self.env["montanes.campaign.participant"].new({
            "campaign_id": step.campaign_id.id,
            "lead_id": self.lead_id.id,
            "partner_id": self.partner_id.id,
            "email_normalized": emails[0],
        })
        subject = step.subject_b if self.variant == "b" else step.subject
        body = convert_inline_placeholders(step.body_html_b if self.variant == "b" else step.body_html)
        Render = self.env["mail.render.mixin"]
        model = participant._name
        rendered_subject = Render._render_template(subject or "", model, [participant.id])[participant.id]
        rendered_body = Render._render_template(body or "", model, [participant.id], engine="qweb")[participant.id]
        return rendered_subject, rendered_body

    def action_send_test(self):
        """Queue the previewed e-mail to the current user's address."""
        self.ensure_one()
        if not self.env.user.email:
            raise UserError(self.env._("Your user has no e-mail address. Add one in your preferences."))
        if not (self.lead_id or self.partner_id):
            raise UserError(self.env._("Choose a lead or contact to render the test e-mail with."))
        subject, body = self._render()
        self.env["mail.mail"].sudo().create({
            "subject": self.env._("[Test] %(subject)s", subject=subject),
            "body_html": body,
            "email_to": self.env.user.email_formatted,
            "email_from": self.step_id.campaign_id.user_id.email_formatted or self.env.user.email_formatted,
            "auto_delete": True,
        })
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "type": "success",
                "message": self.env._("A test e-mail is on its way to %(email)s.", email=self.env.user.email),
            },
        }
