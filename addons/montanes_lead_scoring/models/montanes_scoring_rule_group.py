from odoo import fields, models


class MontanesScoringRuleGroup(models.Model):
    """Set of scoring rules that together give a lead at most a maximum of points."""
    _name = 'montanes.scoring.rule.group'
    _description = 'Lead Scoring Rule Group'
    _order = 'name, id'

    name = fields.Char(string='Name', required=True, translate=True)
    max_points = fields.Integer(
        string='Maximum Points',
        help='Most points the rules of this group add to one lead together. 0 means no maximum.',
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
