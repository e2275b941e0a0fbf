from odoo.fields import Command
from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestCampaignTour(HttpCase):
    """Browser tour in Chromium: the campaign form with its step tree, launched."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        tag = cls.env["crm.tag"].create({"name": "Recorrido (pruebas)"})
        cls.lead = cls.env["crm.lead"].create({
            "name": "Taller del Recorrido",
            "contact_name": "Luis Recorrido",
            "email_from": "recorrido@motor.example",
            "type": "lead",
            "tag_ids": [Command.link(tag.id)],
        })
        cls.campaign = cls.env["montanes.campaign"].create({
            "name": "Campaña del recorrido",
            "segment_domain": repr([("tag_ids", "in", [tag.id])]),
            "window_enabled": True,
            "step_ids": [
                Command.create({"sequence": 1, "name": "Bienvenida", "subject": "Hola",
                                "body_html": "<p>Hola</p>"}),
                Command.create({"sequence": 2, "name": "Recordatorio", "subject": "¿Lo viste?",
                                "body_html": "<p>¿Lo viste?</p>", "delay_value": 2}),
            ],
        })
        first, reminder = cls.campaign.step_ids
        reminder.write({"parent_id": first.id, "trigger_type": "not_opened"})

    def test_campaign_form_launch(self):
        self.start_tour("/odoo", "montanes_campaign_tour", login="admin", timeout=180)

        self.assertEqual(self.campaign.state, "running")
        self.assertEqual(self.campaign.participant_ids.lead_id, self.lead)
