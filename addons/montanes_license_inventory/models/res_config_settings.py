from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    montanes_license_service_user_id = fields.Many2one(
        related='company_id.montanes_license_service_user_id',
        readonly=False,
    )
    montanes_license_invoice_mode = fields.Selection(
        related='company_id.montanes_license_invoice_mode',
        readonly=False,
    )
    montanes_license_key_email_mode = fields.Selection(
        related='company_id.montanes_license_key_email_mode',
        readonly=False,
    )
    montanes_license_shortage_mode = fields.Selection(
        related='company_id.montanes_license_shortage_mode',
        readonly=False,
    )
    montanes_license_purchase_user_id = fields.Many2one(
        related='company_id.montanes_license_purchase_user_id',
        readonly=False,
    )
    montanes_license_expiry_notice_days = fields.Integer(
        related='company_id.montanes_license_expiry_notice_days',
        readonly=False,
    )
    montanes_license_return_location_id = fields.Many2one(
        related='company_id.montanes_license_return_location_id',
        readonly=False,
    )
