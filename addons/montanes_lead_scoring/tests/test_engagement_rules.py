from datetime import datetime, timedelta

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tests.common import freeze_time
from odoo.tools import mute_logger

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestEngagementRules(MontanesScoringCommon):
    """Repeat policies and validity of behaviour rules."""

    def _behaviour_rule(self, event_type, points, **values):
        return self.env['montanes.scoring.rule'].create({
            'name': f'{event_type} {points}',
            'rule_type': 'behaviour',
            'event_type': event_type,
            'points': points,
            **values,
        })

    def test_once_per_email(self):
        lead = self._create_lead()
        for _opened in range(3):
            lead._montanes_register_event('email_open', 'mailing.trace,101,open')
        lead._montanes_register_event('email_open', 'mailing.trace,102,open')
        self.assertEqual(lead.montanes_score_engagement, 10, "E-mail A three times and e-mail B once: 5 + 5")

    def test_once_per_lead(self):
        self.rule_open.repeat_policy = 'once_per_lead'
        lead = self._create_lead()
        lead._montanes_register_event('email_open', 'mailing.trace,101,open')
        lead._montanes_register_event('email_open', 'mailing.trace,102,open')
        self.assertEqual(lead.montanes_score_engagement, 5)
        self.assertEqual(lead.montanes_score_line_ids.event_ref, 'mailing.trace,101,open')

    def test_every_time_with_maximum(self):
        rule = self._behaviour_rule('page_view', 2, repeat_policy='every_time', max_per_period=3, period_days=7)
        lead = self._create_lead()
        start = datetime(2026, 3, 2, 9, 0)
        for minute in range(5):
            lead._montanes_register_event('page_view', 'https://www.montanes.example/precios',
                                          event_date=start + timedelta(minutes=minute))
        self.assertEqual(lead.montanes_score_engagement, 6, "At most 3 visits score within 7 days")
        lead._montanes_register_event('page_view', 'https://www.montanes.example/precios',
                                      event_date=start + timedelta(days=8))
        self.assertEqual(lead.montanes_score_engagement, 8, "A new period scores again")
        self.assertEqual(len(rule.score_line_ids), 4)

    def test_page_url_pattern(self):
        self._behaviour_rule('page_view', 4, url_pattern='*/precios*')
        lead = self._create_lead()
        lead._montanes_register_event('page_view', 'https://www.montanes.example/blog/novedades')
        self.assertEqual(lead.montanes_score_engagement, 0)
        lead._montanes_register_event('page_view', 'https://www.montanes.example/Precios/licencias')
        self.assertEqual(lead.montanes_score_engagement, 4)
        self.assertEqual(lead.montanes_last_interest, 'https://www.montanes.example/Precios/licencias')

    def test_stage_reached(self):
        stage = self.env['crm.stage'].create({'name': 'Propuesta enviada', 'sequence': 50})
        self._behaviour_rule('stage_reached', 25, stage_id=stage.id)
        lead = self._create_lead(type='opportunity')
        lead.stage_id = self.env['crm.stage'].create({'name': 'Cualificado', 'sequence': 40})
        self.assertEqual(lead.montanes_score_engagement, 0)
        lead.stage_id = stage
        self.assertEqual(lead.montanes_score_engagement, 25)

    def test_half_life(self):
        self._behaviour_rule('info_request', 20, validity='half_life', half_life_days=30)
        lead = self._create_lead()
        with freeze_time('2026-01-01 10:00:00'):
            lead._montanes_register_event('info_request', 'crm.lead,1,form')
            self.assertEqual(lead.montanes_score_engagement, 20)
        with freeze_time('2026-01-31 10:00:00'):
            self.env['montanes.lead.score.line']._cron_refresh_validity()
            self.assertEqual(lead.montanes_score_engagement, 10, "Half of 20 after one half-life")
            line = lead.montanes_score_line_ids
            self.assertEqual(line.points_earned, 20)
            self.assertEqual(line.points, 10)

    def test_half_life_past_event(self):
        self._behaviour_rule('meeting', 20, validity='half_life', half_life_days=30)
        lead = self._create_lead()
        with freeze_time('2026-01-31 10:00:00'):
            lead._montanes_register_event('meeting', 'calendar.event,7', event_date=datetime(2026, 1, 1, 10))
            self.assertEqual(lead.montanes_score_engagement, 10, "An event 30 days old scores half at once")

    def test_decay_percent(self):
        self._behaviour_rule('call', 100, validity='decay', decay_percent=10, decay_period_days=7)
        lead = self._create_lead()
        with freeze_time('2026-02-02 08:00:00'):
            lead._montanes_register_event('call', 'mail.activity,1')
        with freeze_time('2026-02-15 08:00:00'):
            self.env['montanes.lead.score.line']._cron_refresh_validity()
            self.assertEqual(lead.montanes_score_engagement, 90, "One full week: 10 % less")
        with freeze_time('2026-02-16 08:00:00'):
            self.env['montanes.lead.score.line']._cron_refresh_validity()
            self.assertEqual(lead.montanes_score_engagement, 81, "Two weeks: 10 % less twice")

    def test_time_window(self):
        self._behaviour_rule('email_bounce', -15, validity='window', validity_days=60)
        lead = self._create_lead()
        with freeze_time('2026-03-01 12:00:00'):
            lead._montanes_register_event('email_bounce', 'mailing.trace,5,bounce')
            self.assertEqual(lead.montanes_score_engagement, -15)
        with freeze_time('2026-04-30 11:59:00'):
            self.env['montanes.lead.score.line']._cron_refresh_validity()
            self.assertEqual(lead.montanes_score_engagement, -15)
        with freeze_time('2026-04-30 12:00:00'):
            self.env['montanes.lead.score.line']._cron_refresh_validity()
            self.assertEqual(lead.montanes_score_engagement, 0)
            self.assertTrue(lead.montanes_score_line_ids.is_expired)
            self.assertEqual(lead.montanes_score_line_ids.points_earned, -15, "The entry stays as evidence")

    def test_bad_validity_rejected(self):
        with self.assertRaisesRegex(ValidationError, 'half-life'):
            self._behaviour_rule('email_open', 5, validity='half_life', half_life_days=0)
        with self.assertRaisesRegex(ValidationError, 'time window'):
            self._behaviour_rule('email_open', 5, validity='window', validity_days=-1)
        with self.assertRaisesRegex(ValidationError, 'decay'):
            self._behaviour_rule('email_open', 5, validity='decay', decay_percent=0)
        with self.assertRaisesRegex(ValidationError, 'negative'):
            self._behaviour_rule('email_open', 5, repeat_policy='every_time', max_per_period=-2)
        with self.assertRaisesRegex(ValidationError, 'Permanent'):
            self.rule_director.validity = 'half_life'


