"""Drop the score entry columns and index that decay at read time made unused.

Entries used to store their decayed points and an expiry flag, rewritten by the daily job;
both are now computed when read. The entries also lost their create/write columns, and
lead_id its own index, which the unique (lead_id, rule_id, source_ref) index covers.
Odoo keeps the columns and indexes of removed fields, so they are dropped here.
"""

import logging

_logger = logging.getLogger(__name__)


def migrate(cr, version):
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
