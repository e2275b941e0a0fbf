import logging

from odoo import api, fields, models
from odoo.exceptions import ValidationError

_logger = logging.getLogger(__name__)

# Spanish standard VAT rate, in percent, applied to every licence of the catalogue.
DEMO_SALE_TAX_RATE = 21.0

# Values a key licence needs so that each unit is one serial number (one key) taken from
# stock and the whole ordered quantity is invoiced at confirmation, before delivery.
KEY_LICENSE_PRODUCT_VALUES = {
    'is_storable': True,
    'tracking': 'serial',
    'invoice_policy': 'order',
}


class ProductTemplate(models.Model):
    _inherit = 'product.template'

    montanes_license_kind = fields.Selection(
        selection=[
            ('key', "Key from stock"),
            ('seats', "Seat pool"),
            ('subscription', "Subscription"),
            ('service', "Service"),
        ],
        string="Licence Kind",
        help="Key from stock: each unit is one licence key kept as a serial number.\n"
             "Seat pool: the quantity is a number of seats, with no key.",
    )
    montanes_license_term_months = fields.Integer(
        string="Licence Term (months)",
        help="Number of months a licence stays valid after the order is confirmed. "
             "0 means perpetual.",
    )
    montanes_key_prefix = fields.Char(
        string="Key Prefix",
        help="Text every key of this product starts with, for example MSERP-. "
             "The key import rejects keys that do not start with it.",
    )

    _check_montanes_license_term_months = models.Constraint(
        'CHECK(montanes_license_term_months >= 0)',
        "The licence term cannot be negative: use 0 for a perpetual licence.",
    )

    @api.constrains('montanes_license_kind', 'is_storable', 'tracking')
    def _check_montanes_key_license_tracking(self):
        """Ensure that a key licence is storable and tracked by serial number."""
        for template in self:
            if template.montanes_license_kind != 'key':
                continue
            if not template.is_storable or template.tracking != 'serial':
                raise ValidationError(self.env._(
                    "The product “%(product)s” is a key licence, so it must be tracked in "
                    "inventory by unique serial number. Set “Track Inventory” and tracking "
                    "“By Unique Serial Number”, or choose another licence kind.",
                    product=template.display_name,
                ))

    @api.onchange('montanes_license_kind')
    def _onchange_montanes_license_kind(self):
        if self.montanes_license_kind == 'key':
            self.update(KEY_LICENSE_PRODUCT_VALUES)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._montanes_add_key_license_values(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._montanes_add_key_license_values(vals)
        return super().write(vals)

    @api.model
    def _montanes_add_key_license_values(self, vals):
        """Fill in the storable, tracking and invoicing values of a key licence.

        Values passed explicitly are kept, so a contradiction still reaches the constraint.
        """
        if vals.get('montanes_license_kind') == 'key':
            for field_name, value in KEY_LICENSE_PRODUCT_VALUES.items():
                vals.setdefault(field_name, value)

    # ------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------

    def _montanes_demo_set_sale_tax(self):
        """Set a 21 % sale tax of each product's company, creating it when missing.

        NOTE: the demo does not load the es_pymes chart of accounts. Demo data loads before the
        registry is complete, and account.chart.template.try_loading (Odoo 19.0) warns that
        loading then "could lead to issues". l10n_es loads es_pymes itself when it is installed
        for a Spanish company, so any 21 % sale tax of the company is used here instead.
        """
        for template in self:
            company = template.company_id or self.env.company
            tax = self.env['account.tax'].search([
                *self.env['account.tax']._check_company_domain(company),
                ('type_tax_use', '=', 'sale'),
                ('amount_type', '=', 'percent'),
                ('amount', '=', DEMO_SALE_TAX_RATE),
                ('price_include', '=', False),
            ], limit=1)
            if not tax:
                tax = self.env['account.tax'].create({
                    'name': "IVA 21%",
                    'amount': DEMO_SALE_TAX_RATE,
                    'amount_type': 'percent',
                    'type_tax_use': 'sale',
                    'company_id': company.id,
                })
                _logger.info("Demo sale tax %s created for company %s", tax.name, company.name)
            template.taxes_id = [fields.Command.set(tax.ids)]
