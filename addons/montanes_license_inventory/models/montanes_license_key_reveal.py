from odoo import fields, models


class MontanesLicenseKeyReveal(models.Model):
    _name = 'montanes.license.key.reveal'
    _description = "Licence Key Reveal"
    _order = 'create_date desc, id desc'
    _rec_name = 'license_id'

    license_id = fields.Many2one(
        comodel_name='montanes.license',
        string="Licence",
        required=True,
        index=True,
        ondelete='cascade',
        readonly=True,
    )
    user_id = fields.Many2one(
        comodel_name='res.users',
        string="Revealed By",
        required=True,
        readonly=True,
    )
    channel = fields.Selection(
        selection=[
            ('backend', "Back office"),
            ('portal', "Customer portal"),
            ('email', "Key e-mail"),
        ],
        string="Channel",
        required=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related='license_id.company_id',
        store=True,
    )
