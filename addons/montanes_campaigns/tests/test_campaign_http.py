import re
from datetime import datetime

from odoo.fields import Command
from odoo.tests import HttpCase, freeze_time, tagged

SEND_TIME = datetime(2026, 5, 4, 9, 0)


@tagged("post_install", "-at_install")
class TestCampaignHttp(HttpCase):
    """Public routes hit by recipients: the open pixel, tracked links and
    the unsubscribe page."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.env.company.montanes_campaign_weekly_cap = 0
        tag = cls.env["crm.tag"].create({"name": "Rutas públicas (pruebas)"})
        cls.lead = cls.env["crm.lead"].create({
            "name": "Ferretería Pública",
            "contact_name": "Rosa Pública",
            "email_from": "rosa.publica@motor.example",
            "type": "lead",
            "tag_ids": [Command.link(tag.id)],
        })
        cls.tag_opened = cls.env["crm.tag"].create({"name": "Abrió por HTTP (pruebas)"})
        cls.campaign = cls.env["montanes.campaign"].create({
            "name": "Rutas públicas (pruebas)",
            "segment_domain": repr([("tag_ids", "in", [tag.id])]),
            "step_ids": [
                Command.create({
                    "sequence": 1, "name": "Hola", "subject": "Hola",
                    "body_html": '<p>Hola <a href="https://montanessoluciones.example/demo">demo</a></p>',
                }),
                Command.create({
                    "sequence": 2, "name": "Abrió", "step_type": "action", "action_type": "tag",
                    "action_tag_id": cls.tag_opened.id,
                }),
            ],
        })
        email_step, opened_step = cls.campaign.step_ids
        opened_step.write({"parent_id": email_step.id, "trigger_type": "opened"})
        with freeze_time(SEND_TIME):
            cls.campaign.action_launch()
            cls.campaign._process_steps()
        cls.participant = cls.campaign.participant_ids
        cls.mail = cls.env["mail.mail"].search([("mailing_id", "=", email_step.mailing_id.id)])

    def _outgoing_body(self):
        [email_values] = self.mail._prepare_outgoing_list()
        return email_values["body"]

    def test_pixel_opens_branch(self):
        body = self._outgoing_body()
        pixel = re.search(r"/mail/track/\d+/[\w-]+/blank\.gif", body)
        self.assertTrue(pixel, "The e-mail carries the open pixel")

        # A browser's user agent: lead scoring discards opens by HTTP libraries as machine opens.
        response = self.url_open(pixel.group(0), headers={
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        })

        self.assertEqual(response.status_code, 200)
        trace = self.participant.trace_ids.filtered(lambda a: a.step_id.step_type == "email").mailing_trace_id
        self.assertEqual(trace.trace_status, "open")
        self.campaign._process_steps()
        self.assertIn(self.tag_opened, self.lead.tag_ids)

    def test_unsubscribe_page_records_reason(self):
        body = self._outgoing_body()
        url = self.participant._get_unsubscribe_url()
        self.assertIn(url, body, "The e-mail links to the campaign unsubscribe page")
        path = url[url.index("/montanes_campaigns/"):]

        page = self.url_open(path)
        self.assertEqual(page.status_code, 200)
        self.assertIn('value="campaign"', page.text)
        self.assertIn('value="all"', page.text)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)

        done = self.url_open(path, data={"csrf_token": csrf, "scope": "all", "reason": "Ya no trabajo aquí"})

        self.assertEqual(done.status_code, 200)
        optout = self.env["montanes.campaign.optout"].search([("participant_id", "=", self.participant.id)])
        self.assertEqual(optout.scope, "all")
        self.assertEqual(optout.reason, "Ya no trabajo aquí")
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", "rosa.publica@motor.example")]))
        self.assertEqual(self.participant.exit_reason, "unsubscribed")

    def test_unsubscribe_wrong_token_not_found(self):
        response = self.url_open(f"/montanes_campaigns/unsubscribe/{self.participant.id}/not-the-token")
        self.assertEqual(response.status_code, 404)
        self.assertFalse(self.env["montanes.campaign.optout"].search([("participant_id", "=", self.participant.id)]))
