from odoo import SUPERUSER_ID, api, fields, models

from .montanes_license import KEY_GROUPS

# Groups whose users see licence keys in full wherever a serial number is displayed: the key
# groups, and inventory users, who need the key to pick and count it.
KEY_DISPLAY_GROUPS = f'{KEY_GROUPS},stock.group_stock_user'


class StockLot(models.Model):
    _inherit = 'stock.lot'

    montanes_is_license_key = fields.Boolean(
        string="Is Licence Key",
        compute='_compute_montanes_is_license_key',
        store=True,
        help="Set when the product of this serial number is a key licence: the serial number "
             "is then the licence key.",
    )
    montanes_activation_deadline = fields.Date(
        string="Activation Deadline",
        help="Last day the vendor accepts the activation of this key.",
    )
    montanes_license_ids = fields.One2many(
        comodel_name='montanes.license',
        inverse_name='lot_id',
        string="Licences",
    )

    # Odoo only checks (product, name, company) in Python. A licence key must be unique across
    # every product and company, and only the database can enforce that under concurrency.
    _montanes_license_key_unique = models.UniqueIndex(
        '(name) WHERE montanes_is_license_key IS TRUE',
        "This licence key already exists. Each key can be loaded only once.",
    )

    @api.depends('product_id.montanes_license_kind')
    def _compute_montanes_is_license_key(self):
        for lot in self:
            lot.montanes_is_license_key = lot.product_id.montanes_license_kind == 'key'

    # Many2one values are read with sudo(), so the check uses the user id, which sudo() keeps.
    @api.depends('montanes_is_license_key')
    @api.depends_context('uid')
    def _compute_display_name(self):
        """Show a licence key masked to users outside `KEY_DISPLAY_GROUPS`.

        A salesperson reads serial numbers only as many2one values of quants, move lines or
        licences, and these values carry the display name.
        """
        super()._compute_display_name()
        if self.env.uid == SUPERUSER_ID or self.env.user.has_groups(KEY_DISPLAY_GROUPS):
            return
        License = self.env['montanes.license']
        for lot in self.filtered('montanes_is_license_key'):
            lot.display_name = License.montanes_mask_key(lot.name)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get('name') and self._montanes_is_key_product(vals.get('product_id')):
                vals['name'] = self.montanes_normalize_key(vals['name'])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get('name') and any(lot.montanes_is_license_key for lot in self):
            vals['name'] = self.montanes_normalize_key(vals['name'])
        return super().write(vals)

    @api.model
    def montanes_normalize_key(self, key):
        """Return the key as it is stored: without surrounding spaces and in upper case."""
        return (key or '').strip().upper()

    @api.model
    def _montanes_is_key_product(self, product_id):
        if not product_id:
            return False
        product = self.env['product.product'].browse(product_id)
        return product.montanes_license_kind == 'key'
