import threading

from odoo import api, Command, SUPERUSER_ID
from odoo.exceptions import UserError
from odoo.orm.environments import Transaction
from odoo.tests import TransactionCase, tagged

# Milliseconds a test cursor waits for a row lock before failing, so that a locking bug makes
# the test fail instead of hanging.
LOCK_TIMEOUT_MS = 5000
# Seconds a confirmation thread waits for the other one at each meeting point.
THREAD_WAIT_SECONDS = 60
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

        locked_by_a, _shortages = order_a._montanes_lock_license_keys()
        with self.assertRaises(UserError) as error:
            order_b._montanes_lock_license_keys()

        self.assertEqual(locked_by_a, [self.lot_id])
        self.assertIn("1 missing", error.exception.args[0])

        # Once the first confirmation ends without taking the key, the key is free again.
        env_a.cr.rollback()
        env_b.cr.rollback()
        env_b.cr.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
        self.assertEqual(order_b._montanes_lock_license_keys(), ([self.lot_id], {}))
        env_b.cr.rollback()

    def _confirm_in_thread(self, order_id, start, finish, outcome):
        """Confirm one order in its own transaction, keep it open until the other thread has
        tried too, then roll it back so that nothing stays in the database."""
        try:
            cr = self.registry.cursor()
        except Exception as error:  # noqa: BLE001 - reported by the test below
            outcome[order_id] = {'error': repr(error)}
            start.abort()
            return
        try:
            cr.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
            # Tests run while the main thread loads the modules and holds the registry lock,
            # which api.Environment takes to look the registry up: hand it over directly.
            cr.transaction = Transaction(self.registry)
            env = api.Environment(cr, SUPERUSER_ID, {})
            order = env['sale.order'].browse(order_id)
            start.wait(THREAD_WAIT_SECONDS)
            try:
                order.action_confirm()
                env.flush_all()
                quants = env['stock.quant'].search([('product_id', '=', self.product_id)])
                outcome[order_id] = {
                    'state': order.state,
                    'invoice_count': len(order.invoice_ids),
                    'lot_ids': order.montanes_license_ids.lot_id.ids,
                    'internal': sum(quants.filtered(
                        lambda quant: quant.location_id.usage == 'internal').mapped('quantity')),
                    'customer': sum(quants.filtered(
                        lambda quant: quant.location_id.usage == 'customer').mapped('quantity')),
                    'minimum': min(quants.mapped('quantity')),
                }
            except UserError as error:
                cr.rollback()
                outcome[order_id] = {'error': error.args[0]}
            finish.wait(THREAD_WAIT_SECONDS)
        except Exception as error:  # noqa: BLE001 - reported by the test below
            outcome[order_id] = {'error': repr(error)}
            finish.abort()
        finally:
            cr.rollback()
            cr.close()

    def test_two_confirmations_last_key(self):
        start = threading.Barrier(2)
        finish = threading.Barrier(2)
        outcome = {}
        threads = [
            threading.Thread(
                target=self._confirm_in_thread, args=(order_id, start, finish, outcome))
            for order_id in self.order_ids
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(2 * THREAD_WAIT_SECONDS)

        confirmed = [result for result in outcome.values() if 'state' in result]
        failed = [result for result in outcome.values() if 'error' in result]
        self.assertEqual(len(confirmed), 1, outcome)
        self.assertEqual(len(failed), 1, outcome)
        self.assertEqual(
            failed[0]['error'],
            "Not enough keys in stock for “[MCONC-TEST] Licencia concurrencia (test)”: "
            "1 missing.",
        )
        self.assertEqual(confirmed[0]['state'], 'sale')
        self.assertEqual(confirmed[0]['invoice_count'], 1)
        self.assertEqual(confirmed[0]['lot_ids'], [self.lot_id])
        # The key left the stock once and reached the customer once: no negative quant.
        self.assertEqual(confirmed[0]['internal'], 0)
        self.assertEqual(confirmed[0]['customer'], 1)
        self.assertGreaterEqual(confirmed[0]['minimum'], 0)
