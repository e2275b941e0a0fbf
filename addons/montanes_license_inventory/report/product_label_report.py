import markupsafe

from odoo import models


class ReportStockLabelLotTemplateView(models.AbstractModel):
    _inherit = 'report.stock.label_lot_template_view'

    def _get_report_values(self, docids, data):
        """Print licence keys masked on ZPL lot labels for users who may not reveal them."""
        values = super()._get_report_values(docids, data)
        for lot_values in values['docs']:
            lot = lot_values['lot_record']
            lot_values['name'] = markupsafe.Markup.escape(lot.montanes_get_printed_name())
        return values
