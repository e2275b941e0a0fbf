from odoo import api, fields, models
from odoo.exceptions import ValidationError

LINE_STATUSES = [
    ('new', "New"),
    ('update', "Already imported"),
    ('duplicate_file', "Duplicate in file"),
    ('duplicate_existing', "Duplicate of existing"),
    ('error', "Error"),
]
DUPLICATE_STATUSES = ('duplicate_file', 'duplicate_existing')


class MontanesLeadImportLine(models.TransientModel):
    _name = 'montanes.lead.import.line'
    _description = "Sales Spreadsheet Import Row"
    _order = 'wizard_id, row_number'

    wizard_id = fields.Many2one(
        comodel_name='montanes.lead.import',
        string="Import",
        required=True,
        ondelete='cascade',
        index=True,
    )
    row_number = fields.Integer(
        string="Row",
        readonly=True,
        help="Row of the spreadsheet, counting the header as row 1. In Excel and ODS files, blank rows above it are not counted.",
    )

    # Cells shown for the review
    company_name = fields.Char(string="Company", readonly=True)
    contact_name = fields.Char(string="Contact", readonly=True)
    email = fields.Char(string="Email", readonly=True)
    phone = fields.Char(string="Phone", readonly=True)
    vat = fields.Char(string="Tax ID", readonly=True)

    # Duplicate analysis
    status = fields.Selection(
        selection=LINE_STATUSES,
        string="Status",
        required=True,
        readonly=True,
        default='new',
    )
    reason = fields.Text(
        string="Reason",
        readonly=True,
        help="Why the row has this status, and the warnings found while reading its cells.",
    )
    matched_lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string="Matched Lead",
        readonly=True,
    )
    matched_partner_id = fields.Many2one(
        comodel_name='res.partner',
        string="Matched Contact",
        readonly=True,
    )
    matched_row_number = fields.Integer(
        string="Matched Row",
        readonly=True,
        help="Earlier row of the same file with the same person or company.",
    )
    matched_line_id = fields.Many2one(
        comodel_name='montanes.lead.import.line',
        string="Matched Line",
        readonly=True,
        help="Line of the matched row, set once every line of the file exists.",
    )
    can_merge = fields.Boolean(
        compute='_compute_can_merge',
        help="Whether the row has a lead or an earlier row to merge into.",
    )
    action = fields.Selection(
        selection=[
            ('create', "Create"),
            ('merge', "Merge"),
            ('skip', "Skip"),
        ],
        string="Action",
        required=True,
        default='create',
    )

    # Values prepared for crm.lead, and the row as written, for the rejected rows file
    import_key = fields.Char(readonly=True)
    lead_values = fields.Json(readonly=True)
    raw_values = fields.Json(readonly=True)

    # Outcome of the import
    result = fields.Selection(
        selection=[
            ('created', "Created"),
            ('merged', "Merged"),
            ('skipped', "Skipped"),
            ('rejected', "Rejected"),
        ],
        string="Result",
        readonly=True,
    )
    result_message = fields.Text(string="Result Details", readonly=True)
    lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string="Lead",
        readonly=True,
        help="Lead created or merged into by this row.",
    )

    @api.depends('matched_lead_id', 'matched_row_number')
    def _compute_can_merge(self):
        for line in self:
            line.can_merge = bool(line.matched_lead_id or line.matched_row_number)

    @api.constrains('action', 'status', 'matched_lead_id', 'matched_row_number')
    def _check_action(self):
        """Keep rows with errors skipped, and merges pointed at a target."""
        for line in self:
            if line.status == 'error' and line.action != 'skip':
                raise ValidationError(self.env._(
                    "Row %(row)s has an error and can only be skipped: %(reason)s",
                    row=line.row_number, reason=line.reason,
                ))
            if line.action == 'merge' and not (line.matched_lead_id or line.matched_row_number):
                raise ValidationError(self.env._(
                    "Row %(row)s matches no lead and no earlier row, so it cannot be merged. "
                    "Choose Create or Skip.",
                    row=line.row_number,
                ))
