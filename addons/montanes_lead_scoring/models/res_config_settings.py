from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    montanes_max_fit_score = fields.Integer(
        string='Maximum Profile Score',
        config_parameter='montanes_lead_scoring.max_fit_score',
        help='Most points the profile rules give one lead together. 0 means no maximum. '
        'A change applies at once to the profile score of every lead.',
    )
    montanes_max_engagement_score = fields.Integer(
        string='Maximum Engagement Score',
        config_parameter='montanes_lead_scoring.max_engagement_score',
        help='Most points the behaviour rules give one lead together. 0 means no maximum. '
        'A change applies to new events only: leads keep the points they already earned.',
    )

    @api.constrains('montanes_max_fit_score', 'montanes_max_engagement_score')
    def _check_montanes_caps(self):
        for settings in self:
            if settings.montanes_max_fit_score < 0 or settings.montanes_max_engagement_score < 0:
                raise ValidationError(self.env._(
                    "A maximum score cannot be negative: enter 0 for no maximum or a positive number."))

    def set_values(self):
        ScoreLine = self.env['montanes.lead.score.line']
        old_fit_cap = ScoreLine._get_score_cap('fit')
        super().set_values()
        # The engagement maximum caps new events only: behaviour entries record what an event
        # earned when it happened, so leads keep them (see readme/ROADMAP.md).
        if ScoreLine._get_score_cap('fit') != old_fit_cap:
            ScoreLine._reapply_profile_caps()
