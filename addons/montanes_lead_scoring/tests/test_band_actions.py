import threading
import time
from datetime import datetime
from unittest.mock import patch

from odoo import SUPERUSER_ID, api
from odoo.exceptions import ValidationError
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.tests import TransactionCase, tagged
from odoo.tests.common import freeze_time
from odoo.tools import mute_logger

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestBandActions(MontanesScoringCommon):
    """Threshold actions of the default bands: Frío < 25 <= Templado < 50 <= Caliente."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.band_cold = cls.env.ref('montanes_lead_scoring.score_band_cold')
        cls.band_warm = cls.env.ref('montanes_lead_scoring.score_band_warm')
        cls.band_hot = cls.env.ref('montanes_lead_scoring.score_band_hot')
        (cls.band_warm | cls.band_hot).action_ids.active = False
        cls.tag_hot = cls.env['crm.tag'].create({'name': 'Llamar hoy'})
        cls.team = cls.env['crm.team'].create({'name': 'Equipo Norte', 'user_id': cls.user_marketing.id})
        Action = cls.env['montanes.band.action']
        cls.action_tag = Action.create({
            'name': 'Etiquetar', 'band_id': cls.band_hot.id, 'action_type': 'tag', 'tag_ids': cls.tag_hot.ids,
        })
        cls.action_activity = Action.create({
            'name': 'Llamar', 'band_id': cls.band_hot.id, 'action_type': 'activity',
            'activity_type_id': cls.env.ref('mail.mail_activity_data_call').id, 'activity_deadline_days': 1,
        })
        cls.action_notify = Action.create({
            'name': 'Avisar', 'band_id': cls.band_hot.id, 'trigger': 'leave', 'action_type': 'notify',
        })

    def _lead(self, **values):
        return self._create_lead(user_id=self.user_salesman.id, **values)

    def test_actions_fire_per_crossing(self):
        lead = self._lead()
        lead._montanes_adjust_score(30, 'Asked for the price list')
        self.assertEqual(lead.montanes_band_id, self.band_warm)
        lead._montanes_adjust_score(25, 'Replied to the offer')
        lead._montanes_adjust_score(-25, 'Budget frozen until March')
        lead._montanes_adjust_score(25, 'Budget approved')
        self.assertEqual(lead.montanes_band_id, self.band_hot)

        crossings = self.env['montanes.lead.band.crossing'].search([('lead_id', '=', lead.id)], order='id')
        self.assertEqual(
            [(crossing.old_band_id.code, crossing.new_band_id.code) for crossing in crossings],
            [('cold', 'warm'), ('warm', 'hot'), ('hot', 'warm'), ('warm', 'hot')],
        )
        self.assertEqual(crossings[1].action_ids, self.action_tag | self.action_activity)
        self.assertEqual(crossings[2].action_ids, self.action_notify)
        self.assertEqual(crossings[3].action_ids, self.action_tag | self.action_activity)
        calls = lead.activity_ids.filtered(lambda act: act.activity_type_id == self.action_activity.activity_type_id)
        self.assertEqual(len(calls), 2, "One call per entry into Caliente")
        self.assertEqual(calls.user_id, self.user_salesman)
        notes = lead.message_ids.filtered(lambda msg: 'from Caliente to Templado' in (msg.body or ''))
        self.assertEqual(len(notes), 1, "One notification for the single exit from Caliente")
        self.assertIn(self.tag_hot, lead.tag_ids)

        # Re-scoring with no band change fires nothing more.
        lead._montanes_recompute_totals()
        lead._montanes_refresh_bands()
        self.assertEqual(self.env['montanes.lead.band.crossing'].search_count([('lead_id', '=', lead.id)]), 4)

    def test_action_changes_apply_at_once(self):
        lead = self._lead()
        self.action_tag.active = False
        lead._montanes_adjust_score(60, 'Signed the letter of intent')
        crossing = self.env['montanes.lead.band.crossing'].search([('lead_id', '=', lead.id)])
        self.assertEqual(crossing.action_ids, self.action_activity, "An archived action does not run")
        self.assertNotIn(self.tag_hot, lead.tag_ids)

        self.action_tag.active = True
        lead._montanes_adjust_score(-60, 'Letter withdrawn')
        lead._montanes_adjust_score(60, 'Letter signed again')
        self.assertIn(self.tag_hot, lead.tag_ids, "A restored action runs on the next crossing")

    def test_round_robin_assignment(self):
        self.env['montanes.band.action'].create({
            'name': 'Repartir', 'band_id': self.band_hot.id, 'action_type': 'assign_user',
            'user_ids': (self.user_salesman | self.user_other_salesman).ids,
        })
        leads = self._create_lead() | self._create_lead() | self._create_lead()
        for lead in leads:
            lead._montanes_adjust_score(60, 'Trade fair')
        self.assertEqual(
            leads.mapped('user_id'), self.user_salesman | self.user_other_salesman,
        )
        self.assertEqual([lead.user_id for lead in leads],
                         [self.user_salesman, self.user_other_salesman, self.user_salesman])

    def test_condition_and_convert(self):
        self.env['montanes.band.action'].create({
            'name': 'Convertir', 'band_id': self.band_hot.id, 'action_type': 'convert',
            'domain': "[('expected_revenue', '>=', 5000)]",
        })
        small = self._lead()
        big = self._lead(expected_revenue=8000)
        (small | big)._montanes_adjust_score(60, 'Demo done')
        self.assertEqual(small.type, 'lead')
        self.assertEqual(big.type, 'opportunity')


@tagged('post_install', '-at_install')
class TestFollowup(MontanesScoringCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.band_hot = cls.env.ref('montanes_lead_scoring.score_band_hot')
        cls.band_hot.action_ids.active = False
        cls.env['montanes.followup.rule'].search([]).active = False
        cls.team = cls.env['crm.team'].create({'name': 'Equipo Sur', 'user_id': cls.user_marketing.id})
        cls.rule = cls.env['montanes.followup.rule'].create({
            'band_id': cls.band_hot.id, 'days_without_contact': 3, 'escalate_after_days': 2,
        })

    def test_remind_then_escalate(self):
        with freeze_time('2026-05-04 09:00:00'):
            lead = self._create_lead(user_id=self.user_salesman.id, team_id=self.team.id)
            lead._montanes_adjust_score(60, 'Requested a demo')
            # create_date comes from the database clock, which freeze_time does not move.
            lead._montanes_set_last_contact('email', datetime(2026, 5, 4, 9, 0))
            self.env['montanes.followup.rule']._cron_followup()
            self.assertEqual(lead.montanes_followup_state, 'none')
        with freeze_time('2026-05-07 10:00:00'):
            self.env['montanes.followup.rule']._cron_followup()
            self.assertEqual(lead.montanes_followup_state, 'reminded')
            self.assertEqual(lead.activity_ids.user_id, self.user_salesman)
            self.assertTrue(self.env['crm.lead'].search([
                ('id', '=', lead.id), ('montanes_followup_state', 'in', ('reminded', 'escalated'))]),
                "The lead shows in the 'Without Follow-up' filter")
            self.env['montanes.followup.rule']._cron_followup()
            self.assertEqual(len(lead.activity_ids), 1, "A second run does not remind again")
        with freeze_time('2026-05-09 10:00:00'):
            self.env['montanes.followup.rule']._cron_followup()
            self.assertEqual(lead.montanes_followup_state, 'escalated')
            self.assertEqual(lead.activity_ids.user_id, self.user_salesman | self.user_marketing)
        with freeze_time('2026-05-09 12:00:00'):
            lead.activity_ids.filtered(lambda act: act.user_id == self.user_salesman).action_feedback('Llamado')
            self.assertEqual(lead.montanes_followup_state, 'none', "A contact ends the follow-up")
            self.assertEqual(lead.montanes_last_contact_type, 'activity')

    def _create_digest_leads(self):
        hot = self._create_lead(name='Hotel Miramar: 40 licencias', user_id=self.user_salesman.id)
        hot._montanes_adjust_score(70, 'Pidió presupuesto')
        forgotten = self._create_lead(name='Bodegas Lara', user_id=self.user_salesman.id)
        forgotten.sudo().montanes_followup_state = 'reminded'
        self._create_lead(name='Otro comercial', user_id=self.user_other_salesman.id)

    def _send_digest(self):
        mails = self.env['mail.mail'].search([])
        self.env['res.users']._cron_montanes_send_lead_digest()
        return self.env['mail.mail'].search([('id', 'not in', mails.ids)])

    def test_digest_lists_own_leads(self):
        self._create_digest_leads()
        digests = self._send_digest()
        digest = digests.filtered(lambda mail: self.user_salesman.email in mail.email_to)
        self.assertEqual(len(digest), 1)
        self.assertIn('Hotel Miramar: 40 licencias', digest.body_html)
        self.assertIn('Bodegas Lara', digest.body_html)
        self.assertNotIn('Otro comercial', digest.body_html)
        self.assertFalse(digests.filtered(lambda mail: self.user_other_salesman.email in mail.email_to),
                         "A salesperson with no hot or forgotten lead gets no digest")


@tagged('post_install', '-at_install')
class TestBandCrossingConcurrency(TransactionCase):
    """Two workers raise the same lead's score at the same moment, each in its own transaction."""

    def _run_in_new_cursor(self, function):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = function(env)
            cr.commit()
            return result

    def test_concurrent_adjustments_cross_once_each(self):
        # The test runner holds the registry lock; new environments in threads need it lifted.
        self.startPatcher(patch.object(Registry, '_lock', DummyRLock()))
        lead_id = self._run_in_new_cursor(lambda env: env['crm.lead'].create({
            'name': 'Concurrent band lead', 'email_from': 'bandas@cliente.example',
        }).id)
        self.addCleanup(self._run_in_new_cursor, lambda env: env['crm.lead'].browse(lead_id).unlink())

        first_done = threading.Event()
        second_started = threading.Event()
        attempts = []

        def first_worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env['crm.lead'].browse(lead_id)._montanes_adjust_score(30, 'Trade fair')
                first_done.set()
                second_started.wait(timeout=10)
                time.sleep(1)
                cr.commit()

        def second_worker():
            first_done.wait(timeout=10)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                second_started.set()

                def adjust():
                    attempts.append(1)
                    env['crm.lead'].browse(lead_id)._montanes_adjust_score(30, 'Demo')

                with mute_logger('odoo.sql_db', 'odoo.service.model'):
                    retrying(adjust, env)
                cr.commit()

        threads = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        def read_state(env):
            lead = env['crm.lead'].browse(lead_id)
            crossings = env['montanes.lead.band.crossing'].search([('lead_id', '=', lead_id)], order='id')
            return lead.montanes_score, [(c.old_band_id.code, c.new_band_id.code) for c in crossings]

        score, crossings = self._run_in_new_cursor(read_state)
        self.assertEqual(score, 60)
        self.assertEqual(len(attempts), 2, "The second worker hits the race once, then retries")
        self.assertEqual(crossings, [('cold', 'warm'), ('warm', 'hot')],
                         "Each crossing is recorded, and its actions run, exactly once")


