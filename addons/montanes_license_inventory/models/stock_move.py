from odoo import fields, models


class StockMove(models.Model):
    _inherit = 'stock.move'

    def _action_done(self, cancel_backorder=False):
        """Create the licences of keys delivered by a backorder of a processed licence order.

        The confirmation creates the licences of the keys it delivers itself, and marks the
        order processed only afterwards, so its own deliveries are skipped here.
        """
        done_moves = super()._action_done(cancel_backorder=cancel_backorder)
        key_moves = done_moves.filtered(
            lambda move: move.state == 'done'
            and move.location_dest_usage == 'customer'
            and move.sale_line_id.order_id.montanes_is_license_processed
            and move.product_id.montanes_license_kind == 'key'
        )
        if key_moves:
            key_moves.sudo()._montanes_create_backorder_licenses()
        return done_moves

    def _montanes_create_backorder_licenses(self):
        License = self.env['montanes.license']
        licensed_lots = License.search([
            ('lot_id', 'in', self.move_line_ids.lot_id.ids),
            ('state', '!=', 'revoked'),
        ]).lot_id
        date_start = fields.Date.context_today(self)
        vals_list = []
        for move in self:
            line = move.sale_line_id
            seats = max(move.product_id.montanes_license_seats_per_unit, 1)
            for lot in move.move_line_ids.lot_id - licensed_lots:
                vals_list.append(dict(
                    line._montanes_prepare_license_vals(date_start), lot_id=lot.id, seats=seats))
        licenses = License.create(vals_list)
        licenses._montanes_link_invoice_line()
        for company, company_licenses in licenses.grouped('company_id').items():
            if company.montanes_license_key_email_mode == 'confirm':
                company_licenses._montanes_send_key_email()
        return licenses
