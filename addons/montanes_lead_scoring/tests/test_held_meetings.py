from datetime import datetime, timedelta

from odoo import SUPERUSER_ID, api
from odoo.tests import TransactionCase, tagged
from odoo.tests.common import freeze_time

from .common import MontanesScoringCommon

# Monday 2 March 2026, 10:00 UTC: when the tests schedule their meetings.
SCHEDULED_AT = datetime(2026, 3, 2, 10, 0)
# The meeting of the tests: Wednesday 4 March 2026 from 9:00 to 10:00 UTC.
MEETING_START = datetime(2026, 3, 4, 9, 0)
MEETING_STOP = datetime(2026, 3, 4, 10, 0)


@tagged('post_install', '-at_install')
class TestHeldMeetings(MontanesScoringCommon):
    """A meeting scores once it has been held, never when it is scheduled."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rule_meeting = cls.env['montanes.scoring.rule'].create({
            'name': 'Meeting held',
            'rule_type': 'behaviour',
            'event_type': 'meeting',
            'points': 25,
        })
        cls.partner_ines = cls.env['res.partner'].create({
            'name': 'Inés Calvo Ortega',
            'email': 'ines.calvo@transportescalvo.example',
        })
        cls.lead = cls._create_lead(
            name='Transportes Calvo: 30 licencias',
            type='opportunity',
            partner_id=cls.partner_ines.id,
        )

    def _schedule_meeting(self, **values):
        with freeze_time(SCHEDULED_AT):
            return self.env['calendar.event'].create({
                'name': 'Demostración de licencias',
                'start': MEETING_START,
                'stop': MEETING_STOP,
                'opportunity_id': self.lead.id,
                'partner_ids': [(4, self.partner_ines.id)],
                **values,
            })

    def _run_cron(self, at):
        with freeze_time(at):
            return self.env['calendar.event']._cron_montanes_register_held_meetings()

    def test_scheduled_meeting_scores_nothing(self):
        meeting = self._schedule_meeting()

        self.assertEqual(self._run_cron(SCHEDULED_AT + timedelta(hours=1)), 0)
        self.assertEqual(self._run_cron(MEETING_STOP - timedelta(minutes=1)), 0, 'it has not ended yet')
        self.assertEqual(self.lead.montanes_score_engagement, 0)
        self.assertFalse(self.lead.montanes_last_contact_date)
        self.assertFalse(meeting.montanes_meeting_outcome)

    def test_held_meeting_scores_once(self):
        meeting = self._schedule_meeting()

        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(minutes=5)), 1)
        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(hours=1)), 0, 'a meeting is checked once')
        meeting._montanes_register_held_meetings()

        self.assertEqual(meeting.montanes_meeting_outcome, 'held')
        self.assertEqual(self.lead.montanes_score_engagement, 25)
        line = self.lead.montanes_score_line_ids
        self.assertEqual(len(line), 1, 'registering the meeting again adds no entry')
        self.assertEqual(line.source_ref, f'calendar.event,{meeting.id}')
        self.assertEqual(line.date, MEETING_STOP)
        self.assertEqual(self.lead.montanes_last_contact_type, 'meeting')
        self.assertEqual(self.lead.montanes_last_contact_date, MEETING_STOP, 'a held meeting is a contact')

    def test_every_time_rule_keys_meeting(self):
        """An "every time" rule counts each meeting once, whatever its date."""
        self.rule_meeting.repeat_policy = 'every_time'
        meeting = self._schedule_meeting()
        self._run_cron(MEETING_STOP + timedelta(hours=1))
        with freeze_time(MEETING_STOP + timedelta(days=1)):
            meeting.write({'start': MEETING_START + timedelta(days=1), 'stop': MEETING_STOP + timedelta(days=1)})
            meeting._montanes_register_held_meetings()

        line = self.lead.montanes_score_line_ids
        self.assertEqual(len(line), 1, 'registering the meeting again at another date adds no entry')
        self.assertEqual(line.source_ref, f'calendar.event,{meeting.id}@calendar.event,{meeting.id}')
        self.assertEqual(line.date, MEETING_STOP)

    def test_cancelled_meeting_scores_nothing(self):
        meeting = self._schedule_meeting()
        meeting.action_archive()

        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(hours=1)), 0)
        self.assertEqual(self.lead.montanes_score_engagement, 0)
        self.assertFalse(self.lead.montanes_last_contact_date)

    def test_deleted_meeting_scores_nothing(self):
        self._schedule_meeting().unlink()

        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(hours=1)), 0)
        self.assertEqual(self.lead.montanes_score_engagement, 0)
        self.assertFalse(self.lead.montanes_score_line_ids)

    def test_meeting_declined_by_contact(self):
        meeting = self._schedule_meeting()
        attendee = meeting.attendee_ids.filtered(lambda attendee: attendee.partner_id == self.partner_ines)
        attendee.do_decline()

        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(hours=1)), 1)
        self.assertEqual(meeting.montanes_meeting_outcome, 'declined')
        self.assertEqual(self.lead.montanes_score_engagement, 0)
        self.assertFalse(self.lead.montanes_last_contact_date)

    def test_meeting_declined_by_colleague_scores(self):
        colleague = self.env['res.partner'].create({'name': 'Jorge Calvo Ortega'})
        meeting = self._schedule_meeting(partner_ids=[(4, self.partner_ines.id), (4, colleague.id)])
        meeting.attendee_ids.filtered(lambda attendee: attendee.partner_id == colleague).do_decline()

        self._run_cron(MEETING_STOP + timedelta(hours=1))
        self.assertEqual(meeting.montanes_meeting_outcome, 'held')
        self.assertEqual(self.lead.montanes_score_engagement, 25)

    def test_meeting_moved_earlier_scores_when_held(self):
        meeting = self._schedule_meeting()
        with freeze_time(SCHEDULED_AT):
            meeting.write({'start': MEETING_START + timedelta(days=7), 'stop': MEETING_STOP + timedelta(days=7)})

        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(hours=1)), 0, 'it was postponed a week')
        self.assertEqual(self._run_cron(MEETING_STOP + timedelta(days=7, hours=1)), 1)
        self.assertEqual(self.lead.montanes_score_line_ids.date, MEETING_STOP + timedelta(days=7))

    def test_meeting_linked_by_document(self):
        """A meeting scheduled from a lead that crm did not set as its opportunity still counts."""
        lead = self._create_lead(name='Papelera Norte', partner_id=self.partner_ines.id)
        with freeze_time(SCHEDULED_AT):
            meeting = self.env['calendar.event'].create({
                'name': 'Llamada de presentación',
                'start': MEETING_START,
                'stop': MEETING_STOP,
                'res_model_id': self.env['ir.model']._get_id('crm.lead'),
                'res_id': lead.id,
            })
        self.assertFalse(meeting.opportunity_id)

        self._run_cron(MEETING_STOP + timedelta(hours=1))
        self.assertEqual(lead.montanes_score_engagement, 25)

    def test_meeting_without_rule_is_contact(self):
        self.rule_meeting.active = False
        meeting = self._schedule_meeting()

        self._run_cron(MEETING_STOP + timedelta(hours=1))
        self.assertEqual(meeting.montanes_meeting_outcome, 'held')
        self.assertEqual(self.lead.montanes_score_engagement, 0)
        self.assertEqual(self.lead.montanes_last_contact_date, MEETING_STOP)


@tagged('post_install', '-at_install')
class TestHeldMeetingsConcurrency(TransactionCase):
    """Two workers running the held-meeting job at once, each in its own committed transaction."""

    def setUp(self):
        super().setUp()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {'tracking_disable': True})
            self.rule_id = env['montanes.scoring.rule'].create({
                'name': 'Meeting held (concurrency test)',
                'rule_type': 'behaviour',
                'event_type': 'meeting',
                'points': 25,
            }).id
            lead = env['crm.lead'].create({'name': 'Concurrency test lead', 'type': 'opportunity'})
            self.lead_id = lead.id
            stop = datetime.now().replace(microsecond=0) + timedelta(hours=1)
            self.meeting_id = env['calendar.event'].create({
                'name': 'Concurrency test meeting',
                'start': stop - timedelta(hours=1),
                'stop': stop,
                'opportunity_id': lead.id,
            }).id
        self.addCleanup(self._delete_records)

    def _delete_records(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env['calendar.event'].browse(self.meeting_id).unlink()
            env['crm.lead'].browse(self.lead_id).unlink()
            env['montanes.scoring.rule'].browse(self.rule_id).unlink()

    def test_second_worker_skips_locked_meeting(self):
        after_end = datetime.now() + timedelta(hours=2)
        with self.registry.cursor() as first_cr, self.registry.cursor() as second_cr, freeze_time(after_end):
            first_env = api.Environment(first_cr, SUPERUSER_ID, {})
            second_env = api.Environment(second_cr, SUPERUSER_ID, {})
            second_cr.execute("SET LOCAL lock_timeout = '5s'")

            first_checked = first_env['calendar.event']._cron_montanes_register_held_meetings()
            second_events = second_env['calendar.event']._montanes_lock_ended_meetings(10)
            first_cr.commit()

        self.assertGreaterEqual(first_checked, 1)
        self.assertNotIn(self.meeting_id, second_events.ids, 'the second worker skips the locked meeting')
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM montanes_lead_score_line WHERE lead_id = %s AND rule_id = %s",
                       [self.lead_id, self.rule_id])
            self.assertEqual(cr.fetchone(), (1,))
            cr.execute("SELECT montanes_meeting_outcome FROM calendar_event WHERE id = %s", [self.meeting_id])
            self.assertEqual(cr.fetchone(), ('held',))