@tagged('post_install', '-at_install')
class TestOdooEvents(MontanesScoringCommon):
    """Events that Odoo records itself: blacklist, meetings, calls, alias e-mails, replies."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Rule = cls.env['montanes.scoring.rule']
        for event_type, points in [('unsubscribe', -30), ('meeting', 25), ('call', 8), ('info_request', 40)]:
            Rule.create({'name': event_type, 'rule_type': 'behaviour', 'event_type': event_type, 'points': points})

    def test_unsubscribe(self):
        lead = self._create_lead(email_from='Lucía Prieto <lucia.prieto@aceitesprieto.example>')
        self.env['mail.blacklist']._add('lucia.prieto@aceitesprieto.example')
        self.assertEqual(lead.montanes_score_engagement, -30)

    def test_meeting_recorded_after_it_ended(self):
        lead = self._create_lead(type='opportunity')
        start = datetime.now().replace(microsecond=0) - timedelta(days=1)
        self.env['calendar.event'].create({
            'name': 'Demo de licencias',
            'start': start,
            'stop': start + timedelta(hours=1),
            'opportunity_id': lead.id,
            'res_model_id': self.env['ir.model']._get_id('crm.lead'),
            'res_id': lead.id,
        })
        self.assertEqual(lead.montanes_score_engagement, 25)
        self.assertEqual(lead.montanes_last_contact_type, 'meeting')
        self.assertEqual(lead.montanes_last_contact_date, start + timedelta(hours=1), 'dated at its end')

    def test_call_logged(self):
        lead = self._create_lead()
        activity = lead.activity_schedule('mail.mail_activity_data_call', summary='Llamar por la renovación',
                                          user_id=self.env.uid)
        activity.action_feedback(feedback='Interesado en 20 licencias')
        self.assertEqual(lead.montanes_score_engagement, 8)
        self.assertEqual(lead.montanes_last_contact_type, 'call')
        todo = lead.activity_schedule('mail.mail_activity_data_todo', summary='Enviar catálogo', user_id=self.env.uid)
        todo.action_feedback()
        self.assertEqual(lead.montanes_score_engagement, 8, "Only calls score")
        self.assertEqual(lead.montanes_last_contact_type, 'activity')

    def test_alias_email_is_info_request(self):
        lead = self.env['crm.lead'].message_new({
            'subject': 'Presupuesto para 15 licencias',
            'from': 'Jorge Alonso <jorge.alonso@transportesalonso.example>',
            'email_from': 'jorge.alonso@transportesalonso.example',
            'body': '<p>Necesitamos presupuesto.</p>',
        })
        self.assertEqual(lead.montanes_score_engagement, 40)
        self.assertEqual(lead.montanes_last_interest, 'Presupuesto para 15 licencias')


@tagged('post_install', '-at_install')
class TestScoreCaps(MontanesScoringCommon):

    def test_engagement_cap(self):
        self.env['ir.config_parameter'].sudo().set_param('montanes_lead_scoring.max_engagement_score', 12)
        lead = self._create_lead()
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead._montanes_register_event('email_click', 'mailing.trace,1,click')
        lead._montanes_register_event('email_open', 'mailing.trace,2,open')
        self.assertEqual(lead.montanes_score_engagement, 12)
        self.assertEqual(sorted(lead.montanes_score_line_ids.mapped('points')), [0, 5, 7],
                         "The capped entries stay as a record of the events")

    def test_fit_cap(self):
        self.env['ir.config_parameter'].sudo().set_param('montanes_lead_scoring.max_fit_score', 20)
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(lead.montanes_score_fit, 20, "15 + 10 capped at 20")
        lead.expected_revenue = 100
        self.assertEqual(lead.montanes_score_fit, 15)

    def test_group_cap(self):
        group = self.env['montanes.scoring.rule.group'].create({'name': 'E-mail', 'max_points': 8})
        (self.rule_open | self.rule_click).group_id = group
        lead = self._create_lead()
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead._montanes_register_event('email_click', 'mailing.trace,1,click')
        lead._montanes_register_event('email_reply', 'mailing.trace,1,reply')
        self.assertEqual(lead.montanes_score_engagement, 8 + 20)

    def _set_fit_cap(self, max_points):
        """Set the maximum profile score as an administrator does, in the CRM settings."""
        self.env['res.config.settings'].create({'montanes_max_fit_score': max_points}).execute()

    def _profile_points(self, lead):
        """Return {rule name: points} of the profile entries of ``lead``."""
        return {
            line.rule_id.name: line.points
            for line in lead.montanes_score_line_ids if line.rule_type == 'profile'
        }

    def test_fit_cap_change_rescores_existing_leads(self):
        lead = self._create_lead(function='Director general', expected_revenue=10000, city='Santander')
        rule_sector = self.env['montanes.scoring.rule'].create({
            'name': 'Santander',
            'rule_type': 'profile',
            'domain': "[('city', '=', 'Santander')]",
            'points': 15,
        })
        self.assertEqual(lead.montanes_score_fit, 40)

        self._set_fit_cap(20)
        self.assertEqual(lead.montanes_score_fit, 20, "A new maximum caps the leads scored before it")
        self.assertEqual(self._profile_points(lead), {'Director': 15, 'Big budget': 5, 'Santander': 0})

        rule_sector.group_id = self.env['montanes.scoring.rule.group'].create({'name': 'Region', 'max_points': 5})
        self._set_fit_cap(0)
        self.assertEqual(lead.montanes_score_fit, 30, "Without the profile maximum, only the group caps")
        self.assertEqual(self._profile_points(lead), {'Director': 15, 'Big budget': 10, 'Santander': 5})

        self._set_fit_cap(20)
        new_lead = self._create_lead(function='Director general', expected_revenue=10000, city='Santander')
        self.assertEqual(new_lead.montanes_score_fit, 20)
        self.assertEqual(self._profile_points(lead), self._profile_points(new_lead),
                         "An existing lead and a new one with the same profile get the same entries")

    def test_group_cap_change_rescores_existing_leads(self):
        group = self.env['montanes.scoring.rule.group'].create({'name': 'Company', 'max_points': 0})
        self.rule_budget.group_id = group
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(lead.montanes_score_fit, 25)

        group.max_points = 4
        self.assertEqual(self._profile_points(lead), {'Director': 15, 'Big budget': 4})
        self.assertEqual(lead.montanes_score_fit, 19)

        group.max_points = 8
        self.assertEqual(lead.montanes_score_fit, 23, "A higher maximum gives the points back")

        group.max_points = 0
        self.assertEqual(lead.montanes_score_fit, 25)

    def test_rule_group_change_rescores_existing_leads(self):
        group = self.env['montanes.scoring.rule.group'].create({'name': 'Company', 'max_points': 5})
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(lead.montanes_score_fit, 25)

        self.rule_director.group_id = group
        self.assertEqual(self._profile_points(lead), {'Director': 5, 'Big budget': 10})

        self.rule_director.group_id = False
        self.assertEqual(lead.montanes_score_fit, 25, "Leaving the group lifts its maximum")

        group.rule_ids = self.rule_budget
        self.assertEqual(self._profile_points(lead), {'Director': 15, 'Big budget': 5},
                         "Adding a rule from the group form caps it too")

    def test_capped_group_deleted(self):
        group = self.env['montanes.scoring.rule.group'].create({'name': 'Company', 'max_points': 5})
        self.rule_budget.group_id = group
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(lead.montanes_score_fit, 20)

        group.unlink()
        self.assertEqual(lead.montanes_score_fit, 25)

    def test_rule_sequence_orders_room(self):
        self._set_fit_cap(20)
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(self._profile_points(lead), {'Director': 15, 'Big budget': 5})

        self.rule_budget.sequence = 1
        self.assertEqual(self._profile_points(lead), {'Director': 10, 'Big budget': 10},
                         "The rule first in sequence order fills the room first")
        self.assertEqual(lead.montanes_score_fit, 20)

    def test_deleted_rule_frees_room(self):
        self._set_fit_cap(20)
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        self.assertEqual(lead.montanes_score_fit, 20)

        self.rule_director.unlink()
        self.assertEqual(self._profile_points(lead), {'Big budget': 10})
        self.assertEqual(lead.montanes_score_fit, 10)

    def test_lead_scored_before_cap_follows_it(self):
        """A lead that still has points above a maximum is capped when edited or recomputed."""
        lead = self._create_lead(function='Director general', expected_revenue=10000)
        other_lead = self._create_lead(function='Director general', expected_revenue=10000)
        # Set without the settings screen, as a database did before maximums re-scored leads.
        self.env['ir.config_parameter'].sudo().set_param('montanes_lead_scoring.max_fit_score', 20)
        self.assertEqual(lead.montanes_score_fit, 25)

        lead.function = 'Director comercial'
        self.assertEqual(lead.montanes_score_fit, 20, "Editing a lead applies the maximum")
        self.assertEqual(other_lead.montanes_score_fit, 25)

        self.env['crm.lead']._cron_montanes_recompute_scores()
        self.assertEqual(other_lead.montanes_score_fit, 20, "The full recompute applies it to every lead")

    def test_engagement_cap_change_keeps_earned_points(self):
        """Behaviour entries record what an event earned, so a new maximum applies to new events only."""
        lead = self._create_lead()
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead._montanes_register_event('email_click', 'mailing.trace,1,click')
        self.env['res.config.settings'].create({'montanes_max_engagement_score': 12}).execute()
        self.assertEqual(lead.montanes_score_engagement, 15)

        lead._montanes_register_event('email_open', 'mailing.trace,2,open')
        self.assertEqual(lead.montanes_score_engagement, 15, "The lead is above the maximum: no room left")
        self.assertEqual(sorted(lead.montanes_score_line_ids.mapped('points')), [0, 5, 10])

    def test_negative_group_cap_rejected(self):
        with self.assertRaises(Exception), self.cr.savepoint(), mute_logger('odoo.sql_db'):
            self.env['montanes.scoring.rule.group'].create({'name': 'Bad', 'max_points': -5})

    def test_live_match_count(self):
        self._create_lead(function='Directora técnica')
        rule = self.env['montanes.scoring.rule'].new({
            'name': 'Dirección', 'rule_type': 'profile', 'domain': "[('function', 'ilike', 'directora técnica')]",
        })
        self.assertGreaterEqual(rule.match_count, 1)
        rule.domain = "[('function', 'ilike', 'no-such-job-title-xyz')]"
        self.assertEqual(rule.match_count, 0)
        rule.domain = "[('no_such_field', '=', 1)]"
        self.assertEqual(rule.match_count, 0, "An invalid condition counts 0 instead of failing")
