from odoo import models


class AccountMove(models.Model):
    _inherit = 'account.move'

    def _montanes_send_invoice_email(self):
        """Post the Spanish licence invoice e-mail on each invoice, with its PDF, to the
        customer."""
        template = self.env.ref('montanes_license_inventory.mail_template_license_invoice')
        for invoice in self:
            invoice.with_context(lang=invoice.partner_id.lang or 'es_ES').message_post_with_source(
                template,
                subtype_xmlid='mail.mt_comment',
            )
            invoice.is_move_sent = True

    def _get_invoiced_lot_values(self):
        """Print licence keys masked on invoices, for every user.

        The invoice PDF is stored when first printed, e-mailed to the customer and downloaded
        from the portal by anyone who may read the invoice, so it never carries a full key.
        The customer gets the keys through the logged key e-mail and portal reveal.
        """
        lot_values = super()._get_invoiced_lot_values()
        key_lot_ids = set(self.env['stock.lot'].sudo().browse(
            [values['lot_id'] for values in lot_values if values.get('lot_id')]
        ).filtered('montanes_is_license_key').ids)
        mask_key = self.env['montanes.license'].montanes_mask_key
        for values in lot_values:
            if values.get('lot_id') in key_lot_ids:
                values['lot_name'] = mask_key(values['lot_name'])
        return lot_values

    def _invoice_paid_hook(self):
        """Send the keys of the licences invoiced here when the company sends them at payment."""
        result = super()._invoice_paid_hook()
        invoices = self.filtered(lambda move: move.move_type == 'out_invoice')
        if not invoices:
            return result
        licenses = self.env['montanes.license'].sudo().search([
            ('invoice_line_id', 'in', invoices.invoice_line_ids.ids),
            ('key_sent_date', '=', False),
            ('state', '!=', 'revoked'),
        ])
        licenses.filtered(
            lambda license_: license_.company_id.montanes_license_key_email_mode == 'payment'
        )._montanes_send_key_email()
        return result
