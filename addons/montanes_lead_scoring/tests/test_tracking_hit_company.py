from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.tests import tagged

from .common import MontanesScoringCommon

FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'


@tagged('post_install', '-at_install')
class TestTrackingHitCompany(MontanesScoringCommon):
    """Tracking hits belong to a company, and marketing users read those of their companies only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_north = cls.env['res.company'].create({'name': 'Montañés Norte'})
        cls.lead_main = cls._create_lead(name='Hotel Miramar: licencias', email_from='reservas@miramar.example')
        cls.lead_north = cls._create_lead(
            name='Conservas Cantábrico: licencias',
            email_from='compras@conservascantabrico.example',
            company_id=cls.company_north.id,
        )
        cls.partner_north = cls.env['res.partner'].create({
            'name': 'Astilleros Nervión',
            'email': 'info@astillerosnervion.example',
            'company_id': cls.company_north.id,
        })
        cls.user_marketing_main = cls._create_marketing_user('montanes_marketing_main', cls.company)
        cls.user_marketing_north = cls._create_marketing_user('montanes_marketing_north', cls.company_north)
        cls.mailing = cls.env['mailing.mailing'].create({
            'name': 'Renovación 2026',
            'subject': 'Renueve sus licencias',
            'mailing_model_id': cls.env['ir.model']._get_id('crm.lead'),
            'user_id': cls.user_marketing_north.id,
        })

    @classmethod
    def _create_marketing_user(cls, login, company):
        return mail_new_test_user(
            cls.env,
            login=login,
            name=login,
            email=f'{login}@montanessoluciones.example',
            groups='mass_mailing.group_mass_mailing_user',
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
        )

    def _record_open(self, record):
        trace = self.env['mailing.trace'].create({
            'model': record._name,
            'res_id': record.id,
            'email': record.email_from if record._name == 'crm.lead' else record.email,
            'mass_mailing_id': self.mailing.id,
        })
        self.env['montanes.tracking.hit']._record_email_hit(trace, 'email_open', FIREFOX, '203.0.113.9')
        return self.env['montanes.tracking.hit'].search([('trace_id', '=', trace.id)])

    def test_hit_takes_lead_company(self):
        self.assertEqual(self._record_open(self.lead_main).company_id, self.company)
        self.assertEqual(self._record_open(self.lead_north).company_id, self.company_north)

    def test_hit_without_lead_takes_recipient_company(self):
        self.assertEqual(self._record_open(self.partner_north).company_id, self.company_north)

    def test_contact_hit_takes_mailing_owner_company(self):
        contact = self.env['mailing.contact'].create({'name': 'Ana Ruiz', 'email': 'ana.ruiz@example.com'})
        self.assertEqual(self._record_open(contact).company_id, self.company_north)

    def test_marketing_user_reads_own_company_hits(self):
        hit_main = self._record_open(self.lead_main)
        hit_north = self._record_open(self.lead_north)
        Hit = self.env['montanes.tracking.hit']

        self.assertEqual(Hit.with_user(self.user_marketing_main).search([]), hit_main)
        self.assertEqual(Hit.with_user(self.user_marketing_north).search([]), hit_north)

        self.user_marketing_main.company_ids = [(4, self.company_north.id)]
        both = Hit.with_user(self.user_marketing_main).with_context(
            allowed_company_ids=[self.company.id, self.company_north.id])
        self.assertEqual(both.search([]), hit_main | hit_north, 'a user of both companies reads both')
