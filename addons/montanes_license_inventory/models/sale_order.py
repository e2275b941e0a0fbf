import logging
from collections import defaultdict

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from .stock_quant import LOCKED_LOTS_CONTEXT_KEY

_logger = logging.getLogger(__name__)

# Context key set by the confirmation in backorder mode: product id → number of keys missing.
SHORTAGES_CONTEXT_KEY = 'montanes_license_key_shortages'
# Context key set by the cancellation wizard once it has revoked the licences of the order.
CANCEL_ALLOWED_CONTEXT_KEY = 'montanes_license_cancel_allowed'
# Licence kinds that give the customer a licence record at confirmation.
LICENSED_KINDS = ('key', 'seats', 'generated')

# Maximum number of transfers between the stock and the customer: the longest standard
# delivery route is pick, pack and ship.
MAX_DELIVERY_STEPS = 3


class SaleOrder(models.Model):
    _inherit = 'sale.order'

    montanes_license_ids = fields.One2many(
        comodel_name='montanes.license',
        inverse_name='order_id',
        string="Licences",
    )
    montanes_license_count = fields.Integer(
        string="Licence Count",
        compute='_compute_montanes_license_count',
    )
    montanes_renewed_order_id = fields.Many2one(
        comodel_name='sale.order',
        string="Renewal Of",
        readonly=True,
        copy=False,
        index='btree_not_null',
        help="Order whose licences this quotation renews.",
    )
    montanes_is_license_processed = fields.Boolean(
        string="Licences Processed",
        copy=False,
        readonly=True,
        help="Set once the confirmation has delivered the keys, created the licences and posted "
             "the invoice, so that confirming again does not do it twice.",
    )

    @api.depends('montanes_license_ids')
    def _compute_montanes_license_count(self):
        counts = dict(self.env['montanes.license']._read_group(
            domain=[('order_id', 'in', self.ids)],
            groupby=['order_id'],
            aggregates=['__count'],
        ))
        for order in self:
            order.montanes_license_count = counts.get(order._origin, 0)

    # ------------------------------------------------------------
    # Confirmation
    # ------------------------------------------------------------

    def action_confirm(self):
        orders = self._montanes_lock_orders()
        # A double click or a second confirmation of the same order finds it processed.
        orders = orders.filtered(
            lambda order: not (order.montanes_is_license_processed and order.state == 'sale')
        )
        if not orders:
            return True
        locked_lot_ids, shortages = orders._montanes_lock_license_keys()
        orders = orders.with_context(**{
            LOCKED_LOTS_CONTEXT_KEY: locked_lot_ids,
            SHORTAGES_CONTEXT_KEY: shortages,
        })
        return super(SaleOrder, orders).action_confirm()

    def _action_confirm(self):
        """Deliver the keys, create the licences, post the invoice and notify the service team.

        Runs once per order: orders already processed are skipped, so calling this hook again
        does nothing. Any error rolls the whole confirmation back.
        """
        orders = self._montanes_lock_orders()
        # Only licence orders carry the marker: an ordinary order cancelled and confirmed
        # again must get its new delivery from Odoo as usual.
        todo = orders.filtered(
            lambda order: not order.montanes_is_license_processed
            and order._montanes_get_license_lines()
        )
        if todo and LOCKED_LOTS_CONTEXT_KEY not in self.env.context:
            locked_lot_ids, shortages = todo._montanes_lock_license_keys()
            orders = orders.with_context(**{
                LOCKED_LOTS_CONTEXT_KEY: locked_lot_ids,
                SHORTAGES_CONTEXT_KEY: shortages,
            })
            todo = todo.with_env(orders.env)

        # Odoo's own confirmation steps do not repeat themselves when run twice: procurement
        # only requests the quantity not yet procured.
        result = super(SaleOrder, orders)._action_confirm()

        if todo:
            # The steps below hand out keys and post invoices on behalf of the salesperson,
            # who usually has no right to validate transfers or post invoices.
            todo.check_access('write')
            for order in todo.sudo():
                order._montanes_process_licenses()
            todo.write({'montanes_is_license_processed': True})
            todo.sudo()._montanes_check_low_stock()
        return result

    def _montanes_process_licenses(self):
        """Run the licence steps of one confirmed order, in this order: deliver the keys,
        create the licences, create and post the invoice, schedule the delivery activity.
        """
        self.ensure_one()
        order = self.with_company(self.company_id)

        delivered_lots = order._montanes_deliver_license_keys()
        licenses = order._montanes_create_licenses(delivered_lots)
        invoice = order._montanes_create_and_post_invoice()
        licenses._montanes_link_invoice_line()
        order._montanes_schedule_delivery_activity(licenses)
        order._montanes_schedule_shortage_activity()
        if order.company_id.montanes_license_key_email_mode == 'confirm':
            licenses._montanes_send_key_email()
        _logger.info(
            "Order %s confirmed: %d licences created, invoice %s (%s)",
            order.name, len(licenses), invoice.name or '-', invoice.state or '-',
        )

    # ------------------------------------------------------------
    # Locks and key availability
    # ------------------------------------------------------------

    def _montanes_lock_orders(self):
        """Lock the order rows until the end of the transaction and reload their state.

        Two confirmations of the same order run one after the other, and the second one reads
        the processed marker written by the first.
        """
        if not self.ids:
            return self
        self.env.cr.execute(SQL(
            "SELECT id FROM sale_order WHERE id = ANY(%(ids)s) ORDER BY id FOR UPDATE",
            ids=self.ids,
        ))
        self.invalidate_recordset(['state', 'montanes_is_license_processed'])
        return self

    def _montanes_get_license_lines(self):
        self.ensure_one()
        return self.order_line.filtered(
            lambda line: not line.display_type
            and line.product_id.montanes_license_kind in LICENSED_KINDS
        )

    def _montanes_lock_license_keys(self):
        """Lock enough licence keys in stock for the key lines of these orders.

        Keys locked by another running confirmation are skipped, so two confirmations never
        take the same key. Keys are taken in Odoo's FEFO order (product_expiry): first the keys
        whose lot expires first, by removal date. Keys already past that date are never taken.

        :return: the ids of the locked serial numbers, and a dict mapping the id of each
            product short of keys to the missing quantity (only filled when the company
            confirms with a backorder).
        :raises UserError: when a product has fewer free keys than ordered and the company
            refuses such confirmations. Nothing is written before this check, so the whole
            confirmation rolls back.
        """
        needed = defaultdict(int)
        for order in self:
            for line in order._montanes_get_license_lines():
                product = line.product_id
                if product.montanes_license_kind != 'key':
                    continue
                quantity = line.product_uom_id._compute_quantity(
                    line.product_uom_qty, product.uom_id)
                if quantity < 0:
                    raise UserError(self.env._(
                        "The quantity of “%(product)s” on order %(order)s is %(quantity)s: a "
                        "licence key line cannot have a negative quantity. Enter the number of "
                        "keys to deliver, or remove the line.",
                        product=product.display_name, order=order.name,
                        quantity=f"{quantity:g}",
                    ))
                if quantity != int(quantity):
                    raise UserError(self.env._(
                        "The quantity of “%(product)s” on order %(order)s is %(quantity)s, but "
                        "keys are sold by whole units. Enter a whole number of keys.",
                        product=product.display_name, order=order.name, quantity=quantity,
                    ))
                needed[order.warehouse_id.lot_stock_id, product] += int(quantity)

        self.env['stock.quant'].flush_model()
        self.env['stock.lot'].flush_model(['removal_date'])
        self.env['stock.location'].flush_model(['parent_path'])
        locked_lot_ids = []
        shortages = {}
        for (stock_location, product), quantity in needed.items():
            if quantity <= 0:
                continue
            # The ORM cannot express SKIP LOCKED: rows locked by a concurrent confirmation
            # must be passed over instead of waited for.
            rows = self.env.execute_query(SQL(
                """
                SELECT quant.lot_id
                  FROM stock_quant quant
                  JOIN stock_location location ON location.id = quant.location_id
                  JOIN stock_lot lot ON lot.id = quant.lot_id
                 WHERE quant.product_id = %(product_id)s
                   AND location.usage = 'internal'
                   AND location.parent_path LIKE %(parent_path)s
                   AND quant.quantity - quant.reserved_quantity >= 1
                   AND (lot.removal_date IS NULL OR lot.removal_date > %(now)s)
              ORDER BY lot.removal_date NULLS LAST, quant.in_date, quant.id
                 LIMIT %(limit)s
                   FOR UPDATE OF quant SKIP LOCKED
                """,
                product_id=product.id,
                parent_path=f'{stock_location.parent_path}%',
                limit=quantity,
                now=fields.Datetime.now(),
            ))
            if len(rows) < quantity:
                if stock_location.company_id.montanes_license_shortage_mode != 'backorder':
                    raise UserError(self.env._(
                        "Not enough keys in stock for “%(product)s”: %(missing)s missing.",
                        product=product.display_name,
                        missing=quantity - len(rows),
                    ))
                shortages[product.id] = shortages.get(product.id, 0) + quantity - len(rows)
            locked_lot_ids += [lot_id for (lot_id,) in rows]
        return locked_lot_ids, shortages

    # ------------------------------------------------------------
    # Delivery, licences, invoice and activity
    # ------------------------------------------------------------

    def _montanes_deliver_license_keys(self):
        """Validate the transfers of the key lines and return the delivered serial numbers.

        Only the key moves are validated: other products of the same transfer go to a
        backorder.
        """
        self.ensure_one()
        key_lines = self._montanes_get_license_lines().filtered(
            lambda line: line.product_id.montanes_license_kind == 'key'
        )
        if not key_lines:
            return self.env['stock.lot']

        for _step in range(MAX_DELIVERY_STEPS):
            moves = key_lines.move_ids.filtered(lambda move: move.state not in ('done', 'cancel'))
            if not moves:
                break
            moves._action_assign()
            # A move is partially available only when the company confirms short of keys.
            ready_moves = moves.filtered(
                lambda move: move.state in ('assigned', 'partially_available'))
            if not ready_moves:
                break
            ready_moves.picked = True
            # The context keys skip the confirmation dialogs a user would get: backorder
            # (stock), SMS opt-in (stock_sms, which also skips the delivery SMS) and expired
            # lots (product_expiry). Keys are sent by the service team, not by SMS.
            ready_moves.picking_id.with_context(
                skip_backorder=True,
                skip_sms=True,
                skip_expired=True,
            ).button_validate()

        delivered_moves = key_lines.move_ids.filtered(
            lambda move: move.state == 'done' and move.location_dest_usage == 'customer'
        )
        delivered_lots = delivered_moves.move_line_ids.lot_id
        if self.company_id.montanes_license_shortage_mode == 'backorder':
            # The keys missing stay in the backorder: their licences are created when it is
            # validated (stock.move._action_done).
            return delivered_lots
        for line in key_lines:
            line_lots = delivered_moves.filtered(
                lambda move: move.sale_line_id == line).move_line_ids.lot_id
            if len(line_lots) != int(line.product_uom_qty):
                raise UserError(self.env._(
                    "The keys of “%(product)s” on order %(order)s could not be delivered: "
                    "%(delivered)s of %(ordered)s delivered. Check the delivery route of the "
                    "warehouse %(warehouse)s.",
                    product=line.product_id.display_name,
                    order=self.name,
                    delivered=len(line_lots),
                    ordered=int(line.product_uom_qty),
                    warehouse=self.warehouse_id.name,
                ))
        return delivered_lots

    def _montanes_create_licenses(self, delivered_lots):
        """Create one licence per delivered or generated key and one per seat-pool line.

        Seats are the product's seats per unit, times the quantity for a seat pool.
        """
        self.ensure_one()
        License = self.env['montanes.license']
        date_start = fields.Date.context_today(self)
        vals_list = []
        for line in self._montanes_get_license_lines():
            product = line.product_id
            seats_per_unit = max(product.montanes_license_seats_per_unit, 1)
            common_vals = line._montanes_prepare_license_vals(date_start)
            kind = product.montanes_license_kind
            if kind == 'key':
                line_lots = line.move_ids.move_line_ids.lot_id & delivered_lots
                for lot in line_lots:
                    vals_list.append(dict(common_vals, lot_id=lot.id, seats=seats_per_unit))
            elif kind == 'generated':
                for _unit in range(int(line.product_uom_qty)):
                    vals_list.append(dict(
                        common_vals,
                        generated_key=License.montanes_generate_key(product),
                        seats=seats_per_unit,
                    ))
            else:
                seats = max(int(line.product_uom_qty), 1) * seats_per_unit
                vals_list.append(dict(common_vals, seats=seats))
        return License.create(vals_list)

    def _montanes_create_and_post_invoice(self):
        """Create the invoice of what the order has to invoice now, then leave it draft, post
        it, or post and e-mail it as the company's licence invoice setting says.

        An order invoices once: an order that already has a customer invoice in any state but
        cancelled gets no new one, even after a credit note brought its invoiced quantity back
        to zero.
        """
        self.ensure_one()
        Move = self.env['account.move']
        if self.invoice_ids.filtered(
            lambda move: move.move_type == 'out_invoice' and move.state != 'cancel'
        ):
            return Move
        if not any(line.qty_to_invoice for line in self.order_line if not line.display_type):
            return Move
        invoice = self._create_invoices()
        mode = self.company_id.montanes_license_invoice_mode
        if mode in ('post', 'post_send'):
            invoice.action_post()
        if mode == 'post_send':
            invoice._montanes_send_invoice_email()
        return invoice

    def _montanes_get_service_user(self):
        """Return the user who handles the licence delivery of this order."""
        self.ensure_one()
        company = self.company_id
        if company.montanes_license_service_user_id.active:
            return company.montanes_license_service_user_id
        service_group = self.env.ref(
            'montanes_license_inventory.montanes_license_inventory_group_service')
        service_users = service_group.user_ids.filtered(
            lambda user: user.active and company in user.company_ids
        ).sorted('id')
        return service_users[:1] or self.user_id or self.env.user

    def _montanes_get_purchase_user(self):
        """Return the user who buys licence keys for the company of this order."""
        self.ensure_one()
        return self.company_id._montanes_get_purchase_user() or self.user_id or self.env.user

    def _montanes_schedule_shortage_activity(self):
        """Schedule an urgent activity for purchasing on an order confirmed short of keys."""
        self.ensure_one()
        shortages = self.env.context.get(SHORTAGES_CONTEXT_KEY) or {}
        products = self.order_line.product_id.filtered(lambda product: product.id in shortages)
        if not products:
            return
        lines = ', '.join(
            self.env._("%(product)s: %(missing)s", product=product.display_name,
                       missing=shortages[product.id])
            for product in products
        )
        self.activity_schedule(
            'mail.mail_activity_data_todo',
            date_deadline=fields.Date.context_today(self),
            summary=self.env._("Urgent: buy licence keys for %(order)s", order=self.name),
            note=self.env._(
                "Order %(order)s was confirmed with a backorder. Keys missing: %(lines)s.",
                order=self.name, lines=lines,
            ),
            user_id=self._montanes_get_purchase_user().id,
        )

    def _montanes_check_low_stock(self):
        """Send the low stock alert of the key products of these orders, reading the stock
        of each order's company for products shared between companies."""
        for company, orders in self.grouped('company_id').items():
            products = orders.order_line.product_id.filtered(
                lambda product: product.montanes_license_kind == 'key'
            )
            products.product_tmpl_id.with_company(company)._montanes_check_key_low_stock()

    def _montanes_schedule_delivery_activity(self, licenses):
        self.ensure_one()
        if not licenses:
            return
        key_count = len(licenses.filtered('lot_id'))
        service_user = self._montanes_get_service_user()
        self.activity_schedule(
            'montanes_license_inventory.mail_activity_type_license_delivery',
            summary=self.env._(
                "Send %(count)s licence keys to the customer", count=key_count,
            ) if key_count else self.env._("Activate the licence seats for the customer"),
            user_id=service_user.id,
        )
        # The service user follows the order through an internal subtype only, so that it is
        # notified of this message and the customer, also a follower, is not.
        subtype = self.env.ref('montanes_license_inventory.mt_license_delivered')
        self.message_subscribe(partner_ids=service_user.partner_id.ids, subtype_ids=subtype.ids)
        self.message_post(
            body=self.env._(
                "%(count)s licences delivered to %(partner)s: %(licenses)s",
                count=len(licenses),
                partner=self.partner_id.display_name,
                licenses=', '.join(licenses.mapped('name')),
            ),
            subtype_id=subtype.id,
            message_type='notification',
        )

    # ------------------------------------------------------------
    # Cancellation
    # ------------------------------------------------------------

    def _action_cancel(self):
        """Reject the cancellation of orders whose licences are still held by the customer.

        The cancellation wizard revokes the licences, takes the keys back and issues the
        credit note first, then cancels with `CANCEL_ALLOWED_CONTEXT_KEY` set.
        """
        if not self.env.context.get(CANCEL_ALLOWED_CONTEXT_KEY):
            for order in self:
                unrevoked = order.sudo().montanes_license_ids.filtered(
                    lambda license_: license_.state != 'revoked')
                if unrevoked:
                    raise UserError(self.env._(
                        "Order %(order)s cannot be cancelled: the customer holds %(count)s "
                        "licences delivered with it. Use “Cancel and Revoke Licences” to revoke "
                        "them, take the keys back and issue the credit note.",
                        order=order.name, count=len(unrevoked),
                    ))
        return super()._action_cancel()

    def action_montanes_cancel_licenses(self):
        """Open the wizard that revokes the licences of this order and cancels it."""
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._("Cancel and Revoke Licences"),
            'res_model': 'montanes.license.order.cancel',
            'view_mode': 'form',
            'target': 'new',
            'context': {'default_order_id': self.id},
        }

    # ------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------

    def action_view_montanes_licenses(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id(
            'montanes_license_inventory.action_montanes_license')
        action['domain'] = [('order_id', '=', self.id)]
        action['context'] = {'create': False}
        return action

