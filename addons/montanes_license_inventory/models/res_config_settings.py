from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    montanes_license_service_user_id = fields.Many2one(
        related='company_id.montanes_license_service_user_id',
        readonly=False,
    )
