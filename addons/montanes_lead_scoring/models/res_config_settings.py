from odoo import api, fields, models
from odoo.exceptions import ValidationError


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    montanes_max_fit_score = fields.Integer(
        string='Maximum Profile Score',
        config_parameter='montanes_lead_scoring.max_fit_score',
        help='Most points the profile rules give one lead together. 0 means no maximum.',
    )
    montanes_max_engagement_score = fields.Integer(
        string='Maximum Engagement Score',
        config_parameter='montanes_lead_scoring.max_engagement_score',
        help='Most points the behaviour rules give one lead together. 0 means no maximum.',
    )

    @api.constrains('montanes_max_fit_score', 'montanes_max_engagement_score')
    def _check_montanes_caps(self):
        for settings in self:
            if settings.montanes_max_fit_score < 0 or settings.montanes_max_engagement_score < 0:
                raise ValidationError(self.env._(
                    "A maximum score cannot be negative: enter 0 for no maximum or a positive number."))
