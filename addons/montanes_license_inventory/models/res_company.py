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
