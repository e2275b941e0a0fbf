from odoo import fields, models
from odoo.tools import SQL

# Hit type -> counter column of mailing.trace that counts its machine hits.
MACHINE_COUNT_COLUMNS = {
    'email_open': 'montanes_machine_open_count',
    'email_click': 'montanes_machine_click_count',
}


class MailingTrace(models.Model):
    _inherit = 'mailing.trace'

    montanes_machine_open_count = fields.Integer(
        string='Machine Opens',
        readonly=True,
        default=0,
        help='Loads of the open pixel by mail proxies, prefetchers and security scanners. '
        'They do not mark the e-mail as opened and give no points.',
    )
    montanes_machine_click_count = fields.Integer(
        string='Machine Clicks',
        readonly=True,
        default=0,
        help='Link clicks by link-preview bots and security scanners. '
        'They do not mark the link as clicked and give no points.',
    )
    montanes_tracking_hit_ids = fields.One2many(
        comodel_name='montanes.tracking.hit',
        inverse_name='trace_id',
        string='Tracking Hits',
        readonly=True,
    )

    def _montanes_count_machine_hit(self, hit_type):
        """Add one machine hit of ``hit_type`` to the counter of these traces."""
        column = MACHINE_COUNT_COLUMNS[hit_type]
        self.flush_recordset([column])
        # Raw SQL so that two hits of one trace at the same moment both count:
        # the increment reads the row under lock instead of from the ORM cache.
        self.env.execute_query(SQL(
            "UPDATE mailing_trace SET %s = COALESCE(%s, 0) + 1 WHERE id = ANY(%s)",
            SQL.identifier(column), SQL.identifier(column), self.ids,
        ))
        self.invalidate_recordset([column])
        self.mass_mailing_id.invalidate_recordset(['montanes_machine_open_count', 'montanes_machine_click_count'])
