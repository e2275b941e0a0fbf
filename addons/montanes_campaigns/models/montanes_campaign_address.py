import psycopg2.errors

from odoo import api, fields, models
from odoo.tools import SQL

# Errors PostgreSQL raises when another transaction changed the same address
# row since this transaction's snapshot, or when two workers wait on each other.
CONCURRENT_UPDATE_ERRORS = (psycopg2.errors.SerializationFailure, psycopg2.errors.DeadlockDetected)


class MontanesCampaignAddress(models.Model):
    """Lock row of one e-mail address for the weekly cap across campaigns.

    Every transaction that sends campaign e-mails under a cap writes the row
    of each recipient address before it counts that address's e-mails of the
    week. A second transaction that writes the same row waits for the first
    one, and PostgreSQL's REPEATABLE READ isolation (the isolation of Odoo's
    cursors) raises a serialization failure when the first one committed
    after the second one's snapshot. A plain advisory lock would not be
    enough: the waiting transaction would still count from its older
    snapshot, which misses the e-mails just committed.
    """

    _name = "montanes.campaign.address"
    _description = "Automated Campaign Address Lock"
    _order = "email_normalized"
    _rec_name = "email_normalized"
    _log_access = False

    email_normalized = fields.Char(string="E-mail", required=True, readonly=True)
    date_locked = fields.Datetime(string="Last Locked On", readonly=True)

    _email_normalized_unique = models.UniqueIndex("(email_normalized)")

    @api.model
    def _lock_addresses(self, emails, now):
        """Lock the row of each address until the end of the transaction.

        The rows are written in sorted order, so two workers lock shared
        addresses in the same order.

        :return: the addresses that another transaction mailed or is mailing
            since this transaction's snapshot. Their e-mails must wait for the
            next run, which counts them on a new snapshot.
        """
        emails = sorted(set(emails))
        if not emails:
            return set()
        try:
            with self.env.cr.savepoint(flush=False):
                self._upsert_rows(emails, now)
            return set()
        except CONCURRENT_UPDATE_ERRORS:
            pass
        # Find the contended addresses one by one, and lock the others.
        contended = set()
        for email in emails:
            try:
                with self.env.cr.savepoint(flush=False):
                    self._upsert_rows([email], now)
            except CONCURRENT_UPDATE_ERRORS:
                contended.add(email)
        return contended

    @api.model
    def _upsert_rows(self, emails, now):
        # Raw SQL: ON CONFLICT DO UPDATE locks existing rows in one statement,
        # and the errors of a concurrent update must not be logged as bad queries.
        self.env.cr.execute(SQL(
            """INSERT INTO montanes_campaign_address (email_normalized, date_locked)
                    SELECT email, %s FROM unnest(%s::varchar[]) AS email
               ON CONFLICT (email_normalized) DO UPDATE SET date_locked = EXCLUDED.date_locked""",
            now, emails,
        ), log_exceptions=False)
