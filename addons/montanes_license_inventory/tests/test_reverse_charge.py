from odoo import Command
from odoo.tests import tagged

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"


@tagged('post_install', '-at_install')
class TestReverseCharge(MontanesLicenseCommon):
    """Spanish chart of accounts (l10n_es): intra-EU business customers get the
    intra-community fiscal position, which maps the 21 % VAT to reverse charge."""

    @classmethod
    @AccountTestInvoicingCommon.setup_country('es')
    def setUpClass(cls):
        super().setUpClass()
        cls.sale_tax = cls.company.account_sale_tax_id
        cls.product_office.taxes_id = [Command.set(cls.sale_tax.ids)]
        cls._import_keys(HEADER + (
            "OFF-PERP;OFP-REVAA-AAAAA-AAAAA-KEY01;;\r\n"
            "OFF-PERP;OFP-REVBB-BBBBB-BBBBB-KEY02;;\r\n"
        ))
        cls.intra_position = cls.env['account.chart.template'].with_company(
            cls.company).ref('fp_intra')
        cls.french_business = cls.env['res.partner'].create({
            'name': "Logiciels Garonne SARL",
            'is_company': True,
            'country_id': cls.env.ref('base.fr').id,
            'vat': 'FR23334175221',
        })

    def _confirm(self, partner):
        order = self.env['sale.order'].create({
            'partner_id': partner.id,
            'company_id': self.company.id,
            'order_line': [Command.create({
                'product_id': self.product_office.id,
                'product_uom_qty': 1,
                'price_unit': 100.0,
            })],
        })
        order.action_confirm()
        return order

    def test_intra_eu_business_reverse_charge(self):
        order = self._confirm(self.french_business)
        invoice = order.invoice_ids
        self.assertEqual(order.fiscal_position_id, self.intra_position)
        self.assertEqual(invoice.fiscal_position_id, self.intra_position)
        self.assertNotEqual(order.order_line.tax_ids, self.sale_tax)
        self.assertEqual(order.amount_tax, 0.0)
        self.assertEqual(invoice.amount_untaxed, 100.00)
        self.assertEqual(invoice.amount_tax, 0.0)
        self.assertEqual(invoice.amount_total, 100.00)
        self.assertEqual(invoice.state, 'posted')

    def test_spanish_customer_pays_vat(self):
        spanish = self.env['res.partner'].create({
            'name': "Talleres Ebro S.L.", 'is_company': True,
            'country_id': self.env.ref('base.es').id, 'vat': 'ESA12345674',
        })
        order = self._confirm(spanish)
        self.assertEqual(order.order_line.tax_ids, self.sale_tax)
        self.assertEqual(order.invoice_ids.amount_tax, 21.00)
        self.assertEqual(order.invoice_ids.amount_total, 121.00)
