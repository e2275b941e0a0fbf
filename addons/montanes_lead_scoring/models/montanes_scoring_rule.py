import ast
import fnmatch

import psycopg2

from odoo import api, fields, models
from odoo.exceptions import AccessError, ValidationError
from odoo.fields import Domain

# Behaviour events a rule can react to. Each key is registered by a hook on
# the Odoo model that records the event (mailing.trace, mail.message,
# calendar.event, mail.activity, crm.lead) or by the website tracking route.
EVENT_TYPES = [
    ('email_open', 'E-mail opened'),
    ('email_click', 'Link clicked'),
    ('email_reply', 'E-mail replied'),
    ('email_bounce', 'E-mail bounced'),
    ('unsubscribe', 'Unsubscribed'),
    ('page_view', 'Website page visited'),
    ('info_request', 'Information requested'),
    ('meeting', 'Meeting held'),
    ('call', 'Call logged'),
    ('stage_reached', 'Stage reached'),
]

REPEAT_POLICIES = [
    ('once_per_lead', 'Once per lead'),
    ('once_per_source', 'Once per e-mail, link or page'),
    ('every_time', 'Every time'),
]

VALIDITIES = [
    ('permanent', 'Permanent'),
    ('window', 'Time window'),
    ('decay', 'Decay by percentage'),
    ('half_life', 'Half-life'),
]

# Rule fields whose change alters which leads a profile rule scores, or by how
# much, so writing any of them re-scores the leads.
PROFILE_RESCORE_FIELDS = {'active', 'company_id', 'domain', 'points', 'rule_type'}

# Rule fields that decide how the profile and group maximums share out the points,
# because rules fill the room in sequence order. Writing any of them re-caps the leads.
PROFILE_CAP_FIELDS = {'group_id', 'sequence'}

# Largest number of points, positive or negative, of one rule. It is far above any useful
# weight and far below the limit of the integer columns (2**31 - 1): a lead total stays in
# range up to 21 474 rules at this limit.
MAX_RULE_POINTS = 100000

