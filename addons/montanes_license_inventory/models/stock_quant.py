from odoo import api, models
from odoo.fields import Domain

# Context key set by the sale order confirmation: the ids of the licence-key serial numbers it
# locked with SELECT ... FOR UPDATE. Reservation of key products is then limited to those lots,
# so the keys delivered are the ones this transaction holds and never a row another
# confirmation has locked.
LOCKED_LOTS_CONTEXT_KEY = 'montanes_license_locked_lot_ids'


class StockQuant(models.Model):
    _inherit = 'stock.quant'

    @api.model
    def _get_gather_domain(self, product_id, location_id, lot_id=None, package_id=None,
                           owner_id=None, strict=False):
        domain = super()._get_gather_domain(
            product_id, location_id, lot_id=lot_id, package_id=package_id,
            owner_id=owner_id, strict=strict,
        )
        locked_lot_ids = self.env.context.get(LOCKED_LOTS_CONTEXT_KEY)
        if locked_lot_ids is not None and product_id.montanes_license_kind == 'key':
            domain = Domain.AND([domain, Domain('lot_id', 'in', list(locked_lot_ids))])
        return domain
