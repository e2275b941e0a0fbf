from odoo import models


class SaleOrderLine(models.Model):
    _inherit = 'sale.order.line'

    def _montanes_prepare_license_vals(self, date_start):
        """Return the values shared by the licences of this line, starting on `date_start`."""
        self.ensure_one()
        product = self.product_id
        return {
            'partner_id': self.order_id.partner_id.id,
            'product_id': product.id,
            'sale_line_id': self.id,
            'date_start': date_start,
            'date_end': self.env['montanes.license'].montanes_compute_date_end(
                date_start, product.montanes_license_term_months),
            'company_id': self.order_id.company_id.id,
        }
