from odoo import api, fields, models


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
