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
        required=True,
        index=True,
        ondelete='cascade',
    )
    rule_type = fields.Selection(related='rule_id.rule_type', store=True)
    points = fields.Integer(string='Points', required=True)
    event_type = fields.Selection(selection=EVENT_TYPES, string='Event')
    source_ref = fields.Char(
        string='Source',
        required=True,
        help='What produced this entry: "profile" for profile rules, '
        'or "mailing.trace,<id>,<open|click|reply>" for a mass mailing event.',
    )
    date = fields.Datetime(string='Date', required=True, default=fields.Datetime.now)
    description = fields.Char(string='Description')

    _lead_rule_source_unique = models.UniqueIndex(
        '(lead_id, rule_id, source_ref)',
        'This event has already scored this lead for this rule.',
    )

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
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                vals['lead_id'], vals['company_id'] or None, vals['rule_id'], vals['rule_type'],
                vals['points'], vals.get('event_type') or None, vals['source_ref'],
                vals.get('date') or now, vals.get('description') or None,
                uid, now, uid, now,
            )
            for vals in vals_list
        ]
        # Raw SQL because the ORM has no ON CONFLICT: the unique index, not a
        # prior read, decides which of two concurrent inserts wins.
        inserted = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_lead_score_line
                (lead_id, company_id, rule_id, rule_type, points, event_type, source_ref,
                 date, description, create_uid, create_date, write_uid, write_date)
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
        leads.modified(['montanes_score_line_ids'])

    @api.model
    def _sync_profile_lines(self, rules, leads=None):
        """Make the profile entries of ``rules`` match their conditions.

        For each rule, the leads matching its condition get an entry worth the
        rule's points, entries whose points are outdated get the new points, and
        leads that no longer match lose their entry. Archived rules and rules
        that are not profile rules keep no profile entries.

        :param rules: montanes.scoring.rule records to evaluate
        :param leads: crm.lead records to limit the work to; None means every lead
        """
        rules = rules.sudo().with_context(active_test=False)
        lines_sudo = self.sudo()
        leads_model = self.env['crm.lead'].sudo().with_context(active_test=False)
        self.env.flush_all()

        # 1. Entries that exist today, per rule: {rule_id: {lead_id: (line_id, points)}}
        scope = SQL("AND lead_id = ANY(%s)", leads.ids) if leads is not None else SQL()
        existing = defaultdict(dict)
        for line_id, rule_id, lead_id, points in self.env.execute_query(SQL(
            """
            SELECT id, rule_id, lead_id, points
              FROM montanes_lead_score_line
             WHERE rule_id = ANY(%s) AND source_ref = %s %s
            """,
            rules.ids, PROFILE_SOURCE_REF, scope,
        )):
            existing[rule_id][lead_id] = (line_id, points)

        # 2. Leads each live profile rule matches now, compared with step 1.
        to_insert = []
        stale_line_ids = []
        outdated_by_points = defaultdict(list)
        for rule in rules:
            current = existing.get(rule.id, {})
            matched = {}
            if rule.active and rule.rule_type == 'profile':
                domain = rule._get_lead_domain()
                if rule.company_id:
                    domain &= Domain('company_id', '=', rule.company_id.id)
                if leads is not None:
                    domain &= Domain('id', 'in', leads.ids)
                matched = {
                    lead.id: lead.company_id.id
                    for lead in leads_model.search_fetch(domain, ['company_id'])
                }
            for lead_id, (line_id, points) in current.items():
                if lead_id not in matched:
                    stale_line_ids.append(line_id)
                elif points != rule.points:
                    outdated_by_points[rule.points].append(line_id)
            to_insert.extend(
                {
                    'lead_id': lead_id,
                    'company_id': company_id,
                    'rule_id': rule.id,
                    'rule_type': 'profile',
                    'points': rule.points,
                    'source_ref': PROFILE_SOURCE_REF,
                    'description': rule.name,
                }
                for lead_id, company_id in matched.items()
                if lead_id not in current
            )

        # 3. Apply the differences.
        if stale_line_ids:
            lines_sudo.browse(stale_line_ids).unlink()
        for points, line_ids in outdated_by_points.items():
            lines_sudo.browse(line_ids).write({'points': points})
        inserted = lines_sudo._insert_lines(to_insert)

        if stale_line_ids or outdated_by_points or inserted:
            _logger.debug(
                "Profile scoring of rules %s: %d entries added, %d updated, %d removed",
                rules.ids, len(inserted), sum(map(len, outdated_by_points.values())), len(stale_line_ids),
            )
