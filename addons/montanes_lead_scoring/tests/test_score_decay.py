from datetime import datetime, timedelta

from odoo.tests import tagged
from odoo.tests.common import freeze_time
from odoo.tools import SQL

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestScoreDecay(MontanesScoringCommon):
    """Entries keep the points they earned; decay and expiry apply when they are read."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ScoreLine = cls.env['montanes.lead.score.line']
        cls.Crossing = cls.env['montanes.lead.band.crossing']

    def _behaviour_rule(self, event_type, points, **values):
        return self.env['montanes.scoring.rule'].create({
            'name': f'{event_type} {points}',
            'rule_type': 'behaviour',
            'event_type': event_type,
            'points': points,
            **values,
        })

    def _sql_points(self, lines):
        """Return {line id: current points} as the database sums them (list totals, pivot, graph)."""
        return {
            line.id: points
            for line, points in self.ScoreLine._read_group([('id', 'in', lines.ids)], ['id'], ['points:sum'])
        }

    def test_half_life_read_time(self):
        self._behaviour_rule('info_request', 20, validity='half_life', half_life_days=30)
        lead = self._create_lead()
        with freeze_time('2026-01-01 10:00:00'):
            line = lead._montanes_register_event('info_request', 'crm.lead,1,form')
        with freeze_time('2026-01-31 10:00:00'):
            line.invalidate_recordset(['points'])
            self.assertEqual(line.points, 10, "Half of 20 after one half-life, with no write")
            self.assertEqual(line.points_earned, 20, "The entry keeps the points it earned")
            self.assertEqual(self._sql_points(line), {line.id: 10})
            self.assertEqual(lead.montanes_score_engagement, 20, "The stored total waits for the daily job")

            self.assertEqual(self.ScoreLine._cron_refresh_validity(), 1)
            self.assertEqual(lead.montanes_score_engagement, 10)
            self.assertEqual(lead.montanes_score, 10)
            self.assertEqual(self.ScoreLine._cron_refresh_validity(), 0, "A second run writes nothing")

    def test_python_and_sql_values_match(self):
        half_life = self._behaviour_rule('email_open', 7, validity='half_life', half_life_days=9,
                                         repeat_policy='every_time')
        decay = self._behaviour_rule('email_click', 13, validity='decay', decay_percent=15,
                                     decay_period_days=4, repeat_policy='every_time')
        lead = self._create_lead()
        now = datetime(2026, 3, 1, 12, 0, 0)
        with freeze_time(now):
            for days in range(0, 120, 3):
                event_date = now - timedelta(days=days, hours=days % 5)
                lead._montanes_register_event('email_open', f'mailing.trace,{days},open', event_date=event_date)
                lead._montanes_register_event('email_click', f'mailing.trace,{days},click', event_date=event_date)
            lines = lead.montanes_score_line_ids
            self.assertEqual(len(lines.filtered(lambda line: line.rule_id == half_life)), 40)
            self.assertEqual(len(lines.filtered(lambda line: line.rule_id == decay)), 40)
            lines.invalidate_recordset(['points'])
            self.assertEqual(self._sql_points(lines), {line.id: line.points for line in lines})
            self.assertEqual(lead.montanes_score_engagement, sum(lines.mapped('points')))

    def test_expired_entry(self):
        self._behaviour_rule('email_bounce', -15, validity='window', validity_days=60)
        lead = self._create_lead()
        with freeze_time('2026-03-01 12:00:00'):
            line = lead._montanes_register_event('email_bounce', 'mailing.trace,5,bounce')
        live_domain = [('lead_id', '=', lead.id), ('is_expired', '=', False)]
        expired_domain = [('lead_id', '=', lead.id), ('is_expired', '=', True)]
        with freeze_time('2026-04-30 11:59:00'):
            line.invalidate_recordset(['points', 'is_expired'])
            self.assertEqual(self.ScoreLine.search(live_domain), line)
            self.assertFalse(self.ScoreLine.search(expired_domain))
            self.assertEqual(line.points, -15)
        with freeze_time('2026-04-30 12:00:00'):
            line.invalidate_recordset(['points', 'is_expired'])
            self.assertFalse(self.ScoreLine.search(live_domain))
            self.assertEqual(self.ScoreLine.search(expired_domain), line)
            self.assertTrue(line.is_expired)
            self.assertEqual(line.points, 0)
            self.assertEqual(self._sql_points(line), {line.id: 0})

    def test_score_equals_ledger_sum_with_decay(self):
        self._behaviour_rule('meeting', 40, validity='half_life', half_life_days=30)
        self._behaviour_rule('call', 30, validity='decay', decay_percent=10, decay_period_days=7)
        self._behaviour_rule('email_bounce', -15, validity='window', validity_days=20)
        lead = self._create_lead(function='Director financiero')
        with freeze_time('2026-05-01 09:00:00'):
            lead._montanes_register_event('meeting', 'calendar.event,1')
            lead._montanes_register_event('call', 'mail.activity,1')
            lead._montanes_register_event('email_bounce', 'mailing.trace,9,bounce')
            lead._montanes_register_event('email_open', 'mailing.trace,9,open')
            lead._montanes_adjust_score(12, 'Asked for a quote at the fair')
        for day in ('2026-05-10 09:00:00', '2026-05-25 09:00:00', '2026-07-01 09:00:00'):
            with freeze_time(day):
                self.ScoreLine._cron_refresh_validity()
                lines = lead.montanes_score_line_ids
                lines.invalidate_recordset(['points'])
                fit = sum(lines.filtered(lambda line: line.rule_type == 'profile').mapped('points'))
                engagement = sum(lines.filtered(lambda line: line.rule_type != 'profile').mapped('points'))
                self.assertEqual(lead.montanes_score_fit, fit, day)
                self.assertEqual(lead.montanes_score_engagement, engagement, day)
                self.assertEqual(lead.montanes_score, fit + engagement, day)
                self.assertEqual(sum(self._sql_points(lines).values()), fit + engagement, day)
                self.assertEqual(lead._montanes_recompute_totals(), 0, day)
        with freeze_time('2026-07-01 09:00:00'):
            # After 61 days: 40 points over two half-lives and a day are worth 10, 30 points
            # less 10 % for eight full weeks are worth 13, and the bounce has expired.
            self.assertEqual(lead.montanes_score_engagement, 10 + 13 + 0 + 5 + 12)

    def test_decay_moves_band_once(self):
        self._behaviour_rule('meeting', 60, validity='half_life', half_life_days=30)
        lead = self._create_lead()
        hot = self.env.ref('montanes_lead_scoring.score_band_hot')
        warm = self.env.ref('montanes_lead_scoring.score_band_warm')
        with freeze_time('2026-01-01 10:00:00'):
            lead._montanes_register_event('meeting', 'calendar.event,3')
            self.assertEqual(lead.montanes_band_id, hot)
        with freeze_time('2026-01-31 10:00:00'):
            self.ScoreLine._cron_refresh_validity()
            self.ScoreLine._cron_refresh_validity()
            self.assertEqual(lead.montanes_score, 30)
            self.assertEqual(lead.montanes_band_id, warm)
            self.assertEqual(lead.priority, warm.priority)
            crossings = self.Crossing.search([('lead_id', '=', lead.id), ('old_band_id', '=', hot.id)])
            self.assertEqual(len(crossings), 1, "Leaving Caliente is one crossing, however often the job runs")
            self.assertEqual((crossings.new_band_id, crossings.score), (warm, 30))

    def test_full_recompute_repairs_totals(self):
        lead = self._create_lead(function='Director financiero')
        other = self._create_lead()
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        other._montanes_register_event('email_click', 'mailing.trace,2,click')
        self.assertEqual((lead.montanes_score_fit, lead.montanes_score_engagement), (15, 5))
        self.env.flush_all()
        self.env.cr.execute(SQL(
            "UPDATE crm_lead SET montanes_score_fit = 0, montanes_score = 99 WHERE id = %s", lead.id))
        self.env.cr.execute(SQL(
            "DELETE FROM montanes_lead_score_line WHERE lead_id = %s AND rule_type = 'profile'", lead.id))
        self.env.invalidate_all()

        batch_size = max(lead.id, other.id) // 3 + 1
        changed = self.env['crm.lead']._cron_montanes_recompute_scores(batch_size=batch_size)
        self.assertEqual(changed, 1, "Only the damaged lead is written")
        self.assertEqual((lead.montanes_score_fit, lead.montanes_score_engagement, lead.montanes_score),
                         (15, 5, 20))
        self.assertEqual(other.montanes_score, 10)
        self.assertEqual(lead.montanes_score_line_ids.filtered(lambda line: line.rule_type == 'profile').rule_id,
                         self.rule_director)
        self.assertEqual(self.env['crm.lead']._cron_montanes_recompute_scores(batch_size=batch_size), 0)

    def test_current_points_in_list_views(self):
        self._behaviour_rule('meeting', 40, validity='half_life', half_life_days=30)
        lead = self._create_lead()
        with freeze_time('2026-01-01 10:00:00'):
            old = lead._montanes_register_event('meeting', 'calendar.event,1')
        with freeze_time('2026-03-02 10:00:00'):
            recent = lead._montanes_register_event('email_open', 'mailing.trace,1,open')
            description = self.ScoreLine.fields_get(['points'], ['sortable', 'aggregator'])['points']
            self.assertTrue(description['sortable'])
            self.assertEqual(description['aggregator'], 'sum')
            (old | recent).invalidate_recordset(['points'])
            self.assertEqual((old.points, recent.points), (10, 5))
            ordered = self.ScoreLine.search([('lead_id', '=', lead.id)], order='points desc')
            self.assertEqual(ordered, old | recent, "40 points two half-lives old are worth 10, more than 5")
            ordered = self.ScoreLine.search([('lead_id', '=', lead.id)], order='points asc')
            self.assertEqual(ordered, recent | old)
