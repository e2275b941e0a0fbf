import re
from datetime import timedelta

from odoo import fields
from odoo.addons.mass_mailing.tests.common import MassMailCase
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import MontanesScoringCommon

# Reply of a customer to the mailing, as the incoming mail gateway receives it.
REPLY_TEMPLATE = """Return-Path: {return_path}
To: {to}
cc: {cc}
From: {email_from}
Subject: {subject}
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Date: {date}
Message-ID: {msg_id}
{extra}
Buenas tardes, nos interesa la oferta. Llámenme esta semana, por favor.

--
Pilar Garrido
"""


@tagged('post_install', '-at_install')
class TestMailingEvents(MontanesScoringCommon, MassMailCase, HttpCase):
    """A real mass mailing to two leads, opened and clicked through the public routes."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lead_pilar = cls._create_lead(
            name='Construcciones Valle: licencias',
            contact_name='Pilar Garrido Domínguez',
            email_from='pilar.garrido@construccionesvalle.example',
        )
        cls.lead_marta = cls._create_lead(
            name='Talleres Puerto: renovación',
            contact_name='Marta Torres Moreno',
            email_from='marta.torres@tallerespuerto.example',
        )
        cls.leads = cls.lead_pilar | cls.lead_marta
        cls.mailing = cls.env['mailing.mailing'].create({
            'name': 'Renovación de licencias 2026',
            'subject': 'Renueve sus licencias antes de fin de año',
            'email_from': 'marketing@montanessoluciones.example',
            'mailing_type': 'mail',
            'mailing_model_id': cls.env['ir.model']._get_id('crm.lead'),
            'mailing_domain': repr([('id', 'in', cls.leads.ids)]),
            'body_html': '<p>Hola <t t-out="object.contact_name"/>,<br/>'
                         'vea las <a id="url" href="https://www.example.com/ofertas">ofertas</a>.</p>',
        })

    def _send_mailing(self):
        with self.mock_mail_gateway(mail_unlink_sent=False):
            self.mailing.action_send_mail()
        traces = self.mailing.mailing_trace_ids
        self.assertEqual(len(traces), 2)
        # Hits within seconds of sending count as security scanners, so the mail went out an hour ago.
        traces.sent_datetime = fields.Datetime.now() - timedelta(hours=1)
        return {trace.res_id: trace for trace in traces}

    def url_open(self, url, *args, headers=None, **kwargs):
        # The default user agent of the requests library counts as a machine.
        headers = {'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
                   **(headers or {})}
        return super().url_open(url, *args, headers=headers, **kwargs)

    def _open_pixel_path(self, trace):
        mail = self.env['mail.mail'].sudo().browse(trace.mail_mail_id_int)
        token = mail._generate_mail_recipient_token(mail.id)
        return f'/mail/track/{mail.id}/{token}/blank.gif'

    def _click_path(self, trace):
        mail = self.env['mail.mail'].sudo().browse(trace.mail_mail_id_int)
        codes = re.findall(r'/r/([\w-]+)', mail.body_html)
        self.assertEqual(len(set(codes)), 1, 'the mailing has one shortened link')
        signature = self.env['montanes.tracking.hit']._sign_trace_link(trace.id)
        return f'/r/{codes[0]}/m/{trace.id}?montanes_sig={signature}'

    def test_trace_model_and_baseline(self):
        traces_by_lead = self._send_mailing()
        self.assertEqual(set(traces_by_lead), set(self.leads.ids))
        self.assertEqual({trace.model for trace in traces_by_lead.values()}, {'crm.lead'})
        self.assertEqual(self.lead_pilar.montanes_score, 0)
        self.assertEqual(self.lead_marta.montanes_score, 0)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_open_pixel_scores_once(self):
        trace = self._send_mailing()[self.lead_pilar.id]
        path = self._open_pixel_path(trace)

        response = self.url_open(path)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(trace.trace_status, 'open')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 5)
        self.assertEqual(self.lead_pilar.montanes_score, 5)
        self.assertEqual(self.lead_marta.montanes_score, 0)
        line = self.lead_pilar.montanes_score_line_ids
        self.assertEqual(line.source_ref, f'mailing.trace,{trace.id},open')
        self.assertEqual(line.description, 'Renueve sus licencias antes de fin de año')

        response = self.url_open(path)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(self.lead_pilar.montanes_score, 5, 'a second open of the same e-mail scores nothing')

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_open_pixel_bad_token_scores_nothing(self):
        trace = self._send_mailing()[self.lead_pilar.id]
        response = self.url_open(f'/mail/track/{trace.mail_mail_id_int}/not-the-token/blank.gif')
        self.assertEqual(response.status_code, 401)
        self.assertEqual(self.lead_pilar.montanes_score, 0)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_click_scores_open_and_click(self):
        trace = self._send_mailing()[self.lead_marta.id]
        path = self._click_path(trace)

        response = self.url_open(path, allow_redirects=False)
        self.assertIn(response.status_code, (301, 302, 303))
        self.assertTrue(trace.links_click_datetime)
        self.assertEqual(self.lead_marta.montanes_score_engagement, 15, 'a click implies an open: 5 + 10')
        self.assertEqual(self.lead_marta.montanes_score, 15)
        self.assertEqual(
            set(self.lead_marta.montanes_score_line_ids.mapped('source_ref')),
            {f'mailing.trace,{trace.id},open', f'mailing.trace,{trace.id},click'},
        )
        self.assertEqual(self.lead_pilar.montanes_score, 0)

        self.url_open(path, allow_redirects=False)
        self.assertEqual(self.lead_marta.montanes_score, 15, 'a second click on the same e-mail scores nothing')

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_open_then_click_then_reply(self):
        traces_by_lead = self._send_mailing()
        trace = traces_by_lead[self.lead_pilar.id]

        self.url_open(self._open_pixel_path(trace))
        self.assertEqual(self.lead_pilar.montanes_score, 5)
        self.url_open(self._click_path(trace), allow_redirects=False)
        self.assertEqual(self.lead_pilar.montanes_score, 15)

        trace.set_replied()
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 35)
        self.assertEqual(self.lead_pilar.montanes_score, 35)
        self.assertEqual(self.lead_marta.montanes_score, 0)

    @mute_logger('odoo.addons.mail.models.mail_mail', 'odoo.addons.mail.models.mail_thread')
    def test_gateway_reply_scores_open_and_reply(self):
        trace = self._send_mailing()[self.lead_pilar.id]
        self.gateway_mail_reply_wrecord(REPLY_TEMPLATE, self.lead_pilar, use_in_reply_to=True)

        self.assertEqual(trace.trace_status, 'reply')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 25, 'a reply implies an open: 5 + 20')
        self.assertEqual(
            set(self.lead_pilar.montanes_score_line_ids.mapped('source_ref')),
            {f'mailing.trace,{trace.id},open', f'mailing.trace,{trace.id},reply'},
        )
        self.assertEqual(self.lead_marta.montanes_score, 0)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_batch_open_scores_each_lead(self):
        traces_by_lead = self._send_mailing()
        traces = self.env['mailing.trace'].browse([trace.id for trace in traces_by_lead.values()])
        traces.set_opened()
        self.assertEqual(self.lead_pilar.montanes_score, 5)
        self.assertEqual(self.lead_marta.montanes_score, 5)

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_deleted_lead_is_skipped(self):
        traces_by_lead = self._send_mailing()
        trace_marta = traces_by_lead[self.lead_marta.id]
        self.lead_marta.unlink()
        self.url_open(self._open_pixel_path(trace_marta))
        self.assertEqual(trace_marta.trace_status, 'open')
        self.assertFalse(self.env['montanes.lead.score.line'].search([
            ('source_ref', '=', f'mailing.trace,{trace_marta.id},open'),
        ]))

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_click_before_pixel(self):
        self.rule_open.points = 7
        self.rule_click.points = 3
        trace = self._send_mailing()[self.lead_pilar.id]

        # The contact clicks before the mail client has loaded the images.
        self.url_open(self._click_path(trace), allow_redirects=False)
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 10)
        self.url_open(self._open_pixel_path(trace))
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 10, "The late pixel adds nothing: 7 + 3")
        open_lines = self.lead_pilar.montanes_score_line_ids.filtered(lambda line: line.event_type == 'email_open')
        self.assertEqual(len(open_lines), 1, "A single open entry")
        self.assertEqual(self.lead_pilar.montanes_last_interest,
                         'Clicked a link in "Renueve sus licencias antes de fin de año"')

    @mute_logger('odoo.addons.mail.models.mail_mail')
    def test_bounce_scores_once(self):
        self.env['montanes.scoring.rule'].create({
            'name': 'Bounce', 'rule_type': 'behaviour', 'event_type': 'email_bounce', 'points': -20,
        })
        trace = self._send_mailing()[self.lead_marta.id]
        trace.set_bounced(bounce_message='550 5.1.1 User unknown')
        trace.set_bounced(bounce_message='550 5.1.1 User unknown')
        self.assertEqual(self.lead_marta.montanes_score_engagement, -20)
        self.assertEqual(self.lead_marta.montanes_score_line_ids.source_ref, f'mailing.trace,{trace.id},bounce')

    @mute_logger('odoo.addons.mail.models.mail_mail', 'odoo.addons.mail.models.mail_thread')
    def test_thread_reply_without_mailing(self):
        customer = self.env['res.partner'].create({
            'name': 'Pilar Garrido Domínguez', 'email': 'pilar.garrido@construccionesvalle.example',
        })
        self.lead_pilar.message_post(
            author_id=customer.id, message_type='email', subject='Re: licencias para la obra nueva',
            body='Nos interesan 12 licencias.',
        )
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 20,
                         "An e-mail from the contact on the lead's thread scores as a reply")
        self.assertEqual(self.lead_pilar.montanes_last_interest, 'Re: licencias para la obra nueva')
