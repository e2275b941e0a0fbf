from odoo import api, Command, SUPERUSER_ID
from odoo.exceptions import UserError
from odoo.tests import TransactionCase, tagged

# Milliseconds a test cursor waits for a row lock before failing, so that a locking bug makes
# the test fail instead of hanging.
LOCK_TIMEOUT_MS = 5000
CONCURRENCY_KEY = 'MCONC-AAAAA-BBBBB-CCCCC-LAST1'


@tagged('post_install', '-at_install')
class TestKeyConcurrency(TransactionCase):
    """Two confirmations from two database connections compete for the last key.

    The records must be committed to be seen by both connections, so this class creates them
    through its own cursor and deletes them at the end.
    """

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = env['res.company'].browse(self.env.company.id)
            warehouse = env['stock.warehouse'].search([('company_id', '=', company.id)], limit=1)
            product = env['product.product'].create({
                'name': "Licencia concurrencia (test)",
                'default_code': 'MCONC-TEST',
                'montanes_license_kind': 'key',
                'montanes_license_term_months': 12,
                'montanes_key_prefix': 'MCONC-',
                'company_id': company.id,
            })
            lot = env['stock.lot'].create({
                'name': CONCURRENCY_KEY, 'product_id': product.id, 'company_id': company.id})
            env['stock.quant']._update_available_quantity(
                product, warehouse.lot_stock_id, 1, lot_id=lot)
            partner = env['res.partner'].create({'name': "Cliente concurrencia (test)"})
            orders = env['sale.order'].create([{
                'partner_id': partner.id,
                'company_id': company.id,
                'warehouse_id': warehouse.id,
                'order_line': [Command.create({'product_id': product.id, 'product_uom_qty': 1})],
            } for _index in range(2)])
        self.product_id, self.lot_id, self.partner_id = product.id, lot.id, partner.id
        self.order_ids = orders.ids
        self.addCleanup(self._delete_committed_records)

    def _delete_committed_records(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env['sale.order'].browse(self.order_ids).unlink()
            env['stock.quant'].search([('lot_id', '=', self.lot_id)]).sudo().unlink()
            env['stock.lot'].browse(self.lot_id).unlink()
            env['product.product'].browse(self.product_id).product_tmpl_id.unlink()
            env['res.partner'].browse(self.partner_id).unlink()

    def _open_env(self):
        cr = self.registry.cursor()
        self.addCleanup(cr.close)
        cr.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        return api.Environment(cr, SUPERUSER_ID, {})

    def test_last_key_taken_once(self):
        env_a = self._open_env()
        env_b = self._open_env()
        order_a = env_a['sale.order'].browse(self.order_ids[0])
        order_b = env_b['sale.order'].browse(self.order_ids[1])

        locked_by_a = order_a._montanes_lock_license_keys()
        with self.assertRaises(UserError) as error:
            order_b._montanes_lock_license_keys()

        self.assertEqual(locked_by_a, [self.lot_id])
        self.assertIn("1 missing", error.exception.args[0])

        # Once the first confirmation ends without taking the key, the key is free again.
        env_a.cr.rollback()
        env_b.cr.rollback()
        env_b.cr.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        self.assertEqual(order_b._montanes_lock_license_keys(), [self.lot_id])
        env_b.cr.rollback()