@tagged('post_install', '-at_install')
class TestScoringInSpanish(MontanesScoringCommon):
    """The digest and the validation errors reach Spanish users in Spanish."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['res.lang']._activate_lang('es_ES')
        cls.env['ir.module.module']._load_module_terms(['montanes_lead_scoring'], ['es_ES'], overwrite=True)
        cls.user_salesman.lang = 'es_ES'

    def test_digest_in_spanish(self):
        hot = self._create_lead(name='Hotel Miramar: 40 licencias', user_id=self.user_salesman.id)
        hot._montanes_adjust_score(70, 'Pidió presupuesto')
        forgotten = self._create_lead(name='Bodegas Lara', user_id=self.user_salesman.id)
        forgotten.sudo().montanes_followup_state = 'reminded'
        mails = self.env['mail.mail'].search([])
        self.env['res.users']._cron_montanes_send_lead_digest()
        digest = self.env['mail.mail'].search([
            ('id', 'not in', mails.ids), ('email_to', 'ilike', self.user_salesman.email),
        ])
        self.assertEqual(digest.subject, 'Sus iniciativas de hoy: 1 calientes, 1 sin seguimiento')
        self.assertIn('Hola Test Salesman', digest.body_html)
        self.assertIn('Iniciativas calientes (1)', digest.body_html)
        self.assertIn('Iniciativas sin seguimiento (1)', digest.body_html)

    def test_followup_activity_in_owner_language(self):
        band_hot = self.env.ref('montanes_lead_scoring.score_band_hot')
        band_hot.action_ids.active = False
        self.env['montanes.followup.rule'].search([]).active = False
        self.env['montanes.followup.rule'].create({'band_id': band_hot.id, 'days_without_contact': 3})
        with freeze_time('2026-05-04 09:00:00'):
            lead = self._create_lead(user_id=self.user_salesman.id)
            lead._montanes_adjust_score(60, 'Pidió una demo')
            lead._montanes_set_last_contact('email', datetime(2026, 5, 4, 9, 0))
        with freeze_time('2026-05-07 10:00:00'):
            # Odoo's ir.cron runs jobs with an empty context, so without a language.
            self.env['montanes.followup.rule'].with_context({})._cron_followup()
        self.assertEqual(lead.activity_ids.summary, 'Seguimiento: sin contacto desde hace 3 días')

    def test_notify_sends_one_mail_in_owner_language(self):
        band_hot = self.env.ref('montanes_lead_scoring.score_band_hot')
        band_hot.action_ids.active = False
        self.env['montanes.band.action'].create({
            'name': 'Avisar', 'band_id': band_hot.id, 'action_type': 'notify',
        })
        lead = self._create_lead(name='Clínica Arnedo', user_id=self.user_salesman.id)
        owner_partner = self.user_salesman.partner_id
        mails = self.env['mail.mail'].search([])

        # A marketing user's adjustment crosses the band: Odoo would notify the owner of a
        # message addressed to them, on top of the action's own e-mail.
        lead.with_user(self.user_marketing).with_context({})._montanes_adjust_score(60, 'Pidió una demo')
        new_mails = self.env['mail.mail'].search([('id', 'not in', mails.ids)])
        to_owner = new_mails.filtered(
            lambda mail: owner_partner in mail.recipient_ids or self.user_salesman.email in (mail.email_to or ''))
        self.assertEqual(len(to_owner), 1)
        self.assertEqual(to_owner.subject, 'Clínica Arnedo: Caliente')
        self.assertIn('La iniciativa ha pasado de Frío a Caliente con 60 puntos.', to_owner.body_html)
        note = lead.message_ids.filtered(lambda message: 'Caliente con 60 puntos' in (message.body or ''))
        self.assertEqual(len(note), 1, 'The crossing is logged in the chatter')

    def test_validation_errors_in_spanish(self):
        Rule = self.env['montanes.scoring.rule'].with_context(lang='es_ES')
        with self.assertRaisesRegex(ValidationError, 'La vida media de la regla «Abre» debe ser de al menos 1 día'):
            Rule.create({'name': 'Abre', 'rule_type': 'behaviour', 'event_type': 'email_open', 'points': 5,
                         'validity': 'half_life', 'half_life_days': 0})
        band = self.env.ref('montanes_lead_scoring.score_band_warm').with_context(lang='es_ES')
        with self.assertRaisesRegex(ValidationError, 'se solapan'):
            band.min_score = self.env.ref('montanes_lead_scoring.score_band_hot').min_score
        with self.assertRaisesRegex(ValidationError, 'no_such_field, que no existe'):
            self.env['montanes.band.action'].with_context(lang='es_ES').create({
                'name': 'Mala', 'band_id': band.id, 'action_type': 'convert', 'domain': "[('no_such_field', '=', 1)]",
            })
