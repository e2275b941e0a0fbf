import logging

from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..models.sale_order import CANCEL_ALLOWED_CONTEXT_KEY

_logger = logging.getLogger(__name__)


class MontanesLicenseOrderCancel(models.TransientModel):
    _name = 'montanes.license.order.cancel'
    _description = "Cancel a Licence Order"

    order_id = fields.Many2one(
        comodel_name='sale.order',
        string="Sales Order",
        required=True,
        readonly=True,
    )
    license_ids = fields.Many2many(
        comodel_name='montanes.license',
        string="Licences to Revoke",
        compute='_compute_license_ids',
    )
    return_location_id = fields.Many2one(
        comodel_name='stock.location',
        string="Return Keys To",
        required=True,
        compute='_compute_return_location_id',
        store=True,
        precompute=True,
        readonly=False,
        domain="[('usage', '=', 'internal'), ('company_id', 'in', [company_id, False])]",
        help="Internal location the keys go back to: the warehouse stock to sell them again, "
             "or a quarantine location to keep them apart.",
    )
    create_credit_note = fields.Boolean(
        string="Issue Credit Note",
        default=True,
        help="Reverse the posted customer invoices of the order with a posted credit note. "
             "Draft invoices are cancelled in any case.",
    )
    reason = fields.Char(string="Reason", required=True)
    company_id = fields.Many2one(related='order_id.company_id')

    @api.depends('order_id')
    def _compute_license_ids(self):
        for wizard in self:
            wizard.license_ids = wizard.order_id.sudo().montanes_license_ids.filtered(
                lambda license_: license_.state != 'revoked')

    @api.depends('order_id')
    def _compute_return_location_id(self):
        for wizard in self:
            company = wizard.order_id.company_id
            wizard.return_location_id = (
                company.montanes_license_return_location_id
                or wizard.order_id.warehouse_id.lot_stock_id
            )

    def action_cancel_order(self):
        """Revoke the licences, take the keys back, issue the credit note, cancel the order.

        All in one transaction: any failure leaves the order, its licences and its invoices
        as they were.
        """
        self.ensure_one()
        order = self.order_id
        order.check_access('write')
        if not self.env.user.has_groups(
            'montanes_license_inventory.montanes_license_inventory_group_manager,'
            'sales_team.group_sale_manager'
        ):
            raise UserError(self.env._(
                "Only sales managers and licence administrators can revoke the licences of an "
                "order."))
        order._montanes_lock_orders()
        # The steps below validate returns and post credit notes for the manager, who may
        # lack the inventory or accounting rights.
        order_sudo = order.sudo()
        licenses = order_sudo.montanes_license_ids.filtered(
            lambda license_: license_.state != 'revoked')

        licenses.write({'state': 'revoked'})
        for license_ in licenses:
            license_.message_post(body=self.env._(
                "Licence revoked by the cancellation of order %(order)s: %(reason)s",
                order=order.name, reason=self.reason,
            ))
        wizard_sudo = self.sudo()
        returns = wizard_sudo._return_keys(order_sudo, licenses.lot_id)
        credit_notes = (
            wizard_sudo._reverse_invoices(order_sudo) if self.create_credit_note else None)

        if order.locked:
            order_sudo.action_unlock()
        order_sudo.with_context(**{CANCEL_ALLOWED_CONTEXT_KEY: True}).action_cancel()
        order.message_post(body=self.env._(
            "Order cancelled and %(count)s licences revoked: %(reason)s",
            count=len(licenses), reason=self.reason,
        ))
        _logger.info(
            "Order %s cancelled: %d licences revoked, %d returns, credit notes %s",
            order.name, len(licenses), len(returns),
            ', '.join(credit_notes.mapped('name')) if credit_notes else '-',
        )
        return {'type': 'ir.actions.act_window_close'}

    def _return_keys(self, order, lots):
        """Return the delivered keys in `lots` from the customer to the chosen location.

        :return: the validated return transfers.
        """
        returns = self.env['stock.picking']
        if not lots:
            return returns
        delivered_moves = order.order_line.move_ids.filtered(
            lambda move: move.state == 'done'
            and move.location_dest_usage == 'customer'
            and move.move_line_ids.lot_id & lots
        )
        for picking in delivered_moves.picking_id:
            picking_moves = delivered_moves.filtered(lambda move: move.picking_id == picking)
            return_wizard = self.env['stock.return.picking'].with_context(
                active_id=picking.id, active_model='stock.picking').create({
                    'picking_id': picking.id,
                })
            for return_line in return_wizard.product_return_moves:
                move_lots = return_line.move_id.move_line_ids.lot_id & lots
                return_line.quantity = (
                    len(move_lots) if return_line.move_id in picking_moves else 0)
            return_picking = return_wizard._create_return()
            return_picking.location_dest_id = self.return_location_id
            for move in return_picking.move_ids:
                move_lots = move.origin_returned_move_id.move_line_ids.lot_id & lots
                move.move_line_ids.unlink()
                move.location_dest_id = self.return_location_id
                self.env['stock.move.line'].create([{
                    'move_id': move.id,
                    'picking_id': return_picking.id,
                    'product_id': move.product_id.id,
                    'lot_id': lot.id,
                    'quantity': 1,
                    'location_id': move.location_id.id,
                    'location_dest_id': self.return_location_id.id,
                } for lot in move_lots])
            return_picking.move_ids.picked = True
            return_picking.with_context(skip_backorder=True, skip_sms=True).button_validate()
            returns |= return_picking
        return returns

    def _reverse_invoices(self, order):
        """Cancel the draft invoices of the order and reverse the posted ones.

        :return: the posted credit notes.
        """
        invoices = order.invoice_ids.filtered(lambda move: move.move_type == 'out_invoice')
        invoices.filtered(lambda move: move.state == 'draft').button_cancel()
        posted = invoices.filtered(
            lambda move: move.state == 'posted'
            and not move.reversal_move_ids.filtered(lambda reversal: reversal.state == 'posted')
        )
        if not posted:
            return self.env['account.move']
        reversal = self.env['account.move.reversal'].with_context(
            active_model='account.move', active_ids=posted.ids).create({
                'move_ids': [Command.set(posted.ids)],
                'company_id': order.company_id.id,
                'reason': self.reason,
                'journal_id': posted[0].journal_id.id,
            })
        reversal.refund_moves()
        credit_notes = posted.reversal_move_ids.filtered(lambda move: move.state == 'draft')
        credit_notes.action_post()
        return posted.reversal_move_ids
