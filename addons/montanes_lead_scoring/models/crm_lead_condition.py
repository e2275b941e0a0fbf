import ast

import psycopg2

from odoo import api, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain
from odoo.orm.domains import CONDITION_OPERATORS

# Errors that parsing or optimizing a condition text can raise. Their text is Python's or
# Odoo's own, in English, so it is never shown: the messages below state what is wrong instead.
CONDITION_PARSE_ERRORS = (ValueError, TypeError, SyntaxError, KeyError, MemoryError, RecursionError)

# Syntax nodes that literal values are made of: lists, tuples, sets, constants and signs.
LITERAL_NODES = (
    ast.Expression, ast.List, ast.Tuple, ast.Set, ast.Dict, ast.Constant, ast.Load,
    ast.UnaryOp, ast.USub, ast.UAdd,
)

# Logical operators of Odoo's prefix domain notation.
LOGICAL_OPERATORS = frozenset({'&', '|', '!'})


class CrmLead(models.Model):
    _inherit = 'crm.lead'

    @api.model
    def _montanes_parse_condition(self, domain_text, owner):
        """Parse ``domain_text`` into a Domain on crm.lead and validate its fields and operators.

        Scoring rules and band actions store their condition as text. Odoo's and
        Python's errors on bad text are in English and name internals, so each
        check here raises its own translated message naming the wrong part.

        :param owner: translated name of what the condition belongs to, such as
            'the scoring rule "Director"', placed at the start of each message
        :raise ValidationError: the text is not a literal domain list, uses an
            expression, an unknown operator or a field that does not exist or
            cannot be searched
        """
        text = (domain_text or '').strip() or '[]'
        try:
            tree = ast.parse(text, mode='eval')
        except CONDITION_PARSE_ERRORS:
            raise ValidationError(self.env._(
                "The condition of %(owner)s is not valid: it is not a list of conditions "
                "such as [(\"function\", \"ilike\", \"director\")]. Build it again with the "
                "condition editor.",
                owner=owner,
            )) from None
        expression = self._montanes_find_expression(tree, text)
        if expression:
            raise ValidationError(self.env._(
                "The condition of %(owner)s uses %(expression)s, which is calculated and not a "
                "fixed value. Replace it with a fixed value, such as the date 2026-01-31.",
                owner=owner,
                expression=expression,
            ))
        try:
            items = ast.literal_eval(tree)
        except CONDITION_PARSE_ERRORS:
            items = None
        if not isinstance(items, (list, tuple)):
            raise ValidationError(self.env._(
                "The condition of %(owner)s is not valid: it must be a list of conditions "
                "between square brackets. Build it again with the condition editor.",
                owner=owner,
            ))
        for item in items:
            self._montanes_check_condition_item(item, owner)
        try:
            domain = Domain(items)
            domain.validate(self.sudo())
        except CONDITION_PARSE_ERRORS:
            # The fields and operators are known, so a value or the order of the
            # logical operators is wrong.
            raise ValidationError(self.env._(
                "The condition of %(owner)s is not valid: a value does not suit its field, or "
                "an &, | or ! operator lacks its conditions. Use numbers for numeric fields, "
                "dates as 2026-01-31 and choose the values with the condition editor.",
                owner=owner,
            )) from None
        return domain

    @api.model
    def _montanes_find_expression(self, tree, text):
        """Return the source text of the first part of ``tree`` that is not a literal value, or ''."""
        for node in ast.walk(tree):
            if isinstance(node, LITERAL_NODES):
                continue
            return ast.get_source_segment(text, node) or type(node).__name__
        return ''

    @api.model
    def _montanes_check_condition_item(self, item, owner):
        """Raise a translated ValidationError when ``item`` is neither a logical operator nor a
        (field, operator, value) condition on an existing, searchable field."""
        if isinstance(item, str) and item in LOGICAL_OPERATORS:
            return
        if not isinstance(item, (list, tuple)) or len(item) != 3 or not isinstance(item[0], str):
            raise ValidationError(self.env._(
                "The condition of %(owner)s contains %(item)s, which is not a condition. Write "
                "each condition as (field, operator, value), or use &, | or ! between them.",
                owner=owner,
                item=repr(item),
            ))
        field_path, operator, _value = item
        if not isinstance(operator, str) or operator.lower() not in CONDITION_OPERATORS:
            raise ValidationError(self.env._(
                "The condition of %(owner)s uses the unknown operator %(operator)s on the field "
                "%(field)s. Use an operator such as =, !=, >, >=, <, <=, in, not in, ilike or "
                "not ilike.",
                owner=owner,
                operator=repr(operator),
                field=field_path,
            ))
        self._montanes_check_field_path(field_path, owner)

    @api.model
    def _montanes_check_field_path(self, field_path, owner):
        """Raise a translated ValidationError when a part of ``field_path`` (such as
        'partner_id.country_id.code') does not exist, is not searchable or follows a
        field that is not a relation."""
        model = self.sudo()
        names = field_path.split('.')
        for position, name in enumerate(names):
            field = model._fields.get(name)
            if field is None:
                raise ValidationError(self.env._(
                    "The condition of %(owner)s uses the field %(field)s, which does not exist on "
                    "%(model)s. Choose the field again with the condition editor.",
                    owner=owner,
                    field=field_path if position == 0 else f"{name} ({field_path})",
                    model=self.env['ir.model']._get(model._name).name or model._name,
                ))
            if not (field.store or field.search or field.related):
                raise ValidationError(self.env._(
                    "The condition of %(owner)s uses the field %(field)s (%(label)s), which is not "
                    "stored in the database, so leads cannot be filtered on it. Choose another field.",
                    owner=owner,
                    field=field_path,
                    label=field._description_string(self.env),
                ))
            if field.type == 'properties':
                # The rest of the path names a property, which Odoo's domain checks validate.
                return
            if position < len(names) - 1:
                if not field.relational:
                    raise ValidationError(self.env._(
                        "The condition of %(owner)s uses %(field)s, but %(name)s (%(label)s) is not "
                        "a relation to another record, so nothing can follow it after a dot.",
                        owner=owner,
                        field=field_path,
                        name=name,
                        label=field._description_string(self.env),
                    ))
                model = self.env[field.comodel_name].sudo()

    @api.model
    def _montanes_describe_search_failure(self, condition, error):
        """Return a translated sentence saying why the current user's search on ``condition``
        failed with ``error``, for messages that must not quote the error's English text."""
        if isinstance(error, psycopg2.DataError):
            return self.env._(
                "the value %(value)s does not suit this field.", value=repr(condition.value))
        model = self
        for name in condition.field_expr.split('.'):
            field = model._fields.get(name)
            if field is None:
                break
            if not model._has_field_access(field, 'read'):
                return self.env._(
                    "you are not allowed to read the field %(label)s.",
                    label=field._description_string(self.env),
                )
            if not (field.store or field.search or field.related):
                return self.env._(
                    "the field %(label)s is not stored in the database, so it cannot be used to "
                    "filter.",
                    label=field._description_string(self.env),
                )
            if not field.relational:
                break
            model = self.env[field.comodel_name]
            if not model.has_access('read'):
                return self.env._(
                    "you are not allowed to read %(model)s records.",
                    model=self.env['ir.model']._get(model._name).name or model._name,
                )
        if isinstance(error, AccessError):
            return self.env._("you are not allowed to read the records this field leads to.")
        if isinstance(error, (ValueError, TypeError)) and field is not None and not field.relational:
            # Odoo converts the value to the field's type before querying, and 'abc' is no number.
            return self.env._(
                "the value %(value)s does not suit this field.", value=repr(condition.value))
        return self.env._("this field cannot be used to filter leads.")
