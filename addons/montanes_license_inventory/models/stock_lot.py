from odoo import SUPERUSER_ID, api, fields, models

from .montanes_license import KEY_GROUPS

# Groups whose users see licence keys in full wherever a serial number is displayed. Inventory
# users are not among them: the confirmation picks the keys, so nobody in the warehouse needs
# to read them.
KEY_DISPLAY_GROUPS = KEY_GROUPS


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

    def _read_format(self, fnames, load='_classic_read'):
        """Mask the name of licence keys for users outside `KEY_DISPLAY_GROUPS`.

        Lists, forms, exports and RPC reads all go through this method, while code reading
        `lot.name` from the ORM still gets the key.
        """
        result = super()._read_format(fnames, load=load)
        if 'name' not in fnames or not self.env['stock.lot']._montanes_must_mask_keys():
            return result
        key_lot_ids = set(self.sudo().filtered('montanes_is_license_key').ids)
        mask_key = self.env['montanes.license'].montanes_mask_key
        for values in result:
            if values['id'] in key_lot_ids and values.get('name'):
                values['name'] = mask_key(values['name'])
        return result

    @api.model
    def _montanes_must_mask_keys(self):
        """Return whether the current user reads licence keys masked."""
        if self.env.su or self.env.uid == SUPERUSER_ID:
            return False
        return not self.env.user.has_groups(KEY_DISPLAY_GROUPS)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            product = self._montanes_get_key_product(vals.get('product_id'))
            if vals.get('name') and product:
                vals['name'] = self.montanes_normalize_key(vals['name'], product)
        return super().create(vals_list)

    def write(self, vals):
        key_lots = self.filtered('montanes_is_license_key')
        if vals.get('name') and key_lots:
            vals['name'] = self.montanes_normalize_key(vals['name'], key_lots.product_id[:1])
        return super().write(vals)

    @api.model
    def montanes_normalize_key(self, key, product=None):
        """Return the key as it is stored: without surrounding spaces, in the letter case of
        the product's key case rule (upper case when no product is given)."""
        key = (key or '').strip()
        case = product.montanes_key_case if product else 'upper'
        if case == 'lower':
            return key.lower()
        if case == 'keep':
            return key
        return key.upper()

    @api.model
    def _montanes_get_key_product(self, product_id):
        """Return the product of `product_id` when it is a key licence, else an empty one."""
        if not product_id:
            return self.env['product.product']
        product = self.env['product.product'].browse(product_id)
        return product if product.montanes_license_kind == 'key' else product.browse()
