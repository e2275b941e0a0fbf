from datetime import timedelta

from odoo import api, fields, models, modules
from odoo.tools import SQL

# Windows older than this are deleted by the tracking clean-up cron.
RATE_WINDOW_RETENTION = timedelta(hours=1)


class MontanesTrackingRate(models.Model):
    """Request counter of one client over one minute, shared by every worker.

    Counting in the database rather than in process memory keeps the limit right
    when several workers serve the same client.
    """
    _name = 'montanes.tracking.rate'
    _description = 'Tracking Rate Limit Window'
    _order = 'window_start desc, id desc'
    _rec_name = 'key'
    _log_access = False

    key = fields.Char(string='Client Key', required=True, readonly=True)
    window_start = fields.Datetime(string='Window Start', required=True, readonly=True)
    hit_count = fields.Integer(string='Requests', required=True, readonly=True)

    _key_window_unique = models.UniqueIndex('(key, window_start)')

    @api.model
    def _consume(self, limits):
        """Count one request against each ``(key, max_requests)`` of ``limits``.

        The counts are committed at once, so a request that Odoo retries after a
        serialization failure counts once per attempt.

        :return: True when every counter is within its maximum
        """
        keys = [key for key, _max in limits]
        if modules.module.current_test:
            # Tests share one transaction with the request, so the counters stay in it.
            counts = self._increment_counters(self.env.cr, keys)
        else:
            counts = self._increment_counters_committed(keys)
        return all(counts.get(key, 0) <= max_requests for key, max_requests in limits)

    @api.model
    def _increment_counters_committed(self, keys):
        """Add one request to the current window of each of ``keys`` in a transaction of
        their own, committed at once, and return ``{key: requests in the window}``.

        The transaction runs at READ COMMITTED: concurrent requests of one client
        then queue on the counter row instead of failing with the serialization
        error of Odoo's REPEATABLE READ, and a request rejected later still counts.
        The commit does not wait for the disk: a crash may lose the last counts,
        which only lets a few more requests through.
        """
        with self.env.registry.cursor() as cr:
            cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute("SET LOCAL synchronous_commit TO OFF")
            return self._increment_counters(cr, keys)

    @api.model
    def _increment_counters(self, cr, keys):
        window_start = fields.Datetime.now().replace(second=0, microsecond=0)
        # Raw SQL because the ORM has no upsert: the row lock of ON CONFLICT DO UPDATE
        # makes two workers counting the same client add up instead of overwrite.
        cr.execute(SQL(
            """
            INSERT INTO montanes_tracking_rate (key, window_start, hit_count)
            SELECT key, %s, 1 FROM unnest(%s::varchar[]) AS key
            ON CONFLICT (key, window_start) DO UPDATE SET hit_count = montanes_tracking_rate.hit_count + 1
            RETURNING key, hit_count
            """,
            window_start, keys,
        ))
        return dict(cr.fetchall())

    @api.model
    def _delete_expired_windows(self):
        limit = fields.Datetime.now() - RATE_WINDOW_RETENTION
        # Raw SQL: a burst of clients can leave many rows, and nothing reads old windows.
        self.env.execute_query(SQL("DELETE FROM montanes_tracking_rate WHERE window_start < %s", limit))
        self.invalidate_model()
