from odoo import fields, models


class ResCompany(models.Model):
    _inherit = 'res.company'

    montanes_license_service_user_id = fields.Many2one(
        comodel_name='res.users',
        string="Licence Service User",
        help="User who gets the licence delivery activity of each confirmed order. When empty, "
             "the first active user of the Licences: Service Team group gets it, else the "
             "salesperson.",
    )
