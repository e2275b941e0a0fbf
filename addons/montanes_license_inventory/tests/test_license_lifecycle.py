from datetime import date, timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
KEYS = (
    "OFF-PERP;OFP-LIFEA-AAAAA-AAAAA-KEY01;;\r\n"
    "OFF-PERP;OFP-LIFEB-BBBBB-BBBBB-KEY02;;\r\n"
    "MS-ERP-PRO-1Y;MSERP-LIFEA-AAAAA-AAAAA-KEY03;;\r\n"
    "MS-ERP-PRO-1Y;MSERP-LIFEB-BBBBB-BBBBB-KEY04;;\r\n"
)


@tagged('post_install', '-at_install')
class TestLicenseLifecycle(MontanesLicenseCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lots = cls._import_keys(HEADER + KEYS).lot_ids
        cls.seats_product = cls._create_product(
            name="Montañés CRM - puesto anual", default_code='MS-CRM-SEAT',
            type='service', lst_price=30.75, taxes_id=cls.tax_21.ids,
            montanes_license_kind='seats', montanes_license_term_months=12,
            invoice_policy='order', company_id=cls.company.id)
        cls.discount_product = cls._create_product(
            name="Descuento comercial", default_code='DTO', type='service',
            taxes_id=cls.tax_21.ids, invoice_policy='order', company_id=cls.company.id)

    def _pay(self, invoice):
        self.env['account.payment.register'].with_context(
            active_model='account.move', active_ids=invoice.ids,
        ).create({})._create_payments()

    def _credit(self, invoice):
        reversal = self.env['account.move.reversal'].with_context(
            active_model='account.move', active_ids=invoice.ids,
        ).create({'reason': "Abono total", 'journal_id': invoice.journal_id.id})
        reversal.refund_moves()
        credit_note = invoice.reversal_move_ids
        credit_note.action_post()
        return credit_note

    # ------------------------------------------------------------
    # Invoice: exactly once
    # ------------------------------------------------------------

    def test_invoice_paid_credited_once(self):
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, 'posted')
        self.assertEqual(invoice.amount_untaxed, 100.00)
        self.assertEqual(invoice.amount_tax, 21.00)
        self.assertEqual(invoice.amount_total, 121.00)

        self._pay(invoice)
        self.assertIn(invoice.payment_state, ('paid', 'in_payment'))
        credit_note = self._credit(invoice)
        self.assertEqual(credit_note.move_type, 'out_refund')
        self.assertEqual(credit_note.state, 'posted')
        self.assertEqual(credit_note.amount_total, 121.00)
        self.assertEqual(order.order_line.qty_invoiced, 0)

        order._action_confirm()
        order.action_confirm()
        order._montanes_create_and_post_invoice()

        customer_invoices = order.invoice_ids.filtered(
            lambda move: move.move_type == 'out_invoice')
        self.assertEqual(customer_invoices, invoice)
        self.assertEqual(len(order.montanes_license_ids), 1)

    def test_invoice_mode_draft(self):
        self.company.montanes_license_invoice_mode = 'draft'
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        self.assertEqual(order.invoice_ids.state, 'draft')
        self.assertEqual(order.montanes_license_ids.invoice_id, order.invoice_ids)

    def test_invoice_mode_post_and_send(self):
        self.company.montanes_license_invoice_mode = 'post_send'
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        invoice = order.invoice_ids
        self.assertEqual(invoice.state, 'posted')
        self.assertTrue(invoice.is_move_sent)
        message = invoice.message_ids.filtered(
            lambda message: message.subject and message.subject.startswith("Factura "))
        self.assertEqual(len(message), 1)
        self.assertEqual(message.subject, f"Factura {invoice.name} - {self.company.name}")
        self.assertIn(self.customer, message.partner_ids)
        self.assertIn("por importe de", message.body)

    def test_service_user_notified(self):
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        subtype = self.env.ref('montanes_license_inventory.mt_license_delivered')
        message = order.message_ids.filtered(lambda message: message.subtype_id == subtype)
        self.assertEqual(len(message), 1)
        self.assertEqual(
            message.body,
            f"<p>1 licences delivered to {self.customer.display_name}: "
            f"{order.montanes_license_ids.name}</p>",
        )
        self.assertIn(self.user_service.partner_id, message.notified_partner_ids)
        self.assertNotIn(self.customer, message.notified_partner_ids)

    # ------------------------------------------------------------
    # Key e-mail
    # ------------------------------------------------------------

    def _key_mails(self, order):
        return self.env['mail.mail'].sudo().search([
            ('model', '=', 'sale.order'), ('res_id', '=', order.id),
            ('subject', '=', f"Sus claves de licencia - pedido {order.name}"),
        ])

    def test_key_email_at_confirmation(self):
        self.company.montanes_license_key_email_mode = 'confirm'
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        mails = self._key_mails(order)
        self.assertEqual(len(mails), 1)
        key = order.montanes_license_ids.sudo().key
        self.assertIn(key, mails.body_html)
        self.assertEqual(mails.recipient_ids, self.customer)
        reveals = order.montanes_license_ids.sudo().reveal_ids
        self.assertEqual(reveals.mapped('channel'), ['email'])
        self.assertTrue(order.montanes_license_ids.key_sent_date)

    def test_key_email_hidden_from_salesman(self):
        self.company.montanes_license_key_email_mode = 'confirm'
        order = self._create_order([(self.product_office, 1, 100.0)], user=self.user_salesman)
        order.with_user(self.user_salesman).action_confirm()
        key = order.montanes_license_ids.sudo().key
        self.assertIn(key, self._key_mails(order).body_html)
        messages = self.env['mail.message'].with_user(self.user_salesman).search([
            ('model', '=', 'sale.order'), ('res_id', '=', order.id)])
        self.assertTrue(messages)
        self.assertFalse([body for body in messages.mapped('body') if key in body])
        chatter = self.env['mail.message'].with_user(self.user_salesman)._message_fetch(
            None, thread=order.with_user(self.user_salesman))
        self.assertFalse([body for body in chatter['messages'].mapped('body') if key in body])

    def test_key_email_at_payment(self):
        self.company.montanes_license_key_email_mode = 'payment'
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        self.assertFalse(self._key_mails(order))

        self._pay(order.invoice_ids)

        self.assertEqual(len(self._key_mails(order)), 1)

    # ------------------------------------------------------------
    # Cancellation
    # ------------------------------------------------------------

    def _cancel_wizard(self, order, **values):
        return self.env['montanes.license.order.cancel'].create({
            'order_id': order.id, 'reason': "El cliente desiste del contrato", **values})

    def test_cancel_delivered_refused(self):
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        with self.assertRaises(UserError) as error:
            order.action_cancel()
        self.assertEqual(
            error.exception.args[0],
            f"Order {order.name} cannot be cancelled: the customer holds 1 licences delivered "
            "with it. Use “Cancel and Revoke Licences” to revoke them, take the keys back and "
            "issue the credit note.",
        )
        self.assertEqual(order.state, 'sale')
        self.assertEqual(order.montanes_license_ids.state, 'active')

    def test_cancel_wizard_revokes_returns_credits(self):
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        license_ = order.montanes_license_ids
        lot = license_.sudo().lot_id
        delivery = order.picking_ids
        quarantine = self.env['stock.location'].create({
            'name': "Cuarentena de claves",
            'usage': 'internal',
            'location_id': self.warehouse.view_location_id.id,
            'company_id': self.company.id,
        })

        self._cancel_wizard(order, return_location_id=quarantine.id).action_cancel_order()

        self.assertEqual(order.state, 'cancel')
        self.assertEqual(license_.state, 'revoked')
        self.assertTrue(lot.exists())
        self.assertEqual(delivery.state, 'done')
        self.assertTrue(delivery.move_ids.exists())
        returns = order.picking_ids - delivery
        self.assertEqual(len(returns), 1)
        self.assertEqual(returns.state, 'done')
        self.assertEqual(returns.move_ids.move_line_ids.lot_id, lot)
        stocked = lot.quant_ids.filtered(lambda quant: quant.quantity > 0)
        self.assertEqual(stocked.location_id, quarantine)
        self.assertEqual(stocked.quantity, 1)
        credit_note = order.invoice_ids.filtered(lambda move: move.move_type == 'out_refund')
        self.assertEqual(credit_note.state, 'posted')
        self.assertEqual(credit_note.amount_total, 121.00)
        self.assertEqual(credit_note.reversed_entry_id, order.invoice_ids - credit_note)

    def test_cancel_wizard_keys_sold_again(self):
        order = self._create_order([(self.product_office, 2, 100.0)])
        order.action_confirm()
        self._cancel_wizard(order, create_credit_note=False).action_cancel_order()
        self.assertFalse(order.invoice_ids.filtered(lambda move: move.move_type == 'out_refund'))

        second = self._create_order([(self.product_office, 2, 100.0)])
        second.action_confirm()

        self.assertEqual(
            second.montanes_license_ids.sudo().lot_id, order.montanes_license_ids.sudo().lot_id)

    def test_cancel_wizard_by_sales_manager(self):
        manager = new_test_user(
            self.env, login='montanes_sale_manager', groups='sales_team.group_sale_manager',
            company_id=self.company.id, company_ids=[Command.set(self.company.ids)])
        order = self._create_order([(self.product_office, 1, 100.0)], user=manager)
        order.action_confirm()
        license_ = order.montanes_license_ids
        delivery = order.picking_ids

        self._cancel_wizard(order).with_user(manager).action_cancel_order()

        self.assertEqual(order.state, 'cancel')
        self.assertEqual(license_.state, 'revoked')
        self.assertEqual((order.picking_ids - delivery).state, 'done')
        credit_note = order.invoice_ids.filtered(lambda move: move.move_type == 'out_refund')
        self.assertEqual(credit_note.state, 'posted')

    def test_cancel_wizard_salesman_rejected(self):
        order = self._create_order([(self.product_office, 1, 100.0)], user=self.user_salesman)
        order.action_confirm()
        wizard = self._cancel_wizard(order).with_user(self.user_salesman)
        with self.assertRaises(UserError):
            wizard.action_cancel_order()
        self.assertEqual(order.state, 'sale')

    # ------------------------------------------------------------
    # Rounding: order and invoice totals
    # ------------------------------------------------------------

    def _create_discount_order(self, lines):
        """Create an order of (product, quantity, price, discount) lines at 21 %."""
        return self.env['sale.order'].create({
            'partner_id': self.customer.id,
            'company_id': self.company.id,
            'order_line': [Command.create({
                'product_id': product.id,
                'product_uom_qty': quantity,
                'price_unit': price,
                'discount': discount,
                'tax_ids': [Command.set(self.tax_21.ids)],
            }) for product, quantity, price, discount in lines],
        })

    def _assert_order_invoice_totals(self, order, untaxed, tax, total):
        order.action_confirm()
        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        for record in (order, invoice):
            self.assertEqual(record.amount_untaxed, untaxed, record.display_name)
            self.assertEqual(record.amount_tax, tax, record.display_name)
            self.assertEqual(record.amount_total, total, record.display_name)

    def test_rounding_discount_per_line(self):
        self.company.tax_calculation_rounding_method = 'round_per_line'
        order = self._create_discount_order([
            (self.seats_product, 10, 30.75, 5.0),
            (self.seats_product, 1, 70.00, 5.0),
        ])
        # 292.125 → 292.13 and 66.50; taxes 61.35 + 13.97 rounded line by line.
        self._assert_order_invoice_totals(order, 358.63, 75.32, 433.95)

    def test_rounding_discount_globally(self):
        self.company.tax_calculation_rounding_method = 'round_globally'
        order = self._create_discount_order([
            (self.seats_product, 10, 30.75, 5.0),
            (self.seats_product, 1, 70.00, 5.0),
        ])
        # 21 % of 358.625 = 75.31125, rounded once.
        self._assert_order_invoice_totals(order, 358.63, 75.31, 433.94)

    def test_rounding_negative_line_per_line(self):
        self.company.tax_calculation_rounding_method = 'round_per_line'
        order = self._create_discount_order([
            (self.seats_product, 1, 54.45, 0.0),
            (self.seats_product, 1, 600.00, 0.0),
            (self.discount_product, 1, -500.00, 0.0),
        ])
        self._assert_order_invoice_totals(order, 154.45, 32.43, 186.88)

    def test_rounding_negative_line_globally(self):
        self.company.tax_calculation_rounding_method = 'round_globally'
        order = self._create_discount_order([
            (self.seats_product, 1, 54.45, 0.0),
            (self.seats_product, 1, 600.00, 0.0),
            (self.discount_product, 1, -500.00, 0.0),
        ])
        self._assert_order_invoice_totals(order, 154.45, 32.43, 186.88)

    # ------------------------------------------------------------
    # Seats, generated keys, shortage with backorder, low stock
    # ------------------------------------------------------------

    def test_first_expiring_key_first(self):
        self._import_keys(HEADER + (
            "AV-CORP-1Y;AVC-LATER-AAAAA-AAAAA-KEY01;31/12/2028;\r\n"
            "AV-CORP-1Y;AVC-NONEE-BBBBB-BBBBB-KEY02;;\r\n"
            "AV-CORP-1Y;AVC-FIRST-CCCCC-CCCCC-KEY03;30/06/2027;\r\n"
        ))
        order = self._create_order([(self.product_antivirus, 1, 39.90)])
        order.action_confirm()
        self.assertEqual(
            order.montanes_license_ids.sudo().lot_id.name, 'AVC-FIRST-CCCCC-CCCCC-KEY03')

    def test_seats_per_unit(self):
        self.seats_product.montanes_license_seats_per_unit = 5
        order = self._create_order([(self.seats_product, 2, 30.75)])
        order.action_confirm()
        self.assertEqual(order.montanes_license_ids.seats, 10)

    def test_generated_keys(self):
        product = self._create_product(
            name="Montañés Nube - anual", default_code='MS-CLOUD', type='service',
            lst_price=120.0, taxes_id=self.tax_21.ids, invoice_policy='order',
            montanes_license_kind='generated', montanes_license_term_months=12,
            montanes_key_prefix='MSCLD-', company_id=self.company.id)
        order = self._create_order([(product, 3, 120.0)])
        order.action_confirm()
        licenses = order.montanes_license_ids.sudo()
        keys = licenses.mapped('generated_key')
        self.assertEqual(len(licenses), 3)
        self.assertEqual(len(set(keys)), 3)
        for key in keys:
            self.assertRegex(key, r'^MSCLD-[A-Z2-9]{5}(-[A-Z2-9]{5}){3}$')
        self.assertFalse(licenses.lot_id)
        self.assertEqual(order.invoice_ids.amount_total, 435.60)

    def test_generated_key_read_group_masked(self):
        product = self._create_product(
            name="Montañés Nube - anual", default_code='MS-CLOUD', type='service',
            lst_price=120.0, taxes_id=self.tax_21.ids, invoice_policy='order',
            montanes_license_kind='generated', montanes_license_term_months=12,
            montanes_key_prefix='MSCLD-', company_id=self.company.id)
        order = self._create_order([(product, 1, 120.0)])
        order.action_confirm()
        license_record = order.montanes_license_ids.sudo()
        key = license_record.generated_key
        License = self.env['montanes.license'].with_user(self.user_service)

        with self.assertWarns(DeprecationWarning):
            rows = License.read_group(
                [('id', '=', license_record.id)], ['generated_key'], ['generated_key'])

        masked_key = License.montanes_mask_key(key)
        self.assertEqual([row['generated_key'] for row in rows], [masked_key])
        self.assertNotIn(key, str(rows))
        self.assertEqual(License.search(rows[0]['__domain']), license_record)

    def test_shortage_backorder(self):
        purchaser = self.env['res.users'].create({
            'name': "Compras (test)", 'login': 'montanes_purchase',
            'company_id': self.company.id, 'company_ids': [Command.set(self.company.ids)],
            'group_ids': [Command.set(self.env.ref('stock.group_stock_user').ids)],
        })
        self.company.write({
            'montanes_license_shortage_mode': 'backorder',
            'montanes_license_purchase_user_id': purchaser.id,
        })
        order = self._create_order([(self.product_erp, 3, 1490.0)])
        order.action_confirm()

        self.assertEqual(order.state, 'sale')
        self.assertEqual(len(order.montanes_license_ids), 2)
        self.assertEqual(order.invoice_ids.amount_untaxed, 4470.00)
        backorder = order.picking_ids.filtered(lambda picking: picking.state != 'done')
        self.assertEqual(len(backorder), 1)
        self.assertEqual(backorder.move_ids.product_uom_qty, 1)
        urgent = order.activity_ids.filtered(lambda activity: activity.user_id == purchaser)
        self.assertEqual(len(urgent), 1)
        self.assertEqual(urgent.summary, f"Urgent: buy licence keys for {order.name}")
        self.assertEqual(urgent.date_deadline, fields.Date.context_today(order))

        # The missing key arrives and the backorder is validated: its licence follows.
        self._import_keys(HEADER + "MS-ERP-PRO-1Y;MSERP-LIFEC-CCCCC-CCCCC-KEY05;;\r\n")
        backorder.action_assign()
        backorder.move_ids.picked = True
        backorder.button_validate()
        self.assertEqual(len(order.montanes_license_ids), 3)
        self.assertEqual(
            order.montanes_license_ids.sudo().lot_id.mapped('name')[-1:],
            ['MSERP-LIFEC-CCCCC-CCCCC-KEY05'],
        )

    def test_low_stock_alert_once_per_crossing(self):
        self.product_office.montanes_key_low_stock_threshold = 2
        template = self.product_office.product_tmpl_id

        def alerts():
            return template.activity_ids.filtered(
                lambda activity: activity.summary.startswith("Low key stock"))

        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 1)
        self.assertTrue(template.montanes_key_low_stock_alerted)
        self.assertEqual(
            template.message_ids[:1].body,
            "<p>Only 1 keys of “[OFF-PERP] Licencia ofimática perpetua” are left in stock, "
            "below the threshold of 2. Order new keys from the vendor.</p>",
        )

        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 1, "Still below the threshold: no second alert.")

        self._import_keys(HEADER + (
            "OFF-PERP;OFP-LIFEC-CCCCC-CCCCC-KEY06;;\r\n"
            "OFF-PERP;OFP-LIFED-DDDDD-DDDDD-KEY07;;\r\n"
        ))
        self.assertFalse(template.montanes_key_low_stock_alerted)
        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 2, "A new crossing sends a new alert.")

    def _create_orderpoint(self, product, minimum):
        return self.env['stock.warehouse.orderpoint'].create({
            'product_id': product.id,
            'warehouse_id': self.warehouse.id,
            'location_id': self.stock_location.id,
            'product_min_qty': minimum,
            'product_max_qty': minimum + 10,
            'company_id': self.company.id,
        })

    def test_low_stock_alert_from_reordering_rule(self):
        template = self.product_office.product_tmpl_id
        self.assertEqual(template.montanes_key_low_stock_threshold, 0)
        self._create_orderpoint(self.product_office, 2)

        def alerts():
            return template.activity_ids.filtered(
                lambda activity: activity.summary.startswith("Low key stock"))

        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 1)
        self.assertEqual(
            template.message_ids[:1].body,
            "<p>Only 1 keys of “[OFF-PERP] Licencia ofimática perpetua” are left in stock, "
            "below the threshold of 2. Order new keys from the vendor.</p>",
        )
        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 1, "Still below the threshold: no second alert.")

        self._import_keys(HEADER + (
            "OFF-PERP;OFP-LIFEC-CCCCC-CCCCC-KEY06;;\r\n"
            "OFF-PERP;OFP-LIFED-DDDDD-DDDDD-KEY07;;\r\n"
        ))
        self.assertFalse(template.montanes_key_low_stock_alerted)
        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertEqual(len(alerts()), 2, "A new crossing sends a new alert.")

    def test_reordering_rule_replaces_threshold(self):
        template = self.product_office.product_tmpl_id
        template.montanes_key_low_stock_threshold = 5
        self._create_orderpoint(self.product_office, 1)
        self.assertEqual(template._montanes_get_low_stock_thresholds(), {template.id: 1})

        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertFalse(template.montanes_key_low_stock_alerted, "1 key left, rule minimum 1.")

    def test_zero_minimum_rule_keeps_threshold(self):
        template = self.product_office.product_tmpl_id
        template.montanes_key_low_stock_threshold = 2
        self._create_orderpoint(self.product_office, 0)
        self.assertEqual(template._montanes_get_low_stock_thresholds(), {template.id: 2})

    def test_low_stock_rules_of_other_company_ignored(self):
        template = self.product_office.product_tmpl_id
        template.company_id = False
        other_company = self.env['res.company'].create({'name': "Montañés Canarias (test)"})
        self.env.user.company_ids = [Command.link(other_company.id)]
        other_warehouse = self.env['stock.warehouse'].search(
            [('company_id', '=', other_company.id)], limit=1)
        self._create_orderpoint(self.product_office, 1)
        self.env['stock.warehouse.orderpoint'].create({
            'product_id': self.product_office.id,
            'warehouse_id': other_warehouse.id,
            'location_id': other_warehouse.lot_stock_id.id,
            'product_min_qty': 5,
            'product_max_qty': 15,
            'company_id': other_company.id,
        })

        self.assertEqual(
            template.with_company(self.company)._montanes_get_low_stock_thresholds(),
            {template.id: 1})
        self.assertEqual(
            template.with_company(other_company)._montanes_get_low_stock_thresholds(),
            {template.id: 5})
        self.assertEqual(
            template.with_company(self.company)._montanes_get_free_key_counts(), {template.id: 2})
        self.assertEqual(
            template.with_company(other_company)._montanes_get_free_key_counts(),
            {template.id: 0})

        self._create_order([(self.product_office, 1, 100.0)]).action_confirm()
        self.assertFalse(
            template.montanes_key_low_stock_alerted,
            "1 key left in this company, whose rule minimum is 1.")

    def test_low_stock_ignores_expired_keys(self):
        template = self.product_office.product_tmpl_id
        template.montanes_key_low_stock_threshold = 2
        self.assertEqual(template._montanes_get_free_key_counts(), {template.id: 2})

        expired_lot = self.lots.filtered(lambda lot: lot.product_id == self.product_office)[:1]
        expired_lot.expiration_date = fields.Datetime.now() - timedelta(days=1)
        self.assertEqual(template._montanes_get_free_key_counts(), {template.id: 1})

        template._montanes_check_key_low_stock()
        self.assertTrue(template.montanes_key_low_stock_alerted)
        self.assertEqual(
            template.message_ids[:1].body,
            "<p>Only 1 keys of “[OFF-PERP] Licencia ofimática perpetua” are left in stock, "
            "below the threshold of 2. Order new keys from the vendor.</p>",
        )

    # ------------------------------------------------------------
    # Product validation
    # ------------------------------------------------------------

    def test_negative_term_rejected(self):
        with self.assertRaises(ValidationError) as error:
            self.product_erp.montanes_license_term_months = -12
        self.assertIn("cannot be negative", error.exception.args[0])

    def test_negative_seats_rejected(self):
        with self.assertRaises(ValidationError) as error:
            self.product_erp.montanes_license_seats_per_unit = -1
        self.assertIn("at least one seat", error.exception.args[0])

    def test_renewal_product_not_licence_rejected(self):
        with self.assertRaises(ValidationError) as error:
            self.product_erp.montanes_license_renewal_product_id = self.discount_product
        self.assertIn("is not a licence", error.exception.args[0])

    def test_invalid_key_pattern_rejected(self):
        with self.assertRaises(ValidationError) as error:
            self.product_erp.montanes_key_pattern = '[A-Z'
        self.assertIn("is not a valid regular expression", error.exception.args[0])

    def test_validation_messages_in_spanish(self):
        self.env['res.lang']._activate_lang('es_ES')
        self.env['ir.module.module']._load_module_terms(['montanes_license_inventory'], ['es_ES'])
        product = self.product_erp.with_context(lang='es_ES')
        with self.assertRaises(ValidationError) as error:
            product.montanes_license_term_months = -1
        self.assertEqual(
            error.exception.args[0],
            f"La duración de la licencia de «{product.product_tmpl_id.display_name}» es de -1 "
            "meses: no puede ser negativa. Indique 0 para una licencia perpetua.",
        )

    # ------------------------------------------------------------
    # Renewals
    # ------------------------------------------------------------

    def test_renewal_cron(self):
        self.company.montanes_license_expiry_notice_days = 30
        order = self._create_order([(self.product_erp, 2, 1490.0)], user=self.user_salesman)
        order.action_confirm()
        licenses = order.montanes_license_ids
        today = fields.Date.context_today(licenses)
        licenses.sudo().write({'date_start': today - timedelta(days=340),
                               'date_end': today + timedelta(days=25)})

        self.env['montanes.license']._cron_update_license_states()

        self.assertEqual(set(licenses.mapped('state')), {'expiring'})
        renewal = licenses.renewal_order_id
        self.assertEqual(len(renewal), 1)
        self.assertEqual(renewal.state, 'draft')
        self.assertEqual(renewal.montanes_renewed_order_id, order)
        self.assertEqual(renewal.partner_id, self.customer)
        self.assertEqual(renewal.user_id, self.user_salesman)
        self.assertEqual(renewal.order_line.product_id, self.product_erp)
        self.assertEqual(renewal.order_line.product_uom_qty, 2)
        self.assertEqual(renewal.activity_ids.user_id, self.user_salesman)

        # A second run quotes nothing new; after the end date the licences expire.
        self.env['montanes.license']._cron_update_license_states()
        self.assertEqual(licenses.renewal_order_id, renewal)
        licenses.sudo().date_end = today - timedelta(days=1)
        self.env['montanes.license']._cron_update_license_states()
        self.assertEqual(set(licenses.mapped('state')), {'expired'})

    def test_renewal_uses_renewal_product(self):
        renewal_product = self._create_product(
            name="Renovación ERP Pro", default_code='MS-ERP-REN', type='service',
            lst_price=990.0, montanes_license_kind='seats', montanes_license_term_months=12,
            invoice_policy='order', company_id=self.company.id)
        self.product_erp.montanes_license_renewal_product_id = renewal_product
        order = self._create_order([(self.product_erp, 1, 1490.0)])
        order.action_confirm()
        order.montanes_license_ids.action_create_renewal_order()
        self.assertEqual(
            order.montanes_license_ids.renewal_order_id.order_line.product_id, renewal_product)

    def test_renewal_candidates(self):
        order = self._create_order([(self.product_erp, 1, 1490.0), (self.product_office, 1, 249.0)])
        order.action_confirm()
        annual = order.montanes_license_ids.filtered(lambda license_: license_.date_end)
        candidates = self.env['res.partner']._montanes_license_renewal_candidates(
            annual.date_end - timedelta(days=1), annual.date_end)
        self.assertEqual(candidates, [{
            'partner_id': self.customer.id,
            'license_id': annual.id,
            'license_name': annual.name,
            'product_name': self.product_erp.display_name,
            'date_end': annual.date_end,
        }])
        self.assertEqual(self.env['res.partner']._montanes_license_renewal_candidates(
            date(2000, 1, 1), annual.date_end - timedelta(days=1)), [])

    # ------------------------------------------------------------
    # Access and key reveal
    # ------------------------------------------------------------

    def test_salesman_other_customers_hidden(self):
        other_salesman = self.env['res.users'].create({
            'name': "Iñaki Puig (test)", 'login': 'montanes_salesman_2',
            'company_id': self.company.id, 'company_ids': [Command.set(self.company.ids)],
            'group_ids': [Command.set(self.env.ref('sales_team.group_sale_salesman').ids)],
        })
        other_customer = self.env['res.partner'].create({
            'name': "Conservas Cantábrico S.A.", 'user_id': other_salesman.id})
        own = self._create_order([(self.product_office, 1, 100.0)], user=self.user_salesman)
        own.action_confirm()
        other = self._create_order(
            [(self.product_erp, 1, 1490.0)], partner=other_customer, user=other_salesman)
        other.action_confirm()

        License = self.env['montanes.license'].with_user(self.user_salesman)
        self.assertEqual(License.search([]), own.montanes_license_ids)
        with self.assertRaises(AccessError):
            other.montanes_license_ids.with_user(self.user_salesman).read(['montanes_key_masked'])
        with self.assertRaises(AccessError):
            own.montanes_license_ids.with_user(self.user_salesman).read(['key'])

    def test_warehouse_user_sees_keys_masked(self):
        warehouse_user = self.env['res.users'].create({
            'name': "Almacén (test)", 'login': 'montanes_warehouse',
            'company_id': self.company.id, 'company_ids': [Command.set(self.company.ids)],
            'group_ids': [Command.set(self.env.ref('stock.group_stock_user').ids)],
        })
        lot = self.lots.filtered(lambda lot: lot.name == 'OFP-LIFEA-AAAAA-AAAAA-KEY01')
        values = lot.with_user(warehouse_user).read(['name', 'display_name'])[0]
        self.assertEqual(values['name'], 'OFP-•••••-•••••-•••••-KEY01')
        self.assertEqual(values['display_name'], 'OFP-•••••-•••••-•••••-KEY01')
        self.assertEqual(lot.with_user(self.user_service).read(['name'])[0]['name'],
                         'OFP-•••••-•••••-•••••-KEY01',
                         "The service team reads keys through the logged Reveal Key button.")
        self.assertEqual(lot.with_user(warehouse_user).name, 'OFP-LIFEA-AAAAA-AAAAA-KEY01',
                         "Code reading the field still gets the key.")

    def test_portal_user_sees_own_licences(self):
        portal_user = self.env['res.users'].create({
            'name': "Talleres Ebro (portal)", 'login': 'montanes_portal',
            'partner_id': self.customer.id,
            'group_ids': [Command.set(self.env.ref('base.group_portal').ids)],
        })
        other_customer = self.env['res.partner'].create({'name': "Conservas Cantábrico S.A."})
        own = self._create_order([(self.product_office, 1, 100.0)])
        own.action_confirm()
        other = self._create_order([(self.product_erp, 1, 1490.0)], partner=other_customer)
        other.action_confirm()

        License = self.env['montanes.license'].with_user(portal_user)
        self.assertEqual(License.search([]), own.montanes_license_ids)
        with self.assertRaises(AccessError):
            other.montanes_license_ids.with_user(portal_user).read(['name'])
        with self.assertRaises(AccessError):
            own.montanes_license_ids.with_user(portal_user).read(['key'])
        key = own.montanes_license_ids.with_user(portal_user).montanes_reveal_key('portal')
        self.assertEqual(key, own.montanes_license_ids.sudo().key)
        with self.assertRaises(AccessError):
            other.montanes_license_ids.with_user(portal_user).montanes_reveal_key('portal')

    def test_reveal_logged(self):
        order = self._create_order([(self.product_office, 1, 100.0)])
        order.action_confirm()
        license_ = order.montanes_license_ids.with_user(self.user_service)
        action = license_.action_reveal_key()
        self.assertEqual(action['params']['message'], license_.key)
        reveal = license_.reveal_ids.filtered(lambda reveal: reveal.channel == 'backend')
        self.assertEqual(reveal.user_id, self.user_service)
        self.assertTrue(reveal.create_date)
        self.customer.user_id = self.user_salesman
        with self.assertRaises(AccessError):
            order.montanes_license_ids.with_user(self.user_salesman).montanes_reveal_key('backend')

    # ------------------------------------------------------------
    # Key pattern and case rules
    # ------------------------------------------------------------

    def test_import_pattern_and_case(self):
        self.product_antivirus.write({
            'montanes_key_pattern': r'[0-9]{4}-[0-9]{4}',
            'montanes_key_case': 'lower',
        })
        wizard = self._import_keys(HEADER + (
            "AV-CORP-1Y;  AVC-1234-5678 ;;\r\n"
            "AV-CORP-1Y;AVC-12AB-5678;;\r\n"
        ))
        self.assertEqual(wizard.lot_ids.mapped('name'), ['avc-1234-5678'])
        self.assertEqual(wizard.line_ids.row_number, 3)
        self.assertEqual(wizard.line_ids.reason, 'bad_format')
        self.assertEqual(
            wizard.line_ids.message,
            f"The key does not have the format of “{self.product_antivirus.display_name}”: it "
            "must be “AVC-” followed by text matching the pattern “[0-9]{4}-[0-9]{4}”.",
        )
        quant = wizard.lot_ids.quant_ids.filtered(lambda quant: quant.quantity > 0)
        self.assertEqual(quant.location_id, self.stock_location)

    def test_import_case_kept(self):
        self.product_antivirus.write({
            'montanes_key_pattern': r'[A-Za-z0-9]{8}',
            'montanes_key_case': 'keep',
        })
        wizard = self._import_keys(HEADER + "AV-CORP-1Y;AVC-abCD1234;;\r\n")
        self.assertEqual(wizard.lot_ids.mapped('name'), ['AVC-abCD1234'])
        again = self._import_keys(HEADER + "AV-CORP-1Y;AVC-abCD1234;;\r\n")
        self.assertFalse(again.lot_ids)
        self.assertEqual(again.line_ids.reason, 'already_exists')
