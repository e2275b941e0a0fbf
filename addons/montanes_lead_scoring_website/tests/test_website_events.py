import json

from odoo.tests import HttpCase, tagged

from odoo.addons.montanes_lead_scoring.tests.common import MontanesScoringCommon

FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'
# Odoo's own bot list (web's ir.http.bots) does not know this user agent, so Odoo tracks its
# page views, but the lead scoring machine markers ('python-') do.
HTTP_LIBRARY = 'python-requests/2.32.3'


@tagged('post_install', '-at_install')
class TestWebsiteEvents(MontanesScoringCommon, HttpCase):
    """Leads from Odoo's website contact form and the tracked pages their visitors view."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Website pages are served with a read-only cursor when the registry runs in read-only
        # mode, and then Odoo records no page view; Odoo's own visitor tests turn it off too.
        cls.set_registry_readonly_mode(False)
        Rule = cls.env['montanes.scoring.rule']
        cls.rule_page = Rule.create({
            'name': 'Page visited',
            'rule_type': 'behaviour',
            'event_type': 'page_view',
            'points': 2,
        })
        Rule.create({
            'name': 'Information requested',
            'rule_type': 'behaviour',
            'event_type': 'info_request',
            'points': 25,
        })
        cls.website = cls.env['website'].get_current_website()
        cls.page_antivirus, cls.page_backup, cls.page_legal = (
            cls._create_page(url, track)
            for url, track in [('/licencias-antivirus', True), ('/copias-de-seguridad', True), ('/aviso-legal', False)]
        )

    @classmethod
    def _create_page(cls, url, track):
        key = f'montanes_lead_scoring_website_test.page{url.replace("-", "_").replace("/", "_")}'
        view = cls.env['ir.ui.view'].create({
            'name': url,
            'type': 'qweb',
            'key': key,
            'arch': f'<t t-name="{key}"><t t-call="website.layout"><p>{url}</p></t></t>',
            'track': track,
        })
        return cls.env['website.page'].create({'view_id': view.id, 'url': url, 'website_published': True})

    def setUp(self):
        super().setUp()
        # A saved public session keeps one website visitor across the requests of a test.
        self.authenticate(None, None)

    def _send_contact_form(self, user_agent=FIREFOX, subject='Presupuesto de 40 licencias'):
        response = self.url_open('/website/form/crm.lead', data={
            'contact_name': 'Sergio Ibáñez Roca',
            'email_from': 'sergio.ibanez@gestoriaroca.example',
            'name': subject,
            'description': 'Queremos renovar el antivirus de toda la oficina.',
        }, headers={'User-Agent': user_agent})
        self.assertEqual(response.status_code, 200)
        return self.env['crm.lead'].browse(json.loads(response.content)['id'])

    def _view(self, page, user_agent=FIREFOX, query=''):
        response = self.url_open(page.url + query, headers={'User-Agent': user_agent})
        self.assertEqual(response.status_code, 200)

    def test_contact_form_is_information_request(self):
        lead = self._send_contact_form()

        self.assertEqual(lead.montanes_score_engagement, 25)
        line = lead.montanes_score_line_ids
        self.assertEqual(line.event_type, 'info_request')
        self.assertEqual(line.source_ref, f'crm.lead,{lead.id},website_form')
        self.assertEqual(lead.montanes_last_interest, 'Presupuesto de 40 licencias')

    def test_page_views_of_lead_visitor(self):
        lead = self._send_contact_form()
        self._view(self.page_antivirus)
        self._view(self.page_antivirus, query='?utm_source=correo')
        self._view(self.page_backup)
        self._view(self.page_legal)

        page_lines = lead.montanes_score_line_ids.filtered(lambda line: line.event_type == 'page_view')
        base_url = self.base_url()
        self.assertEqual(
            sorted(page_lines.mapped('source_ref')),
            [f'{base_url}/copias-de-seguridad', f'{base_url}/licencias-antivirus'],
            'each tracked page scores once, without its query; untracked pages do not score',
        )
        self.assertEqual(lead.montanes_score_engagement, 29)
        self.assertEqual(lead.montanes_last_interest, f'{base_url}/copias-de-seguridad')

    def test_page_rule_url_pattern(self):
        self.rule_page.url_pattern = '*/licencias-*'
        lead = self._send_contact_form()
        self._view(self.page_antivirus)
        self._view(self.page_backup)

        self.assertEqual(lead.montanes_score_engagement, 27)

    def test_visitor_without_lead_scores_nothing(self):
        lines = self.env['montanes.lead.score.line'].search_count([])
        self._view(self.page_antivirus)

        self.assertEqual(self.env['montanes.lead.score.line'].search_count([]), lines)
        self.assertEqual(self.env['website.track'].search_count([('url', 'like', '/licencias-antivirus')]), 1)

    def test_machine_visitor_scores_nothing(self):
        lead = self._send_contact_form(user_agent=HTTP_LIBRARY)
        self._view(self.page_antivirus, user_agent=HTTP_LIBRARY)

        visitor = lead.sudo().visitor_ids
        self.assertEqual(len(visitor), 1, 'website_crm links the visitor to the lead')
        self.assertEqual(len(visitor.website_track_ids), 1, 'Odoo tracks the page view')
        self.assertEqual(lead.montanes_score, 0, 'neither the form nor the page view of a machine scores')
        self.assertFalse(lead.montanes_score_line_ids)

    def test_orm_track_scores_every_time(self):
        """Views recorded through website.track create() count each track for "every time" rules."""
        self.rule_page.repeat_policy = 'every_time'
        lead = self._create_lead(name='Gestoría Roca')
        visitor = self.env['website.visitor'].create({
            'access_token': 'f' * 32,
            'website_id': self.website.id,
            'lead_ids': [(4, lead.id)],
        })
        self.env['website.track'].create([
            {'visitor_id': visitor.id, 'url': '/shop/licencia-antivirus-10-puestos'},
            {'visitor_id': visitor.id, 'url': '/shop/licencia-antivirus-10-puestos'},
            {'visitor_id': visitor.id, 'page_id': self.page_legal.id},
        ])

        lines = lead.montanes_score_line_ids
        self.assertEqual(len(lines), 2, 'the track without a URL scores nothing')
        self.assertEqual(set(lines.mapped('event_ref')), {'/shop/licencia-antivirus-10-puestos'})
        self.assertEqual(lead.montanes_score_engagement, 4)
