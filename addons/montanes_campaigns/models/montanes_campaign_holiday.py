from odoo import fields, models


class MontanesCampaignHoliday(models.Model):
    _name = "montanes.campaign.holiday"
    _description = "Automated Campaign Holiday"
    _order = "date desc"

    name = fields.Char(string="Holiday", required=True, translate=True)
    date = fields.Date(string="Date", required=True)
