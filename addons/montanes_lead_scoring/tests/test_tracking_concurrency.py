import threading
import time
import uuid
from datetime import datetime

from odoo.tests import TransactionCase, tagged

# Seconds the second worker is given to reach the counter row locked by the first.
LOCK_WAIT_SECONDS = 1.0


@tagged('post_install', '-at_install')
class TestTrackingConcurrency(TransactionCase):
    """Two workers counting requests of one client, each with its own committed transaction."""

    def setUp(self):
        super().setUp()
        self.key = f'test:{uuid.uuid4().hex}'
        self.addCleanup(self._delete_counters)
        # Counters start a new window each minute, so no test step may cross one.
        second = datetime.now().second
        if second >= 55:
            time.sleep(61 - second)

    def _delete_counters(self):
        with self.registry.cursor() as cr:
            cr.execute("DELETE FROM montanes_tracking_rate WHERE key = %s", [self.key])

    def test_second_worker_waits_and_adds_up(self):
        Rate = self.env['montanes.tracking.rate']
        results = {}

        with self.registry.cursor() as first_cr:
            first_cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            self.assertEqual(Rate._increment_counters(first_cr, [self.key]), {self.key: 1})

            def second_worker():
                results['second'] = Rate._increment_counters_committed([self.key])

            thread = threading.Thread(target=second_worker)
            thread.start()
            thread.join(LOCK_WAIT_SECONDS)
            self.assertTrue(thread.is_alive(), 'the second worker waits for the row the first one holds')
            first_cr.commit()
        thread.join(30)

        self.assertFalse(thread.is_alive())
        self.assertEqual(results.get('second'), {self.key: 2}, 'no serialization error, no lost request')

    def test_consume_limit_across_transactions(self):
        Rate = self.env['montanes.tracking.rate']
        counts = [Rate._increment_counters_committed([self.key])[self.key] for _i in range(3)]
        self.assertEqual(counts, [1, 2, 3])
        with self.registry.cursor() as cr:
            cr.execute("SELECT hit_count FROM montanes_tracking_rate WHERE key = %s", [self.key])
            self.assertEqual(cr.fetchall(), [(3,)], 'each increment is committed at once')
