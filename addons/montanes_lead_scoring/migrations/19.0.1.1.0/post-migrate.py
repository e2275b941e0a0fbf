"""Upgrade the score entries and meetings of version 19.0.1.0.0.

Entries used to store their decayed points and an expiry flag, rewritten by the daily job;
both are now computed when read. The entries also lost their create/write columns, and
lead_id its own index, which the unique (lead_id, rule_id, source_ref) index covers.
Odoo keeps the columns and indexes of removed fields, so they are dropped here.

Meetings used to score when they were booked, dated at their start (or at the booking for a
future meeting). An hourly cron now scores them once they have ended. Without the steps
below, that cron would check every past lead meeting, and "every time" rules would score
the meetings booked before the upgrade a second time.
"""

import logging

from odoo import SUPERUSER_ID, api

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    drop_stored_decay_columns(cr)
    rekey_every_time_meeting_entries(cr)
    env = api.Environment(cr, SUPERUSER_ID, {})
    env['calendar.event']._montanes_skip_ended_meetings()


def drop_stored_decay_columns(cr):
    cr.execute("DROP INDEX IF EXISTS montanes_lead_score_line__lead_id_index")
    cr.execute("""
        ALTER TABLE montanes_lead_score_line
            DROP COLUMN IF EXISTS points,
            DROP COLUMN IF EXISTS is_expired,
            DROP COLUMN IF EXISTS create_uid,
            DROP COLUMN IF EXISTS create_date,
            DROP COLUMN IF EXISTS write_uid,
            DROP COLUMN IF EXISTS write_date
    """)
    _logger.info("Score entries: dropped the stored decayed points, expiry flag and access log columns")


def rekey_every_time_meeting_entries(cr):
    """Give the "every time" entries of meetings the ledger key the held-meeting cron builds.

    Version 19.0.1.0.0 keyed them 'calendar.event,<id>@<date scored>'. The cron keys them
    'calendar.event,<id>@calendar.event,<id>', so its insert for a meeting scored at booking
    conflicts with this entry and adds nothing. The entries keep their date and points. The
    other repeat policies already build the cron's key: the meeting itself, or 'lead'.

    :return: number of entries rekeyed
    """
    # One entry per lead, rule and meeting is rekeyed, and none that would collide with an
    # existing key, so the unique (lead_id, rule_id, source_ref) index cannot fail.
    cr.execute("""
        UPDATE montanes_lead_score_line line
           SET source_ref = line.event_ref || '@' || line.event_ref
          FROM (SELECT DISTINCT ON (lead_id, rule_id, event_ref) id
                  FROM montanes_lead_score_line
                 WHERE event_type = 'meeting'
                   AND event_ref LIKE 'calendar.event,%'
                   AND left(source_ref, length(event_ref) + 1) = event_ref || '@'
                   AND source_ref <> event_ref || '@' || event_ref
                 ORDER BY lead_id, rule_id, event_ref, date, id) AS old
         WHERE line.id = old.id
           AND NOT EXISTS (
                SELECT 1 FROM montanes_lead_score_line other
                 WHERE other.lead_id = line.lead_id AND other.rule_id = line.rule_id
                   AND other.source_ref = line.event_ref || '@' || line.event_ref)
    """)
    _logger.info("Score entries: %d \"every time\" meeting entries rekeyed to their meeting", cr.rowcount)
    return cr.rowcount
