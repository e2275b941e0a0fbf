"""Explain in the user's language why a domain typed in a campaign is invalid.

Odoo's domain parser and validator raise Python errors in English (for example
"Invalid field crm.lead.foo in condition"). The campaign forms show their own
translated reason instead: which condition, field, operator or value is wrong.
"""

from ast import literal_eval

from odoo.fields import Domain
from odoo.orm.domains import CONDITION_OPERATORS

# Errors the parser and the validator of Odoo raise for a bad domain.
DOMAIN_ERRORS = (SyntaxError, ValueError, TypeError, KeyError, MemoryError, RecursionError)
DOMAIN_BOOLEAN_OPERATORS = ("&", "|", "!")


def parse_domain(env, model_name, domain_text):
    """Return the Domain of domain_text on model_name, or raise ValueError
    with a translated reason that names the wrong part."""
    try:
        parsed = literal_eval(domain_text or "[]")
    except DOMAIN_ERRORS:
        raise ValueError(env._(
            "the text is not a list of conditions. Check its brackets, commas and quotes",
        )) from None
    if not isinstance(parsed, (list, tuple)):
        raise ValueError(env._("the text is not a list of conditions between square brackets"))
    model = env[model_name]
    for item in parsed:
        _check_domain_item(env, model, item)
    try:
        domain = Domain(parsed)
        domain.validate(model)
    except DOMAIN_ERRORS:
        raise ValueError(_find_invalid_value(env, model, parsed)) from None
    return domain


def _check_domain_item(env, model, item):
    if isinstance(item, str) and item in DOMAIN_BOOLEAN_OPERATORS:
        return
    if not isinstance(item, (list, tuple)) or len(item) != 3:
        raise ValueError(env._(
            "%(item)s is not a condition. Write each condition as ('field', 'operator', value)",
            item=repr(item),
        ))
    field_path, operator, _value = item
    if field_path in (0, 1):
        return  # the always true and always false conditions of Odoo
    if not isinstance(field_path, str) or not field_path:
        raise ValueError(env._(
            "the condition %(item)s does not start with a field name",
            item=repr(item),
        ))
    _check_field_path(env, model, field_path)
    if operator not in CONDITION_OPERATORS:
        raise ValueError(env._(
            "the operator %(operator)s of the condition on %(field)s does not exist. "
            "Use one of %(operators)s",
            operator=repr(operator),
            field=field_path,
            operators=", ".join(("=", "!=", "in", "not in", "ilike", "not ilike", "<", "<=", ">", ">=")),
        ))


def _check_field_path(env, model, field_path):
    current = model
    for position, name in enumerate(field_path.split(".")):
        field = current._fields.get(name)
        if field is None:
            raise ValueError(env._(
                "the field %(field)s does not exist on %(model)s",
                field=".".join(field_path.split(".")[:position + 1]),
                model=env["ir.model"]._get(current._name).name,
            ))
        if not field.relational:
            return
        current = env[field.comodel_name]


def _find_invalid_value(env, model, parsed):
    """Return the reason of the first condition the validator rejects alone."""
    for item in parsed:
        if isinstance(item, str):
            continue
        try:
            Domain([item]).validate(model)
        except DOMAIN_ERRORS:
            return env._(
                "the value %(value)s does not fit the field %(field)s. Enter a value of "
                "the field's type",
                value=repr(item[2]),
                field=item[0],
            )
    return env._("the conditions are not combined correctly. Check the operators &, | and !")


def describe_unsearchable_path(env, model_name, field_path):
    """Return a translated reason why the current user cannot filter
    model_name on field_path: a model or field they may not read, a field
    that is not stored, or else a value that does not fit the field."""
    model = env[model_name]
    if not model.has_access("read"):
        return env._("your user cannot read %(model)s", model=env["ir.model"]._get(model._name).name)
    names = field_path.split(".")
    for position, name in enumerate(names):
        field = model._fields.get(name)
        path = ".".join(names[:position + 1])
        if field is None:
            break
        if not model._has_field_access(field, "read"):
            return env._("your user cannot read the field %(field)s", field=path)
        if not field._description_searchable:
            return env._("the field %(field)s is not stored, so no filter can use it", field=path)
        if not field.relational:
            break
        model = env[field.comodel_name]
        if not model.has_access("read"):
            return env._("your user cannot read %(model)s", model=env["ir.model"]._get(model._name).name)
    return env._("the value does not fit the field %(field)s", field=field_path)
