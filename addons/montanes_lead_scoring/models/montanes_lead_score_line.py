import logging
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL, split_every

from .montanes_scoring_rule import EVENT_TYPES

_logger = logging.getLogger(__name__)

# source_ref of the entries that profile rules produce. A lead earns a profile
# rule once, so one fixed value makes the unique index cover them too.
PROFILE_SOURCE_REF = 'profile'

# Leads whose profile entries _apply_profile_caps reads in one query when a maximum changes,
# the same slice size as the full recompute of the lead totals. At 5 profile rules a batch
# reads 250,000 entries, about 50 MB of Python tuples (an estimate, not measured).
PROFILE_CAP_BATCH_SIZE = 50000


class MontanesLeadScoreLine(models.Model):
    _name = 'montanes.lead.score.line'
    _description = 'Lead Score Entry'
    _order = 'date desc, id desc'
    # Entries carry their own date, and manual ones the user who added them. Without the
    # create/write columns an insert checks two foreign keys fewer: a full recompute
    # inserts one profile entry per lead and rule.
    _log_access = False

    # Not indexed on its own: the unique index below starts with lead_id.
    lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string='Lead',
        required=True,
        ondelete='cascade',
    )
    company_id = fields.Many2one(related='lead_id.company_id', store=True, index=True)
    rule_id = fields.Many2one(
        comodel_name='montanes.scoring.rule',
        string='Rule',
        index=True,
        ondelete='cascade',
        help='Rule that earned these points; empty on manual adjustments.',
    )
    rule_type = fields.Selection(
        selection=[
            ('profile', 'Profile'),
            ('behaviour', 'Behaviour'),
            ('manual', 'Manual adjustment'),
        ],
        string='Type',
        compute='_compute_rule_type',
        store=True,
        readonly=False,
        precompute=True,
        required=True,
        help='Profile entries count in the profile score, the others in the engagement score.',
    )
    points = fields.Integer(
        string='Points',
        compute='_compute_points',
        help='Points this entry adds today, after decay; 0 once it has expired.',
    )
    points_earned = fields.Integer(
        string='Points Earned',
        required=True,
        help='Points the entry gave when it was scored, before any decay.',
    )
    expiry_date = fields.Datetime(
        string='Expires On',
        help='Date from which the entry no longer counts; empty when it never expires.',
    )
    is_expired = fields.Boolean(string='Expired', compute='_compute_is_expired', search='_search_is_expired')
    user_id = fields.Many2one(
        comodel_name='res.users',
        string='Adjusted By',
        help='User who added a manual adjustment.',
    )
    event_type = fields.Selection(selection=EVENT_TYPES, string='Event')
    source_ref = fields.Char(
        string='Source',
        required=True,
        help='What produced this entry: "profile" for profile rules, '
        'or "mailing.trace,<id>,<open|click|reply>" for a mass mailing event.',
    )
    event_ref = fields.Char(
        string='Event Source',
        help='What produced the event, when it differs from the Source key: '
        'the page URL of a visit, or the e-mail of a "once per lead" rule.',
    )
    date = fields.Datetime(string='Date', required=True, default=fields.Datetime.now)
    description = fields.Char(string='Description')

    _lead_rule_source_unique = models.UniqueIndex(
        '(lead_id, rule_id, source_ref)',
        'This event has already scored this lead for this rule.',
    )
    _check_manual_reason = models.Constraint(
        "CHECK(rule_type <> 'manual' OR (description IS NOT NULL AND user_id IS NOT NULL))",
        'A manual score adjustment needs a reason and the user who made it.',
    )
    _check_rule_set = models.Constraint(
        "CHECK(rule_type = 'manual' OR rule_id IS NOT NULL)",
        'A score entry that is not a manual adjustment needs the rule that earned it.',
    )

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends('rule_id')
    def _compute_rule_type(self):
        for line in self:
            line.rule_type = line.rule_id.rule_type or 'manual'

    @api.depends('points_earned', 'date', 'expiry_date', 'rule_id.validity', 'rule_id.half_life_days',
                 'rule_id.decay_percent', 'rule_id.decay_period_days')
    def _compute_points(self):
        # Same formula as _get_current_points_sql, which sums the entries in the database.
        now = fields.Datetime.now()
        for line in self:
            if line.expiry_date and line.expiry_date <= now:
                line.points = 0
            elif line.rule_id:
                line.points = line.rule_id._montanes_get_decayed_points(line.points_earned, line.date, now)
            else:
                line.points = line.points_earned

    @api.depends('expiry_date')
    def _compute_is_expired(self):
        now = fields.Datetime.now()
        for line in self:
            line.is_expired = bool(line.expiry_date) and line.expiry_date <= now

    def _search_is_expired(self, operator, value):
        if operator != 'in':
            return NotImplemented
        now = fields.Datetime.now()
        expired = Domain('expiry_date', '!=', False) & Domain('expiry_date', '<=', now)
        live = Domain('expiry_date', '=', False) | Domain('expiry_date', '>', now)
        if True in value and False in value:
            return Domain.TRUE
        return expired if True in value else live

    def _field_to_sql(self, alias, field_expr, query=None):
        # The current points are not stored: lists, pivots and graphs sum them in SQL.
        if field_expr != 'points':
            return super()._field_to_sql(alias, field_expr, query)
        if query is None:
            # Manual adjustments have no rule and never expire: they are worth what they earned.
            return SQL(
                "COALESCE((SELECT %s FROM montanes_scoring_rule rule WHERE rule.id = %s), %s)",
                self._get_current_points_sql(alias, 'rule', fields.Datetime.now()),
                SQL.identifier(alias, 'rule_id'),
                SQL.identifier(alias, 'points_earned'),
            )
        rule_alias = query.make_alias(alias, 'rule_id')
        query.add_join('LEFT JOIN', rule_alias, 'montanes_scoring_rule', SQL(
            "%s = %s", SQL.identifier(alias, 'rule_id'), SQL.identifier(rule_alias, 'id'),
        ))
        return self._get_current_points_sql(alias, rule_alias, fields.Datetime.now())

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            # The points given to a new entry are the points it earns.
            if 'points' in vals:
                vals.setdefault('points_earned', vals.pop('points'))
        lines = super().create(vals_list)
        self._refresh_lead_bands(lines.lead_id)
        return lines

    def write(self, vals):
        leads = self.lead_id
        result = super().write(vals)
        if {'points_earned', 'date', 'expiry_date', 'lead_id'} & set(vals):
            self._refresh_lead_bands(leads | self.lead_id)
        return result

    def unlink(self):
        leads = self.lead_id
        result = super().unlink()
        self._refresh_lead_bands(leads.exists())
        return result

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    @api.model
    def _insert_lines(self, vals_list):
        """Insert score entries, skipping those whose (lead, rule, source) already exists.

        A plain ORM create would raise a unique violation when another worker
        inserted the same entry first, so the rows go through INSERT ... ON
        CONFLICT DO NOTHING. When the other worker commits while this
        transaction waits, PostgreSQL raises a serialization failure instead
        (Odoo runs at REPEATABLE READ). Odoo retries HTTP requests on that error
        (odoo.service.model.retrying), and the retry inserts nothing.
        Returns the entries really inserted.
        """
        if not vals_list:
            return self.browse()

        self.env.flush_all()
        now = fields.Datetime.now()
        rows = [
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                vals['lead_id'], vals['company_id'] or None, vals['rule_id'] or None, vals['rule_type'],
                vals['points_earned'],
                vals.get('event_type') or None, vals['source_ref'], vals.get('event_ref') or None,
                vals.get('date') or now, vals.get('expiry_date') or None,
                vals.get('description') or None, vals.get('user_id') or None,
            )
            for vals in vals_list
        ]
        # Raw SQL because the ORM has no ON CONFLICT: the unique index, not a
        # prior read, decides which of two concurrent inserts wins.
        inserted = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_lead_score_line
                (lead_id, company_id, rule_id, rule_type, points_earned, event_type,
                 source_ref, event_ref, date, expiry_date, description, user_id)
            VALUES %s
            ON CONFLICT (lead_id, rule_id, source_ref) DO NOTHING
            RETURNING id, lead_id
            """,
            SQL(", ").join(rows),
        ))
        lines = self.browse(line_id for line_id, _lead_id in inserted)
        leads = self.env['crm.lead'].browse({lead_id for _line_id, lead_id in inserted})
        self._notify_lines_inserted(leads)
        return lines

    @api.model
    def _are_uniform_event_rules(self, rules):
        """Tell whether behaviour ``rules`` give every lead the same entries for the same event.

        That holds when no rule is limited to a company, counts a maximum per
        period or belongs to a capped group, and no engagement maximum is set:
        then nothing but the unique index decides whether a lead gets an entry.
        """
        if self._get_score_cap('engagement'):
            return False
        return not any(
            rule.company_id
            or (rule.repeat_policy == 'every_time' and rule.max_per_period)
            or rule.group_id.max_points
            for rule in rules
        )

    @api.model
    def _insert_trace_lines(self, traces, rules, event_type, action):
        """Insert the entries of one e-mail event of ``traces`` (mailing.trace on leads) in one statement.

        This is the common case of crm.lead._montanes_prepare_event_vals, for
        rules that pass _are_uniform_event_rules: the statement reads each lead's
        company and each mailing's subject itself, and skips deleted leads, so
        tracked opens and clicks spend no query on them.
        Returns the entries really inserted.
        """
        now = fields.Datetime.now()
        rows = []
        for trace in traces:
            source_ref = f'mailing.trace,{trace.id},{action}'
            for rule in rules:
                if not rule._montanes_matches_event(source_ref):
                    continue
                expiry_date = now + timedelta(days=rule.validity_days) if rule.validity == 'window' else None
                rows.append(SQL(
                    "(%s, %s, %s, %s, %s, %s, %s::timestamp, %s)",
                    trace.id, trace.res_id, rule.id, rule._montanes_get_ledger_key(source_ref, now),
                    source_ref, rule.points, expiry_date, rule.name,
                ))
        if not rows:
            return self.browse()

        self.env.flush_all()
        # The description is the mailing's subject, else its name, else the rule's name, as in
        # the general path.
        inserted = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_lead_score_line
                (lead_id, company_id, rule_id, rule_type, points_earned, event_type,
                 source_ref, event_ref, date, expiry_date, description)
            SELECT lead.id, lead.company_id, event.rule_id, 'behaviour', event.points, %(event_type)s,
                   event.ledger_key, event.source_ref, %(now)s, event.expiry_date,
                   COALESCE(NULLIF(mailing.subject, ''), source.name, event.rule_name)
              FROM (VALUES %(rows)s) AS event
                       (trace_id, lead_id, rule_id, ledger_key, source_ref, points, expiry_date, rule_name)
              JOIN crm_lead lead ON lead.id = event.lead_id
              JOIN mailing_trace trace ON trace.id = event.trace_id
              LEFT JOIN mailing_mailing mailing ON mailing.id = trace.mass_mailing_id
              LEFT JOIN utm_source source ON source.id = mailing.source_id
            ON CONFLICT (lead_id, rule_id, source_ref) DO NOTHING
            RETURNING id, lead_id
            """,
            event_type=event_type, now=now, rows=SQL(", ").join(rows),
        ))
        lines = self.browse(line_id for line_id, _lead_id in inserted)
        self._notify_lines_inserted(self.env['crm.lead'].browse({lead_id for _line_id, lead_id in inserted}))
        return lines

    @api.model
    def _notify_lines_inserted(self, leads):
        """Tell the ORM that ``leads`` got entries inserted in SQL, so their totals get recomputed."""
        if not leads:
            return
        leads.invalidate_recordset(['montanes_score_line_ids'])
        self.env['montanes.scoring.rule'].invalidate_model(['score_line_ids'])
        if self.env.context.get('montanes_sql_totals'):
            # The caller recomputes the totals of every lead in SQL afterwards.
            return
        # One aggregate UPDATE instead of the ORM reading every entry of the leads:
        # tracked opens, clicks and page views come through here.
        leads._montanes_recompute_totals()

    @api.model
    def _refresh_lead_bands(self, leads):
        """Move ``leads`` to the band of their new total, unless the caller refreshes them later."""
        if leads and not self.env.context.get('montanes_defer_bands') \
                and not self.env.context.get('montanes_sql_totals'):
            leads.sudo()._montanes_refresh_bands()

    @api.model
    def _get_current_points_sql(self, line_alias, rule_alias, now):
        """Return the SQL value of an entry's points at ``now``: 0 once expired, else decayed.

        The entry row is ``line_alias`` and its rule, LEFT JOINed, is ``rule_alias``.
        An entry without a rule (a manual adjustment) keeps the points it earned.
        Computed in float8 because POWER on numeric values is many times slower;
        ROUND on float8 rounds halves to even, as Python's round() in
        montanes.scoring.rule._montanes_get_decayed_points does.
        """
        age_seconds = SQL(
            "GREATEST(EXTRACT(EPOCH FROM (%s - %s))::float8, 0)", now, SQL.identifier(line_alias, 'date'))
        return SQL(
            """CASE
                   WHEN %(expiry)s <= %(now)s THEN 0
                   WHEN %(validity)s = 'half_life' THEN ROUND(%(earned)s * POWER(0.5::float8,
                        %(age)s / (%(half_life)s * 86400)::float8))::int
                   WHEN %(validity)s = 'decay' THEN ROUND(%(earned)s * POWER(1 - %(percent)s::float8 / 100,
                        FLOOR(%(age)s / (%(period)s * 86400)::float8)))::int
                   ELSE %(earned)s
               END""",
            expiry=SQL.identifier(line_alias, 'expiry_date'),
            now=now,
            validity=SQL.identifier(rule_alias, 'validity'),
            earned=SQL.identifier(line_alias, 'points_earned'),
            age=age_seconds,
            half_life=SQL.identifier(rule_alias, 'half_life_days'),
            percent=SQL.identifier(rule_alias, 'decay_percent'),
            period=SQL.identifier(rule_alias, 'decay_period_days'),
        )

    @api.model
    def _get_score_cap(self, score):
        """Return the maximum 'fit' or 'engagement' score set in the settings, 0 for none."""
        value = self.env['ir.config_parameter'].sudo().get_param(f'montanes_lead_scoring.max_{score}_score')
        try:
            return max(int(value or 0), 0)
        except ValueError:
            _logger.warning("Ignoring the invalid maximum %s score %r", score, value)
            return 0

    @api.model
    def _has_profile_caps(self):
        """Tell whether a maximum profile score or a rule group maximum is set."""
        return bool(self._get_score_cap('fit') or self.env['montanes.scoring.rule.group'].sudo().search_count(
            [('max_points', '>', 0)], limit=1))

    @api.model
    def _apply_profile_caps(self, lead_ids):
        """Lower the profile entries of these leads so they stay within the profile and group maximums.

        Rules fill the room in their sequence order: a later rule gets what is
        left. Negative points are never capped. Each entry is set from its
        rule's points, so an entry lowered under an earlier, smaller maximum
        gets its room back. The entries are written in SQL: the caller
        recomputes the lead totals (_notify_lines_inserted).
        :return: ids of the leads whose entries changed
        """
        if not lead_ids or not self._has_profile_caps():
            return set()
        fit_cap = self._get_score_cap('fit')
        self.env.flush_all()
        rows = self.env.execute_query(SQL(
            """
            SELECT line.id, line.lead_id, line.points_earned, rule.points, rule.group_id, COALESCE(grp.max_points, 0)
              FROM montanes_lead_score_line line
              JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
              LEFT JOIN montanes_scoring_rule_group grp ON grp.id = rule.group_id
             WHERE line.lead_id = ANY(%s) AND line.source_ref = %s
             ORDER BY line.lead_id, rule.sequence, rule.id
            """,
            list(lead_ids), PROFILE_SOURCE_REF,
        ))
        line_ids_by_points = defaultdict(list)
        changed_lead_ids = set()
        fit_total = defaultdict(int)
        group_total = defaultdict(int)
        for line_id, lead_id, points, full_points, group_id, group_cap in rows:
            allowed = full_points
            if full_points > 0:
                if fit_cap:
                    allowed = min(allowed, max(fit_cap - fit_total[lead_id], 0))
                if group_cap:
                    allowed = min(allowed, max(group_cap - group_total[lead_id, group_id], 0))
            fit_total[lead_id] += allowed
            group_total[lead_id, group_id] += allowed
            if allowed != points:
                line_ids_by_points[allowed].append(line_id)
                changed_lead_ids.add(lead_id)
        # Raw SQL: one UPDATE per distinct capped value, where ORM writes would
        # recompute the totals of each lead in Python before the caller does it in SQL.
        for allowed, line_ids in line_ids_by_points.items():
            self.env.execute_query(SQL(
                "UPDATE montanes_lead_score_line SET points_earned = %s WHERE id = ANY(%s)", allowed, line_ids,
            ))
        if line_ids_by_points:
            self.invalidate_model(['points_earned', 'points'])
        return changed_lead_ids

    @api.model
    def _reapply_profile_caps(self, rules=None):
        """Re-cap the profile entries of every lead that ``rules`` scored, and update those leads' scores.

        _sync_profile_lines caps only the leads whose entries it changes, so
        this runs when what the caps depend on changes: the maximum profile
        score, a group maximum, or the group or sequence of a rule. Every
        profile entry of those leads is re-capped, whichever rule earned it,
        because lowering one group leaves room in the profile maximum for the
        others. With no maximum left, entries that an earlier maximum lowered
        get their rule's points back.

        :param rules: montanes.scoring.rule records; None means every profile rule
        :return: ids of the leads whose entries changed
        """
        self.env.flush_all()
        rule_scope = SQL("AND line.rule_id = ANY(%s)", rules.ids) if rules is not None else SQL()
        scored_leads = SQL(
            "SELECT line.lead_id FROM montanes_lead_score_line line WHERE line.source_ref = %s %s",
            PROFILE_SOURCE_REF, rule_scope,
        )
        if self._has_profile_caps():
            lead_ids = {lead_id for (lead_id,) in self.env.execute_query(scored_leads)}
            return self._recap_profile_leads(lead_ids)

        # Raw SQL: _apply_profile_caps does nothing without a maximum, and one
        # UPDATE gives every lowered entry its rule's points back.
        changed_lead_ids = {lead_id for (lead_id,) in self.env.execute_query(SQL(
            """
            UPDATE montanes_lead_score_line line
               SET points_earned = rule.points
              FROM montanes_scoring_rule rule
             WHERE rule.id = line.rule_id AND line.source_ref = %s
               AND line.points_earned <> rule.points
               AND line.lead_id IN (%s)
         RETURNING line.lead_id
            """,
            PROFILE_SOURCE_REF, scored_leads,
        ))}
        self.invalidate_model(['points_earned', 'points'])
        self._notify_profile_caps_applied(changed_lead_ids)
        return changed_lead_ids

    @api.model
    def _recap_profile_leads(self, lead_ids):
        """Re-cap every profile entry of these leads, in batches, and update their scores.

        :return: ids of the leads whose entries changed
        """
        changed_lead_ids = set()
        for batch_lead_ids in split_every(PROFILE_CAP_BATCH_SIZE, sorted(lead_ids), list):
            changed_lead_ids.update(self._apply_profile_caps(batch_lead_ids))
        self._notify_profile_caps_applied(changed_lead_ids)
        return changed_lead_ids

    @api.model
    def _notify_profile_caps_applied(self, changed_lead_ids):
        """Recompute the scores and bands of the leads whose profile entries a maximum changed."""
        if not changed_lead_ids:
            return
        changed_leads = self.env['crm.lead'].browse(changed_lead_ids).exists()
        self.with_context(montanes_defer_bands=False)._notify_lines_inserted(changed_leads)
        _logger.info("Profile maximums re-applied: profile entries changed on %d leads", len(changed_lead_ids))

    @api.model
    def _apply_engagement_caps(self, vals_list):
        """Lower the points of new behaviour entries so each lead stays within the engagement and
        group maximums; an entry left with no room keeps 0 points as a record of the event.

        Locks each lead until the transaction ends, so two workers cannot both use the same room.
        """
        engagement_cap = self._get_score_cap('engagement')
        rules = self.env['montanes.scoring.rule'].sudo().browse({vals['rule_id'] for vals in vals_list})
        capped_groups = rules.group_id.filtered('max_points')
        if not vals_list or not (engagement_cap or capped_groups):
            return vals_list
        self.env.flush_all()
        lead_ids = sorted({vals['lead_id'] for vals in vals_list})
        for lead_id in lead_ids:
            self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s)", lead_id))
        engagement_total = defaultdict(int)
        group_total = defaultdict(int)
        for lead_id, group_id, points in self.env.execute_query(SQL(
            """
            SELECT line.lead_id, rule.group_id, SUM(%s)
              FROM montanes_lead_score_line line
              LEFT JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
             WHERE line.lead_id = ANY(%s) AND line.rule_type <> 'profile'
             GROUP BY line.lead_id, rule.group_id
            """,
            self._get_current_points_sql('line', 'rule', fields.Datetime.now()), lead_ids,
        )):
            engagement_total[lead_id] += points
            group_total[lead_id, group_id] += points
        for vals in vals_list:
            rule = rules.browse(vals['rule_id'])
            lead_id, group_id = vals['lead_id'], rule.group_id.id or None
            allowed = vals['points_earned']
            if allowed > 0:
                if engagement_cap:
                    allowed = min(allowed, max(engagement_cap - engagement_total[lead_id], 0))
                if rule.group_id.max_points:
                    allowed = min(allowed, max(rule.group_id.max_points - group_total[lead_id, group_id], 0))
            vals['points_earned'] = allowed
            engagement_total[lead_id] += allowed
            group_total[lead_id, group_id] += allowed
        return vals_list

    @api.model
    def _cron_refresh_validity(self):
        """Bring every lead's stored scores in line with the decay and expiry of its entries.

        Entries store the points they earned and their date; what they are worth
        today is computed when read. The lead totals are stored, so this daily
        job recomputes them and writes only the leads whose totals changed.
        """
        changed = self.env['crm.lead']._montanes_recompute_all_totals()
        _logger.info("Score validity refresh: totals of %d leads changed by decay or expiry", changed)
        return changed

    @api.model
    def _sync_profile_lines(self, rules, leads=None):
        """Make the profile entries of ``rules`` match their conditions.

        For each rule, the leads matching its condition get an entry worth the
        rule's points, entries whose points are outdated get the new points, and
        leads that no longer match lose their entry. Archived rules and rules
        that are not profile rules keep no profile entries. Each rule costs
        three statements whatever the number of leads: the condition runs as a
        subquery of a DELETE, an UPDATE and an INSERT ... ON CONFLICT.

        :param rules: montanes.scoring.rule records to evaluate
        :param leads: crm.lead records to limit the work to; None means every lead
        """
        rules = rules.sudo().with_context(active_test=False)
        leads_model = self.env['crm.lead'].sudo().with_context(active_test=False)
        self.env.flush_all()
        scope = SQL("AND line.lead_id = ANY(%s)", leads.ids) if leads is not None else SQL()
        now = fields.Datetime.now()
        removed, updated, inserted = set(), set(), set()
        for rule in rules:
            if not (rule.active and rule.rule_type == 'profile'):
                removed.update(lead_id for (lead_id,) in self.env.execute_query(SQL(
                    """
                    DELETE FROM montanes_lead_score_line line
                     WHERE line.rule_id = %s AND line.source_ref = %s %s
                 RETURNING line.lead_id
                    """,
                    rule.id, PROFILE_SOURCE_REF, scope,
                )))
                continue
            domain = rule._get_lead_domain()
            if rule.company_id:
                domain &= Domain('company_id', '=', rule.company_id.id)
            if leads is not None:
                domain &= Domain('id', 'in', leads.ids)
            matched = leads_model._search(domain).subselect()
            removed.update(lead_id for (lead_id,) in self.env.execute_query(SQL(
                """
                DELETE FROM montanes_lead_score_line line
                 WHERE line.rule_id = %s AND line.source_ref = %s %s
                   AND line.lead_id NOT IN %s
             RETURNING line.lead_id
                """,
                rule.id, PROFILE_SOURCE_REF, scope, matched,
            )))
            updated.update(lead_id for (lead_id,) in self.env.execute_query(SQL(
                """
                UPDATE montanes_lead_score_line line
                   SET points_earned = %(points)s
                 WHERE line.rule_id = %(rule)s AND line.source_ref = %(source)s %(scope)s
                   AND line.points_earned <> %(points)s
             RETURNING line.lead_id
                """,
                points=rule.points, rule=rule.id, source=PROFILE_SOURCE_REF, scope=scope,
            )))
            inserted.update(lead_id for (lead_id,) in self.env.execute_query(SQL(
                """
                INSERT INTO montanes_lead_score_line
                    (lead_id, company_id, rule_id, rule_type, points_earned, source_ref, date, description)
                SELECT lead.id, lead.company_id, %(rule)s, 'profile', %(points)s, %(source)s, %(now)s, %(name)s
                  FROM crm_lead lead
                 WHERE lead.id IN %(matched)s
                   -- Skipping the existing entries first spares one speculative insert per lead.
                   AND NOT EXISTS (SELECT 1 FROM montanes_lead_score_line line
                                    WHERE line.lead_id = lead.id AND line.rule_id = %(rule)s
                                      AND line.source_ref = %(source)s)
                ON CONFLICT (lead_id, rule_id, source_ref) DO NOTHING
             RETURNING lead_id
                """,
                rule=rule.id, points=rule.points, source=PROFILE_SOURCE_REF, now=now, name=rule.name,
                matched=matched,
            )))

        changed_lead_ids = removed | updated | inserted
        if changed_lead_ids:
            self.invalidate_model()
        # The given leads are capped even when no entry changed, so a lead scored
        # before a maximum was set follows it once edited.
        capped_lead_ids = changed_lead_ids | set(leads.ids if leads is not None else ())
        changed_lead_ids.update(self._apply_profile_caps(capped_lead_ids))
        if changed_lead_ids:
            changed_leads = self.env['crm.lead'].browse(changed_lead_ids).exists()
            # Bands move once at the end, so removing then re-adding an entry is no crossing.
            self.with_context(montanes_defer_bands=False)._notify_lines_inserted(changed_leads)
            _logger.debug(
                "Profile scoring of rules %s: entries added on %d leads, updated on %d, removed from %d",
                rules.ids, len(inserted), len(updated), len(removed),
            )
