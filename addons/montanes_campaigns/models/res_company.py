from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    montanes_campaign_weekly_cap = fields.Integer(
        string="Weekly E-mail Cap",
        default=3,
        help="Maximum number of automated campaign e-mails one address gets "
        "in 7 days, all campaigns together. Further e-mails wait. 0 means no cap.",
    )
