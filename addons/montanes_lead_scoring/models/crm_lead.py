import ast

import psycopg2

from odoo import api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.fields import Domain

from .montanes_scoring_rule import EVENT_TYPES, SCORE_FIELDS


class CrmLead(models.Model):
    _inherit = 'crm.lead'

    montanes_score_line_ids = fields.One2many(
        comodel_name='montanes.lead.score.line',
        inverse_name='lead_id',
        string='Score Entries',
        readonly=True,
    )
    montanes_score_fit = fields.Integer(
        string='Profile Score',
        compute='_compute_montanes_scores',
        store=True,
        help='Points from the profile rules the lead matches today.',
    )
    montanes_score_engagement = fields.Integer(
        string='Engagement Score',
        compute='_compute_montanes_scores',
        store=True,
        help='Points earned from opens, clicks and replies to our mass mailings.',
    )
    montanes_score = fields.Integer(
        string='Score',
        compute='_compute_montanes_scores',
        store=True,
        index=True,
        help='Profile score plus engagement score.',
    )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends('montanes_score_line_ids.points', 'montanes_score_line_ids.rule_type')
    def _compute_montanes_scores(self):
        for lead in self:
            fit = engagement = 0
            for line in lead.montanes_score_line_ids:
                if line.rule_type == 'profile':
                    fit += line.points
                else:
                    engagement += line.points
            lead.montanes_score_fit = fit
            lead.montanes_score_engagement = engagement
            lead.montanes_score = fit + engagement

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        # Without active profile rules there is nothing to score (and no query to spend).
        if self._montanes_get_profile_trigger_fields():
            leads._montanes_recompute_profile_score()
        return leads

    def write(self, vals):
        result = super().write(vals)
        if set(vals) & self._montanes_get_profile_trigger_fields():
            self._montanes_recompute_profile_score()
        return result

    # ------------------------------------------------------------
    # PUBLIC API
    # ------------------------------------------------------------

    def _montanes_register_event(self, event_type, source_ref, event_date=None, description=None):
        """Score an e-mail event on these leads with every active behaviour rule of that type.

        Each (lead, rule, source_ref) scores once: registering the same event
        again, even from two workers at the same moment, adds nothing.

        :param event_type: a key of EVENT_TYPES, such as 'email_open'
        :param source_ref: what produced the event, e.g. 'mailing.trace,42,open'
        :param event_date: datetime of the event; now when not given
        :param description: text shown on the score entries; the rule name when not given
        :return: the montanes.lead.score.line records created, empty when the
            event had already scored or no rule applies
        """
        if event_type not in dict(EVENT_TYPES):
            raise ValueError(
                f"Unknown scoring event type {event_type!r}: use one of {sorted(dict(EVENT_TYPES))}"
            )
        if not source_ref:
            raise ValueError("A scoring event needs a source_ref, such as 'mailing.trace,42,open'")
        ScoreLine = self.env['montanes.lead.score.line']
        if not self:
            return ScoreLine
        self.check_access('read')

        rules = self._montanes_get_behaviour_rules(event_type)
        vals_list = self._montanes_prepare_event_vals(
            rules, event_type, source_ref, event_date=event_date, description=description,
        )
        return ScoreLine.sudo()._insert_lines(vals_list).with_env(self.env)

    def _montanes_recompute_profile_score(self):
        """Re-evaluate every profile rule on these leads and update their profile entries."""
        if not self:
            return
        self.check_access('read')
        # sudo: the score must not depend on what the current user may read.
        # Archived rules are included so that entries they left behind go away.
        rules = self.env['montanes.scoring.rule'].sudo().with_context(active_test=False).search([
            ('rule_type', '=', 'profile'),
        ])
        self.env['montanes.lead.score.line']._sync_profile_lines(rules, leads=self)

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    @api.model
    def _montanes_get_behaviour_rules(self, event_type):
        """Return the active behaviour rules of ``event_type``, in sudo."""
        # sudo: salesmen only read rules, and public routes register events too.
        # active_test is forced because callers often search leads without it.
        return self.env['montanes.scoring.rule'].sudo().with_context(active_test=True).search([
            ('rule_type', '=', 'behaviour'),
            ('event_type', '=', event_type),
        ])

    def _montanes_prepare_event_vals(self, rules, event_type, source_ref, event_date=None, description=None):
        """Return the score entry values of one event on these leads, one per applicable rule.

        A rule with a company applies only to the leads of that company.
        """
        return [
            {
                'lead_id': lead.id,
                'company_id': lead.company_id.id,
                'rule_id': rule.id,
                'rule_type': 'behaviour',
                'points': rule.points,
                'event_type': event_type,
                'source_ref': source_ref,
                'date': event_date,
                'description': description or rule.name,
            }
            for lead in self.sudo()
            for rule in rules
            if not rule.company_id or rule.company_id == lead.company_id
        ]

    @api.model
    def _montanes_find_unsearchable_condition(self, domain_text):
        """Return ``(field_path, error_text)`` of the first condition of ``domain_text`` that the
        current user cannot search leads with, or None when every condition runs.

        Scoring and campaign enrolment evaluate conditions as superuser, so their authors'
        conditions are run here as the authors first. Text that does not parse returns None:
        the callers' own constraints report it.
        """
        try:
            domain = Domain(ast.literal_eval(domain_text or '[]'))
        except (ValueError, TypeError, SyntaxError, KeyError, MemoryError, RecursionError):
            return None
        for condition in domain.iter_conditions():
            try:
                # A failing query must not abort the transaction of the caller's write.
                with self.env.cr.savepoint():
                    self.search_count(condition, limit=1)
            except (AccessError, ValueError, TypeError, psycopg2.DataError) as error:
                return condition.field_expr, str(error).split('\n', 1)[0]
        return None

    @api.model
    @tools.ormcache()
    def _montanes_get_profile_trigger_fields(self):
        """Return the names of the lead fields whose change may alter a profile rule match.

        These are the fields named in the conditions of the active profile
        rules, plus, for computed fields, the fields they are computed from.
        The set is empty when no profile rule is active. A condition through a
        relation ('source_id.name') is tracked on the lead's own field only.
        The result is cached in the registry because every lead write reads
        it; rule changes clear the cache.
        """
        # NOTE: editing the related record (renaming a utm.source, for example)
        # does not re-score the leads that point to it.
        rules = self.env['montanes.scoring.rule'].sudo().with_context(active_test=True).search([
            ('rule_type', '=', 'profile'),
        ])
        if not rules:
            return frozenset()
        todo = ['company_id']
        for rule in rules:
            todo.extend(
                condition.field_expr.split('.')[0]
                for condition in rule._get_lead_domain().iter_conditions()
            )
        trigger_fields = set()
        while todo:
            field_name = todo.pop()
            field = self._fields.get(field_name)
            if field_name in trigger_fields or field is None:
                continue
            trigger_fields.add(field_name)
            if field.compute:
                todo.extend(path.split('.')[0] for path in self.pool.field_depends[field])
        return frozenset(trigger_fields - SCORE_FIELDS)
