import ast

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.fields import Domain

# Behaviour events a rule can react to. The mailing.trace hooks register
# exactly these keys, so a new key needs a matching hook.
EVENT_TYPES = [
    ('email_open', 'E-mail opened'),
    ('email_click', 'Link clicked'),
    ('email_reply', 'E-mail replied'),
]

# Rule fields whose change alters which leads a profile rule scores, or by how
# much, so writing any of them re-scores the leads.
PROFILE_RESCORE_FIELDS = {'active', 'company_id', 'domain', 'points', 'rule_type'}

# Largest number of points, positive or negative, of one rule. It is far above any useful
# weight and far below the limit of the integer columns (2**31 - 1): a lead total stays in
# range up to 21 474 rules at this limit.
MAX_RULE_POINTS = 100000

# Lead fields that hold the score itself. A profile condition on them would
# depend on its own result, so conditions may not use them.
SCORE_FIELDS = frozenset({
    'montanes_score', 'montanes_score_fit', 'montanes_score_engagement', 'montanes_score_line_ids',
})


class MontanesScoringRule(models.Model):
    _name = 'montanes.scoring.rule'
    _description = 'Lead Scoring Rule'
    _order = 'sequence, id'

    name = fields.Char(string='Name', required=True, translate=True)
    active = fields.Boolean(string='Active', default=True)
    sequence = fields.Integer(string='Sequence', default=10)
    company_id = fields.Many2one(
        comodel_name='res.company',
        string='Company',
        index=True,
        help='Company whose leads this rule scores. Leave empty to score the leads of every company.',
    )
    rule_type = fields.Selection(
        selection=[
            ('profile', 'Profile'),
            ('behaviour', 'Behaviour'),
        ],
        string='Type',
        required=True,
        default='profile',
        help='Profile rules score what the lead is (its fields). '
        'Behaviour rules score what the contact does with our e-mails.',
    )
    domain = fields.Char(
        string='Condition',
        default='[]',
        help='Leads matching this condition receive the points of a profile rule.',
    )
    event_type = fields.Selection(
        selection=EVENT_TYPES,
        string='Event',
        help='E-mail event that earns the points of a behaviour rule, once per e-mail.',
    )
    points = fields.Integer(
        string='Points',
        required=True,
        default=10,
        help='Points added to the lead score. Use a negative number to subtract points.',
    )
    score_line_ids = fields.One2many(
        comodel_name='montanes.lead.score.line',
        inverse_name='rule_id',
        string='Score Entries',
    )
    lead_count = fields.Integer(string='Leads', compute='_compute_lead_count')

    _check_points_not_zero = models.Constraint(
        'CHECK(points <> 0)',
        'A scoring rule must add or subtract points: set a number of points other than 0.',
    )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends('score_line_ids')
    def _compute_lead_count(self):
        lead_data = self.env['montanes.lead.score.line']._read_group(
            [('rule_id', 'in', self.ids)],
            ['rule_id'],
            ['lead_id:count_distinct'],
        )
        count_by_rule = {rule.id: count for rule, count in lead_data}
        for rule in self:
            rule.lead_count = count_by_rule.get(rule.id, 0)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains('rule_type', 'domain')
    def _check_domain(self):
        """Reject a profile rule whose condition is missing or not a valid crm.lead domain."""
        for rule in self:
            if rule.rule_type != 'profile':
                continue
            domain = rule._get_lead_domain()
            if domain.is_true():
                raise ValidationError(self.env._(
                    "The profile rule \"%(rule)s\" needs a condition: "
                    "choose which leads earn its points.",
                    rule=rule.name,
                ))
            score_fields = {
                condition.field_expr.split('.')[0] for condition in domain.iter_conditions()
            } & SCORE_FIELDS
            if score_fields:
                raise ValidationError(self.env._(
                    "The condition of the profile rule \"%(rule)s\" uses the score field "
                    "%(field)s, but a profile rule cannot depend on the score it sets. "
                    "Remove that field from the condition.",
                    rule=rule.name,
                    field=', '.join(sorted(score_fields)),
                ))

    @api.model
    def _check_domain_searchable(self, domain_text, rule_name):
        """Run each condition of a rule as the current user.

        Scoring evaluates the condition as superuser, so only a condition its
        author can evaluate is saved. Otherwise the scored leads would reveal
        values of records the author cannot read. Constraints run as superuser,
        so create() and write() call this check before saving. A condition that
        does not parse is left to _check_domain.
        """
        unsearchable = self.env['crm.lead']._montanes_find_unsearchable_condition(domain_text)
        if unsearchable:
            field_path, error_text = unsearchable
            raise ValidationError(self.env._(
                "The condition of the scoring rule \"%(rule)s\" cannot filter on %(field)s: "
                "%(error)s Remove this condition or ask an administrator to write the rule.",
                rule=rule_name,
                field=field_path,
                error=error_text,
            ))

    @api.model
    def _check_points_range(self, points):
        """Reject points beyond MAX_RULE_POINTS before they reach the database.

        The integer column would otherwise fail with a database error on values
        beyond 2**31 - 1, before any constraint could explain it.
        """
        if isinstance(points, int) and abs(points) > MAX_RULE_POINTS:
            raise ValidationError(self.env._(
                "A scoring rule cannot give %(points)s points: enter a number between "
                "%(min)s and %(max)s.",
                points=points,
                min=-MAX_RULE_POINTS,
                max=MAX_RULE_POINTS,
            ))

    @api.constrains('rule_type', 'event_type')
    def _check_event_type(self):
        """Require an event on behaviour rules."""
        for rule in self:
            if rule.rule_type == 'behaviour' and not rule.event_type:
                raise ValidationError(self.env._(
                    "The behaviour rule \"%(rule)s\" needs an event: "
                    "choose which e-mail event earns its points.",
                    rule=rule.name,
                ))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            self._check_points_range(vals.get('points'))
            if vals.get('domain'):
                self._check_domain_searchable(vals['domain'], vals.get('name'))
        rules = super().create(vals_list)
        self.env.registry.clear_cache()  # crm.lead._montanes_get_profile_trigger_fields
        rules._rescore_profile_leads()
        return rules

    def write(self, vals):
        self._check_points_range(vals.get('points'))
        if vals.get('domain') and self:
            rule_names = vals.get('name') or ', '.join(self.mapped('name'))
            self._check_domain_searchable(vals['domain'], rule_names)
        if 'rule_type' in vals:
            self._check_rule_type_change(vals['rule_type'])
        result = super().write(vals)
        if PROFILE_RESCORE_FIELDS & set(vals):
            self.env.registry.clear_cache()  # crm.lead._montanes_get_profile_trigger_fields
            self._rescore_profile_leads()
        return result

    def unlink(self):
        # Deleting a rule deletes its score entries (ondelete='cascade'), and the
        # ORM then recomputes the lead totals; only the trigger cache is left.
        result = super().unlink()
        self.env.registry.clear_cache()  # crm.lead._montanes_get_profile_trigger_fields
        return result

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_view_leads(self):
        """Open the leads this rule has scored."""
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id('crm.crm_lead_all_leads')
        action.update({
            'name': self.env._("Leads scored by %(rule)s", rule=self.name),
            'domain': [('montanes_score_line_ids.rule_id', '=', self.id)],
            'context': {'active_test': False},
        })
        return action

    def action_view_score_lines(self):
        """Open the score entries of this rule."""
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id(
            'montanes_lead_scoring.action_montanes_lead_score_line')
        action.update({
            'domain': [('rule_id', '=', self.id)],
            'context': {'create': False},
        })
        return action

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_lead_domain(self):
        """Return the condition of this rule as a Domain on crm.lead.

        Raises ValidationError naming the rule when the text is not a literal
        domain list or names fields that crm.lead does not have.
        """
        self.ensure_one()
        try:
            domain = Domain(ast.literal_eval(self.domain or '[]'))
            domain.validate(self.env['crm.lead'].sudo())
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as error:
            raise ValidationError(self.env._(
                "The condition of the scoring rule \"%(rule)s\" is invalid: %(error)s. "
                "Edit it with the condition editor and use only fixed values.",
                rule=self.name,
                error=error,
            )) from None
        return domain

    def _check_rule_type_change(self, new_rule_type):
        """Reject a type change on a rule that has already scored.

        Its entries would otherwise move between the profile and the
        engagement totals of the leads.
        """
        # sudo: the writer may not read every score entry of the rule.
        for rule in self.sudo():
            if rule.rule_type != new_rule_type and rule.score_line_ids:
                raise ValidationError(self.env._(
                    "The rule \"%(rule)s\" has already scored leads, so its type cannot change. "
                    "Archive it and create a new rule instead.",
                    rule=rule.name,
                ))

    def _rescore_profile_leads(self):
        """Re-score every lead against these rules (insert, update and remove profile entries)."""
        if self:
            self.env['montanes.lead.score.line']._sync_profile_lines(self)
