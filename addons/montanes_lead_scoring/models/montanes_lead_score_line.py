import logging
from collections import defaultdict

from odoo import api, fields, models
from odoo.fields import Domain
from odoo.tools import SQL

from .montanes_scoring_rule import EVENT_TYPES

_logger = logging.getLogger(__name__)

# source_ref of the entries that profile rules produce. A lead earns a profile
# rule once, so one fixed value makes the unique index cover them too.
PROFILE_SOURCE_REF = 'profile'


class MontanesLeadScoreLine(models.Model):
    _name = 'montanes.lead.score.line'
    _description = 'Lead Score Entry'
    _order = 'date desc, id desc'

    lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string='Lead',
        required=True,
        index=True,
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
        required=True,
        help='Points this entry adds today, after decay; 0 once it has expired.',
    )
    points_earned = fields.Integer(
        string='Points Earned',
        help='Points the entry gave when it was scored, before any decay.',
    )
    expiry_date = fields.Datetime(
        string='Expires On',
        help='Date from which the entry no longer counts; empty when it never expires.',
    )
    is_expired = fields.Boolean(string='Expired', default=False)
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

    def init(self):
        # The daily decay rewrites the points of many entries. Free room in each
        # page lets PostgreSQL update them in place (HOT) without touching the
        # indexes, since no indexed column changes.
        self.env.cr.execute(SQL("ALTER TABLE montanes_lead_score_line SET (fillfactor = 80)"))

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends('rule_id')
    def _compute_rule_type(self):
        for line in self:
            line.rule_type = line.rule_id.rule_type or 'manual'

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        lines = super().create(vals_list)
        self._refresh_lead_bands(lines.lead_id)
        return lines

    def write(self, vals):
        leads = self.lead_id
        result = super().write(vals)
        if {'points', 'lead_id'} & set(vals):
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
        uid = self.env.uid
        rows = [
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                vals['lead_id'], vals['company_id'] or None, vals['rule_id'] or None, vals['rule_type'],
                vals['points'], vals.get('points_earned', vals['points']),
                vals.get('event_type') or None, vals['source_ref'], vals.get('event_ref') or None,
                vals.get('date') or now, vals.get('expiry_date') or None, False,
                vals.get('description') or None, vals.get('user_id') or None,
                uid, now, uid, now,
            )
            for vals in vals_list
        ]
        # Raw SQL because the ORM has no ON CONFLICT: the unique index, not a
        # prior read, decides which of two concurrent inserts wins.
        inserted = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_lead_score_line
                (lead_id, company_id, rule_id, rule_type, points, points_earned, event_type,
                 source_ref, event_ref, date, expiry_date, is_expired, description, user_id,
                 create_uid, create_date, write_uid, write_date)
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
    def _get_score_cap(self, score):
        """Return the maximum 'fit' or 'engagement' score set in the settings, 0 for none."""
        value = self.env['ir.config_parameter'].sudo().get_param(f'montanes_lead_scoring.max_{score}_score')
        try:
            return max(int(value or 0), 0)
        except ValueError:
            _logger.warning("Ignoring the invalid maximum %s score %r", score, value)
            return 0

    @api.model
    def _apply_profile_caps(self, lead_ids):
        """Lower the profile entries of these leads so they stay within the profile and group maximums.

        Rules fill the room in their sequence order: a later rule gets what is
        left. Negative points are never capped.
        :return: ids of the leads whose entries changed
        """
        fit_cap = self._get_score_cap('fit')
        if not lead_ids or not (fit_cap or self.env['montanes.scoring.rule.group'].sudo().search_count(
                [('max_points', '>', 0)], limit=1)):
            return set()
        self.env.flush_all()
        rows = self.env.execute_query(SQL(
            """
            SELECT line.id, line.lead_id, line.points, rule.points, rule.group_id, COALESCE(grp.max_points, 0)
              FROM montanes_lead_score_line line
              JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
              LEFT JOIN montanes_scoring_rule_group grp ON grp.id = rule.group_id
             WHERE line.lead_id = ANY(%s) AND line.source_ref = %s
             ORDER BY line.lead_id, rule.sequence, rule.id
            """,
            list(lead_ids), PROFILE_SOURCE_REF,
        ))
        points_by_line = {}
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
                points_by_line[line_id] = allowed
        lines = self.sudo().with_context(montanes_defer_bands=True).browse(points_by_line)
        for line in lines:
            line.points = points_by_line[line.id]
        return set(lines.lead_id.ids)

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
            SELECT line.lead_id, rule.group_id, SUM(line.points)
              FROM montanes_lead_score_line line
              LEFT JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
             WHERE line.lead_id = ANY(%s) AND line.rule_type <> 'profile' AND NOT line.is_expired
             GROUP BY line.lead_id, rule.group_id
            """,
            lead_ids,
        )):
            engagement_total[lead_id] += points
            group_total[lead_id, group_id] += points
        for vals in vals_list:
            rule = rules.browse(vals['rule_id'])
            lead_id, group_id = vals['lead_id'], rule.group_id.id or None
            allowed = vals['points']
            if allowed > 0:
                if engagement_cap:
                    allowed = min(allowed, max(engagement_cap - engagement_total[lead_id], 0))
                if rule.group_id.max_points:
                    allowed = min(allowed, max(rule.group_id.max_points - group_total[lead_id, group_id], 0))
            if allowed != vals['points']:
                vals.update(points=allowed, points_earned=allowed)
            engagement_total[lead_id] += allowed
            group_total[lead_id, group_id] += allowed
        return vals_list

    @api.model
    def _cron_refresh_validity(self):
        """Decay the points of decaying entries and expire the entries past their window.

        One UPDATE recomputes every live entry of a rule that is not permanent
        from the points it earned and its age, so running it twice on the same
        day changes nothing. The lead totals follow in one more UPDATE.
        """
        self.env.flush_all()
        now = fields.Datetime.now()
        changed = self.env.execute_query(SQL(
            """
            UPDATE montanes_lead_score_line line
               SET points = target.points, is_expired = target.is_expired
              FROM (SELECT line.id,
                           CASE
                               WHEN line.expiry_date IS NOT NULL AND line.expiry_date <= %(now)s THEN 0
                               -- float8 throughout: POWER on numeric values is many times slower.
                               WHEN rule.validity = 'half_life' THEN ROUND(line.points_earned * POWER(0.5::float8,
                                    EXTRACT(EPOCH FROM (%(now)s - line.date))::float8
                                    / (rule.half_life_days * 86400)::float8))
                               WHEN rule.validity = 'decay' THEN ROUND(line.points_earned * POWER(
                                    1 - rule.decay_percent::float8 / 100,
                                    FLOOR(EXTRACT(EPOCH FROM (%(now)s - line.date))::float8
                                          / (rule.decay_period_days * 86400)::float8)))
                               ELSE line.points
                           END AS points,
                           line.expiry_date IS NOT NULL AND line.expiry_date <= %(now)s AS is_expired
                      FROM montanes_lead_score_line line
                      JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
                     WHERE NOT line.is_expired AND rule.validity <> 'permanent') AS target
             WHERE line.id = target.id
               AND (line.points <> target.points OR line.is_expired <> target.is_expired)
         RETURNING line.lead_id
            """,
            now=now,
        ))
        lead_ids = list({lead_id for (lead_id,) in changed})
        self.invalidate_model(['points', 'is_expired'])
        if lead_ids:
            self.env['crm.lead'].browse(lead_ids)._montanes_recompute_totals()
        _logger.info("Score validity refresh: %d entries decayed or expired on %d leads",
                     len(changed), len(lead_ids))
        return lead_ids

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
        uid = self.env.uid
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
                   SET points = %(points)s, points_earned = %(points)s, write_uid = %(uid)s, write_date = %(now)s
                 WHERE line.rule_id = %(rule)s AND line.source_ref = %(source)s %(scope)s
                   AND (line.points <> %(points)s OR line.points_earned <> %(points)s)
             RETURNING line.lead_id
                """,
                points=rule.points, uid=uid, now=now, rule=rule.id, source=PROFILE_SOURCE_REF, scope=scope,
            )))
            inserted.update(lead_id for (lead_id,) in self.env.execute_query(SQL(
                """
                INSERT INTO montanes_lead_score_line
                    (lead_id, company_id, rule_id, rule_type, points, points_earned, source_ref,
                     date, is_expired, description, create_uid, create_date, write_uid, write_date)
                SELECT lead.id, lead.company_id, %(rule)s, 'profile', %(points)s, %(points)s, %(source)s,
                       %(now)s, FALSE, %(name)s, %(uid)s, %(now)s, %(uid)s, %(now)s
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
                uid=uid, matched=matched,
            )))

        changed_lead_ids = removed | updated | inserted
        if changed_lead_ids:
            self.invalidate_model()
            changed_lead_ids.update(self._apply_profile_caps(changed_lead_ids))
            changed_leads = self.env['crm.lead'].browse(changed_lead_ids).exists()
            # Bands move once at the end, so removing then re-adding an entry is no crossing.
            self.with_context(montanes_defer_bands=False)._notify_lines_inserted(changed_leads)
            _logger.debug(
                "Profile scoring of rules %s: entries added on %d leads, updated on %d, removed from %d",
                rules.ids, len(inserted), len(updated), len(removed),
            )
