import logging

from odoo import fields, models

_logger = logging.getLogger(__name__)


class ResCompany(models.Model):
    _inherit = 'res.company'

    montanes_license_service_user_id = fields.Many2one(
        comodel_name='res.users',
        string="Licence Service User",
        help="User who gets the licence delivery activity of each confirmed order. When empty, "
             "the first active user of the Licences: Service Team group gets it, else the "
             "salesperson.",
    )
    montanes_license_invoice_mode = fields.Selection(
        selection=[
            ('draft', "Leave in draft"),
            ('post', "Post"),
            ('post_send', "Post and send by e-mail"),
        ],
        string="Licence Invoice",
        default='post',
        required=True,
        help="What the confirmation of a licence order does with the invoice it creates.",
    )
    montanes_license_key_email_mode = fields.Selection(
        selection=[
            ('none', "Do not send"),
            ('confirm', "At confirmation"),
            ('payment', "When the invoice is paid"),
        ],
        string="Licence Key E-mail",
        default='confirm',
        required=True,
        help="When the customer receives the e-mail with the keys of the licences they bought.",
    )
    montanes_license_shortage_mode = fields.Selection(
        selection=[
            ('block', "Refuse the confirmation"),
            ('backorder', "Confirm with a backorder"),
        ],
        string="Key Shortage",
        default='block',
        required=True,
        help="What a confirmation does when there are fewer keys in stock than ordered: refuse "
             "it, or deliver the keys in stock, leave the rest in a backorder and schedule an "
             "urgent activity for the purchasing user.",
    )
    montanes_license_purchase_user_id = fields.Many2one(
        comodel_name='res.users',
        string="Licence Purchasing User",
        help="User who gets the key shortage and low stock activities and e-mails. When empty, "
             "the first active inventory administrator of the company gets them.",
    )
    montanes_license_expiry_notice_days = fields.Integer(
        string="Expiry Notice (days)",
        default=30,
        help="Number of days before its end date that a licence is flagged as expiring and "
             "gets a renewal quotation.",
    )
    montanes_license_return_location_id = fields.Many2one(
        comodel_name='stock.location',
        string="Returned Key Location",
        domain="[('usage', '=', 'internal'), ('company_id', 'in', [id, False])]",
        help="Default location of the keys taken back when an order is cancelled, for example "
             "a quarantine location. When empty, keys go back to the warehouse stock.",
    )

    _check_montanes_license_expiry_notice_days = models.Constraint(
        'CHECK(montanes_license_expiry_notice_days >= 0)',
        "The licence expiry notice cannot be a negative number of days.",
    )

    def _montanes_get_purchase_user(self):
        """Return the user who buys licence keys: the company setting, else the first active
        inventory administrator of the company, else an empty recordset."""
        self.ensure_one()
        if self.montanes_license_purchase_user_id.active:
            return self.montanes_license_purchase_user_id
        managers = self.env.ref('stock.group_stock_manager').sudo().all_user_ids.filtered(
            lambda user: user.active and not user.share and self in user.company_ids
        ).sorted('id')
        return managers[:1]

    # ------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------

    def _montanes_demo_load_spanish_chart(self):
        """Give the demo company the Spanish SME chart of accounts (es_pymes), in euros.

        Loading a chart with ``install_demo=True`` replaces the accounting demo data that the
        generic chart brought, as Odoo's own l10n demo companies do. Without l10n_es installed
        first, the company only switches to euros, and only while it has no journal items,
        because Odoo rejects a currency change after that.
        """
        euro = self.env.ref('base.EUR')
        l10n_es = self.env['ir.module.module'].search([('name', '=', 'l10n_es')])
        for company in self:
            if l10n_es.state == 'installed':
                if company.chart_template != 'es_pymes':
                    self.env['account.chart.template'].try_loading(
                        'es_pymes', company, install_demo=True)
                # The company's default pricelist was created in its former currency.
                self.env['product.pricelist'].search([
                    ('company_id', '=', company.id), ('currency_id', '!=', euro.id),
                ]).currency_id = euro
                continue
            if company.currency_id == euro:
                continue
            has_journal_items = self.env['account.move.line'].sudo().search_count(
                [('company_id', '=', company.id)], limit=1)
            if has_journal_items:
                _logger.warning(
                    "Demo company %s keeps its currency %s: l10n_es is not installed and the "
                    "company has journal items", company.name, company.currency_id.name)
                continue
            euro.active = True
            company.currency_id = euro
