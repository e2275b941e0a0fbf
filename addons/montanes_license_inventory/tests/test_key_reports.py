from odoo import Command
from odoo.tests import new_test_user, tagged

from .common import GROUP_SERVICE, MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
KEYS = ('MSERP-RPTAA-AAAAA-AAAAA-KEY01', 'MSERP-RPTBB-BBBBB-BBBBB-KEY02')
MASKED_KEYS = ('MSERP-•••••-•••••-•••••-KEY01', 'MSERP-•••••-•••••-•••••-KEY02')
LOT_ON_INVOICE_GROUP = 'stock_account.group_lot_on_invoice'
LOT_ON_DELIVERY_SLIP_GROUP = 'stock.group_lot_on_delivery_slip'


@tagged('post_install', '-at_install')
class TestKeyReports(MontanesLicenseCommon):
    """Stock's printed reports and the invoice print licence keys masked for users who may
    not reveal them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lots = cls._import_keys(
            HEADER + ''.join(f"MS-ERP-PRO-1Y;{key};;\r\n" for key in KEYS)).lot_ids
        cls.order = cls._create_order([(cls.product_erp, 2, 1490.0)])
        cls.order.action_confirm()
        cls.picking = cls.order.picking_ids
        cls.invoice = cls.order.invoice_ids
        cls.user_stock = new_test_user(
            cls.env, login='montanes_report_warehouse',
            groups=f'stock.group_stock_user,stock.group_production_lot,'
                   f'account.group_account_invoice,{LOT_ON_INVOICE_GROUP},'
                   f'{LOT_ON_DELIVERY_SLIP_GROUP}',
            name="Pilar Sanz (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.user_key_reader = new_test_user(
            cls.env, login='montanes_report_service',
            groups=f'{GROUP_SERVICE},stock.group_stock_user,stock.group_production_lot,'
                   f'account.group_account_invoice,{LOT_ON_INVOICE_GROUP},'
                   f'{LOT_ON_DELIVERY_SLIP_GROUP}',
            name="Andrés Gil (report test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )

    def _render(self, user, report_ref, records):
        html, _format = self.env['ir.actions.report'].with_user(user)._render_qweb_html(
            report_ref, records.ids)
        return html.decode()

    def _render_text(self, user, report_ref, records):
        text, _format = self.env['ir.actions.report'].with_user(user)._render_qweb_text(
            report_ref, records.ids)
        return text.decode()

    # The rendered pages are long, so the messages name the key instead of printing them.
    def assertKeysMasked(self, output):
        for key, masked_key in zip(KEYS, MASKED_KEYS):
            self.assertFalse(key in output, f"full key {key} printed")
            self.assertTrue(masked_key in output, f"masked key {masked_key} not printed")

    def assertKeysFull(self, output):
        for key in KEYS:
            self.assertTrue(key in output, f"full key {key} not printed")

    def test_picking_operations_masked(self):
        output = self._render(self.user_stock, 'stock.action_report_picking', self.picking)
        self.assertKeysMasked(output)

    def test_picking_operations_full_for_service(self):
        output = self._render(self.user_key_reader, 'stock.action_report_picking', self.picking)
        self.assertKeysFull(output)

    def test_delivery_slip_masked(self):
        output = self._render(self.user_stock, 'stock.action_report_delivery', self.picking)
        self.assertKeysMasked(output)

    def test_delivery_slip_full_for_service(self):
        output = self._render(self.user_key_reader, 'stock.action_report_delivery', self.picking)
        self.assertKeysFull(output)

    def test_lot_label_masked(self):
        output = self._render(self.user_stock, 'stock.action_report_lot_label', self.lots)
        self.assertKeysMasked(output)

    def test_lot_label_full_for_service(self):
        output = self._render(self.user_key_reader, 'stock.action_report_lot_label', self.lots)
        self.assertKeysFull(output)

    def test_lot_label_gs1_masked(self):
        self.user_stock.group_ids = [Command.link(
            self.env.ref('stock.group_stock_lot_print_gs1').id)]
        output = self._render(self.user_stock, 'stock.action_report_lot_label', self.lots)
        self.assertKeysMasked(output)

    def test_lot_zpl_label_masked(self):
        output = self._render_text(self.user_stock, 'stock.label_lot_template', self.lots)
        self.assertKeysMasked(output)

    def test_lot_zpl_label_full_for_service(self):
        output = self._render_text(self.user_key_reader, 'stock.label_lot_template', self.lots)
        self.assertKeysFull(output)

    def _pack_keys(self):
        """Return a package in stock that contains the two keys again."""
        package = self.env['stock.package'].create({'name': 'PACK-KEYS-TEST'})
        Quant = self.env['stock.quant']
        for lot in self.lots:
            Quant._update_available_quantity(
                self.product_erp, self.stock_location, 1, lot_id=lot, package_id=package)
        return package

    def test_package_content_masked(self):
        package = self._pack_keys()
        output = self._render(self.user_stock, 'stock.action_report_package_barcode', package)
        self.assertKeysMasked(output)

    def test_package_content_gs1_masked(self):
        self.user_stock.group_ids = [Command.link(
            self.env.ref('stock.group_stock_lot_print_gs1').id)]
        package = self._pack_keys()
        output = self._render(self.user_stock, 'stock.action_report_package_barcode', package)
        self.assertKeysMasked(output)

        quants = package.quant_ids.with_user(self.user_stock)
        self.assertEqual([quant._get_gs1_barcode() for quant in quants], ['', ''])

    def test_package_content_barcodes_skip_keys(self):
        self.product_erp.barcode = 'MSERP-PRODUCT'
        package = self._pack_keys()
        stock_quants = package.quant_ids.with_user(self.user_stock)
        self.assertEqual(stock_quants.get_aggregate_barcodes(), [])

        service_quants = package.quant_ids.with_user(self.user_key_reader)
        barcodes = service_quants.get_aggregate_barcodes()
        self.assertEqual(len(barcodes), 1)
        for key in KEYS:
            self.assertIn(key, barcodes[0])

    def test_package_content_full_for_service(self):
        package = self._pack_keys()
        reveals_before = self.env['montanes.license.key.reveal'].search_count([])
        output = self._render(
            self.user_key_reader, 'stock.action_report_package_barcode', package)
        self.assertKeysFull(output)
        self.assertEqual(
            self.env['montanes.license.key.reveal'].search_count([]), reveals_before + 2)

    def test_invoice_lots_masked_for_everyone(self):
        for user in (self.user_stock, self.user_key_reader):
            with self.subTest(user=user.login):
                output = self._render(user, 'account.account_invoices', self.invoice)
                self.assertKeysMasked(output)
