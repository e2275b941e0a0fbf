import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from odoo import fields
from odoo.addons.mass_mailing.tests.common import MassMailCase
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import MontanesScoringCommon

# User agents as they reach the open pixel and the link redirect.
FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'
GOOGLE_IMAGE_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)'
SLACK_PREVIEW = 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)'

WEBSITE_ORIGIN = 'https://www.montanessoluciones.example'


@tagged('post_install', '-at_install')
class TestMachineHits(MontanesScoringCommon, MassMailCase, HttpCase):
    """Opens and clicks of a real mass mailing, by people and by machines."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead_pilar = cls._create_lead(
            name='Construcciones Valle: licencias',
            contact_name='Pilar Garrido Domínguez',
            email_from='pilar.garrido@construccionesvalle.example',
        )
        cls.mailing = cls.env['mailing.mailing'].create({
            'name': 'Renovación de licencias 2026',
            'subject': 'Renueve sus licencias antes de fin de año',
            'email_from': 'marketing@montanessoluciones.example',
            'mailing_type': 'mail',
            'mailing_model_id': cls.env['ir.model']._get_id('crm.lead'),
            'mailing_domain': repr([('id', 'in', cls.lead_pilar.ids)]),
            'body_html': '<p>Hola <t t-out="object.contact_name"/>,<br/>'
                         f'vea las <a href="{WEBSITE_ORIGIN}/ofertas">ofertas</a> '
                         'y la <a href="https://www.example.com/condiciones">letra pequeña</a>.</p>',
        })

    def _send_mailing(self, seconds_ago):
        """Send the mailing and return its only trace, sent ``seconds_ago`` seconds before now."""
        with self.mock_mail_gateway(mail_unlink_sent=False):
            self.mailing.action_send_mail()
        trace = self.mailing.mailing_trace_ids
        self.assertEqual(len(trace), 1)
        trace.sent_datetime = fields.Datetime.now() - timedelta(seconds=seconds_ago)
        trace.flush_recordset()
        return trace

    def _open(self, trace, user_agent):
        mail = self.env['mail.mail'].sudo().browse(trace.mail_mail_id_int)
        token = mail._generate_mail_recipient_token(mail.id)
        return self.url_open(f'/mail/track/{mail.id}/{token}/blank.gif', headers={'User-Agent': user_agent})

    def _click(self, trace, user_agent, link_index=0, signature=None):
        """Follow a link of the e-mail of ``trace``, signed as in the e-mail unless ``signature`` is given."""
        mail = self.env['mail.mail'].sudo().browse(trace.mail_mail_id_int)
        codes = list(dict.fromkeys(re.findall(r'/r/([\w-]+)', mail.body_html)))
        self.assertEqual(len(codes), 2, 'the mailing has two shortened links')
        if signature is None:
            signature = self.env['montanes.tracking.hit']._sign_trace_link(trace.id)
        return self.url_open(
            f'/r/{codes[link_index]}/m/{trace.id}?montanes_sig={signature}',
            headers={'User-Agent': user_agent},
            allow_redirects=False,
        )

    def _hits(self, trace):
        return self.env['montanes.tracking.hit'].search([('trace_id', '=', trace.id)], order='id')

    # ------------------------------------------------------------
    # OPENS
    # ------------------------------------------------------------

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_google_proxy_open_two_seconds_after_sending(self):
        trace = self._send_mailing(seconds_ago=2)
        response = self._open(trace, GOOGLE_IMAGE_PROXY)

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Content-Type'], 'image/gif')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 0)
        self.assertEqual(self.lead_pilar.montanes_score, 0)
        self.assertFalse(self.lead_pilar.montanes_score_line_ids, 'a machine open adds no ledger row')
        self.assertFalse(self.lead_pilar.activity_ids, 'a machine open fires no action')
        self.assertEqual(trace.trace_status, 'sent', 'a machine open never reaches set_opened')
        self.assertFalse(trace.open_datetime)
        self.assertEqual(trace.montanes_machine_open_count, 1)
        self.assertEqual(self.mailing.montanes_machine_open_count, 1)
        self.assertEqual(self.mailing.opened_ratio, 0)

        hit = self._hits(trace)
        self.assertEqual(len(hit), 1)
        self.assertEqual(hit.hit_type, 'email_open')
        self.assertEqual(hit.classification, 'machine')
        self.assertEqual(hit.machine_reason, 'proxy')
        self.assertEqual(hit.lead_id, self.lead_pilar)
        self.assertEqual(hit.user_agent, GOOGLE_IMAGE_PROXY)
        self.assertIn(hit.delay_seconds, (2, 3))

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_browser_open_seconds_after_sending_is_scanner(self):
        trace = self._send_mailing(seconds_ago=3)
        self._open(trace, FIREFOX)

        self.assertEqual(trace.trace_status, 'sent')
        self.assertEqual(self._hits(trace).machine_reason, 'scanner')
        self.assertEqual(self.lead_pilar.montanes_score, 0)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_human_open_after_machine_open(self):
        trace = self._send_mailing(seconds_ago=3600)
        self._open(trace, GOOGLE_IMAGE_PROXY)
        self._open(trace, FIREFOX)

        self.assertEqual(trace.trace_status, 'open')
        self.assertTrue(trace.open_datetime)
        self.assertEqual(trace.montanes_machine_open_count, 1)
        self.assertEqual(self.lead_pilar.montanes_score, 5, 'only the human open scores')
        self.assertEqual(self._hits(trace).mapped('classification'), ['machine', 'human'])

    def test_scanner_delay_parameter(self):
        Hit = self.env['montanes.tracking.hit']
        ICP = self.env['ir.config_parameter']
        self.assertEqual(Hit._get_scanner_delay(), 10)
        ICP.set_param('montanes_lead_scoring.machine_delay_seconds', '30')
        self.assertEqual(Hit._get_scanner_delay(), 30)
        for invalid in ('-1', 'diez', '99999'):
            ICP.set_param('montanes_lead_scoring.machine_delay_seconds', invalid)
            with self.assertLogs('odoo.addons.montanes_lead_scoring.models.montanes_tracking_hit', 'WARNING'):
                self.assertEqual(Hit._get_scanner_delay(), 10, f'{invalid!r} falls back to the default')

    def test_user_agent_classification(self):
        Hit = self.env['montanes.tracking.hit']
        cases = [
            (FIREFOX, '81.33.10.2', False),
            ('Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 '
             '(KHTML, like Gecko) Mobile/15E148', '81.33.10.2', False),
            (GOOGLE_IMAGE_PROXY, '66.249.84.1', 'proxy'),
            ('YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html', '98.136.1.1', 'proxy'),
            ('Mozilla/5.0', '17.58.101.7', 'proxy'),
            ('Mozilla/5.0', '81.33.10.2', False),
            (SLACK_PREVIEW, '54.1.2.3', 'bot'),
            ('facebookexternalhit/1.1', '31.13.1.1', 'bot'),
            ('WhatsApp/2.23.20.0', '31.13.1.1', 'bot'),
            ('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0',
             '52.1.1.1', 'bot'),
            ('python-requests/2.31.0', '52.1.1.1', 'bot'),
            ('', '52.1.1.1', 'bot'),
            (None, None, 'bot'),
        ]
        for user_agent, ip_address, expected in cases:
            with self.subTest(user_agent=user_agent, ip_address=ip_address):
                self.assertEqual(Hit._get_user_agent_machine_reason(user_agent, ip_address), expected)

    def test_extra_user_agent_markers(self):
        Hit = self.env['montanes.tracking.hit']
        self.env['ir.config_parameter'].set_param(
            'montanes_lead_scoring.machine_user_agents', 'AcmeMailGuard, ,x',
        )
        self.assertEqual(Hit._get_user_agent_machine_reason('AcmeMailGuard/3.1', '10.0.0.1'), 'bot')
        self.assertFalse(
            Hit._get_user_agent_machine_reason(FIREFOX, '10.0.0.1'),
            'fragments shorter than 3 characters are ignored, or "x" would match every browser',
        )

    # ------------------------------------------------------------
    # CLICKS
    # ------------------------------------------------------------

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_link_preview_click_is_machine(self):
        trace = self._send_mailing(seconds_ago=3600)
        response = self._click(trace, SLACK_PREVIEW)

        self.assertEqual(response.status_code, 301)
        self.assertTrue(response.headers['Location'].startswith(f'{WEBSITE_ORIGIN}/ofertas?utm_'))
        self.assertFalse(trace.links_click_datetime, 'a machine click never reaches set_clicked')
        self.assertEqual(trace.trace_status, 'sent', 'a machine click does not imply an open')
        self.assertFalse(self.env['link.tracker.click'].search([('mailing_trace_id', '=', trace.id)]))
        self.assertEqual(trace.montanes_machine_click_count, 1)
        self.assertEqual(self.mailing.montanes_machine_click_count, 1)
        self.assertEqual(self.lead_pilar.montanes_score, 0)
        hit = self._hits(trace)
        self.assertEqual((hit.hit_type, hit.classification, hit.machine_reason), ('email_click', 'machine', 'bot'))
        self.assertTrue(hit.url.startswith(f'{WEBSITE_ORIGIN}/ofertas?utm_'))

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_scanner_clicking_every_link(self):
        trace = self._send_mailing(seconds_ago=3600)
        self._click(trace, FIREFOX, link_index=0)
        self._click(trace, FIREFOX, link_index=1)

        hits = self._hits(trace)
        self.assertEqual(hits.mapped('classification'), ['human', 'machine'])
        self.assertEqual(hits[1].machine_reason, 'burst')
        self.assertEqual(trace.montanes_machine_click_count, 1)
        self.assertEqual(len(self.env['link.tracker.click'].search([('mailing_trace_id', '=', trace.id)])), 1)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_human_click_scores_and_carries_token(self):
        self.env['ir.config_parameter'].set_param('montanes_lead_scoring.website_origins', WEBSITE_ORIGIN)
        trace = self._send_mailing(seconds_ago=3600)
        response = self._click(trace, FIREFOX)

        self.assertEqual(response.status_code, 302)
        self.assertEqual(response.headers['Cache-Control'], 'no-store')
        location = urlsplit(response.headers['Location'])
        self.assertEqual(f'{location.scheme}://{location.netloc}{location.path}', f'{WEBSITE_ORIGIN}/ofertas')
        token = parse_qs(location.query)['montanes_token'][0]
        values = self.env['montanes.tracking.hit']._verify_visitor_token(token)
        self.assertEqual(values, {'lead': self.lead_pilar.id, 'trace': trace.id})
        self.assertIn('utm_medium', parse_qs(location.query), 'the UTM parameters are kept')
        self.assertTrue(trace.links_click_datetime)
        self.assertEqual(self.lead_pilar.montanes_score, 15, 'a human click scores the open and the click')

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_unsigned_click_scores_nothing(self):
        """Anyone can call Odoo's redirect with any trace id, so only signed links score and get a token."""
        self.env['ir.config_parameter'].set_param('montanes_lead_scoring.website_origins', WEBSITE_ORIGIN)
        trace = self._send_mailing(seconds_ago=3600)
        for signature in ('', '0' * 64, self.env['montanes.tracking.hit']._sign_trace_link(trace.id + 1)):
            with self.subTest(signature=signature):
                response = self._click(trace, FIREFOX, signature=signature)
                self.assertEqual(response.status_code, 301)
                self.assertNotIn('montanes_token', response.headers['Location'])
        self.assertTrue(trace.links_click_datetime, 'the click itself still counts, as in Odoo')
        self.assertEqual(self.lead_pilar.montanes_score, 0, 'a forged click raises no score')
        self.assertFalse(self.lead_pilar.montanes_score_line_ids)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_sent_links_are_signed(self):
        trace = self._send_mailing(seconds_ago=3600)
        mail = self.env['mail.mail'].sudo().browse(trace.mail_mail_id_int)
        body = mail._prepare_outgoing_body()
        signature = self.env['montanes.tracking.hit']._sign_trace_link(trace.id)
        signed_links = re.findall(rf'/r/[\w-]+/m/{trace.id}\?montanes_sig={signature}"', body)
        self.assertEqual(len(signed_links), 2, 'both links of the e-mail carry the signature')
        self.assertEqual(len(re.findall(r'/r/[\w-]+/m/\d+', body)), 2)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_click_to_other_site_has_no_token(self):
        self.env['ir.config_parameter'].set_param('montanes_lead_scoring.website_origins', WEBSITE_ORIGIN)
        trace = self._send_mailing(seconds_ago=3600)
        response = self._click(trace, FIREFOX, link_index=1)

        self.assertEqual(response.status_code, 301)
        location = response.headers['Location']
        self.assertTrue(location.startswith('https://www.example.com/condiciones?utm_'), location)
        self.assertNotIn('montanes_token', location)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_machine_click_has_no_token(self):
        self.env['ir.config_parameter'].set_param('montanes_lead_scoring.website_origins', WEBSITE_ORIGIN)
        trace = self._send_mailing(seconds_ago=1)
        response = self._click(trace, FIREFOX)

        self.assertNotIn('montanes_token', response.headers['Location'])
        self.assertEqual(self._hits(trace).machine_reason, 'scanner')

    # ------------------------------------------------------------
    # RETENTION
    # ------------------------------------------------------------

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_cron_deletes_old_hits(self):
        trace = self._send_mailing(seconds_ago=3600)
        self._open(trace, GOOGLE_IMAGE_PROXY)
        self._open(trace, FIREFOX)
        old_hit, new_hit = self._hits(trace)
        self.env.cr.execute(
            "UPDATE montanes_tracking_hit SET create_date = now() - interval '401 days' WHERE id = %s",
            [old_hit.id],
        )
        self.env['montanes.tracking.hit']._cron_delete_old_hits()

        self.assertEqual(self._hits(trace), new_hit)
        self.assertEqual(trace.montanes_machine_open_count, 1, 'the counter keeps the deleted evidence')
