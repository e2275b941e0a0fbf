from dateutil.relativedelta import relativedelta
from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
TEST_KEYS = (
    "MS-ERP-PRO-1Y;MSERP-TSTAA-AAAAA-AAAAA-KEY01;;\r\n"
    "MS-ERP-PRO-1Y;MSERP-TSTBB-BBBBB-BBBBB-KEY02;;\r\n"
    "MS-ERP-PRO-1Y;MSERP-TSTCC-CCCCC-CCCCC-KEY03;;\r\n"
    "OFF-PERP;OFP-TSTAA-AAAAA-AAAAA-KEY04;;\r\n"
)


@tagged('post_install', '-at_install')
class TestSaleConfirm(MontanesLicenseCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.key_import = cls._import_keys(HEADER + TEST_KEYS)
        cls.customer_location = cls.env.ref('stock.stock_location_customers')
        cls.activity_type = cls.env.ref(
            'montanes_license_inventory.mail_activity_type_license_delivery')

    def _confirm_erp_order(self, quantity=2):
        order = self._create_order([(self.product_erp, quantity, 1490.0)])
        order.action_confirm()
        return order

    def test_confirm_posts_invoice(self):
        order = self._confirm_erp_order()
        self.assertEqual(order.state, 'sale')
        self.assertEqual(len(order.invoice_ids), 1)
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, 'posted')
        self.assertEqual(invoice.move_type, 'out_invoice')
        self.assertAlmostEqual(invoice.amount_untaxed, 2980.00)
        self.assertAlmostEqual(invoice.amount_tax, 625.80)
        self.assertAlmostEqual(invoice.amount_total, 3605.80)

    def test_confirm_delivers_two_keys(self):
        order = self._confirm_erp_order()
        lots = order.montanes_license_ids.sudo().lot_id
        self.assertEqual(len(lots), 2)
        for lot in lots:
            quant = lot.quant_ids.filtered(lambda q: q.quantity > 0)
            self.assertEqual(quant.location_id, self.customer_location)
            self.assertEqual(quant.quantity, 1)
        self.assertEqual(order.picking_ids.state, 'done')

    def test_confirm_creates_licences(self):
        order = self._confirm_erp_order()
        today = fields.Date.context_today(order)
        licenses = order.montanes_license_ids
        self.assertEqual(order.montanes_license_count, 2)
        self.assertEqual(len(licenses), 2)
        self.assertEqual(set(licenses.mapped('date_start')), {today})
        self.assertEqual(set(licenses.mapped('date_end')), {today + relativedelta(months=12)})
        self.assertEqual(licenses.partner_id, self.customer)
        self.assertEqual(licenses.product_id, self.product_erp)
        self.assertEqual(set(licenses.mapped('state')), {'active'})
        self.assertEqual(set(licenses.mapped('seats')), {1})
        self.assertEqual(licenses.invoice_line_id.move_id, order.invoice_ids)
        self.assertEqual(licenses.sale_line_id, order.order_line)
        self.assertEqual(self.customer.montanes_license_count, 2)

    def test_confirm_schedules_one_activity(self):
        order = self._confirm_erp_order()
        activities = order.activity_ids.filtered(
            lambda activity: activity.activity_type_id == self.activity_type)
        self.assertEqual(len(activities), 1)
        self.assertEqual(activities.user_id, self.user_service)
        self.assertEqual(activities.summary, "Send 2 licence keys to the customer")

    def test_activity_falls_back_to_service_group(self):
        self.company.montanes_license_service_user_id = False
        order = self._confirm_erp_order(quantity=1)
        self.assertEqual(order.activity_ids.user_id, self.user_service)

    def test_confirm_twice_does_nothing_twice(self):
        order = self._confirm_erp_order()
        move_count = self._count('stock.move')

        order.action_confirm()
        order._action_confirm()

        self.assertEqual(len(order.invoice_ids), 1)
        self.assertEqual(len(order.montanes_license_ids), 2)
        self.assertEqual(len(order.activity_ids), 1)
        self.assertEqual(self._count('stock.move'), move_count)
        self.assertTrue(order.montanes_is_license_processed)

    def test_shortage_rolls_back(self):
        order = self._create_order([(self.product_erp, 5, 1490.0)])
        move_count = self._count('stock.move')
        invoice_count = self._count('account.move')
        license_count = self._count('montanes.license')

        with self.assertRaises(UserError) as error:
            order.action_confirm()

        self.assertEqual(
            error.exception.args[0],
            f"Not enough keys in stock for “{self.product_erp.display_name}”: 2 missing.",
        )
        self.assertEqual(order.state, 'draft')
        self.assertEqual(self._count('stock.move'), move_count)
        self.assertEqual(self._count('account.move'), invoice_count)
        self.assertEqual(self._count('montanes.license'), license_count)

    def test_shortage_message_in_spanish(self):
        self.env['res.lang']._activate_lang('es_ES')
        self.env['ir.module.module']._load_module_terms(['montanes_license_inventory'], ['es_ES'])
        order = self._create_order([(self.product_erp, 4, 1490.0)])

        with self.assertRaises(UserError) as error:
            order.with_context(lang='es_ES').action_confirm()

        self.assertEqual(
            error.exception.args[0],
            f"No hay claves suficientes de «{self.product_erp.display_name}»: faltan 1.",
        )

    def test_negative_key_quantity_message(self):
        order = self._create_order([(self.product_erp, -1, 1490.0)])
        with self.assertRaises(UserError) as error:
            order.action_confirm()
        self.assertEqual(
            error.exception.args[0],
            f"The quantity of “{self.product_erp.display_name}” on order {order.name} is -1: a "
            "licence key line cannot have a negative quantity. Enter the number of keys to "
            "deliver, or remove the line.",
        )
        self.assertEqual(order.state, 'draft')

    def test_negative_key_quantity_message_in_spanish(self):
        self.env['res.lang']._activate_lang('es_ES')
        self.env['ir.module.module']._load_module_terms(['montanes_license_inventory'], ['es_ES'])
        order = self._create_order([(self.product_erp, -2, 1490.0)])
        with self.assertRaises(UserError) as error:
            order.with_context(lang='es_ES').action_confirm()
        self.assertEqual(
            error.exception.args[0],
            f"La cantidad de «{self.product_erp.display_name}» en el pedido {order.name} es -2: "
            "una línea de claves de licencia no puede tener una cantidad negativa. Indique el "
            "número de claves que se deben entregar o elimine la línea.",
        )

    def test_perpetual_licence_has_no_end(self):
        order = self._create_order([(self.product_office, 1, 249.0)])
        order.action_confirm()
        self.assertEqual(len(order.montanes_license_ids), 1)
        self.assertFalse(order.montanes_license_ids.date_end)
        self.assertEqual(order.montanes_license_ids.sudo().key, 'OFP-TSTAA-AAAAA-AAAAA-KEY04')

    def test_salesman_confirms_order(self):
        order = self._create_order([(self.product_erp, 1, 1490.0)], user=self.user_salesman)
        order.action_confirm()
        self.assertEqual(order.invoice_ids.state, 'posted')
        self.assertEqual(len(order.montanes_license_ids), 1)

    def test_salesman_sees_masked_key(self):
        self.customer.user_id = self.user_salesman
        order = self._confirm_erp_order(quantity=1)
        license_ = order.montanes_license_ids.with_user(self.user_salesman)
        key = order.montanes_license_ids.sudo().key
        expected = '-'.join(['MSERP', '•••••', '•••••', '•••••', key.split('-')[-1]])
        self.assertEqual(license_.montanes_key_masked, expected)
        with self.assertRaises(AccessError):
            license_.read(['key'])
        with self.assertRaises(AccessError):
            license_.read(['lot_id'])

    def test_service_user_sees_key(self):
        order = self._confirm_erp_order(quantity=1)
        license_ = order.montanes_license_ids.with_user(self.user_service)
        self.assertEqual(license_.key, order.montanes_license_ids.sudo().lot_id.name)

    def test_one_open_licence_per_key(self):
        order = self._confirm_erp_order(quantity=1)
        license_ = order.montanes_license_ids.sudo()
        values = {
            'partner_id': self.customer.id,
            'product_id': self.product_erp.id,
            'lot_id': license_.lot_id.id,
            'date_start': license_.date_start,
            'company_id': self.company.id,
        }
        with mute_logger('odoo.sql_db'), self.assertRaises(IntegrityError):
            self.env['montanes.license'].create(values)
            self.env.flush_all()
        license_.state = 'revoked'
        self.env.flush_all()
        replacement = self.env['montanes.license'].create(values)
        self.env.flush_all()
        self.assertEqual(replacement.lot_id, license_.lot_id)

    def test_key_product_forced_serial(self):
        product = self._create_product(
            name="Licencia de prueba", montanes_license_kind='key', company_id=self.company.id)
        self.assertTrue(product.is_storable)
        self.assertEqual(product.tracking, 'serial')
        self.assertEqual(product.invoice_policy, 'order')
        self.assertTrue(product.use_expiration_date)
        with self.assertRaises(ValidationError):
            product.tracking = 'lot'

    # ------------------------------------------------------------
    # Activation deadline: lot expiration date, first expiring first out
    # ------------------------------------------------------------

    def test_confirm_takes_first_expiring_key(self):
        self._import_keys(HEADER + (
            "AV-CORP-1Y;AVC-FEFOA-AAAAA-AAAAA-LATER;01/01/2029;\r\n"
            "AV-CORP-1Y;AVC-FEFOB-BBBBB-BBBBB-NODAY;;\r\n"
            "AV-CORP-1Y;AVC-FEFOC-CCCCC-CCCCC-FIRST;01/06/2028;\r\n"
        ))
        delivered_keys = []
        for _order in range(3):
            order = self._create_order([(self.product_antivirus, 1, 39.90)])
            order.action_confirm()
            delivered_keys.append(order.montanes_license_ids.sudo().key)
        self.assertEqual(delivered_keys, [
            'AVC-FEFOC-CCCCC-CCCCC-FIRST',
            'AVC-FEFOA-AAAAA-AAAAA-LATER',
            'AVC-FEFOB-BBBBB-BBBBB-NODAY',
        ])

    def test_fefo_removal_order_matches_odoo(self):
        """Odoo's FEFO removal order puts first the key that the confirmation takes first."""
        lots = self._import_keys(HEADER + (
            "AV-CORP-1Y;AVC-FEFOA-AAAAA-AAAAA-LATER;01/01/2029;\r\n"
            "AV-CORP-1Y;AVC-FEFOC-CCCCC-CCCCC-FIRST;01/06/2028;\r\n"
        )).lot_ids
        fefo = self.env.ref('product_expiry.removal_fefo')
        domain = self.env['stock.quant']._get_gather_domain(
            self.product_antivirus, self.stock_location)
        first_quant = self.env['stock.quant'].search(
            domain, order=self.env['stock.quant']._get_removal_strategy_order(fefo.method),
            limit=1)
        self.assertEqual(first_quant.lot_id, lots.filtered(
            lambda lot: lot.name == 'AVC-FEFOC-CCCCC-CCCCC-FIRST'))

    def test_confirm_skips_expired_key(self):
        lots = self._import_keys(HEADER + "AV-CORP-1Y;AVC-EXPRA-AAAAA-AAAAA-KEY99;01/06/2028;\r\n").lot_ids
        with freeze_time('2028-06-02'):
            order = self._create_order([(self.product_antivirus, 1, 39.90)])
            with self.assertRaises(UserError) as error:
                order.action_confirm()
            self.assertTrue(lots.product_expiry_alert)
        self.assertEqual(
            error.exception.args[0],
            f"Not enough keys in stock for “{self.product_antivirus.display_name}”: 1 missing.",
        )

    def test_two_step_delivery_reaches_customer(self):
        self.warehouse.delivery_steps = 'pick_ship'
        order = self._confirm_erp_order(quantity=1)
        self.assertEqual(len(order.picking_ids), 2)
        self.assertEqual(set(order.picking_ids.mapped('state')), {'done'})
        lot = order.montanes_license_ids.sudo().lot_id
        stocked = lot.quant_ids.filtered(lambda quant: quant.quantity > 0)
        self.assertEqual(stocked.location_id, self.customer_location)

    def test_seat_pool_licence_has_no_key(self):
        seats_product = self._create_product(
            name="Montañés CRM 10 usuarios - anual", default_code='MS-CRM-10U-1Y',
            type='service', lst_price=2400.0, taxes_id=self.tax_21.ids,
            montanes_license_kind='seats', montanes_license_term_months=12,
            company_id=self.company.id)
        order = self._create_order([(seats_product, 3, 2400.0)])
        order.action_confirm()
        license_ = order.montanes_license_ids.sudo()
        self.assertEqual(len(license_), 1)
        self.assertEqual(license_.seats, 3)
        self.assertFalse(license_.lot_id)
        self.assertEqual(order.invoice_ids.state, 'posted')
        self.assertEqual(order.activity_ids.summary, "Activate the licence seats for the customer")
