from datetime import datetime

from psycopg2 import IntegrityError

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import freeze_time, tagged
from odoo.tools import mute_logger

from .common import MontanesCampaignsCommon

LAUNCH_TIME = datetime(2026, 3, 2, 9, 0)
# Two days later: the second step (3 days) is not due yet.
BEFORE_DELAY_TIME = datetime(2026, 3, 4, 9, 0)
# Three days and one hour later: the second step is due.
AFTER_DELAY_TIME = datetime(2026, 3, 5, 10, 0)

# 51 segment rows: 5 have no usable e-mail, and two addresses appear twice.
EXPECTED_PARTICIPANTS = 44


@tagged("post_install", "-at_install")
class TestCampaignFlow(MontanesCampaignsCommon):

    def _get_step_mails(self, step):
        return self.env["mail.mail"].search([("mailing_id", "=", step.mailing_id.id)])

    def _get_step_traces(self, step):
        return self.env["mailing.trace"].search([("mass_mailing_id", "=", step.mailing_id.id)])

    def _launch(self):
        with freeze_time(LAUNCH_TIME):
            self.campaign.with_user(self.user_marketing).action_launch()

    def _process(self, when):
        with freeze_time(when):
            return self.campaign._process_steps()

    # ------------------------------------------------------------
    # Enrolment
    # ------------------------------------------------------------

    def test_launch_enrols_segment(self):
        self._launch()

        participants = self.campaign.participant_ids
        self.assertEqual(self.campaign.state, "running")
        self.assertEqual(self.campaign.date_launched, LAUNCH_TIME)
        self.assertEqual(len(participants), EXPECTED_PARTICIPANTS)
        self.assertEqual(self.campaign.participant_count, EXPECTED_PARTICIPANTS)
        self.assertEqual(set(participants.mapped("state")), {"running"})
        self.assertFalse(participants.lead_id & self.other_leads, "Leads outside the segment stage were enrolled")
        self.assertFalse(participants.lead_id.filtered(lambda lead: not lead.email_normalized))

    def test_launch_deduplicates_email(self):
        self._launch()

        emails = self.campaign.participant_ids.mapped("email_normalized")
        self.assertEqual(len(emails), len(set(emails)))
        twins = self.segment_leads.filtered(lambda lead: lead.email_normalized == "beatriz.nunez20@mail.example")
        self.assertEqual(len(twins), 2)
        enrolled_twin = self.campaign.participant_ids.filtered(
            lambda participant: participant.email_normalized == "beatriz.nunez20@mail.example"
        ).lead_id
        self.assertEqual(enrolled_twin, twins.sorted("id")[0], "The oldest lead of the address is enrolled")

    def test_new_lead_enrolled_at_run(self):
        self._launch()
        lead = self.env["crm.lead"].create({
            "name": "Papelería Cierzo S.L.",
            "contact_name": "Elena Lasheras",
            "email_from": "elena.lasheras@papeleriacierzo.example",
            "type": "lead",
            "stage_id": self.stage_new.id,
            "tag_ids": [self.tag.id],
        })

        self._process(LAUNCH_TIME)

        self.assertEqual(self.campaign.participant_count, EXPECTED_PARTICIPANTS + 1)
        participant = self.campaign.participant_ids.filtered(lambda participant: participant.lead_id == lead)
        self.assertEqual(len(participant), 1)
        self.assertIn(participant.id, self._get_step_traces(self.step_first).mapped("res_id"))

    # ------------------------------------------------------------
    # Sending
    # ------------------------------------------------------------

    def test_steps_sent_once_each(self):
        self._launch()

        self._process(LAUNCH_TIME)
        mailing = self.step_first.mailing_id
        self.assertEqual(mailing.campaign_id, self.campaign.utm_campaign_id)
        self.assertEqual(mailing.mailing_model_real, "montanes.campaign.participant")
        self.assertEqual(mailing.name, "Bienvenida (pruebas) - Gracias por tu interés")
        self.assertEqual(len(self._get_step_mails(self.step_first)), EXPECTED_PARTICIPANTS)
        self.assertEqual(len(self._get_step_traces(self.step_first)), EXPECTED_PARTICIPANTS)
        self.assertFalse(self.step_second.mailing_id, "The second step went out before its delay")
        activities = self.campaign.participant_ids.trace_ids
        self.assertEqual(set(activities.filtered(lambda a: a.state == "processed").step_id.ids), {self.step_first.id})
        self.assertEqual(set(activities.filtered(lambda a: a.state == "processed").mapped("date_done")), {LAUNCH_TIME})
        second = activities.filtered(lambda activity: activity.step_id == self.step_second)
        self.assertEqual(set(second.mapped("schedule_date")), {datetime(2026, 3, 5, 9, 0)})

        sent_again = self._process(BEFORE_DELAY_TIME)
        self.assertEqual(sent_again, 0)
        self.assertEqual(len(self._get_step_traces(self.step_first)), EXPECTED_PARTICIPANTS)
        self.assertFalse(self.step_second.mailing_id)

        sent_second = self._process(AFTER_DELAY_TIME)
        self.assertEqual(sent_second, EXPECTED_PARTICIPANTS)
        self.assertEqual(len(self._get_step_mails(self.step_second)), EXPECTED_PARTICIPANTS)
        self.assertEqual(len(self._get_step_traces(self.step_second)), EXPECTED_PARTICIPANTS)
        self.assertEqual(set(self.campaign.participant_ids.mapped("state")), {"completed"})

        self.assertEqual(self._process(AFTER_DELAY_TIME), 0)
        self.assertEqual(len(self._get_step_traces(self.step_first)), EXPECTED_PARTICIPANTS)
        self.assertEqual(len(self._get_step_traces(self.step_second)), EXPECTED_PARTICIPANTS)

    def test_body_renders_lead_values(self):
        self._launch()
        self._process(LAUNCH_TIME)

        lead = self.segment_leads[0]
        participant = self.campaign.participant_ids.filtered(lambda participant: participant.lead_id == lead)
        mail = self._get_step_mails(self.step_first).filtered(lambda mail: mail.res_id == participant.id)
        self.assertEqual(len(mail), 1)
        self.assertEqual(mail.subject, "Gracias por tu interés, Pilar Garrido Domínguez")
        self.assertIn("Hola Pilar Garrido Domínguez, gracias por escribirnos.", mail.body_html)
        self.assertEqual(mail.email_to, "pilar.garrido@construccionesvalle.example")

    def test_inline_placeholder_in_body(self):
        self._launch()
        self._process(LAUNCH_TIME)
        self._process(AFTER_DELAY_TIME)

        self.assertIn('<t t-out="object.contact_name"/>', self.step_second.mailing_id.body_html)
        lead = self.segment_leads[0]
        participant = self.campaign.participant_ids.filtered(lambda participant: participant.lead_id == lead)
        mail = self._get_step_mails(self.step_second).filtered(lambda mail: mail.res_id == participant.id)
        self.assertEqual(len(mail), 1)
        self.assertIn("Hola Pilar Garrido Domínguez, ¿te llamamos esta semana?", mail.body_html)
        self.assertNotIn("{{", mail.body_html, "No raw placeholder reaches the recipient")

    def test_blacklisted_address_gets_no_mail(self):
        self.env["mail.blacklist"].create({"email": "marta.torres@tallerespuerto.example"})
        self._launch()

        self._process(LAUNCH_TIME)

        participant = self.campaign.participant_ids.filtered(
            lambda participant: participant.email_normalized == "marta.torres@tallerespuerto.example"
        )
        mails = self._get_step_mails(self.step_first)
        self.assertEqual(len(mails), EXPECTED_PARTICIPANTS - 1)
        self.assertNotIn(participant.id, mails.mapped("res_id"))
        self.assertFalse(self.env["mail.mail"].search([("email_to", "ilike", "marta.torres@tallerespuerto.example")]))
        activity = participant.trace_ids.filtered(lambda activity: activity.step_id == self.step_first)
        self.assertEqual(activity.state, "canceled")
        self.assertFalse(participant.trace_ids - activity, "No step follows a cancelled e-mail")
        trace = self._get_step_traces(self.step_first).filtered(lambda trace: trace.res_id == participant.id)
        self.assertEqual(trace.trace_status, "cancel")
        self.assertEqual(trace.failure_type, "mail_bl")
        self.assertEqual(self.step_first.canceled_count, 1)

    def test_cron_processes_running_campaigns(self):
        self._launch()

        with freeze_time(LAUNCH_TIME):
            self.env["montanes.campaign"]._cron_process()

        self.assertEqual(len(self._get_step_traces(self.step_first)), EXPECTED_PARTICIPANTS)

    def test_stopped_campaign_sends_nothing(self):
        self._launch()
        self.campaign.with_user(self.user_marketing).action_stop()

        self.assertEqual(self._process(LAUNCH_TIME), 0)

        self.assertEqual(self.campaign.state, "stopped")
        self.assertFalse(self.step_first.mailing_id)

    def test_second_trace_rejected_by_database(self):
        self._launch()
        self._process(LAUNCH_TIME)
        participant = self.campaign.participant_ids.sorted("id")[0]

        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            self.env["mailing.trace"].create({
                "mass_mailing_id": self.step_first.mailing_id.id,
                "model": "montanes.campaign.participant",
                "res_id": participant.id,
                "email": participant.email_normalized,
            })
            self.env.flush_all()

    def test_archived_lead_exits(self):
        self._launch()
        participant = self.campaign.participant_ids.sorted("id")[0]
        participant.lead_id.action_archive()

        self._process(LAUNCH_TIME)

        self.assertEqual(participant.state, "exited")
        # Odoo counts an archived lead as lost.
        self.assertEqual(participant.exit_reason, "lost")
        self.assertNotIn(participant.id, self._get_step_traces(self.step_first).mapped("res_id"))
        self.assertEqual(len(self._get_step_traces(self.step_first)), EXPECTED_PARTICIPANTS - 1)

    def test_stop_relaunch_and_close(self):
        self._launch()
        campaign = self.campaign.with_user(self.user_marketing)
        campaign.action_stop()
        self.assertEqual(campaign.state, "stopped")

        with freeze_time(BEFORE_DELAY_TIME):
            campaign.action_launch()
        self.assertEqual(campaign.state, "running")
        self.assertEqual(campaign.date_launched, LAUNCH_TIME, "Relaunching keeps the first launch date")
        self.assertEqual(campaign.participant_count, EXPECTED_PARTICIPANTS)

        with self.assertRaises(UserError):
            campaign.action_close()
        campaign.action_stop()
        campaign.action_close()
        self.assertEqual(campaign.state, "done")
        self.assertEqual(set(campaign.participant_ids.mapped("state")), {"exited"})
        self.assertEqual(set(campaign.participant_ids.mapped("exit_reason")), {"closed"})
        with self.assertRaises(UserError):
            campaign.action_launch()

    # ------------------------------------------------------------
    # Statistics
    # ------------------------------------------------------------

    def test_step_counts_from_traces(self):
        self._launch()
        self._process(LAUNCH_TIME)
        with self.mock_mail_gateway(mail_unlink_sent=False):
            self._get_step_mails(self.step_first).send()
        self.assertEqual(len(self._mails), EXPECTED_PARTICIPANTS, "Every queued e-mail goes through ir.mail_server")
        traces = self._get_step_traces(self.step_first).sorted("id")

        traces[:10].set_opened()
        traces[:4].set_clicked()
        traces[2:5].set_replied()
        traces[40:42].set_bounced()
        self.step_first.invalidate_recordset()
        self.campaign.invalidate_recordset()

        self.assertEqual(self.step_first.sent_count, EXPECTED_PARTICIPANTS, "Bounced e-mails were sent too")
        self.assertEqual(self.step_first.opened_count, 10)
        self.assertEqual(self.step_first.clicked_count, 4)
        self.assertEqual(self.step_first.replied_count, 3)
        self.assertEqual(self.step_first.bounced_count, 2)
        self.assertEqual(self.step_second.sent_count, 0)
        self.assertEqual(self.step_second.opened_count, 0)
        self.assertEqual(self.campaign.sent_count, EXPECTED_PARTICIPANTS)
        self.assertEqual(self.campaign.opened_count, 10)
        self.assertEqual(self.campaign.clicked_count, 4)
        self.assertEqual(self.campaign.replied_count, 3)

        Trace = self.env["mailing.trace"]
        self.assertEqual(Trace.search_count(self.campaign.action_view_sent()["domain"]), EXPECTED_PARTICIPANTS)
        self.assertEqual(Trace.search_count(self.campaign.action_view_opened()["domain"]), 10)
        self.assertEqual(Trace.search_count(self.campaign.action_view_clicked()["domain"]), 4)
        self.assertEqual(Trace.search_count(self.campaign.action_view_replied()["domain"]), 3)
        participants_action = self.campaign.action_view_participants()
        self.assertEqual(
            self.env["montanes.campaign.participant"].search_count(participants_action["domain"]),
            EXPECTED_PARTICIPANTS,
        )

    # ------------------------------------------------------------
    # Constraints and validation
    # ------------------------------------------------------------

    def test_participant_unique_indexes(self):
        self._launch()
        participant = self.campaign.participant_ids[0]
        Participant = self.env["montanes.campaign.participant"]

        second_address = Participant.create({
            "campaign_id": self.campaign.id,
            "lead_id": participant.lead_id.id,
            "email_normalized": "otra.direccion@example.example",
        })
        reentry = Participant.create({
            "campaign_id": self.campaign.id,
            "lead_id": participant.lead_id.id,
            "email_normalized": participant.email_normalized,
            "entry_number": 2,
        })
        self.env.flush_all()
        self.assertEqual(second_address.state, "running")
        self.assertEqual(reentry.entry_number, 2)

        with mute_logger("odoo.sql_db"), self.assertRaises(IntegrityError):
            Participant.create({
                "campaign_id": self.campaign.id,
                "lead_id": self.other_leads[1].id,
                "email_normalized": participant.email_normalized,
            })
            self.env.flush_all()

    def test_segment_domain_validated(self):
        self.campaign.segment_domain = "[('stage_id', '=', %d)]" % self.stage_new.id
        self.assertEqual(self.campaign.segment_lead_count, len(self.segment_leads.filtered("email_normalized")))

        with self.assertRaises(ValidationError):
            self.campaign.segment_domain = "[('no_such_field', '=', 1)]"
        with self.assertRaises(ValidationError):
            self.campaign.segment_domain = "[('stage_id', '=']"

    def test_launch_requires_complete_steps(self):
        self.step_second.subject = False
        with self.assertRaises(UserError):
            self.campaign.action_launch()
        self.assertEqual(self.campaign.state, "draft")

        self.step_second.subject = "¿Hablamos?"
        self.step_second.body_html = "<p><br></p>"
        with self.assertRaises(UserError):
            self.campaign.action_launch()

        self.campaign.step_ids.unlink()
        with self.assertRaises(UserError):
            self.campaign.action_launch()
        self.assertEqual(self.campaign.participant_count, 0)

    def test_step_delay_not_negative(self):
        self.step_second.delay_value = 1
        self.assertEqual(self.step_second.delay_value, 1)

        with self.assertRaises(ValidationError):
            self.step_second.delay_value = -1

    def test_step_delay_too_long(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"]._load_module_terms(["montanes_campaigns"], ["es_ES"], overwrite=True)
        self.step_second.write({"delay_value": 520, "delay_unit": "weeks"})
        self.assertEqual(self.step_second.delay_value, 520)

        with self.assertRaises(ValidationError) as error:
            self.step_second.with_context(lang="es_ES").delay_value = 2**31 - 1
        self.assertIn("más de 3650 días", str(error.exception))
        with self.assertRaises(ValidationError):
            self.step_second.write({"validity_value": 200000, "validity_unit": "days"})

    # ------------------------------------------------------------
    # Access rights
    # ------------------------------------------------------------

    def test_salesman_reads_not_writes(self):
        campaign = self.campaign.with_user(self.user_salesman)

        self.assertEqual(campaign.name, "Bienvenida (pruebas)")
        self.assertEqual(campaign.step_ids.mapped("name"), ["Gracias por tu interés", "¿Hablamos?"])
        with self.assertRaises(AccessError):
            campaign.write({"name": "Cambiada"})
        with self.assertRaises(AccessError):
            campaign.step_ids[0].write({"subject": "Cambiado"})
        with self.assertRaises(AccessError):
            campaign.action_launch()
