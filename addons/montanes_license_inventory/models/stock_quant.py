from odoo import SUPERUSER_ID, api, models
from odoo.exceptions import ValidationError

from odoo.fields import Domain

from .stock_lot import PRINTED_KEY_LOTS_CONTEXT_KEY

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

    # The detailed-operations name of a quant contains the serial number itself, not its
    # display name, so licence keys are masked here too.
    @api.depends_context('uid')
    def _compute_display_name(self):
        super()._compute_display_name()
        if self.env.uid == SUPERUSER_ID:
            return
        mask_key = self.env['montanes.license'].montanes_mask_key
        for quant in self:
            lot = quant.sudo().lot_id
            if lot.montanes_is_license_key:
                quant.display_name = quant.display_name.replace(lot.name, mask_key(lot.name))

    # ------------------------------------------------------------
    # Printing: stock's package content report
    # ------------------------------------------------------------

    def _montanes_prints_key_masked(self):
        """Return whether the serial number of this quant is a licence key that the current
        user prints masked."""
        self.ensure_one()
        lot = self.lot_id
        return bool(lot) and lot._montanes_prints_key_masked()

    def _get_gs1_barcode(self, gs1_quantity_rules_ai_by_uom=False):
        """Print no GS1 barcode of a licence key for users who may not reveal it, because
        the barcode encodes the serial number."""
        if self._montanes_prints_key_masked():
            return ''
        return super()._get_gs1_barcode(gs1_quantity_rules_ai_by_uom)

    def get_aggregate_barcodes(self):
        """Leave the licence keys that the current user prints masked out of the package
        content barcodes, and log as reveals the keys that the barcodes contain in full."""
        masked_quants = self.filtered(lambda quant: quant._montanes_prints_key_masked())
        printed_quants = self - masked_quants
        printed_lot_ids = self.env.context.get(PRINTED_KEY_LOTS_CONTEXT_KEY)
        if printed_lot_ids is not None:
            printed_lot_ids.update(
                printed_quants.sudo().lot_id.filtered('montanes_is_license_key').ids)
        return super(StockQuant, printed_quants).get_aggregate_barcodes()

    # ------------------------------------------------------------
    # Stock's error messages that name a serial number
    # ------------------------------------------------------------

    def check_quantity(self):
        """Mask the licence key named by stock's "serial number has already been assigned"
        error for users outside the key groups."""
        try:
            super().check_quantity()
        except ValidationError as error:
            # Raised without the original, whose message and traceback contain the key.
            message = self.lot_id._montanes_mask_keys_in_message(error.args[0])
            raise ValidationError(message) from None

    @api.model
    def _check_serial_number(self, product_id, lot_id, company_id, source_location_id=None,
                             ref_doc_location_id=None):
        message, recommended_location = super()._check_serial_number(
            product_id, lot_id, company_id, source_location_id=source_location_id,
            ref_doc_location_id=ref_doc_location_id,
        )
        if message and lot_id:
            message = lot_id._montanes_mask_keys_in_message(message)
        return message, recommended_location
