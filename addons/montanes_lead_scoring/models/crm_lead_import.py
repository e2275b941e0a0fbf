from odoo import fields, models


class CrmLead(models.Model):
    _inherit = 'crm.lead'

    # Company data from the sales spreadsheet
    montanes_vat = fields.Char(
        string="Tax ID (CIF/NIF)",
        index='btree_not_null',
        help="Spanish tax ID of the company, upper-case without blanks, dashes or the ES prefix.",
    )
    montanes_industry_id = fields.Many2one(
        comodel_name='res.partner.industry',
        string="Industry",
    )
    montanes_employee_count = fields.Integer(
        string="Employees (estimate)",
        help="Number of employees read from the spreadsheet text; for a range such as 50-249 it is the lower bound.",
    )
    montanes_employee_text = fields.Char(
        string="Employees (as written)",
        help="The employee count exactly as the spreadsheet cell contained it.",
    )
    montanes_product_interest = fields.Char(
        string="Product of Interest",
    )

    # Dates
    montanes_date_registered = fields.Date(
        string="Registration Date",
        help="Date the sales team first entered the lead in its spreadsheet.",
    )
    montanes_date_last_contact = fields.Date(
        string="Last Contact Date",
    )

    # Import identity
    montanes_import_key = fields.Char(
        string="Import Key",
        index='btree_not_null',
        copy=False,
        help="Normalised company and contact name used to recognise this lead when the spreadsheet is imported again.",
    )
