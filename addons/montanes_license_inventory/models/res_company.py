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

    def _montanes_demo_set_euro(self):
        """Switch the demo company to euros while it has no journal items.

        Odoo rejects a currency change once journal items exist, for example when the
        account demo data was loaded first. The company then keeps its currency.
        """
        euro = self.env.ref('base.EUR')
        for company in self:
            if company.currency_id == euro:
                continue
            has_journal_items = self.env['account.move.line'].sudo().search_count(
                [('company_id', '=', company.id)], limit=1)
            if has_journal_items:
                _logger.warning(
                    "Demo company %s keeps its currency %s because it has journal items",
                    company.name, company.currency_id.name)
                continue
            euro.active = True
            company.currency_id = euro
