from datetime import datetime, time

import pytz

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain

from .montanes_license import KEY_GROUPS

# Context key of a report being rendered: the set of licence key lots printed in full, which
# the report logs as reveals once rendered.
PRINTED_KEY_LOTS_CONTEXT_KEY = 'montanes_printed_key_lot_ids'
# Search operators that compare a whole serial number. A match with them proves that the user
# already knew the key, so they stay allowed on licence keys for every user.
EXACT_KEY_OPERATORS = frozenset(('=', '!=', 'in', 'not in'))
# Pattern operators, with the exact operator that replaces them on licence keys. The
# case-insensitive ones keep matching a key typed in another letter case.
PATTERN_KEY_OPERATORS = {
    'like': '=', 'not like': '!=', '=like': '=', 'not =like': '!=',
    'ilike': '=ilike', 'not ilike': 'not =ilike', '=ilike': '=ilike', 'not =ilike': 'not =ilike',
}
# Aggregates that return counts only, never a serial number itself.
COUNT_AGGREGATES = frozenset(('count', 'count_distinct'))


class StockLot(models.Model):
    _inherit = 'stock.lot'

    montanes_is_license_key = fields.Boolean(
        string="Is Licence Key",
        compute='_compute_montanes_is_license_key',
        store=True,
        help="Set when the product of this serial number is a key licence: the serial number "
             "is then the licence key.",
    )
    montanes_license_ids = fields.One2many(
        comodel_name='montanes.license',
        inverse_name='lot_id',
        string="Licences",
    )

    # Odoo only checks (product, name, company) in Python. A licence key must be unique across
    # every product and company, and only the database can enforce that under concurrency.
    _montanes_license_key_unique = models.UniqueIndex(
        '(name) WHERE montanes_is_license_key IS TRUE',
        "This licence key already exists. Each key can be loaded only once.",
    )

    @api.depends('product_id.montanes_license_kind')
    def _compute_montanes_is_license_key(self):
        for lot in self:
            lot.montanes_is_license_key = lot.product_id.montanes_license_kind == 'key'

    @api.depends('product_id')
    def _compute_expiration_date(self):
        """Give licence keys no default expiration date.

        product_expiry dates a new lot from its product's expiration time, which would make a
        key with no activation deadline expire on the day it is received. A key expires only
        on the deadline given by the vendor.
        """
        key_lots = self.filtered(lambda lot: lot.product_id.montanes_license_kind == 'key')
        super(StockLot, self - key_lots)._compute_expiration_date()
        for lot in key_lots:
            lot.expiration_date = lot.expiration_date

    @api.model
    def montanes_get_deadline_expiration_date(self, deadline):
        """Return the expiration date (UTC, naive) of a key whose activation deadline is the
        date `deadline`: the last second of that day in the user's time zone."""
        timezone = pytz.timezone(self.env.context.get('tz') or self.env.user.tz or 'UTC')
        local_end = timezone.localize(datetime.combine(deadline, time(23, 59, 59)))
        return local_end.astimezone(pytz.utc).replace(tzinfo=None)

    # Many2one values are read with sudo(), so the check uses the user id, which sudo() keeps.
    @api.depends('montanes_is_license_key')
    @api.depends_context('uid')
    def _compute_display_name(self):
        """Show a licence key masked to every user but the superuser.

        A salesperson reads serial numbers only as many2one values of quants, move lines or
        licences, and these values carry the display name. The key groups see the full key
        through the logged Reveal Key button.
        """
        super()._compute_display_name()
        if self.env.uid == SUPERUSER_ID:
            return
        License = self.env['montanes.license']
        for lot in self.filtered('montanes_is_license_key'):
            lot.display_name = License.montanes_mask_key(lot.name)

    def _read_format(self, fnames, load='_classic_read'):
        """Mask the name of licence keys in every read outside sudo(), for the key groups too.

        Lists, forms and RPC reads (`read`, `web_read`, `search_read`) go through this method,
        while code reading `lot.name` from the ORM still gets the key. A full key reaches a user
        only through a path that logs it: the Reveal Key button, the portal, the key e-mail, an
        export or a printed report.
        """
        result = super()._read_format(fnames, load=load)
        if 'name' not in fnames or not self.env['stock.lot']._montanes_must_mask_keys():
            return result
        key_lot_ids = set(self.sudo().filtered('montanes_is_license_key').ids)
        mask_key = self.env['montanes.license'].montanes_mask_key
        for values in result:
            if values['id'] in key_lot_ids and values.get('name'):
                values['name'] = mask_key(values['name'])
        return result

    @api.model
    def _montanes_must_mask_keys(self):
        """Return whether reads and group labels show licence keys masked: always, except
        for server code running with sudo() or as the superuser."""
        return not (self.env.su or self.env.uid == SUPERUSER_ID)

    def _export_rows(self, fields, *, _is_toplevel_call=True):
        """Export licence keys in full to the key groups and log each key exported, masked to
        anyone else.

        Exports of quants, move lines or licences with a ``lot_id/name`` column reach this
        method for their lots.
        """
        rows = super()._export_rows(fields, _is_toplevel_call=_is_toplevel_call)
        key_columns = [index for index, path in enumerate(fields) if path == ['name']]
        if not key_columns or self.env.su:
            return rows
        key_lots = self.sudo().filtered('montanes_is_license_key')
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

    def action_montanes_reveal_key(self):
        """Show the licence key of this serial number in a notification and log the reveal.

        :raises AccessError: for users outside the licence service team and administrators.
        """
        self.ensure_one()
        self.check_access('read')
        if not self.env.user.has_groups(KEY_GROUPS):
            raise AccessError(self.env._(
                "Only the licence service team and the licence administrators may reveal the "
                "licence key %(key)s.", key=self.display_name))
        lot = self.sudo()
        if not lot.montanes_is_license_key:
            raise UserError(self.env._(
                "The serial number %(lot)s is not a licence key.", lot=self.display_name))
        self.env['montanes.license.key.reveal']._montanes_log_lot_reveals(lot, 'backend')
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {
                'title': self.env._("Key of %(product)s", product=lot.product_id.display_name),
                'message': lot.name,
                'sticky': True,
                'type': 'info',
            },
        }

    # ------------------------------------------------------------
    # Searching and grouping without revealing keys
    # ------------------------------------------------------------

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None, *, active_test=True,
                bypass_access=False):
        """Match licence keys by their whole value only for users outside `KEY_GROUPS`.

        A prefix or pattern search (``name ilike 'MSERP-7%'``) on licence keys would let the
        user guess a key character by character with `search_count`. Ordinary serial numbers
        keep every operator. Searches on quants and move lines by ``lot_id.name`` or by the
        lot's display name reach this method as a subquery, so they are covered too.
        """
        if self._montanes_must_guard_key_search():
            # Optimizing first turns display_name and other searchable fields into
            # conditions on the stored name.
            domain = Domain(domain).optimize_full(self).map_conditions(
                self._montanes_guard_key_condition)
        return super()._search(
            domain, offset=offset, limit=limit, order=order, active_test=active_test,
            bypass_access=bypass_access,
        )

    @api.model
    def _montanes_must_guard_key_search(self):
        """Return whether the current user is limited to searching licence keys by their whole
        value."""
        if self.env.su or self.env.uid == SUPERUSER_ID:
            return False
        return not self.env.user.has_groups(KEY_GROUPS)

    @api.model
    def _montanes_guard_key_condition(self, condition, field_name='name', key_domain=None):
        """Return `condition` rewritten so that it matches a licence key only by its whole
        value, or unchanged when it does not compare `field_name` by pattern or range.

        `key_domain` selects the records whose `field_name` is a licence key. It defaults to
        the licence key lots.
        """
        if condition.field_expr != field_name or condition.operator in EXACT_KEY_OPERATORS:
            return condition
        if key_domain is None:
            key_domain = Domain('montanes_is_license_key', '=', True)
        plain_lots = ~key_domain & condition
        exact_operator = PATTERN_KEY_OPERATORS.get(condition.operator)
        if not exact_operator or not isinstance(condition.value, str):
            # Range comparisons (<, >) would reveal a key by bisection: no licence key matches.
            return plain_lots
        value = condition.value
        if exact_operator.endswith('ilike'):
            # Escaped so that the value is compared literally, wildcards included.
            value = value.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')
        license_keys = key_domain & Domain(field_name, exact_operator, value)
        return plain_lots | license_keys

    @api.model
    def _montanes_check_key_aggregates(self, aggregates, key_fields):
        """Reject aggregates other than counts of the fields in `key_fields`, such as
        ``name:array_agg``, for users who read licence keys masked."""
        if not self._montanes_must_mask_keys():
            return
        for spec in aggregates:
            field_name, _sep, function = spec.partition(':')
            field_name = field_name.split('.')[0]
            if '(' in function:
                # The read_group form 'alias:function(field)'.
                function, _sep, field_name = function.rstrip(')').partition('(')
            if field_name in key_fields and function and function not in COUNT_AGGREGATES:
                raise AccessError(self.env._(
                    "The aggregate “%(aggregate)s” would show serial numbers that are licence "
                    "keys, which your access rights keep masked. Only counts are allowed.",
                    aggregate=spec,
                ))

    @api.model
    def _montanes_wrap_key_group_formatter(self, model, field_name, formatter, values):
        """Return a group formatter of `model` that masks the values of `field_name` that are
        licence keys.

        The domain of such a group lists the ids of its records instead of the key itself, so
        that opening the group does not send the key to the browser either.
        """
        keys = {value for value in values if isinstance(value, str) and value}
        if not keys or not self._montanes_must_mask_keys():
            return formatter
        ids_by_key = self._montanes_get_ids_by_key(model, field_name, keys)
        if not ids_by_key:
            return formatter
        mask_key = self.env['montanes.license'].montanes_mask_key

        def formatter_mask_key(value):
            if value not in ids_by_key:
                return formatter(value)
            return mask_key(value), [('id', 'in', ids_by_key[value])]

        return formatter_mask_key

    @api.model
    def _montanes_mask_read_group_rows(self, model, field_name, rows):
        """Mask the licence keys among the group values of `field_name` in rows returned by
        `read_group` on `model`, and replace the key in each such group's domain by ids."""
        keys = {row[field_name] for row in rows if isinstance(row.get(field_name), str)}
        if not keys or not self._montanes_must_mask_keys():
            return rows
        ids_by_key = self._montanes_get_ids_by_key(model, field_name, keys)
        mask_key = self.env['montanes.license'].montanes_mask_key

        def replace_key_condition(condition, key):
            if condition.field_expr == field_name and condition.value == key:
                return Domain('id', 'in', ids_by_key[key])
            return condition

        for row in rows:
            key = row.get(field_name)
            if key not in ids_by_key:
                continue
            row[field_name] = mask_key(key)
            row['__domain'] = list(Domain(row['__domain']).map_conditions(
                lambda condition, key=key: replace_key_condition(condition, key)))
        return rows

    @api.model
    def _montanes_get_ids_by_key(self, model, field_name, values):
        """Return a dict mapping each value of `values` that is a licence key to the ids of
        the records of `model` whose `field_name` is that value."""
        domain = model._montanes_get_key_value_domain(field_name, values)
        if domain.is_false():
            return {}
        groups = model.sudo().with_context(active_test=False)._read_group(
            domain, [field_name], ['id:array_agg'])
        return dict(groups)

    @api.model
    def _montanes_get_key_value_domain(self, field_name, values):
        """Return the domain of the records of this model whose `field_name` is one of
        `values` and is a licence key."""
        license_keys = self.sudo().with_context(active_test=False).search([
            ('name', 'in', list(values)),
            ('montanes_is_license_key', '=', True),
        ]).mapped('name')
        if not license_keys:
            return Domain.FALSE
        return Domain(field_name, 'in', license_keys)

    def _web_read_group_groupby_formatter(self, groupby_spec, values):
        # Odoo follows grouping paths such as lot_id.name through this method of the
        # comodel, so quants and move lines grouped by the lot's name are masked here too.
        formatter = super()._web_read_group_groupby_formatter(groupby_spec, values)
        if groupby_spec.split(':')[0] != 'name':
            return formatter
        return self._montanes_wrap_key_group_formatter(self, 'name', formatter, values)

    @api.model
    @api.readonly
    def formatted_read_group(self, domain, groupby=(), aggregates=(), having=(), offset=0,
                             limit=None, order=None):
        self._montanes_check_key_aggregates(aggregates, {'name'})
        return super().formatted_read_group(
            domain, groupby=groupby, aggregates=aggregates, having=having, offset=offset,
            limit=limit, order=order,
        )

    @api.model
    @api.readonly
    def formatted_read_grouping_sets(self, domain, grouping_sets, aggregates=(), *, order=None):
        self._montanes_check_key_aggregates(aggregates, {'name'})
        return super().formatted_read_grouping_sets(
            domain, grouping_sets, aggregates=aggregates, order=order)

    @api.model
    @api.readonly
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False,
                   lazy=True):
        self._montanes_check_key_aggregates(fields, {'name'})
        rows = super().read_group(
            domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        return self._montanes_mask_read_group_rows(self, 'name', rows)

    # ------------------------------------------------------------
    # Printing
    # ------------------------------------------------------------

    def _montanes_prints_key_masked(self):
        """Return whether this serial number is a licence key that the current user prints
        masked.

        Reports are often rendered with sudo(), so the check reads the groups of the user and
        ignores the superuser mode.
        """
        self.ensure_one()
        return (
            self.sudo().montanes_is_license_key
            and not self.env.user.has_groups(KEY_GROUPS)
        )

    def montanes_get_printed_name(self):
        """Return the serial number as the current user prints it: masked when it is a
        licence key that the user may not reveal.

        A key printed in full is added to the set of `PRINTED_KEY_LOTS_CONTEXT_KEY`, so that
        the report logs it as a reveal once rendered.
        """
        self.ensure_one()
        lot = self.sudo()
        if not lot.montanes_is_license_key:
            return lot.name
        if self._montanes_prints_key_masked():
            return self.env['montanes.license'].montanes_mask_key(lot.name)
        printed_lot_ids = self.env.context.get(PRINTED_KEY_LOTS_CONTEXT_KEY)
        if printed_lot_ids is not None:
            printed_lot_ids.add(lot.id)
        return lot.name

    # ------------------------------------------------------------
    # Stock's error messages
    # ------------------------------------------------------------

    def _montanes_mask_keys_in_message(self, message):
        """Return `message` with the licence keys among these lots masked, for users outside
        `KEY_GROUPS`.

        Stock raises these errors under sudo() too, so the check reads the groups of the user
        and ignores the superuser mode, as printing does.
        """
        if not message or self.env.user.has_groups(KEY_GROUPS):
            return message
        mask_key = self.env['montanes.license'].montanes_mask_key
        for lot in self.sudo().filtered('montanes_is_license_key'):
            message = message.replace(lot.name, mask_key(lot.name))
        return message

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            product = self._montanes_get_key_product(vals.get('product_id'))
            if vals.get('name') and product:
                vals['name'] = self.montanes_normalize_key(vals['name'], product)
        return super().create(vals_list)

    def write(self, vals):
        key_lots = self.filtered('montanes_is_license_key')
        if vals.get('name') and key_lots:
            vals['name'] = self.montanes_normalize_key(vals['name'], key_lots.product_id[:1])
        return super().write(vals)

    @api.model
    def montanes_normalize_key(self, key, product=None):
        """Return the key as it is stored: without surrounding spaces, in the letter case of
        the product's key case rule (upper case when no product is given)."""
        key = (key or '').strip()
        case = product.montanes_key_case if product else 'upper'
        if case == 'lower':
            return key.lower()
        if case == 'keep':
            return key
        return key.upper()

    @api.model
    def _montanes_get_key_product(self, product_id):
        """Return the product of `product_id` when it is a key licence, else an empty one."""
        if not product_id:
            return self.env['product.product']
        product = self.env['product.product'].browse(product_id)
        return product if product.montanes_license_kind == 'key' else product.browse()
