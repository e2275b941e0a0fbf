from dateutil.relativedelta import relativedelta

from odoo import api, fields, models

# Character that replaces the hidden part of a key for users outside the key groups.
KEY_MASK_CHARACTER = '•'
# Characters left visible at the end of a key without hyphens, enough to tell keys apart.
KEY_VISIBLE_TAIL_LENGTH = 5
# Groups allowed to read the key itself. Other licence users only read the masked key.
KEY_GROUPS = (
    'montanes_license_inventory.montanes_license_inventory_group_service,'
    'montanes_license_inventory.montanes_license_inventory_group_manager'
)


class MontanesLicense(models.Model):
    _name = 'montanes.license'
    _description = "Licence"
    _inherit = ['mail.thread']
    _order = 'date_start desc, id desc'
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: self.env._("New"),
    )
    partner_id = fields.Many2one(
        comodel_name='res.partner',
        string="Holder",
        required=True,
        index=True,
        tracking=True,
    )
    product_id = fields.Many2one(
        comodel_name='product.product',
        string="Product",
        required=True,
        check_company=True,
    )
    lot_id = fields.Many2one(
        comodel_name='stock.lot',
        string="Key Serial Number",
        index=True,
        check_company=True,
        groups=KEY_GROUPS,
        help="Serial number that contains the licence key. Empty for seat pools.",
    )
    key = fields.Char(
        related='lot_id.name',
        string="Key",
        groups=KEY_GROUPS,
    )
    montanes_key_masked = fields.Char(
        string="Masked Key",
        compute='_compute_montanes_key_masked',
        compute_sudo=True,
        help="The key with every group but the first and the last hidden.",
    )
    sale_line_id = fields.Many2one(
        comodel_name='sale.order.line',
        string="Sales Order Line",
        index=True,
        ondelete='restrict',
    )
    order_id = fields.Many2one(
        related='sale_line_id.order_id',
        string="Sales Order",
        store=True,
        index=True,
    )
    invoice_line_id = fields.Many2one(
        comodel_name='account.move.line',
        string="Invoice Line",
        ondelete='set null',
    )
    invoice_id = fields.Many2one(
        related='invoice_line_id.move_id',
        string="Invoice",
    )
    seats = fields.Integer(string="Seats", default=1, required=True)
    date_start = fields.Date(string="Start Date", required=True, tracking=True)
    date_end = fields.Date(
        string="End Date",
        tracking=True,
        help="Date the licence expires: the start date plus the term. Empty for a perpetual "
             "licence.",
    )
    state = fields.Selection(
        selection=[
            ('active', "Active"),
            ('expired', "Expired"),
            ('revoked', "Revoked"),
        ],
        string="Status",
        required=True,
        default='active',
        tracking=True,
    )
    company_id = fields.Many2one(
        comodel_name='res.company',
        string="Company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )

    # A key is held by one licence at a time: a revoked licence frees its key for a new one.
    _lot_id_unique_not_revoked = models.UniqueIndex(
        "(lot_id) WHERE lot_id IS NOT NULL AND state != 'revoked'",
        "This licence key is already held by another licence that is not revoked.",
    )
    _check_seats_positive = models.Constraint(
        'CHECK(seats > 0)',
        "A licence needs at least one seat.",
    )
    _check_date_end_after_start = models.Constraint(
        'CHECK(date_end IS NULL OR date_end >= date_start)',
        "The end date of a licence cannot be before its start date.",
    )

    @api.depends('lot_id.name')
    def _compute_montanes_key_masked(self):
        for license_ in self:
            license_.montanes_key_masked = self.montanes_mask_key(license_.lot_id.name)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get('name') or vals['name'] == self.env._("New"):
                vals['name'] = self.env['ir.sequence'].next_by_code('montanes.license') or '/'
        return super().create(vals_list)

    @api.model
    def montanes_mask_key(self, key):
        """Return the key with every hyphen-separated group but the first and the last hidden.

        A key without at least three groups keeps only its last characters visible.
        """
        if not key:
            return False
        groups = key.split('-')
        if len(groups) >= 3:
            hidden = [KEY_MASK_CHARACTER * len(group) for group in groups[1:-1]]
            return '-'.join([groups[0], *hidden, groups[-1]])
        visible_length = min(KEY_VISIBLE_TAIL_LENGTH, len(key) // 2)
        hidden_length = len(key) - visible_length
        return KEY_MASK_CHARACTER * hidden_length + key[hidden_length:]

    @api.model
    def montanes_compute_date_end(self, date_start, term_months):
        """Return the expiry date of a licence of `term_months` months: `date_start` plus the
        term, or False when perpetual."""
        if not term_months:
            return False
        return date_start + relativedelta(months=term_months)
