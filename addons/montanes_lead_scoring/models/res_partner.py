from odoo import api, models, tools
from odoo.fields import Domain

# Operators whose value is a domain on the comodel of the condition's field.
SUBDOMAIN_OPERATORS = ('any', 'not any', 'any!', 'not any!')


class ResPartner(models.Model):
    _inherit = 'res.partner'

    def write(self, vals):
        result = super().write(vals)
        if set(vals) & self._montanes_get_profile_trigger_fields():
            self._montanes_rescore_leads()
        return result

    def _montanes_rescore_leads(self):
        """Re-evaluate the profile rules on the leads of these contacts and of their own contacts.

        The contacts of a company are included because conditions such as
        ``partner_id.commercial_partner_id.industry_id`` read the company
        through the lead's contact.
        """
        # sudo: the score must not depend on what the editing user may read.
        leads = self.env['crm.lead'].sudo().with_context(active_test=False).search([
            ('partner_id', 'child_of', self.ids),
        ])
        leads._montanes_recompute_profile_score()

    @api.model
    @tools.ormcache()
    def _montanes_get_profile_trigger_fields(self):
        """Return the contact fields that the active profile rules read through a lead's contact.

        A condition such as ``partner_id.industry_id.name`` names the contact
        field ``industry_id``. For a computed contact field, the contact fields
        it is computed from are included too. The set is empty when no rule
        reads the contact. It is cached in the registry because every contact
        write reads it; rule changes clear the cache.
        """
        rules = self.env['montanes.scoring.rule'].sudo().with_context(active_test=True).search([
            ('rule_type', '=', 'profile'),
        ])
        trigger_fields = set()
        for rule in rules:
            self._montanes_collect_partner_fields(self.env['crm.lead'], rule._get_lead_domain(), trigger_fields)

        todo = list(trigger_fields)
        while todo:
            field = self._fields[todo.pop()]
            if not field.compute:
                continue
            for path in self.pool.field_depends[field]:
                field_name = path.split('.')[0]
                if field_name in self._fields and field_name not in trigger_fields:
                    trigger_fields.add(field_name)
                    todo.append(field_name)
        return frozenset(trigger_fields)

    @api.model
    def _montanes_collect_partner_fields(self, model, domain, trigger_fields):
        """Add to ``trigger_fields`` the res.partner fields that the paths of ``domain`` on
        ``model`` go through, including those of sub-domains (operator ``any``)."""
        for condition in domain.iter_conditions():
            current = model
            for field_name in condition.field_expr.split('.'):
                field = current._fields.get(field_name)
                if field is None:
                    break
                if current._name == 'res.partner':
                    trigger_fields.add(field_name)
                if not field.relational:
                    break
                current = self.env[field.comodel_name]
            else:
                if condition.operator in SUBDOMAIN_OPERATORS and isinstance(condition.value, (list, Domain)):
                    self._montanes_collect_partner_fields(current, Domain(condition.value), trigger_fields)
