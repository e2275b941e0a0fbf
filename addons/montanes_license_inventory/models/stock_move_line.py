from odoo import api, models
from odoo.fields import Domain

from .montanes_license import KEY_GROUPS

# Field of the move line that contains a serial number typed on a receipt, before the lot
# exists. It is a licence key when the product is a key licence or a licence key lot has
# that name.
LOT_NAME_FIELD = 'lot_name'
# Move lines whose typed serial number is a licence key even before its lot exists.
KEY_PRODUCT_DOMAIN = Domain('product_id.montanes_license_kind', '=', 'key')


class StockMoveLine(models.Model):
    _inherit = 'stock.move.line'

    def _read_format(self, fnames, load='_classic_read'):
        """Mask the typed serial numbers that are licence keys, as the lot names are."""
        result = super()._read_format(fnames, load=load)
        Lot = self.env['stock.lot']
        if LOT_NAME_FIELD not in fnames or not Lot._montanes_must_mask_keys():
            return result
        names = {values[LOT_NAME_FIELD] for values in result if values.get(LOT_NAME_FIELD)}
        if not names:
            return result
        license_keys = set(Lot.sudo().with_context(active_test=False).search([
            ('name', 'in', list(names)),
            ('montanes_is_license_key', '=', True),
        ]).mapped('name'))
        key_product_line_ids = set(self.sudo().filtered(
            lambda line: line.product_id.montanes_license_kind == 'key').ids)
        mask_key = self.env['montanes.license'].montanes_mask_key
        for values in result:
            name = values.get(LOT_NAME_FIELD)
            if name and (name in license_keys or values['id'] in key_product_line_ids):
                values[LOT_NAME_FIELD] = mask_key(name)
        return result

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None, *, active_test=True,
                bypass_access=False):
        """Match typed serial numbers that are licence keys by their whole value only, for
        users outside `KEY_GROUPS`, as `stock.lot` does for the lot names.

        A licence key lot belongs to a key licence product, so the product alone determines which
        typed serial numbers are licence keys.
        """
        Lot = self.env['stock.lot']
        if Lot._montanes_must_guard_key_search():
            domain = Domain(domain).optimize_full(self).map_conditions(
                lambda condition: Lot._montanes_guard_key_condition(
                    condition, LOT_NAME_FIELD, KEY_PRODUCT_DOMAIN))
        return super()._search(
            domain, offset=offset, limit=limit, order=order, active_test=active_test,
            bypass_access=bypass_access,
        )

    @api.model
    def _montanes_get_key_value_domain(self, field_name, values):
        """Return the domain of the move lines whose typed serial number is one of `values`
        and is a licence key: the product is a key licence or a key lot has that name."""
        lot_key_domain = self.env['stock.lot']._montanes_get_key_value_domain(
            field_name, values)
        return Domain(field_name, 'in', list(values)) & (KEY_PRODUCT_DOMAIN | lot_key_domain)

    def _export_rows(self, fields, *, _is_toplevel_call=True):
        """Export typed serial numbers that are licence keys in full to the key groups and log
        them, masked to anyone else."""
        rows = super()._export_rows(fields, _is_toplevel_call=_is_toplevel_call)
        key_columns = [index for index, path in enumerate(fields) if path == [LOT_NAME_FIELD]]
        names = set(self.sudo().mapped(LOT_NAME_FIELD)) - {False}
        if not key_columns or not names or self.env.su:
            return rows
        key_lots = self.env['stock.lot'].sudo().with_context(active_test=False).search([
            ('name', 'in', list(names)),
            ('montanes_is_license_key', '=', True),
        ])
        if not key_lots:
            return rows
        if self.env.user.has_groups(KEY_GROUPS):
            self.env['montanes.license.key.reveal']._montanes_log_lot_reveals(key_lots, 'export')
            return rows
        mask_key = self.env['montanes.license'].montanes_mask_key
        masked_keys = {lot.name: mask_key(lot.name) for lot in key_lots}
        for row in rows:
            for index in key_columns:
                if row[index] in masked_keys:
                    row[index] = masked_keys[row[index]]
        return rows

    def _web_read_group_groupby_formatter(self, groupby_spec, values):
        formatter = super()._web_read_group_groupby_formatter(groupby_spec, values)
        if groupby_spec.split(':')[0] != LOT_NAME_FIELD:
            return formatter
        return self.env['stock.lot']._montanes_wrap_key_group_formatter(
            self, LOT_NAME_FIELD, formatter, values)

    @api.model
    @api.readonly
    def formatted_read_group(self, domain, groupby=(), aggregates=(), having=(), offset=0,
                             limit=None, order=None):
        self.env['stock.lot']._montanes_check_key_aggregates(aggregates, {LOT_NAME_FIELD})
        return super().formatted_read_group(
            domain, groupby=groupby, aggregates=aggregates, having=having, offset=offset,
            limit=limit, order=order,
        )

    @api.model
    @api.readonly
    def formatted_read_grouping_sets(self, domain, grouping_sets, aggregates=(), *, order=None):
        self.env['stock.lot']._montanes_check_key_aggregates(aggregates, {LOT_NAME_FIELD})
        return super().formatted_read_grouping_sets(
            domain, grouping_sets, aggregates=aggregates, order=order)

    @api.model
    @api.readonly
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False,
                   lazy=True):
        Lot = self.env['stock.lot']
        Lot._montanes_check_key_aggregates(fields, {LOT_NAME_FIELD})
        rows = super().read_group(
            domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        return Lot._montanes_mask_read_group_rows(self, LOT_NAME_FIELD, rows)

    def _montanes_get_typed_key_lot(self):
        """Return the licence key lot named like the typed serial number of this move line, or
        an empty recordset."""
        self.ensure_one()
        if self.lot_id or not self.lot_name:
            return self.env['stock.lot']
        return self.env['stock.lot'].sudo().with_context(active_test=False).search([
            ('name', '=', self.lot_name),
            ('montanes_is_license_key', '=', True),
        ], limit=1)

    def _montanes_prints_key_masked(self):
        """Return whether the serial number of this move line is a licence key that the current
        user prints masked."""
        self.ensure_one()
        lot = self.lot_id or self._montanes_get_typed_key_lot()
        return bool(lot) and lot._montanes_prints_key_masked()

    def _montanes_get_printed_lot_name(self):
        """Return the serial number of this move line as the current user prints it."""
        self.ensure_one()
        if self.lot_id:
            return self.lot_id.montanes_get_printed_name()
        typed_key_lot = self._montanes_get_typed_key_lot()
        if typed_key_lot:
            return typed_key_lot.montanes_get_printed_name()
        return self.lot_name or ''
