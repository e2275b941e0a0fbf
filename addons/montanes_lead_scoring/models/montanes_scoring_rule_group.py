from odoo import fields, models


class MontanesScoringRuleGroup(models.Model):
    """Set of scoring rules that together give a lead at most a maximum of points."""
    _name = 'montanes.scoring.rule.group'
    _description = 'Lead Scoring Rule Group'
    _order = 'name, id'

    name = fields.Char(string='Name', required=True, translate=True)
    max_points = fields.Integer(
        string='Maximum Points',
        help='Most points the rules of this group add to one lead together. 0 means no maximum. '
        'A change applies at once to the profile scores of every lead. For behaviour rules it '
        'applies to new events only: leads keep the points they already earned.',
    )
    rule_ids = fields.One2many(
        comodel_name='montanes.scoring.rule',
        inverse_name='group_id',
        string='Rules',
    )

    _check_max_points_positive = models.Constraint(
        'CHECK(max_points >= 0)',
        'The maximum points of a rule group cannot be negative: enter 0 for no maximum.',
    )

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    def write(self, vals):
        changed_groups = self.browse()
        if 'max_points' in vals:
            changed_groups = self.filtered(lambda group: group.max_points != (vals['max_points'] or 0))
        result = super().write(vals)
        if changed_groups:
            changed_groups._reapply_profile_caps()
        return result

    def unlink(self):
        # Deleting a group with a maximum removes the maximum of its rules.
        capped_groups = self.filtered('max_points')
        rules = capped_groups._get_profile_rules()
        result = super().unlink()
        if rules:
            self.env['montanes.lead.score.line']._reapply_profile_caps(rules)
        return result

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_profile_rules(self):
        """Return the profile rules of these groups, archived ones included, in sudo."""
        # sudo: the user editing a group may not have read access to every rule in it.
        rules = self.sudo().with_context(active_test=False).rule_ids
        return rules.filtered(lambda rule: rule.rule_type == 'profile')

    def _reapply_profile_caps(self):
        """Re-cap the profile entries of the leads that the rules of these groups scored."""
        rules = self._get_profile_rules()
        if rules:
            self.env['montanes.lead.score.line']._reapply_profile_caps(rules)
