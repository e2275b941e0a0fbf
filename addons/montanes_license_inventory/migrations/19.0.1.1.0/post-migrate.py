"""Move the activation deadline of licence keys to product_expiry's lot expiration date.

Versions before 19.0.1.1.0 stored the deadline in the column montanes_activation_deadline of
stock_lot. The ORM no longer knows that field, so the column is read with SQL and then dropped.
"""
import logging

from odoo import SUPERUSER_ID, api
from odoo.tools.sql import column_exists

_logger = logging.getLogger(__name__)


def migrate(cr, version):
    if not column_exists(cr, 'stock_lot', 'montanes_activation_deadline'):
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    key_templates = env['product.template'].with_context(active_test=False).search([
        ('montanes_license_kind', '=', 'key'),
    ])
    key_templates.use_expiration_date = True

    cr.execute("""
        SELECT id, montanes_activation_deadline
          FROM stock_lot
         WHERE montanes_activation_deadline IS NOT NULL
    """)
    deadlines = dict(cr.fetchall())
    Lot = env['stock.lot']
    for lot in Lot.browse(list(deadlines)):
        # The deadline was a date: the key expires at the end of that day in the time zone of
        # the lot's company, as the key import now computes it for the importing user.
        tz = (lot.company_id or env.company).partner_id.tz or 'UTC'
        lot.expiration_date = Lot.with_context(tz=tz).montanes_get_deadline_expiration_date(
            deadlines[lot.id])
    env.flush_all()
    cr.execute("ALTER TABLE stock_lot DROP COLUMN montanes_activation_deadline")
    _logger.info(
        "Licence keys: %d activation deadlines moved to the lot expiration date, "
        "%d key products now use expiration dates", len(deadlines), len(key_templates))
