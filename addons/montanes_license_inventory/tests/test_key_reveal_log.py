from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
# Twelve keys: two are sold in setUpClass, the others stay in stock.
KEYS = [f'MSERP-LOG{index:02d}-AAAAA-AAAAA-KEY{index:02d}' for index in range(12)]


def mask(key):
    first, *middle, last = key.split('-')
    return '-'.join([first, *('•' * len(group) for group in middle), last])


@tagged('post_install', '-at_install')
class TestKeyRevealLog(MontanesLicenseCommon):
    """Generic reads show keys masked to everyone, and every path that hands a full key to a
    user logs who and when."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lots = cls._import_keys(
            HEADER + ''.join(f"MS-ERP-PRO-1Y;{key};;\r\n" for key in KEYS)).lot_ids
        cls.order = cls._create_order([(cls.product_erp, 2, 1490.0)])
        cls.order.action_confirm()
        cls.licenses = cls.order.montanes_license_ids
        cls.sold_lots = cls.licenses.sudo().lot_id
        cls.user_stock = new_test_user(
            cls.env, login='montanes_log_warehouse',
            groups='stock.group_stock_user,base.group_allow_export',
            name="Pilar Sanz (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.user_manager = new_test_user(
            cls.env, login='montanes_log_accountant',
            groups='account.group_account_manager,stock.group_stock_user,'
                   'base.group_allow_export',
            name="Marta Ruiz (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.Reveal = cls.env['montanes.license.key.reveal']

    def _reveals(self, user, channel):
        return self.Reveal.search([('user_id', '=', user.id), ('channel', '=', channel)])

    # Generic reads

    def test_manager_reads_lot_masked(self):
        lot = self.sold_lots[0].with_user(self.user_manager)
        self.assertEqual(lot.read(['name'])[0]['name'], mask(lot.sudo().name))
        self.assertEqual(lot.web_read({'name': {}})[0]['name'], mask(lot.sudo().name))
        values = self.env['stock.lot'].with_user(self.user_manager).search_read(
            [('id', '=', lot.id)], ['name', 'display_name'])
        self.assertEqual(values[0]['name'], mask(lot.sudo().name))
        self.assertEqual(values[0]['display_name'], mask(lot.sudo().name))
        self.assertFalse(self.Reveal.search([('user_id', '=', self.user_manager.id)]))

    def test_manager_reads_licence_key_masked(self):
        license_ = self.licenses[0].with_user(self.user_manager)
        key = license_.sudo().key
        self.assertEqual(license_.read(['key'])[0]['key'], mask(key))
        values = self.env['montanes.license'].with_user(self.user_manager).web_search_read(
            [('id', '=', license_.id)], {'key': {}, 'lot_id': {'fields': {'display_name': {}}}})
        record = values['records'][0]
        self.assertEqual(record['key'], mask(key))
        self.assertEqual(record['lot_id']['display_name'], mask(key))
        self.assertFalse(self.Reveal.search([('user_id', '=', self.user_manager.id)]))

    def test_manager_key_aggregate_rejected(self):
        with self.assertRaises(AccessError):
            self.env['stock.lot'].with_user(self.user_manager).formatted_read_group(
                [], ['product_id'], ['name:array_agg'])

    # Export

    def test_manager_export_lots_logged(self):
        lots = self.lots.with_user(self.user_manager)
        rows = lots.export_data(['name'])['datas']
        self.assertEqual(sorted(row[0] for row in rows), sorted(KEYS))
        reveals = self._reveals(self.user_manager, 'export')
        self.assertEqual(len(reveals), len(KEYS))
        self.assertEqual(reveals.lot_id, self.lots)
        self.assertEqual(reveals.license_id, self.licenses)
        self.assertTrue(all(reveals.mapped('create_date')))

    def test_warehouse_export_lots_masked(self):
        rows = self.lots.with_user(self.user_stock).export_data(['name', 'product_id'])['datas']
        self.assertEqual(sorted(row[0] for row in rows), sorted(mask(key) for key in KEYS))
        self.assertFalse(self._reveals(self.user_stock, 'export'))

    def test_warehouse_export_quant_lot_name_masked(self):
        quants = self.env['stock.quant'].search([('lot_id', 'in', self.lots.ids)])
        rows = quants.with_user(self.user_stock).export_data(['lot_id/name', 'lot_id'])['datas']
        for lot_name, lot_display_name in rows:
            self.assertNotIn(lot_name, KEYS)
            self.assertNotIn(lot_display_name, KEYS)

    def test_manager_export_quant_lot_name_logged(self):
        quants = self.env['stock.quant'].search([
            ('lot_id', 'in', self.sold_lots.ids), ('quantity', '>', 0)])
        rows = quants.with_user(self.user_manager).export_data(['lot_id/name'])['datas']
        self.assertEqual(sorted(row[0] for row in rows), sorted(self.sold_lots.mapped('name')))
        self.assertEqual(self._reveals(self.user_manager, 'export').lot_id, self.sold_lots)

    def test_manager_export_licence_key_logged(self):
        licenses = self.licenses.with_user(self.user_manager)
        rows = licenses.export_data(['name', 'key'])['datas']
        self.assertEqual(
            sorted(row[1] for row in rows), sorted(self.sold_lots.mapped('name')))
        reveals = self._reveals(self.user_manager, 'export')
        self.assertEqual(reveals.license_id, self.licenses)

    def test_export_log_queries_batched(self):
        """Logging the reveals of eight keys costs as many queries as logging two."""
        def count_export_queries(lots):
            before = self.cr.sql_log_count
            lots.with_user(self.user_manager).export_data(['name'])
            self.env.flush_all()
            return self.cr.sql_log_count - before

        unsold_lots = self.lots - self.sold_lots
        # The first export fills the caches of access rights, groups and the user.
        self.env.invalidate_all()
        count_export_queries(self.sold_lots)
        two_keys_queries = count_export_queries(unsold_lots[:2])
        eight_keys_queries = count_export_queries(unsold_lots[2:])
        self.assertEqual(len(unsold_lots[2:]), 8)
        self.assertEqual(eight_keys_queries, two_keys_queries)

    # Reveal button of the serial number form

    def test_lot_reveal_button_logged(self):
        lot = self.sold_lots[0].with_user(self.user_manager)
        action = lot.action_montanes_reveal_key()
        self.assertEqual(action['params']['message'], lot.sudo().name)
        reveal = self._reveals(self.user_manager, 'backend')
        self.assertEqual(reveal.lot_id, self.sold_lots[0])
        self.assertEqual(reveal.license_id, self.licenses.filtered(
            lambda license_: license_.sudo().lot_id == self.sold_lots[0]))

    def test_lot_reveal_button_unsold_key(self):
        lot = (self.lots - self.sold_lots)[0]
        lot.with_user(self.user_service).action_montanes_reveal_key()
        reveal = self._reveals(self.user_service, 'backend')
        self.assertEqual(reveal.lot_id, lot)
        self.assertFalse(reveal.license_id)
        self.assertEqual(reveal.company_id, self.company)

    def test_lot_reveal_button_rejected_for_warehouse(self):
        with self.assertRaises(AccessError):
            self.sold_lots[0].with_user(self.user_stock).action_montanes_reveal_key()
        self.assertFalse(self._reveals(self.user_stock, 'backend'))

    # Printed reports

    def test_manager_printed_keys_logged(self):
        self.env['ir.actions.report'].with_user(self.user_manager)._render_qweb_html(
            'stock.action_report_lot_label', self.sold_lots.ids)
        reveals = self._reveals(self.user_manager, 'report')
        self.assertEqual(len(reveals), 2)
        self.assertEqual(reveals.lot_id, self.sold_lots)

    def test_warehouse_printed_keys_not_logged(self):
        self.env['ir.actions.report'].with_user(self.user_stock)._render_qweb_html(
            'stock.action_report_lot_label', self.sold_lots.ids)
        self.assertFalse(self._reveals(self.user_stock, 'report'))