# Lead fields that hold the score itself, or that the score band sets (the
# priority stars). A profile condition on them would depend on its own
# result, so conditions may not use them.
SCORE_FIELDS = frozenset({
    'montanes_score', 'montanes_score_fit', 'montanes_score_engagement', 'montanes_score_line_ids',
    'montanes_band_id', 'priority',
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
        help='Event that earns the points of a behaviour rule.',
    )
    url_pattern = fields.Char(
        string='Page URL Pattern',
        help='Pages whose visit scores, as a pattern where * matches any text, '
        'e.g. */precios* . Leave empty to score every page.',
    )
    stage_id = fields.Many2one(
        comodel_name='crm.stage',
        string='Stage',
        ondelete='cascade',
        help='Stage whose reaching scores. Leave empty to score every stage change.',
    )
    repeat_policy = fields.Selection(
        selection=REPEAT_POLICIES,
        string='Repeat',
        required=True,
        default='once_per_source',
        help='Once per lead: the first event scores, later ones add nothing. '
        'Once per e-mail, link or page: each e-mail, link or page scores once. '
        'Every time: each event scores, up to the maximum per period.',
    )
    max_per_period = fields.Integer(
        string='Maximum per Period',
        help='Most entries this rule gives one lead within the period. 0 means no maximum.',
    )
    period_days = fields.Integer(
        string='Period (days)',
        default=30,
        help='Length of the period of the maximum, in days, counted back from the event.',
    )
    validity = fields.Selection(
        selection=VALIDITIES,
        string='Validity',
        required=True,
        default='permanent',
        help='Permanent: the points stay. Time window: they count for a number of days, then expire. '
        'Decay by percentage: they lose a percentage each period. '
        'Half-life: they halve every half-life.',
    )
    validity_days = fields.Integer(
        string='Valid for (days)',
        default=90,
        help='Days the points of a time-window rule count, from the event.',
    )
    decay_percent = fields.Float(
        string='Decay (%)',
        default=10.0,
        help='Percentage of the points lost at the end of each decay period.',
    )
    decay_period_days = fields.Integer(
        string='Decay Period (days)',
        default=30,
        help='Length of a decay period, in days.',
    )
    half_life_days = fields.Integer(
        string='Half-life (days)',
        default=30,
        help='Days after which the points are half of what the event earned.',
    )
    group_id = fields.Many2one(
        comodel_name='montanes.scoring.rule.group',
        string='Group',
        index=True,
        ondelete='set null',
        help='Rules of a group share the group\'s maximum points per lead.',
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
    match_count = fields.Integer(
        string='Matching Leads',
        compute='_compute_match_count',
        help='Leads the condition matches now, counted while the condition is edited.',
    )

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

    @api.depends('domain', 'rule_type', 'company_id')
    def _compute_match_count(self):
        Lead = self.env['crm.lead'].with_context(active_test=False)
        for rule in self:
            rule.match_count = 0
            if rule.rule_type != 'profile':
                continue
            try:
                domain = Domain(ast.literal_eval(rule.domain or '[]'))
                if rule.company_id:
                    domain &= Domain('company_id', '=', rule.company_id.id)
                # The count runs as the editor, so it reveals only leads they may read.
                with self.env.cr.savepoint():
                    rule.match_count = Lead.search_count(domain)
            except (ValueError, TypeError, SyntaxError, KeyError, MemoryError, RecursionError,
                    AccessError, psycopg2.Error):
                rule.match_count = 0

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains('repeat_policy', 'max_per_period', 'period_days', 'validity', 'validity_days',
                    'decay_percent', 'decay_period_days', 'half_life_days')
    def _check_repeat_and_validity(self):
        for rule in self:
            if rule.max_per_period < 0:
                raise ValidationError(self.env._(
                    "The maximum per period of the rule \"%(rule)s\" cannot be negative: "
                    "enter 0 for no maximum or a positive number.", rule=rule.name))
            if rule.repeat_policy == 'every_time' and rule.max_per_period and rule.period_days <= 0:
                raise ValidationError(self.env._(
                    "The period of the rule \"%(rule)s\" must be at least 1 day.", rule=rule.name))
            if rule.validity == 'window' and rule.validity_days <= 0:
                raise ValidationError(self.env._(
                    "The time window of the rule \"%(rule)s\" must be at least 1 day.", rule=rule.name))
            if rule.validity == 'half_life' and rule.half_life_days <= 0:
                raise ValidationError(self.env._(
                    "The half-life of the rule \"%(rule)s\" must be at least 1 day.", rule=rule.name))
            if rule.validity == 'decay' and (
                rule.decay_period_days <= 0 or not 0 < rule.decay_percent <= 100
            ):
                raise ValidationError(self.env._(
                    "The decay of the rule \"%(rule)s\" needs a period of at least 1 day and "
                    "a percentage above 0 and at most 100.", rule=rule.name))

    @api.constrains('rule_type', 'validity', 'repeat_policy')
    def _check_profile_validity(self):
        for rule in self:
            if rule.rule_type == 'profile' and rule.validity != 'permanent':
                raise ValidationError(self.env._(
                    "The profile rule \"%(rule)s\" scores what the lead is, so its points cannot "
                    "expire or decay: set its validity to Permanent.", rule=rule.name))

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
        so create() and write() call this check before saving, after checking
        that the condition parses.
        """
        Lead = self.env['crm.lead']
        Lead._montanes_parse_condition(domain_text, self._get_condition_owner(rule_name))
        unsearchable = Lead._montanes_find_unsearchable_condition(domain_text)
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
        self.env.registry.clear_cache()  # _montanes_get_profile_trigger_fields of crm.lead and res.partner
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
        if {'active', 'rule_type', 'event_type'} & set(vals):
            # crm.lead._montanes_get_active_event_types and _montanes_get_behaviour_rule_ids
            self.env.registry.clear_cache()
        if PROFILE_RESCORE_FIELDS & set(vals):
            self.env.registry.clear_cache()  # _montanes_get_profile_trigger_fields of crm.lead and res.partner
            self._rescore_profile_leads()
        if PROFILE_CAP_FIELDS & set(vals):
            profile_rules = self.filtered(lambda rule: rule.rule_type == 'profile')
            if profile_rules:
                self.env['montanes.lead.score.line']._reapply_profile_caps(profile_rules)
        return result

    def unlink(self):
        ScoreLine = self.env['montanes.lead.score.line']
        # The points these rules gave free room under the profile and group maximums
        # for the other rules of the same leads.
        capped_lead_ids = set()
        if ScoreLine._has_profile_caps():
            capped_lead_ids = set(self.sudo().score_line_ids.filtered(
                lambda line: line.rule_type == 'profile').lead_id.ids)
        # The entries go first through the ORM, so lead totals and bands follow;
        # the database cascade would skip both.
        self.sudo().score_line_ids.unlink()
        result = super().unlink()
        self.env.registry.clear_cache()  # _montanes_get_profile_trigger_fields of crm.lead and res.partner
        if capped_lead_ids:
            ScoreLine._recap_profile_leads(capped_lead_ids)
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

        Raises ValidationError naming the rule and the wrong part when the text
        is not a literal domain list or uses an unknown field or operator.
        """
        self.ensure_one()
        return self.env['crm.lead']._montanes_parse_condition(self.domain, self._get_condition_owner(self.name))

    @api.model
    def _get_condition_owner(self, rule_name):
        """Return the translated words that name a rule in condition errors."""
        return self.env._("the scoring rule \"%(rule)s\"", rule=rule_name)

    def _montanes_matches_event(self, source_ref):
        """Tell whether an event from ``source_ref`` is one this rule scores.

        Page views match the URL pattern (``*`` for any text, case ignored)
        against the page URL, which is their source_ref. Stage changes have
        the source_ref 'crm.stage,<id>' and match the rule's stage.
        """
        self.ensure_one()
        if self.event_type == 'page_view' and self.url_pattern:
            return fnmatch.fnmatchcase((source_ref or '').lower(), self.url_pattern.strip().lower())
        if self.event_type == 'stage_reached' and self.stage_id:
            return source_ref == f'crm.stage,{self.stage_id.id}'
        return True

    def _montanes_get_ledger_key(self, source_ref, event_date, occurrence_ref=None):
        """Return the source_ref of the entry an event gives, unique per lead and rule.

        Two events with the same key score once: one key per lead for "once
        per lead", the event's source for "once per e-mail, link or page", and
        for "every time" the source plus the occurrence (its own reference, or
        the event time when the caller has none).
        """
        self.ensure_one()
        if self.repeat_policy == 'once_per_lead':
            return 'lead'
        if self.repeat_policy == 'every_time':
            return f'{source_ref}@{occurrence_ref or event_date.isoformat()}'
        return source_ref

    def _montanes_get_decayed_points(self, points, event_date, now):
        """Return what ``points`` earned at ``event_date`` are worth at ``now`` under this rule."""
        self.ensure_one()
        age_days = max((now - event_date).total_seconds(), 0) / 86400
        if self.validity == 'half_life':
            return round(points * 0.5 ** (age_days / self.half_life_days))
        if self.validity == 'decay':
            periods = int(age_days // self.decay_period_days)
            return round(points * (1 - self.decay_percent / 100) ** periods)
        return points

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
