from datetime import datetime, timedelta

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.modules.module import load_script
from odoo.tests import tagged
from odoo.tests.common import freeze_time
from odoo.tools.misc import file_path

from ..hooks import post_init_hook
from .common import MontanesScoringCommon

FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'

# Monday 2 March 2026, 10:00 UTC: when version 19.0.1.0.0 booked the meetings of the tests.
BOOKED_AT = datetime(2026, 3, 2, 10, 0)
# The upgrade to 19.0.1.1.0, on Tuesday 3 March 2026 at 12:00 UTC.
UPGRADED_AT = datetime(2026, 3, 3, 12, 0)


def load_migration(stage):
    """Return the ``stage`` ('post' or 'end') script of the 19.0.1.1.0 migration as a module."""
    path = file_path(f'montanes_lead_scoring/migrations/19.0.1.1.0/{stage}-migrate.py')
    return load_script(path, f'montanes_lead_scoring_migration_19_0_1_1_0_{stage}')


@tagged('post_install', '-at_install')
class TestMigrationHitCompany(MontanesScoringCommon):
    """The upgrade gives the hits of version 19.0.1.0.0 the company that new hits get."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.migration = load_migration('end')
        cls.company_north = cls.env['res.company'].create({'name': 'Montañés Norte'})
        cls.user_north = mail_new_test_user(
            cls.env,
            login='montanes_marketing_north',
            name='Marketing Norte',
            email='marketing.norte@montanessoluciones.example',
            groups='mass_mailing.group_mass_mailing_user',
            company_id=cls.company_north.id,
            company_ids=[(6, 0, cls.company_north.ids)],
        )
        cls.lead_north = cls._create_lead(
            name='Conservas Cantábrico: licencias',
            email_from='compras@conservascantabrico.example',
            company_id=cls.company_north.id,
        )
        cls.lead_without_company = cls._create_lead(
            name='Talleres Sin Empresa', email_from='taller@sinempresa.example', company_id=False)

    def _mailing(self, model, user):
        return self.env['mailing.mailing'].create({
            'name': f'Renovación 2026 ({model})',
            'subject': 'Renueve sus licencias',
            'mailing_model_id': self.env['ir.model']._get_id(model),
            'user_id': user.id,
        })

    def _old_hit(self, mailing=None, model=None, res_id=None, lead=None, nonce=None):
        """Insert a hit as version 19.0.1.0.0 did, without company, and return it."""
        trace = self.env['mailing.trace']
        if mailing:
            trace = trace.create({
                'model': model, 'res_id': res_id, 'email': 'lector@example.com', 'mass_mailing_id': mailing.id,
            })
        hit_id = self.env['montanes.tracking.hit']._insert_hit({
            'hit_type': 'email_open' if trace else 'page_view',
            'classification': 'human',
            'trace_id': trace.id,
            'mailing_id': mailing.id if mailing else False,
            'lead_id': lead.id if lead else False,
            'user_agent': FIREFOX,
            'nonce': nonce,
        })
        return self.env['montanes.tracking.hit'].browse(hit_id)

    def test_hit_on_lead_takes_lead_company(self):
        mailing = self._mailing('crm.lead', self.user_north)
        hit_north = self._old_hit(mailing, 'crm.lead', self.lead_north.id, lead=self.lead_north)
        hit_no_company = self._old_hit(
            mailing, 'crm.lead', self.lead_without_company.id, lead=self.lead_without_company)
        hit_website = self._old_hit(lead=self.lead_north, nonce='website-hit-on-lead')

        self.migration.fill_tracking_hit_companies(self.env)
        self.assertEqual(hit_north.company_id, self.company_north)
        self.assertEqual(hit_website.company_id, self.company_north)
        self.assertFalse(hit_no_company.company_id,
                         "a lead without company gives none, as for new hits: no fallback to the mailing")

    def test_hit_without_lead_takes_recipient_company(self):
        partner_north = self.env['res.partner'].create({
            'name': 'Astilleros Nervión', 'email': 'info@astillerosnervion.example',
            'company_id': self.company_north.id,
        })
        hit = self._old_hit(self._mailing('res.partner', self.env.user), 'res.partner', partner_north.id)

        self.migration.fill_tracking_hit_companies(self.env)
        self.assertEqual(hit.company_id, self.company_north)

    def test_hit_without_lead_takes_computed_recipient_company(self):
        """A recipient model whose company field is not stored is read through the ORM."""
        member = self.env['crm.team.member'].create({
            'crm_team_id': self.env['crm.team'].create({'name': 'Equipo Norte'}).id,
            'user_id': self.user_north.id,
        })
        self.assertFalse(member._fields['company_id'].store)
        hit = self._old_hit(self._mailing('res.partner', self.env.user), 'crm.team.member', member.id)

        self.migration.fill_tracking_hit_companies(self.env)
        self.assertEqual(hit.company_id, self.company_north)

    def test_hit_without_lead_takes_mailing_user_company(self):
        contact = self.env['mailing.contact'].create({'name': 'Ana Ruiz', 'email': 'ana.ruiz@example.com'})
        partner_without_company = self.env['res.partner'].create({'name': 'Papelera Norte'})
        deleted_lead = self._create_lead(name='Lead borrado', email_from='borrado@example.com')
        deleted_lead_id = deleted_lead.id
        deleted_lead.unlink()
        hit_contact = self._old_hit(self._mailing('mailing.contact', self.user_north), 'mailing.contact', contact.id)
        hit_partner = self._old_hit(
            self._mailing('res.partner', self.user_north), 'res.partner', partner_without_company.id)
        hit_deleted_lead = self._old_hit(self._mailing('crm.lead', self.user_north), 'crm.lead', deleted_lead_id)

        self.migration.fill_tracking_hit_companies(self.env)
        self.assertEqual(hit_contact.company_id, self.company_north, "a mailing contact has no company")
        self.assertEqual(hit_partner.company_id, self.company_north, "the contact has no company")
        self.assertEqual(hit_deleted_lead.company_id, self.company_north, "the lead no longer exists")

    def test_hit_without_lead_or_mailing_keeps_no_company(self):
        hit = self._old_hit(nonce='website-hit-without-lead')

        self.migration.fill_tracking_hit_companies(self.env)
        self.assertFalse(hit.company_id)

    def test_hit_company_set_once(self):
        hit = self._old_hit(self._mailing('crm.lead', self.user_north), 'crm.lead', self.lead_north.id,
                            lead=self.lead_north)
        new_hit = self._old_hit(lead=self.lead_north, nonce='hit-of-the-new-version')
        new_hit.env.cr.execute(
            "UPDATE montanes_tracking_hit SET company_id = %s WHERE id = %s", [self.company.id, new_hit.id])

        self.assertGreaterEqual(self.migration.fill_tracking_hit_companies(self.env), 1)
        self.assertEqual(self.migration.fill_tracking_hit_companies(self.env), 0, "a second run changes nothing")
        self.assertEqual(hit.company_id, self.company_north)
        self.assertEqual(new_hit.company_id, self.company, "a hit that has a company keeps it")


@tagged('post_install', '-at_install')
class TestMigrationMeetings(MontanesScoringCommon):
    """After the upgrade, the held-meeting cron scores no meeting that version 19.0.1.0.0 scored."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.migration = load_migration('post')
        Rule = cls.env['montanes.scoring.rule']
        cls.rule_every_time = Rule.create({
            'name': 'Meeting, every time',
            'rule_type': 'behaviour',
            'event_type': 'meeting',
            'repeat_policy': 'every_time',
            'points': 25,
        })
        cls.rule_once = Rule.create({
            'name': 'Meeting, once per meeting',
            'rule_type': 'behaviour',
            'event_type': 'meeting',
            'points': 10,
        })
        cls.lead = cls._create_lead(name='Transportes Calvo: 30 licencias', type='opportunity')

    def _book_meeting(self, start):
        """Book a one-hour meeting of the lead on BOOKED_AT, and score it as version 19.0.1.0.0
        did: at booking, dated at its start or at the booking if it starts later."""
        # Created before its start, so that the current create() leaves it to the cron.
        with freeze_time(start - timedelta(days=1)):
            meeting = self.env['calendar.event'].create({
                'name': 'Demostración de licencias',
                'start': start,
                'stop': start + timedelta(hours=1),
                'opportunity_id': self.lead.id,
            })
        with freeze_time(BOOKED_AT):
            self.lead._montanes_register_event(
                'meeting', f'calendar.event,{meeting.id}', event_date=min(start, BOOKED_AT), description=meeting.name)
        return meeting

    def _upgrade(self):
        with freeze_time(UPGRADED_AT):
            self.migration.rekey_every_time_meeting_entries(self.env.cr)
            self.env.invalidate_all()
            self.env['calendar.event']._montanes_skip_ended_meetings()

    def _run_cron(self, at):
        with freeze_time(at):
            return self.env['calendar.event']._cron_montanes_register_held_meetings()

    def test_meeting_booked_before_upgrade_scores_once(self):
        start = datetime(2026, 3, 5, 9, 0)
        meeting = self._book_meeting(start)
        self.assertEqual(
            set(self.lead.montanes_score_line_ids.mapped('source_ref')),
            {f'calendar.event,{meeting.id}@{BOOKED_AT.isoformat()}', f'calendar.event,{meeting.id}'},
            "version 19.0.1.0.0 keyed the every-time entry with the booking time",
        )

        self._upgrade()
        self.assertFalse(meeting.montanes_meeting_outcome, "the meeting has not ended")
        self.assertEqual(self._run_cron(meeting.stop + timedelta(hours=1)), 1)

        self.assertEqual(meeting.montanes_meeting_outcome, 'held')
        lines = self.lead.montanes_score_line_ids
        self.assertEqual(len(lines), 2, "each rule keeps the single entry it gave at booking")
        self.assertEqual(set(lines.mapped('date')), {BOOKED_AT})
        self.assertIn(f'calendar.event,{meeting.id}@calendar.event,{meeting.id}', lines.mapped('source_ref'))
        self.assertEqual(self.lead.montanes_score_engagement, 35)
        self.assertEqual(self.lead.montanes_last_contact_date, meeting.stop,
                         "the held meeting is the lead's last contact")

    def test_meeting_moved_after_upgrade_scores_once(self):
        meeting = self._book_meeting(datetime(2026, 3, 5, 9, 0))
        self._upgrade()
        with freeze_time(UPGRADED_AT):
            meeting.write({'start': datetime(2026, 3, 12, 9, 0), 'stop': datetime(2026, 3, 12, 10, 0)})

        self._run_cron(datetime(2026, 3, 12, 11, 0))
        self.assertEqual(meeting.montanes_meeting_outcome, 'held')
        self.assertEqual(len(self.lead.montanes_score_line_ids), 2)

    def test_meeting_ended_before_upgrade_not_checked(self):
        meeting = self._book_meeting(datetime(2026, 2, 20, 9, 0))
        self._upgrade()

        self.assertEqual(meeting.montanes_meeting_outcome, 'not_checked')
        self.assertEqual(self._run_cron(UPGRADED_AT + timedelta(hours=1)), 0)
        self.assertEqual(len(self.lead.montanes_score_line_ids), 2)
        self.assertEqual(self.lead.montanes_score_engagement, 35)

    def test_rekey_leaves_other_entries(self):
        meeting = self._book_meeting(datetime(2026, 3, 5, 9, 0))
        self.lead._montanes_register_event('meeting', 'calendar.event,999999', event_date=BOOKED_AT,
                                           occurrence_ref='calendar.event,999999')
        self.lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        sources = set(self.lead.montanes_score_line_ids.mapped('source_ref'))

        self.assertEqual(self.migration.rekey_every_time_meeting_entries(self.env.cr), 1)
        self.assertEqual(self.migration.rekey_every_time_meeting_entries(self.env.cr), 0, "a second run finds none")
        self.lead.montanes_score_line_ids.invalidate_recordset(['source_ref'])
        self.assertEqual(
            set(self.lead.montanes_score_line_ids.mapped('source_ref')) - sources,
            {f'calendar.event,{meeting.id}@calendar.event,{meeting.id}'},
        )


