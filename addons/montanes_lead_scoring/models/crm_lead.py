import ast
import json
import logging
import time
from datetime import timedelta

import psycopg2

from odoo import api, fields, models, modules, tools
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain
from odoo.tools import SQL

from .montanes_scoring_rule import EVENT_TYPES, MAX_RULE_POINTS, SCORE_FIELDS

_logger = logging.getLogger(__name__)

# PostgreSQL work_mem of the statement that sums the entries of a slice of leads in a full
# recompute. The 500,000 entries of 50,000 benchmark leads took 7 MB in the hash aggregate
# (EXPLAIN ANALYZE), sorted on disk with the default 4 MB.
RECOMPUTE_WORK_MEM = '64MB'

# Fields of a behaviour rule that scoring one event reads.
EVENT_RULE_FIELDS = [
    'company_id', 'event_type', 'url_pattern', 'stage_id', 'repeat_policy', 'max_per_period', 'period_days',
    'validity', 'validity_days', 'group_id', 'points',
]


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
        help='Points earned from what the contact does (e-mails, website, meetings, calls, '
        'stages) and from manual adjustments.',
    )
    montanes_score = fields.Integer(
        string='Score',
        compute='_compute_montanes_scores',
        store=True,
        index=True,
        help='Profile score plus engagement score.',
    )
    montanes_band_id = fields.Many2one(
        comodel_name='montanes.score.band',
        string='Score Band',
        default=lambda self: self._montanes_get_band_for_score(0),
        index=True,
        readonly=True,
        copy=False,
        ondelete='set null',
        help='Band of the total score (Frío, Templado, Caliente). '
        'Entering a band sets the priority stars of the lead and runs the band\'s actions.',
    )

    # Follow-up
    montanes_last_contact_date = fields.Datetime(
        string='Last Contact',
        readonly=True,
        copy=False,
        index=True,
        help='Last e-mail sent to the contact, call logged, meeting or completed activity.',
    )
    montanes_last_contact_type = fields.Selection(
        selection=[
            ('email', 'E-mail sent'),
            ('call', 'Call'),
            ('meeting', 'Meeting'),
            ('activity', 'Activity done'),
        ],
        string='Last Contact Type',
        readonly=True,
        copy=False,
    )
    montanes_last_interest = fields.Char(
        string='Last Interest',
        readonly=True,
        copy=False,
        help='What the contact last requested, clicked or visited.',
    )
    montanes_last_interest_date = fields.Datetime(string='Last Interest Date', readonly=True, copy=False)
    montanes_followup_state = fields.Selection(
        selection=[
            ('none', 'Followed up'),
            ('reminded', 'Reminder sent'),
            ('escalated', 'Escalated'),
        ],
        string='Follow-up',
        default='none',
        readonly=True,
        copy=False,
        index=True,
        help='Reminder sent: the owner got an activity because nobody contacted the lead in time. '
        'Escalated: the team leader got one too. Any contact sets it back to Followed up.',
    )
    montanes_followup_date = fields.Datetime(string='Follow-up Reminder Date', readonly=True, copy=False)

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    @api.depends('montanes_score_line_ids.points_earned', 'montanes_score_line_ids.rule_type',
                 'montanes_score_line_ids.date', 'montanes_score_line_ids.expiry_date')
    def _compute_montanes_scores(self):
        # Entries decay over time without being written: the daily job
        # (montanes.lead.score.line._cron_refresh_validity) brings the totals up to date.
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
        if vals.get('stage_id') and 'stage_reached' in self._montanes_get_active_event_types():
            self._montanes_register_event('stage_reached', f"crm.stage,{vals['stage_id']}")
        return result

    @api.model
    def message_new(self, msg_dict, custom_values=None):
        lead = super().message_new(msg_dict, custom_values=custom_values)
        request = msg_dict.get('subject') or self.env._("E-mail to the sales alias")
        lead._montanes_set_last_interest(request)
        if 'info_request' in self._montanes_get_active_event_types():
            lead._montanes_register_event('info_request', f'crm.lead,{lead.id},alias', description=request)
        return lead

    def _message_post_after_hook(self, message, msg_vals):
        result = super()._message_post_after_hook(message, msg_vals)
        # Cheap checks on the new message come first: lead assignment and merges post many
        # notifications that must not cost a query here.
        if message.message_type not in ('email', 'comment'):
            return result
        if message.message_type == 'email' and message.author_id and message.author_id.partner_share:
            # An e-mail from the contact: a reply on the lead's thread.
            self._montanes_set_last_interest(message.subject or self.env._("Replied by e-mail"))
            replied = self.env.cr.cache.get('montanes_replied_lead_ids', set())
            if self.id not in replied and 'email_reply' in self._montanes_get_active_event_types():
                self._montanes_register_event(
                    'email_reply', f'mail.message,{message.id}', description=message.subject or None)
        elif (message.message_type == 'comment'
              and self.partner_id and self.partner_id in message.partner_ids
              and message.subtype_id == self.env.ref('mail.mt_comment', raise_if_not_found=False)
              and message.author_id and not message.author_id.partner_share):
            self._montanes_set_last_contact('email', message.date)
        return result

    def _merge_dependences(self, opportunities):
        super()._merge_dependences(opportunities)
        self._montanes_merge_score_lines(opportunities)

    def _montanes_merge_score_lines(self, opportunities):
        """Move the score entries of merged ``opportunities`` to ``self``, the lead they merge into.

        An event that scored both leads for the same rule (a "once per lead"
        rule, for example) keeps one entry. Profile entries are not moved
        because the merged lead's profile is scored again.
        """
        self.ensure_one()
        # Profile entries are rebuilt below, so only leads with engagement points have entries
        # to move. Reading the stored total spends no query during Odoo's batch merges.
        # NOTE: entries of a merged lead whose engagement sums to 0 are dropped with it.
        if opportunities.filtered('montanes_score_engagement'):
            self._montanes_move_score_lines(opportunities)
        if self._montanes_get_profile_trigger_fields():
            self._montanes_recompute_profile_score()

    def _montanes_move_score_lines(self, opportunities):
        self.env['montanes.lead.score.line'].flush_model()
        moved = self.env.execute_query(SQL(
            """
            UPDATE montanes_lead_score_line line
               SET lead_id = %(master_id)s, company_id = %(company_id)s
              FROM (SELECT DISTINCT ON (rule_id, source_ref, COALESCE(rule_id, id)) id
                      FROM montanes_lead_score_line
                     WHERE lead_id = ANY(%(merged_ids)s) AND rule_type <> 'profile'
                     ORDER BY rule_id, source_ref, COALESCE(rule_id, id), date, id) AS kept
             WHERE line.id = kept.id
               AND NOT EXISTS (
                    SELECT 1 FROM montanes_lead_score_line other
                     WHERE other.lead_id = %(master_id)s
                       AND other.rule_id = line.rule_id AND other.source_ref = line.source_ref)
         RETURNING line.id
            """,
            master_id=self.id, company_id=self.company_id.id or None, merged_ids=opportunities.ids,
        ))
        if moved:
            ScoreLine = self.env['montanes.lead.score.line']
            ScoreLine.invalidate_model(['lead_id', 'company_id'])
            (self | opportunities).invalidate_recordset(['montanes_score_line_ids'])
            ScoreLine.sudo()._notify_lines_inserted(self)

    # ------------------------------------------------------------
    # ACTIONS
    # ------------------------------------------------------------

    def action_montanes_score_breakdown(self):
        """Open the live score entries of this lead, grouped by type (profile, behaviour, manual)."""
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id(
            'montanes_lead_scoring.action_montanes_lead_score_line')
        action.update({
            'name': self.env._("Why this score? %(lead)s", lead=self.name),
            'domain': [('lead_id', '=', self.id)],
            'view_mode': 'list,pivot,graph',
            'views': [(False, 'list'), (False, 'pivot'), (False, 'graph')],
            'context': {
                'create': False,
                'search_default_live': 1,
                'search_default_group_by_rule_type': 1,
            },
        })
        return action

    def action_montanes_score_timeline(self):
        """Open the chart of this lead's score over time (cumulative sum of its entries)."""
        action = self.action_montanes_score_breakdown()
        action.update({
            'name': self.env._("Score timeline: %(lead)s", lead=self.name),
            'view_mode': 'graph,list',
            'views': [(False, 'graph'), (False, 'list')],
            'context': {'create': False},
        })
        return action

    def action_montanes_adjust_score(self):
        """Open the dialog to add a manual score adjustment to this lead."""
        self.ensure_one()
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._("Adjust score"),
            'res_model': 'montanes.score.adjust',
            'view_mode': 'form',
            'target': 'new',
            'context': {'default_lead_ids': self.ids},
        }

    # ------------------------------------------------------------
    # PUBLIC API
    # ------------------------------------------------------------

    def _montanes_register_event(self, event_type, source_ref, event_date=None, description=None,
                                 occurrence_ref=None):
        """Score a behaviour event on these leads with every active behaviour rule of that type.

        The rule's repeat policy decides which events count as the same one
        (see montanes.scoring.rule._montanes_get_ledger_key), and the unique
        index keeps one entry per (lead, rule, key): registering the same event
        again, even from two workers at the same moment, adds nothing. Page
        views and information requests also become the lead's last interest.

        :param event_type: a key of EVENT_TYPES, such as 'email_open'
        :param source_ref: what produced the event: 'mailing.trace,42,open' for an
            e-mail, the page URL for a 'page_view', 'crm.stage,<id>' for a stage
        :param event_date: datetime of the event; now when not given
        :param description: text shown on the score entries; the rule name when not given
        :param occurrence_ref: what makes this occurrence unique, such as
            'montanes.tracking.hit,7'; "every time" rules count distinct values,
            and the event date when not given
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

        if event_type in ('page_view', 'info_request'):
            self._montanes_set_last_interest(description or source_ref, event_date)
        rules = self._montanes_get_behaviour_rules(event_type)
        vals_list = self._montanes_prepare_event_vals(
            rules, event_type, source_ref, event_date=event_date, description=description,
            occurrence_ref=occurrence_ref,
        )
        return ScoreLine.sudo()._insert_lines(vals_list).with_env(self.env)

    def _montanes_set_last_contact(self, contact_type, contact_date=None):
        """Store a contact with these leads and end any follow-up reminder on them."""
        contact_date = contact_date or fields.Datetime.now()
        leads = self.sudo().filtered(lambda lead: (lead.montanes_last_contact_date or contact_date) <= contact_date)
        if leads:
            leads.write({
                'montanes_last_contact_date': contact_date,
                'montanes_last_contact_type': contact_type,
                'montanes_followup_state': 'none',
                'montanes_followup_date': False,
            })

    def _montanes_set_last_interest(self, interest, interest_date=None):
        """Store what the contact of these leads last requested, clicked or visited."""
        if not self:
            return
        # SQL because tracked clicks and page views call this on every hit: an ORM
        # write would run the whole crm.lead write for two informative fields.
        self.flush_recordset(['montanes_last_interest', 'montanes_last_interest_date'])
        self.env.cr.execute(SQL(
            "UPDATE crm_lead SET montanes_last_interest = %s, montanes_last_interest_date = %s WHERE id = ANY(%s)",
            (interest or '')[:250], interest_date or fields.Datetime.now(), self.ids,
        ))
        self.invalidate_recordset(['montanes_last_interest', 'montanes_last_interest_date'])

    def _montanes_adjust_score(self, points, reason):
        """Add a manual score entry of ``points`` to each lead, signed by the current user.

        Manual entries count in the engagement score and stay until someone
        deletes them.

        :param points: points to add, negative to subtract; not 0
        :param reason: why the score is adjusted, shown in the breakdown
        :return: the montanes.lead.score.line records created
        """
        if not isinstance(points, int) or not points or abs(points) > MAX_RULE_POINTS:
            raise UserError(self.env._(
                "A score adjustment needs a whole number of points other than 0, between "
                "%(min)s and %(max)s; %(points)s was given.",
                min=-MAX_RULE_POINTS, max=MAX_RULE_POINTS, points=points,
            ))
        if not (reason or '').strip():
            raise UserError(self.env._("Explain why the score is adjusted: the reason is required."))
        self.check_access('write')
        now = fields.Datetime.now()
        vals_list = [
            {
                'lead_id': lead.id,
                'company_id': lead.company_id.id,
                'rule_id': False,
                'rule_type': 'manual',
                'points_earned': points,
                'source_ref': f'manual,{self.env.uid},{now.isoformat()}',
                'date': now,
                'description': reason.strip(),
                'user_id': self.env.uid,
            }
            for lead in self.sudo()
        ]
        return self.env['montanes.lead.score.line'].sudo()._insert_lines(vals_list).with_env(self.env)

    def _montanes_on_band_change(self, old_band_by_lead_id):
        """React to these leads entering a new score band.

        Called once per crossing, after the new band (``lead.montanes_band_id``)
        is stored. Overrides must call super().

        :param old_band_by_lead_id: {lead id: montanes.score.band record the lead
            left, empty recordset when it had none}
        """
        # One INSERT for all crossings: a full recompute can move thousands of leads at once.
        self.env['montanes.lead.band.crossing'].flush_model()
        now = fields.Datetime.now()
        rows = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_lead_band_crossing
                (lead_id, old_band_id, new_band_id, score, date,
                 create_uid, create_date, write_uid, write_date)
            SELECT lead.id, (%(old_bands)s::jsonb ->> lead.id::text)::int,
                   lead.montanes_band_id, lead.montanes_score, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s
              FROM crm_lead lead
             WHERE lead.id = ANY(%(lead_ids)s)
         RETURNING id
            """,
            old_bands=json.dumps({str(lead_id): band.id for lead_id, band in old_band_by_lead_id.items() if band}),
            now=now, uid=self.env.uid, lead_ids=self.ids,
        ))
        crossings = self.env['montanes.lead.band.crossing'].sudo().browse(row_id for (row_id,) in rows)
        self.env['montanes.band.action']._run_on_crossings(crossings)

    def _montanes_refresh_bands(self, all_leads=False):
        """Store the band matching the total score of these leads and report each crossing.

        One UPDATE moves the leads whose band is outdated and returns their old
        band. Its row lock makes a concurrent refresh of the same lead wait, then
        fail with a serialization error; Odoo retries the request, which finds
        nothing left to move, so a crossing is reported once.

        :param all_leads: refresh every lead instead of ``self``
        """
        if not self._montanes_get_band_thresholds() or not (self or all_leads):
            return
        self.env['crm.lead'].flush_model(['montanes_score', 'montanes_band_id', 'priority'])
        band_case, priority_case = self._montanes_get_band_case_sql(SQL("lead.montanes_score"))
        scope = SQL() if all_leads else SQL("AND lead.id = ANY(%s)", self.ids)
        moved = self.env.execute_query(SQL(
            """
            UPDATE crm_lead
               SET montanes_band_id = target.band_id, priority = target.priority
              FROM (SELECT lead.id, lead.montanes_band_id AS old_band_id,
                           %(band_case)s AS band_id, %(priority_case)s AS priority
                      FROM crm_lead lead
                     WHERE lead.montanes_band_id IS DISTINCT FROM %(band_case)s %(scope)s
                       FOR UPDATE) AS target
             WHERE crm_lead.id = target.id
         RETURNING crm_lead.id, target.old_band_id
            """,
            band_case=band_case, priority_case=priority_case, scope=scope,
        ))
        if not moved:
            return
        Band = self.env['montanes.score.band'].sudo().with_context(active_test=False)
        leads = self.env['crm.lead'].sudo().with_context(active_test=False).browse(
            lead_id for lead_id, _old_band_id in moved)
        leads.invalidate_recordset(['montanes_band_id', 'priority'])
        leads.modified(['montanes_band_id', 'priority'])
        leads._montanes_on_band_change({
            lead_id: Band.browse(old_band_id) for lead_id, old_band_id in moved
        })

    def _montanes_recompute_totals(self, id_range=None):
        """Set the profile, engagement and total scores to the sum of the leads' live entries.

        This is the set-based twin of _compute_montanes_scores: one UPDATE sums
        the entries at their current value (decayed, 0 once expired), moves each
        lead to the band of its new total, and writes only the leads whose
        scores or band change. Leads that change band are then reported once
        each to _montanes_on_band_change. With the context key
        ``montanes_defer_bands`` the bands are left for the caller to refresh.

        :param id_range: ``(first_id, end_id)`` to recompute the leads with
            first_id <= id < end_id instead of ``self``
        :return: number of leads whose scores or band changed
        """
        if not (self or id_range):
            return 0
        self.env.flush_all()
        now = fields.Datetime.now()
        # Bounds on both tables let PostgreSQL aggregate the entries in one pass
        # and hash-join them, instead of one index lookup per lead.
        if id_range:
            lead_scope = SQL("lead.id >= %s AND lead.id < %s", *id_range)
            line_scope = SQL("line.lead_id >= %s AND line.lead_id < %s", *id_range)
        else:
            lead_scope = SQL("lead.id = ANY(%s)", self.ids)
            line_scope = SQL("line.lead_id = ANY(%s)", self.ids)
        new_score = SQL("(COALESCE(entry.fit, 0) + COALESCE(entry.engagement, 0))")
        if self.env.context.get('montanes_defer_bands') or not self._montanes_get_band_thresholds():
            band_case, priority_case = SQL("lead.montanes_band_id"), SQL("lead.priority")
        else:
            band_case, priority_case = self._montanes_get_band_case_sql(new_score)
        current_points = self.env['montanes.lead.score.line']._get_current_points_sql('line', 'rule', now)
        if id_range:
            # Enough memory to aggregate a slice's entries in a hash table: with the default 4 MB,
            # PostgreSQL sorts 500,000 entries on disk first. set_config(..., true) lasts until
            # the transaction ends, which the cron does after each slice.
            self.env.cr.execute(SQL("SELECT set_config('work_mem', %s, true)", RECOMPUTE_WORK_MEM))
        changed = self.env.execute_query(SQL(
            """
            UPDATE crm_lead
               SET montanes_score_fit = total.fit,
                   montanes_score_engagement = total.engagement,
                   montanes_score = total.fit + total.engagement,
                   montanes_band_id = total.band_id,
                   priority = CASE WHEN total.band_id IS DISTINCT FROM total.old_band_id
                                   THEN total.priority ELSE crm_lead.priority END
              FROM (SELECT lead.id, lead.montanes_band_id AS old_band_id,
                           COALESCE(entry.fit, 0) AS fit, COALESCE(entry.engagement, 0) AS engagement,
                           %(band_case)s AS band_id, %(priority_case)s AS priority
                      FROM crm_lead lead
                      LEFT JOIN (SELECT line.lead_id,
                                        SUM(line.points_earned) FILTER (WHERE line.rule_type = 'profile') AS fit,
                                        SUM(%(current_points)s) FILTER (WHERE line.rule_type <> 'profile')
                                            AS engagement
                                   FROM montanes_lead_score_line line
                                   LEFT JOIN montanes_scoring_rule rule ON rule.id = line.rule_id
                                  WHERE %(line_scope)s
                                  GROUP BY line.lead_id) AS entry ON entry.lead_id = lead.id
                     WHERE %(lead_scope)s) AS total
             WHERE crm_lead.id = total.id
               AND (crm_lead.montanes_score_fit IS DISTINCT FROM total.fit
                    OR crm_lead.montanes_score_engagement IS DISTINCT FROM total.engagement
                    OR crm_lead.montanes_score IS DISTINCT FROM total.fit + total.engagement
                    OR crm_lead.montanes_band_id IS DISTINCT FROM total.band_id)
         RETURNING crm_lead.id, total.old_band_id, total.band_id
            """,
            band_case=band_case, priority_case=priority_case, current_points=current_points,
            lead_scope=lead_scope, line_scope=line_scope,
        ))
        if not changed:
            return 0
        Lead = self.env['crm.lead'].sudo().with_context(active_test=False)
        changed_leads = Lead.browse(lead_id for lead_id, _old_band_id, _band_id in changed)
        changed_leads.invalidate_recordset([
            'montanes_score_fit', 'montanes_score_engagement', 'montanes_score', 'montanes_band_id', 'priority',
        ])
        changed_leads.modified(['montanes_score'])
        moved = {lead_id: old_band_id for lead_id, old_band_id, band_id in changed if band_id != old_band_id}
        if moved:
            moved_leads = Lead.browse(moved)
            moved_leads.modified(['montanes_band_id', 'priority'])
            Band = self.env['montanes.score.band'].sudo().with_context(active_test=False)
            moved_leads._montanes_on_band_change({
                lead_id: Band.browse(old_band_id) for lead_id, old_band_id in moved.items()
            })
        return len(changed)

    @api.model
    def _montanes_recompute_all_totals(self, batch_size=50000):
        """Recompute the scores and band of every lead, in slices of ``batch_size`` lead ids.

        Each slice is committed and reported as cron progress when run by the
        scheduler. Returns the number of leads whose scores or band changed.
        """
        self.env.flush_all()
        [(max_id,)] = self.env.execute_query(SQL("SELECT COALESCE(MAX(id), 0) FROM crm_lead"))
        changed = 0
        Cron = self.env['ir.cron']
        in_cron = bool(self.env.context.get('cron_id')) and not modules.module.current_test
        for first_id in range(1, max_id + 1, batch_size):
            changed += self.browse()._montanes_recompute_totals(id_range=(first_id, first_id + batch_size))
            if in_cron:
                Cron._commit_progress(batch_size, remaining=max(max_id - first_id - batch_size + 1, 0))
        return changed

    @api.model
    def _cron_montanes_recompute_scores(self, batch_size=50000):
        """Rebuild every profile entry and recompute every lead's scores and band.

        Profile rules are re-evaluated one rule at a time over all leads (three
        statements per rule). The totals, which include the decay and expiry
        of every entry, follow in slices of ``batch_size`` lead ids, each
        committed and reported as cron progress when run by the scheduler.
        """
        start = time.monotonic()
        Rule = self.env['montanes.scoring.rule'].sudo().with_context(active_test=False)
        ScoreLine = self.env['montanes.lead.score.line'].with_context(montanes_sql_totals=True)
        ScoreLine._sync_profile_lines(Rule.search([('rule_type', '=', 'profile')]))
        if ScoreLine._has_profile_caps():
            # The sync caps only the leads whose entries it changed, so this also caps
            # the leads scored before a maximum was set.
            ScoreLine._reapply_profile_caps()
        changed = self._montanes_recompute_all_totals(batch_size=batch_size)
        _logger.info("Lead score recompute: %d leads changed in %.2fs", changed, time.monotonic() - start)
        return changed

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
        return self.env['montanes.scoring.rule'].sudo().browse(self._montanes_get_behaviour_rule_ids(event_type))

    @api.model
    @tools.ormcache('event_type')
    def _montanes_get_behaviour_rule_ids(self, event_type):
        """Return the ids of the active behaviour rules of ``event_type``.

        Cached in the registry because every tracked open, click and page view
        reads them; rule changes clear the cache.
        """
        # active_test is forced because callers often search leads without it.
        return tuple(self.env['montanes.scoring.rule'].sudo().with_context(active_test=True).search([
            ('rule_type', '=', 'behaviour'),
            ('event_type', '=', event_type),
        ]).ids)

    def _montanes_prepare_event_vals(self, rules, event_type, source_ref, event_date=None, description=None,
                                     occurrence_ref=None):
        """Return the score entry values of one event on these leads, one per applicable rule.

        A rule with a company applies only to the leads of that company. The
        entry's source_ref is the key the unique index deduplicates on, built
        from the rule's repeat policy. An entry stores the rule's points, and
        an event in the past is worth its decayed value as soon as it is read.
        An event whose time window has passed scores nothing. Rules with a
        maximum per period lock the (lead, rule) pair until the transaction
        ends, so two workers cannot both pass the maximum.
        """
        if not rules:
            return []
        now = fields.Datetime.now()
        event_date = event_date or now
        vals_list = []
        # Read only what scoring needs: tracked opens, clicks and page views come through here.
        self.sudo().fetch(['company_id'])
        rules.fetch(EVENT_RULE_FIELDS if description else [*EVENT_RULE_FIELDS, 'name'])
        for rule in rules:
            if not rule._montanes_matches_event(source_ref):
                continue
            key = rule._montanes_get_ledger_key(source_ref, event_date, occurrence_ref)
            expiry_date = False
            if rule.validity == 'window':
                expiry_date = event_date + timedelta(days=rule.validity_days)
                if expiry_date <= now:
                    continue
            for lead in self.sudo():
                if rule.company_id and rule.company_id != lead.company_id:
                    continue
                if rule.repeat_policy == 'every_time' and rule.max_per_period \
                        and lead._montanes_count_rule_entries(rule, event_date) >= rule.max_per_period:
                    continue
                vals_list.append({
                    'lead_id': lead.id,
                    'company_id': lead.company_id.id,
                    'rule_id': rule.id,
                    'rule_type': 'behaviour',
                    'points_earned': rule.points,
                    'event_type': event_type,
                    'source_ref': key,
                    'event_ref': source_ref,
                    'date': event_date,
                    'expiry_date': expiry_date,
                    'description': description or rule.name,
                })
        return self.env['montanes.lead.score.line']._apply_engagement_caps(vals_list)

    def _montanes_count_rule_entries(self, rule, event_date):
        """Lock the (lead, rule) pair and count the entries ``rule`` gave this lead in its period."""
        self.ensure_one()
        self.env.cr.execute(SQL("SELECT pg_advisory_xact_lock(%s, %s)", rule.id, self.id))
        [(count,)] = self.env.execute_query(SQL(
            """
            SELECT COUNT(*) FROM montanes_lead_score_line
             WHERE lead_id = %s AND rule_id = %s AND date > %s AND date <= %s
            """,
            self.id, rule.id, event_date - timedelta(days=rule.period_days), event_date,
        ))
        return count

    @api.model
    def _montanes_find_unsearchable_condition(self, domain_text):
        """Return ``(field_path, reason)`` of the first condition of ``domain_text`` that the
        current user cannot search leads with, or None when every condition runs.

        Scoring and campaign enrolment evaluate conditions as superuser, so their authors'
        conditions are run here as the authors first. The reason is a translated sentence,
        not the error's own English text. Text that does not parse returns None: the callers'
        own constraints report it.
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
                return condition.field_expr, self._montanes_describe_search_failure(condition, error)
        return None

    @api.model
    @tools.ormcache()
    def _montanes_get_active_event_types(self):
        """Return the event types that at least one active behaviour rule scores.

        Cached in the registry so that lead writes and message posts spend no
        query when no rule listens; rule changes clear the cache.
        """
        rules = self.env['montanes.scoring.rule'].sudo().with_context(active_test=True).search([
            ('rule_type', '=', 'behaviour'),
        ])
        return frozenset(rules.mapped('event_type'))

    @api.model
    @tools.ormcache()
    def _montanes_get_band_thresholds(self):
        """Return ``(min_score, band_id, priority)`` of the active bands, highest first.

        Cached in the registry because every lead creation reads it for the
        default band; band changes clear the cache.
        """
        bands = self.env['montanes.score.band'].sudo().with_context(active_test=True).search(
            [], order='min_score desc')
        return tuple((band.min_score, band.id, band.priority) for band in bands)

    @api.model
    def _montanes_get_band_for_score(self, score):
        """Return the active band that a total of ``score`` points falls in."""
        thresholds = self._montanes_get_band_thresholds()
        if not thresholds:
            return self.env['montanes.score.band']
        band_id = next(
            (band_id for min_score, band_id, _priority in thresholds if score >= min_score),
            thresholds[-1][1],
        )
        return self.env['montanes.score.band'].browse(band_id)

    @api.model
    def _montanes_get_band_case_sql(self, score_sql):
        """Return the SQL ``(band id, priority)`` of the active band that ``score_sql`` falls in.

        Callers check that at least one band is active.
        """
        *upper_bands, (_lowest_min, lowest_band_id, lowest_priority) = self._montanes_get_band_thresholds()
        if not upper_bands:
            return SQL("%s", lowest_band_id), SQL("%s", lowest_priority)
        band_case = SQL("CASE %s ELSE %s END", SQL(" ").join(
            SQL("WHEN %s >= %s THEN %s", score_sql, min_score, band_id)
            for min_score, band_id, _priority in upper_bands
        ), lowest_band_id)
        priority_case = SQL("CASE %s ELSE %s END", SQL(" ").join(
            SQL("WHEN %s >= %s THEN %s", score_sql, min_score, priority)
            for min_score, _band_id, priority in upper_bands
        ), lowest_priority)
        return band_case, priority_case

    @api.model
    @tools.ormcache()
    def _montanes_get_profile_trigger_fields(self):
        """Return the names of the lead fields whose change may alter a profile rule match.

        These are the fields named in the conditions of the active profile
        rules, plus, for computed fields, the fields they are computed from.
        The set is empty when no profile rule is active. A condition through a
        relation ('source_id.name') is tracked here on the lead's own field only.
        The result is cached in the registry because every lead write reads
        it; rule changes clear the cache.
        """
        # NOTE: editing a related record other than a contact (renaming a utm.source,
        # for example) does not re-score the leads that point to it. Contact edits
        # are handled by res.partner._montanes_get_profile_trigger_fields.
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
