import logging
import re

# NOTE: re._parser is the parser of the standard re module (Python 3.11 and later; sre_parse
# before). It is internal, but the only way to read the structure of a pattern as re parses it.
try:
    from re import _parser as regex_parser
except ImportError:  # Python 3.10
    import sre_parse as regex_parser

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# Spanish standard VAT rate, in percent, applied to every licence of the catalogue.
DEMO_SALE_TAX_RATE = 21.0

# Opcodes of the re parser that repeat their body. POSSESSIVE_REPEAT exists from Python 3.11.
REGEX_REPEAT_OPCODES = {
    opcode for opcode in (
        regex_parser.MAX_REPEAT,
        regex_parser.MIN_REPEAT,
        getattr(regex_parser, 'POSSESSIVE_REPEAT', None),
    ) if opcode is not None
}

# Values a key licence needs so that each unit is one serial number (one key) taken from
# stock and the whole ordered quantity is invoiced at confirmation, before delivery. The
# activation deadline of each key is the expiration date of its lot (product_expiry), which
# also sets the removal date that orders the keys first expiring, first out.
KEY_LICENSE_PRODUCT_VALUES = {
    'is_storable': True,
    'tracking': 'serial',
    'invoice_policy': 'order',
    'use_expiration_date': True,
}


class ProductTemplate(models.Model):
    _inherit = 'product.template'

    montanes_license_kind = fields.Selection(
        selection=[
            ('key', "Key from stock"),
            ('seats', "Seat pool"),
            ('generated', "Key generated at sale"),
            ('subscription', "Subscription"),
            ('service', "Service"),
        ],
        string="Licence Kind",
        help="Key from stock: each unit is one licence key kept as a serial number.\n"
             "Seat pool: the quantity is a number of seats, with no key.\n"
             "Key generated at sale: each unit gets a new random key when the order is "
             "confirmed, with nothing taken from stock.",
    )
    montanes_license_term_months = fields.Integer(
        string="Licence Term (months)",
        help="Number of months a licence stays valid after the order is confirmed. "
             "0 means perpetual.",
    )
    montanes_license_seats_per_unit = fields.Integer(
        string="Seats per Unit",
        default=1,
        help="Number of seats (users or devices) that one unit sold of this licence gives.",
    )
    montanes_license_renewal_product_id = fields.Many2one(
        comodel_name='product.product',
        string="Renewal Product",
        help="Licence product quoted when a licence of this product comes up for renewal. "
             "When empty, the renewal quotation offers this same product.",
    )
    montanes_key_pattern = fields.Char(
        string="Key Pattern",
        help="Regular expression the part of each key after the prefix must match, for "
             "example [A-Z0-9]{5}(-[A-Z0-9]{5}){3}. When empty, four groups of five letters or "
             "digits separated by hyphens.",
    )
    montanes_key_case = fields.Selection(
        selection=[
            ('upper', "Upper case"),
            ('lower', "Lower case"),
            ('keep', "Keep as written"),
        ],
        string="Key Case",
        default='upper',
        help="How the key import writes the letters of each key. Surrounding spaces are always "
             "removed.",
    )
    montanes_key_low_stock_threshold = fields.Integer(
        string="Low Key Stock Threshold",
        help="When the keys in stock fall below this number, the purchasing user gets an "
             "activity and an e-mail, once each time the stock crosses it. 0 disables the "
             "alert. When the product has reordering rules with a minimum quantity, the sum of "
             "their minimums is the threshold instead.",
    )
    montanes_key_low_stock_alerted = fields.Boolean(
        string="Low Key Stock Alert Sent",
        readonly=True,
        copy=False,
        help="Set when the low stock alert was sent, cleared when the stock is back at or "
             "above the threshold.",
    )
    montanes_key_prefix = fields.Char(
        string="Key Prefix",
        help="Text every key of this product starts with, for example MSERP-. "
             "The key import rejects keys that do not start with it.",
    )

    # Python constraints rather than SQL CHECKs: a CHECK fails on INSERT, before any Python
    # check, and the user would get the untranslated database error.
    @api.constrains('montanes_license_term_months', 'montanes_license_seats_per_unit')
    def _check_montanes_license_numbers(self):
        """Reject a negative term or seat count with a message naming the product."""
        for template in self:
            if template.montanes_license_term_months < 0:
                raise ValidationError(self.env._(
                    "The licence term of “%(product)s” is %(term)s months: it cannot be "
                    "negative. Enter 0 for a perpetual licence.",
                    product=template.display_name,
                    term=template.montanes_license_term_months,
                ))
            if template.montanes_license_kind and template.montanes_license_seats_per_unit < 1:
                raise ValidationError(self.env._(
                    "The licence “%(product)s” has %(seats)s seats per unit: each unit must give "
                    "at least one seat.",
                    product=template.display_name,
                    seats=template.montanes_license_seats_per_unit,
                ))

    @api.constrains('montanes_license_renewal_product_id')
    def _check_montanes_license_renewal_product(self):
        """Ensure that the renewal product is a licence itself."""
        for template in self:
            renewal = template.montanes_license_renewal_product_id
            if renewal and not renewal.montanes_license_kind:
                raise ValidationError(self.env._(
                    "The renewal product “%(renewal)s” of “%(product)s” is not a licence. "
                    "Choose a product with a licence kind.",
                    renewal=renewal.display_name,
                    product=template.display_name,
                ))

    @api.constrains('montanes_key_pattern')
    def _check_montanes_key_pattern(self):
        """Ensure that the key pattern compiles as a regular expression."""
        for template in self:
            if not template.montanes_key_pattern:
                continue
            try:
                re.compile(template.montanes_key_pattern)
            except re.error as error:
                raise ValidationError(self.env._(
                    "The key pattern “%(pattern)s” of “%(product)s” is not a valid regular "
                    "expression: %(error)s.",
                    pattern=template.montanes_key_pattern,
                    product=template.display_name,
                    error=str(error),
                )) from None

    @api.constrains('montanes_key_pattern')
    def _check_montanes_key_pattern_backtracking(self):
        """Reject key patterns with nested quantifiers, which can take exponential time."""
        for template in self:
            pattern = template.montanes_key_pattern
            if pattern and not self.montanes_is_key_pattern_safe(pattern):
                raise ValidationError(self.env._(
                    "The key pattern “%(pattern)s” of “%(product)s” repeats a group that itself "
                    "contains a variable repetition or an alternation, such as (a+)+ or (a|b)*. "
                    "Matching such a pattern can take exponential time. Rewrite it without the "
                    "nested repetition, for example [A-Z0-9]+ instead of ([A-Z0-9]+)+.",
                    pattern=pattern,
                    product=template.display_name,
                ))

    @api.model
    def montanes_is_key_pattern_safe(self, pattern):
        """Return whether `pattern` compiles and has no nested quantifier.

        A repetition of variable length (``+``, ``*``, ``?``, ``{1,5}``) whose body contains
        another variable repetition or an alternation can backtrack exponentially on a key that
        does not match, as ``(a+)+$`` does. Fixed repetitions such as ``(?:-[A-Z0-9]{5}){3}``
        stay allowed: with keys of bounded length they match in polynomial time.
        """
        try:
            parsed = regex_parser.parse(pattern)
        except re.error:
            return False
        return not self._montanes_has_nested_quantifier(parsed.data, False)

    @api.model
    def _montanes_has_nested_quantifier(self, items, inside_variable_repeat):
        """Return whether the parsed pattern `items` contains a variable repetition or an
        alternation inside a variable repetition."""
        for opcode, argument in items:
            if opcode in REGEX_REPEAT_OPCODES:
                minimum, maximum, body = argument
                is_variable = minimum != maximum
                if is_variable and inside_variable_repeat:
                    return True
                if self._montanes_has_nested_quantifier(
                        body, inside_variable_repeat or is_variable):
                    return True
            elif opcode == regex_parser.BRANCH:
                if inside_variable_repeat:
                    return True
                if any(self._montanes_has_nested_quantifier(branch, False)
                       for branch in argument[1]):
                    return True
            elif opcode == regex_parser.SUBPATTERN:
                if self._montanes_has_nested_quantifier(argument[3], inside_variable_repeat):
                    return True
            elif opcode in (regex_parser.ASSERT, regex_parser.ASSERT_NOT):
                if self._montanes_has_nested_quantifier(argument[1], inside_variable_repeat):
                    return True
            elif opcode == getattr(regex_parser, 'ATOMIC_GROUP', None):
                if self._montanes_has_nested_quantifier(argument, inside_variable_repeat):
                    return True
            elif opcode == regex_parser.GROUPREF_EXISTS:
                branches = [branch for branch in argument[1:] if branch is not None]
                if any(self._montanes_has_nested_quantifier(branch, inside_variable_repeat)
                       for branch in branches):
                    return True
        return False

    @api.constrains('montanes_license_kind', 'is_storable', 'tracking')
    def _check_montanes_key_license_tracking(self):
        """Ensure that a key licence is storable and tracked by serial number."""
        for template in self:
            if template.montanes_license_kind != 'key':
                continue
            if not template.is_storable or template.tracking != 'serial':
                raise ValidationError(self.env._(
                    "The product “%(product)s” is a key licence, so it must be tracked in "
                    "inventory by unique serial number. Set “Track Inventory” and tracking "
                    "“By Unique Serial Number”, or choose another licence kind.",
                    product=template.display_name,
                ))

    @api.onchange('montanes_license_kind')
    def _onchange_montanes_license_kind(self):
        if self.montanes_license_kind == 'key':
            self.update(KEY_LICENSE_PRODUCT_VALUES)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._montanes_add_key_license_values(vals)
        return super().create(vals_list)

    def write(self, vals):
        self._montanes_add_key_license_values(vals)
        return super().write(vals)

    @api.model
    def _montanes_add_key_license_values(self, vals):
        """Fill in the storable, tracking and invoicing values of a key licence.

        Values passed explicitly are kept, so a contradiction still reaches the constraint.
        """
        if vals.get('montanes_license_kind') == 'key':
            for field_name, value in KEY_LICENSE_PRODUCT_VALUES.items():
                vals.setdefault(field_name, value)

    # ------------------------------------------------------------
    # Low key stock alert
    # ------------------------------------------------------------

    # NOTE: the alerted flag is one per template, so a product shared between companies has
    # one crossing state for all of them: a check in a company with enough keys clears it.
    def _montanes_get_alert_company(self):
        """Return the company whose key stock and reordering rules the low stock alert of this
        template reads: the template's company, else the current company."""
        self.ensure_one()
        return self.company_id or self.env.company

    def _montanes_get_free_key_counts(self):
        """Return a dict mapping each template id to its number of unreserved keys in the
        stock of its alert company.

        Keys past their activation deadline (lot expiration date) are never delivered, so they
        do not count.
        """
        companies = self.env['res.company'].union(
            *(template._montanes_get_alert_company() for template in self))
        groups = self.env['stock.quant'].sudo()._read_group(
            domain=[
                ('product_id.product_tmpl_id', 'in', self.ids),
                ('company_id', 'in', companies.ids),
                ('location_id.usage', '=', 'internal'),
                ('lot_id', '!=', False),
                '|',
                ('lot_id.expiration_date', '=', False),
                ('lot_id.expiration_date', '>=', fields.Datetime.now()),
            ],
            groupby=['product_id', 'company_id'],
            aggregates=['quantity:sum', 'reserved_quantity:sum'],
        )
        counts = dict.fromkeys(self.ids, 0)
        for product, company, quantity, reserved in groups:
            template = product.product_tmpl_id
            if company == template._montanes_get_alert_company():
                counts[template.id] += int(quantity - reserved)
        return counts

    def _montanes_get_low_stock_thresholds(self):
        """Return a dict mapping each template id to its low key stock threshold.

        The threshold is the sum of the minimum quantities of the product's active reordering
        rules of its alert company that have one, as Odoo's replenishment reads them, else the
        template's own threshold. Rules with a zero minimum, such as those that the
        replenishment report creates by itself, do not count.
        """
        companies = self.env['res.company'].union(
            *(template._montanes_get_alert_company() for template in self))
        groups = self.env['stock.warehouse.orderpoint'].sudo()._read_group(
            domain=[
                ('product_id.product_tmpl_id', 'in', self.ids),
                ('company_id', 'in', companies.ids),
                ('product_min_qty', '>', 0),
            ],
            groupby=['product_id', 'company_id'],
            aggregates=['product_min_qty:sum'],
        )
        rule_minimums = {}
        for product, company, minimum in groups:
            template = product.product_tmpl_id
            if company != template._montanes_get_alert_company():
                continue
            rule_minimums[template.id] = rule_minimums.get(template.id, 0) + minimum
        return {
            template.id: rule_minimums.get(template.id, template.montanes_key_low_stock_threshold)
            for template in self
        }

    def _montanes_check_key_low_stock(self):
        """Alert the purchasing user of each key licence whose stock fell below its threshold.

        The threshold comes from the reordering rules or the template's own field (see
        `_montanes_get_low_stock_thresholds`). The alert goes once per crossing: the flag is
        claimed with a conditional UPDATE, so two confirmations crossing the threshold at once
        send it once, and it is cleared when the stock is back at or above the threshold.
        """
        key_templates = self.filtered(lambda template: template.montanes_license_kind == 'key')
        if not key_templates:
            return
        thresholds = key_templates._montanes_get_low_stock_thresholds()
        templates = key_templates.filtered(lambda template: thresholds[template.id] > 0)
        if not templates:
            return
        counts = templates._montanes_get_free_key_counts()
        low = templates.filtered(lambda template: counts[template.id] < thresholds[template.id])
        back = templates - low
        self.flush_model(['montanes_key_low_stock_alerted'])
        if back:
            self.env.execute_query(SQL(
                "UPDATE product_template SET montanes_key_low_stock_alerted = FALSE "
                "WHERE id = ANY(%(ids)s) AND montanes_key_low_stock_alerted",
                ids=back.ids,
            ))
        claimed_ids = []
        if low:
            # The row lock of the UPDATE makes a concurrent confirmation wait, then find the
            # flag already set and claim nothing.
            claimed_ids = [row[0] for row in self.env.execute_query(SQL(
                "UPDATE product_template SET montanes_key_low_stock_alerted = TRUE "
                "WHERE id = ANY(%(ids)s) AND montanes_key_low_stock_alerted IS NOT TRUE "
                "RETURNING id",
                ids=low.ids,
            ))]
        self.invalidate_model(['montanes_key_low_stock_alerted'])
        for template in self.browse(claimed_ids):
            template._montanes_send_low_stock_alert(counts[template.id], thresholds[template.id])

    def _montanes_send_low_stock_alert(self, free_count, threshold):
        self.ensure_one()
        user = self._montanes_get_alert_company()._montanes_get_purchase_user()
        summary = self.env._(
            "Low key stock: %(product)s", product=self.display_name)
        note = self.env._(
            "Only %(count)s keys of “%(product)s” are left in stock, below the threshold of "
            "%(threshold)s. Order new keys from the vendor.",
            count=free_count, product=self.display_name, threshold=f"{threshold:g}",
        )
        if not user:
            _logger.warning("Low key stock of product %s: no purchasing user to alert", self.id)
            return
        self.activity_schedule(
            'mail.mail_activity_data_todo', summary=summary, note=note, user_id=user.id)
        self.message_post(
            body=note,
            subject=summary,
            partner_ids=user.partner_id.ids,
            subtype_xmlid='mail.mt_comment',
        )

    # ------------------------------------------------------------
    # Demo data
    # ------------------------------------------------------------

    def _montanes_demo_set_sale_tax(self):
        """Set a 21 % sale tax of each product's company, creating it when missing.

        NOTE: the demo does not load the es_pymes chart of accounts. Demo data loads before the
        registry is complete, and account.chart.template.try_loading (Odoo 19.0) warns that
        loading then "could lead to issues". l10n_es loads es_pymes itself when it is installed
        for a Spanish company, so any 21 % sale tax of the company is used here instead.
        """
        for template in self:
            company = template.company_id or self.env.company
            tax = self.env['account.tax'].search([
                *self.env['account.tax']._check_company_domain(company),
                ('type_tax_use', '=', 'sale'),
                ('amount_type', '=', 'percent'),
                ('amount', '=', DEMO_SALE_TAX_RATE),
                ('price_include', '=', False),
            ], limit=1)
            if not tax:
                tax = self.env['account.tax'].create({
                    'name': "IVA 21%",
                    'amount': DEMO_SALE_TAX_RATE,
                    'amount_type': 'percent',
                    'type_tax_use': 'sale',
                    'company_id': company.id,
                })
                _logger.info("Demo sale tax %s created for company %s", tax.name, company.name)
            template.taxes_id = [fields.Command.set(tax.ids)]
