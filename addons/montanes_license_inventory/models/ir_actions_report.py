from odoo import models

from .stock_lot import PRINTED_KEY_LOTS_CONTEXT_KEY


class IrActionsReport(models.Model):
    _inherit = 'ir.actions.report'

    def _render_qweb_html(self, report_ref, docids, data=None):
        if PRINTED_KEY_LOTS_CONTEXT_KEY in self.env.context:
            return super()._render_qweb_html(report_ref, docids, data=data)
        printed_lot_ids = set()
        result = super(IrActionsReport, self.with_context(**{
            PRINTED_KEY_LOTS_CONTEXT_KEY: printed_lot_ids,
        }))._render_qweb_html(report_ref, docids, data=data)
        self._montanes_log_printed_keys(printed_lot_ids)
        return result

    def _render_qweb_text(self, report_ref, docids, data=None):
        if PRINTED_KEY_LOTS_CONTEXT_KEY in self.env.context:
            return super()._render_qweb_text(report_ref, docids, data=data)
        printed_lot_ids = set()
        result = super(IrActionsReport, self.with_context(**{
            PRINTED_KEY_LOTS_CONTEXT_KEY: printed_lot_ids,
        }))._render_qweb_text(report_ref, docids, data=data)
        self._montanes_log_printed_keys(printed_lot_ids)
        return result

    def _montanes_log_printed_keys(self, lot_ids):
        """Log the licence keys that a report printed in full as reveals by the current user.

        The templates add each key printed in full to the set of the rendering context.
        """
        if lot_ids:
            self.env['montanes.license.key.reveal']._montanes_log_lot_reveals(
                self.env['stock.lot'].browse(lot_ids), 'report')