@tagged('post_install', '-at_install')
class TestInstallOnExistingMeetings(MontanesScoringCommon):
    """Installing the module on a CRM with meetings scores none of those that had ended."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['montanes.scoring.rule'].create({
            'name': 'Meeting held',
            'rule_type': 'behaviour',
            'event_type': 'meeting',
            'points': 25,
        })
        cls.partner = cls.env['res.partner'].create({'name': 'Inés Calvo Ortega'})
        cls.lead = cls._create_lead(name='Transportes Calvo', type='opportunity', partner_id=cls.partner.id)

    def _existing_meeting(self, start, **values):
        """Create a one-hour meeting as the CRM had it before the module: no outcome."""
        # Created before its start, so that the current create() leaves it to the cron.
        with freeze_time(start - timedelta(days=1)):
            return self.env['calendar.event'].create({
                'name': 'Visita comercial',
                'start': start,
                'stop': start + timedelta(hours=1),
                **values,
            })

    def test_install_hook_skips_ended_meetings(self):
        ended = self._existing_meeting(datetime(2026, 2, 20, 9, 0), opportunity_id=self.lead.id)
        archived = self._existing_meeting(datetime(2026, 2, 21, 9, 0), opportunity_id=self.lead.id)
        archived.action_archive()
        from_document = self._existing_meeting(
            datetime(2026, 2, 22, 9, 0), res_model_id=self.env['ir.model']._get_id('crm.lead'), res_id=self.lead.id)
        without_lead = self._existing_meeting(datetime(2026, 2, 23, 9, 0))
        future = self._existing_meeting(datetime(2026, 3, 5, 9, 0), opportunity_id=self.lead.id)

        with freeze_time(UPGRADED_AT):
            post_init_hook(self.env)
        self.assertEqual((ended | archived | from_document).mapped('montanes_meeting_outcome'), ['not_checked'] * 3)
        self.assertFalse(without_lead.montanes_meeting_outcome, "a meeting without lead is never checked")
        self.assertFalse(future.montanes_meeting_outcome)

        archived.action_unarchive()
        with freeze_time(future.stop + timedelta(hours=1)):
            checked = self.env['calendar.event']._cron_montanes_register_held_meetings()
        self.assertEqual(checked, 1, "only the meeting that ends after the installation is checked")
        self.assertEqual(future.montanes_meeting_outcome, 'held')
        self.assertEqual(self.lead.montanes_score_line_ids.event_ref, f'calendar.event,{future.id}')
        self.assertEqual(self.lead.montanes_last_contact_date, future.stop)
