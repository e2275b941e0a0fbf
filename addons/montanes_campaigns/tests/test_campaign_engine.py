import re
import threading
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.fields import Command
from odoo.tests import Form, freeze_time, tagged
from odoo.tools import mute_logger

from odoo.addons.montanes_campaigns.models.montanes_campaign_trace import MontanesCampaignTrace

from .common_engine import CampaignEngineCommon

SEND_TIME = datetime(2026, 5, 4, 9, 0)


@tagged("post_install", "-at_install")
class TestCampaignEngine(CampaignEngineCommon):

    # ------------------------------------------------------------
    # Send windows
    # ------------------------------------------------------------

    def _check_queued_at(self, launch_time, expected_utc):
        campaign = self._create_campaign(self.env, window_enabled=True, window_hour_from=10.0, window_hour_to=18.0,
                                         window_saturday=True, window_sunday=True)
        self._create_leads(self.env, 1)
        with freeze_time(launch_time):
            campaign.action_launch()
        activity = campaign.participant_ids.trace_ids
        self.assertEqual(activity.schedule_date, expected_utc)

        with freeze_time(expected_utc - timedelta(seconds=1)):
            self.assertEqual(campaign._process_steps(), 0, "Nothing is queued before the window opens")
        with freeze_time(expected_utc):
            self.assertEqual(campaign._process_steps(), 1)
        self.assertEqual(len(self._mails_of(campaign)), 1)
        self.assertEqual(activity.state, "processed")
        self.assertEqual(activity.date_done, expected_utc)

    def test_window_last_sunday_march(self):
        # Clocks go forward at 01:00 UTC: 10:00 in Madrid is 08:00 UTC.
        self._check_queued_at(datetime(2026, 3, 29, 5, 0), datetime(2026, 3, 29, 8, 0))

    def test_window_last_sunday_october(self):
        # Clocks go back at 01:00 UTC: 10:00 in Madrid is 09:00 UTC.
        self._check_queued_at(datetime(2026, 10, 25, 5, 0), datetime(2026, 10, 25, 9, 0))

    def test_window_skips_holiday_and_weekend(self):
        holiday = self.env["montanes.campaign.holiday"].create({"name": "Fiesta local", "date": "2026-05-01"})
        campaign = self._create_campaign(self.env, window_enabled=True, window_hour_from=9.0, window_hour_to=14.0,
                                         holiday_ids=[Command.link(holiday.id)])
        self._create_leads(self.env, 1)
        # Friday 1 May 2026, 12:00 UTC: a holiday, then a weekend.
        with freeze_time(datetime(2026, 5, 1, 12, 0)):
            campaign.action_launch()
        self.assertEqual(campaign.participant_ids.trace_ids.schedule_date, datetime(2026, 5, 4, 7, 0))

    def test_window_uses_recipient_timezone(self):
        campaign = self._create_campaign(self.env, window_enabled=True, window_hour_from=10.0, window_hour_to=18.0)
        partner = self.env["res.partner"].create({
            "name": "Cliente Canarias", "email": "canarias@motor.example", "tz": "Atlantic/Canary",
        })
        self._create_leads(self.env, 1, partner_id=partner.id, email_from="canarias@motor.example")
        with freeze_time(datetime(2026, 5, 4, 5, 0)):
            campaign.action_launch()
        # 10:00 in the Canary Islands is 09:00 UTC in summer.
        self.assertEqual(campaign.participant_ids.trace_ids.schedule_date, datetime(2026, 5, 4, 9, 0))

    # ------------------------------------------------------------
    # One copy per step and person
    # ------------------------------------------------------------

    def test_partner_two_addresses_five_leads(self):
        partner = self.env["res.partner"].create({
            "name": "Doble Dirección S.L.", "email": "a@x.example;b@x.example",
        })
        leads = self._create_leads(self.env, 5, partner_id=partner.id)
        self.assertEqual(set(leads.mapped("email_from")), {"a@x.example;b@x.example"})
        campaign = self._create_campaign(self.env)

        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            campaign._process_steps()

        mails = self._mails_of(campaign)
        self.assertEqual(len(mails), 2)
        self.assertEqual(sorted(mails.mapped("email_to")), ["a@x.example", "b@x.example"])
        self.assertEqual(sorted(campaign.participant_ids.mapped("email_normalized")), ["a@x.example", "b@x.example"])

    def test_contact_in_two_segments(self):
        self._create_leads(self.env, 1)
        first = self._create_campaign(self.env, name="Primera")
        second = self._create_campaign(self.env, name="Segunda")
        with freeze_time(SEND_TIME):
            (first | second).action_launch()
            first._process_steps()
            second._process_steps()
            first._process_steps()
        self.assertEqual(len(self._mails_of(first)), 1)
        self.assertEqual(len(self._mails_of(second)), 1)

    def test_weekly_cap_postpones(self):
        self.env.company.montanes_campaign_weekly_cap = 1
        self._create_leads(self.env, 1)
        first = self._create_campaign(self.env, name="Primera")
        second = self._create_campaign(self.env, name="Segunda")
        with freeze_time(SEND_TIME):
            (first | second).action_launch()
            first._process_steps()
            second._process_steps()
        self.assertEqual(len(self._mails_of(first)), 1)
        self.assertFalse(self._mails_of(second), "The cap of 1 e-mail a week holds across campaigns")
        activity = second.participant_ids.trace_ids
        self.assertEqual(activity.state, "scheduled")
        self.assertEqual(activity.schedule_date, SEND_TIME + timedelta(days=7))
        with freeze_time(SEND_TIME + timedelta(days=7)):
            second._process_steps()
        self.assertEqual(len(self._mails_of(second)), 1)

    def test_blacklisted_address_reaches_no_smtp(self):
        inbox = self._start_smtp()
        self._create_leads(self.env, 3)
        self.env["mail.blacklist"].create({"email": "cliente1@motor.example"})
        campaign = self._create_campaign(self.env)

        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        self.assertFalse(self.env["mail.mail"].search([("email_to", "ilike", "cliente1@motor.example")]))
        self._mails_of(campaign).send()

        self.assertEqual(sorted(inbox.recipients()), ["cliente0@motor.example", "cliente2@motor.example"])
        participant = campaign.participant_ids.filtered(lambda p: p.email_normalized == "cliente1@motor.example")
        self.assertEqual(participant.trace_ids.state, "canceled")
        self.assertEqual(participant.trace_ids.mailing_trace_id.failure_type, "mail_bl")

    def test_optout_this_campaign_with_reason(self):
        self._create_leads(self.env, 2)
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Uno", "subject": "Uno", "body_html": "<p>Uno</p>"},
            {"name": "Dos", "subject": "Dos", "body_html": "<p>Dos</p>", "delay_value": 1},
        ])
        first, second = campaign.step_ids
        second.parent_id = first
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        participant = campaign.participant_ids.sorted("email_normalized")[0]
        mail_body = self._mails_of(campaign).filtered(lambda mail: mail.res_id == participant.id).body_html
        self.assertIn("/unsubscribe_from_list", mail_body, "Every e-mail carries an unsubscribe link")
        self.assertEqual(
            first.mailing_id._get_unsubscribe_url(participant.email_normalized, participant.id),
            participant._get_unsubscribe_url(),
        )

        with freeze_time(SEND_TIME + timedelta(hours=2)):
            participant._unsubscribe("campaign", "Demasiados correos")
        optout = self.env["montanes.campaign.optout"].search([("participant_id", "=", participant.id)])
        self.assertEqual(optout.scope, "campaign")
        self.assertEqual(optout.reason, "Demasiados correos")
        self.assertEqual(optout.date, SEND_TIME + timedelta(hours=2))
        self.assertEqual(participant.exit_reason, "unsubscribed")
        self.assertFalse(self.env["mail.blacklist"].search([("email", "=", participant.email_normalized)]))

        with freeze_time(SEND_TIME + timedelta(days=1)):
            campaign._process_steps()
        self.assertEqual(len(second.mailing_id.mailing_trace_ids), 1, "Only the other participant gets step two")

    def test_optout_all_blacklists(self):
        self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
        participant = campaign.participant_ids
        participant._unsubscribe("all", "No me interesa")
        self.assertTrue(self.env["mail.blacklist"].search([("email", "=", participant.email_normalized)]))
        self.assertEqual(self.env["montanes.campaign.optout"].search([("participant_id", "=", participant.id)]).scope,
                         "all")

    # ------------------------------------------------------------
    # Re-entry
    # ------------------------------------------------------------

    def test_reentry_off_no_second_participation(self):
        lead = self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        self.assertEqual(campaign.participant_ids.state, "completed")

        lead.stage_id = self.stage_other
        campaign._process_steps()
        lead.stage_id = self.stage_new
        campaign._process_steps()

        self.assertEqual(len(campaign.participant_ids), 1)
        self.assertEqual(len(self._mails_of(campaign)), 1)

    def test_reentry_on_after_leaving_segment(self):
        lead = self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env, allow_reentry=True)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            campaign._process_steps()
        self.assertEqual(len(campaign.participant_ids), 1, "Still in the segment: no re-entry")

        lead.stage_id = self.stage_other
        campaign._process_steps()
        lead.stage_id = self.stage_new
        with freeze_time(SEND_TIME + timedelta(days=1)):
            campaign._process_steps()

        self.assertEqual(sorted(campaign.participant_ids.mapped("entry_number")), [1, 2])
        self.assertEqual(len(self._mails_of(campaign)), 2)

    # ------------------------------------------------------------
    # Branches
    # ------------------------------------------------------------

    def _create_branch_campaign(self):
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Correo", "subject": "Hola", "body_html": "<p>Hola</p>"},
            {"name": "No abrió", "step_type": "action", "action_type": "tag",
             "action_tag_id": self.tag_not_opened.id},
            {"name": "Abrió", "step_type": "action", "action_type": "tag", "action_tag_id": self.tag_opened.id},
        ])
        email_step, not_opened, opened = campaign.step_ids
        not_opened.write({"parent_id": email_step.id, "trigger_type": "not_opened",
                          "delay_value": 2, "delay_unit": "days"})
        opened.write({"parent_id": email_step.id, "trigger_type": "opened"})
        return campaign, email_step, not_opened, opened

    def test_open_one_second_before_limit(self):
        campaign, email_step, not_opened, opened = self._create_branch_campaign()
        lead = self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        participant = campaign.participant_ids
        not_opened_activity = participant.trace_ids.filtered(lambda a: a.step_id == not_opened)
        self.assertEqual(not_opened_activity.schedule_date, SEND_TIME + timedelta(days=2),
                         "The 'not opened' branch runs at send + 2 days")

        with freeze_time(SEND_TIME + timedelta(days=1, hours=23, minutes=59, seconds=59)):
            participant.trace_ids.mailing_trace_id.set_opened()
        with freeze_time(SEND_TIME + timedelta(days=2)):
            campaign._process_steps()

        opened_activity = participant.trace_ids.filtered(lambda a: a.step_id == opened)
        self.assertEqual(opened_activity.state, "processed")
        self.assertEqual(not_opened_activity.state, "canceled")
        self.assertIn(self.tag_opened, lead.tag_ids)
        self.assertNotIn(self.tag_not_opened, lead.tag_ids)

    def test_not_opened_runs_at_limit(self):
        campaign, email_step, not_opened, opened = self._create_branch_campaign()
        lead = self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        with freeze_time(SEND_TIME + timedelta(days=2) - timedelta(seconds=1)):
            campaign._process_steps()
        self.assertNotIn(self.tag_not_opened, lead.tag_ids)
        with freeze_time(SEND_TIME + timedelta(days=2)):
            campaign._process_steps()
        self.assertIn(self.tag_not_opened, lead.tag_ids)

        # An open after the branch ran changes nothing.
        with freeze_time(SEND_TIME + timedelta(days=3)):
            campaign.participant_ids.trace_ids.mailing_trace_id.set_opened()
            campaign._process_steps()
        self.assertFalse(campaign.participant_ids.trace_ids.filtered(lambda a: a.step_id == opened))
        self.assertNotIn(self.tag_opened, lead.tag_ids)

    def test_condition_branch_and_cancel(self):
        campaign = self._create_campaign(self.env, steps=[
            {"name": "¿Prioridad alta?", "step_type": "condition",
             "condition_domain": "[('priority', '=', '3')]"},
            {"name": "Sí", "step_type": "action", "action_type": "tag", "action_tag_id": self.tag_opened.id},
            {"name": "No", "step_type": "action", "action_type": "tag", "action_tag_id": self.tag_not_opened.id},
            {"name": "Tras No", "step_type": "exit"},
        ])
        condition, yes, no, after_no = campaign.step_ids
        yes.write({"parent_id": condition.id, "trigger_type": "condition_true"})
        no.write({"parent_id": condition.id, "trigger_type": "condition_false"})
        after_no.parent_id = no
        hot = self._create_leads(self.env, 1, prefix="alta", priority="3")
        cold = self._create_leads(self.env, 1, prefix="baja", priority="0")
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            campaign._process_steps()
        self.assertIn(self.tag_opened, hot.tag_ids)
        self.assertNotIn(self.tag_not_opened, hot.tag_ids)
        self.assertIn(self.tag_not_opened, cold.tag_ids)
        hot_participant = campaign.participant_ids.filtered(lambda p: p.lead_id == hot)
        self.assertEqual(hot_participant.trace_ids.filtered(lambda a: a.step_id == no).state, "canceled")
        self.assertFalse(hot_participant.trace_ids.filtered(lambda a: a.step_id == after_no),
                         "Children of a cancelled step never run")
        cold_participant = campaign.participant_ids.filtered(lambda p: p.lead_id == cold)
        self.assertEqual(cold_participant.exit_reason, "exit_step")

    def _create_outcome_campaign(self, trigger, delay_value):
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Hola", "subject": "Hola", "body_html": "<p>Hola</p>"},
            {"name": "Etiqueta", "step_type": "action", "action_type": "tag", "action_tag_id": self.tag_opened.id},
        ])
        email, action = campaign.step_ids
        action.write({"parent_id": email.id, "trigger_type": trigger, "delay_value": delay_value})
        return campaign

    def test_open_branch_keeps_participant_running(self):
        campaign = self._create_outcome_campaign("opened", 0)
        lead = self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        participant = campaign.participant_ids
        self.assertEqual(participant.state, "running", "The opened branch has no time limit and may still start")
        with freeze_time(SEND_TIME + timedelta(days=30)):
            self.env["montanes.campaign"]._cron_process()
            self.assertEqual(participant.state, "running")
            participant.trace_ids.mailing_trace_id.set_opened()
            campaign._process_steps()
        self.assertIn(self.tag_opened, lead.tag_ids)
        self.assertEqual(participant.state, "completed", "Completed once the branch ran")

    def test_expired_branch_completes_participant(self):
        campaign = self._create_outcome_campaign("clicked", 2)
        self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        participant = campaign.participant_ids
        self.assertEqual(participant.state, "running")
        with freeze_time(SEND_TIME + timedelta(days=2)):
            self.env["montanes.campaign"]._cron_process()
        self.assertEqual(participant.state, "running", "A click at the limit still runs the branch")
        with freeze_time(SEND_TIME + timedelta(days=2, seconds=1)):
            self.env["montanes.campaign"]._cron_process()
        self.assertEqual(participant.state, "completed")

    def test_decided_branch_completes_participant(self):
        campaign = self._create_outcome_campaign("opened", 0)
        email = campaign.step_ids[0]
        self.env["montanes.campaign.step"].create({
            "campaign_id": campaign.id, "name": "Sin abrir", "step_type": "action", "action_type": "tag",
            "action_tag_id": self.tag_not_opened.id,
            "parent_id": email.id, "trigger_type": "not_opened", "delay_value": 1,
        })
        lead = self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        participant = campaign.participant_ids
        with freeze_time(SEND_TIME + timedelta(days=1)):
            campaign._process_steps()
        self.assertIn(self.tag_not_opened, lead.tag_ids)
        self.assertEqual(participant.state, "completed",
                         "The not-opened branch ran, so the opened branch can no longer start")

    def test_placeholder_error_for_one_recipient(self):
        campaign = self._create_campaign(self.env, steps=[{
            "name": "Con fallo", "subject": "Hola",
            "body_html": '<p>Hola <t t-out="object.contact_name"/> '
                         '<t t-out="1 / (0 if object.contact_name.endswith(\'1\') else 1)"/></p>',
        }])
        self._create_leads(self.env, 3)
        with freeze_time(SEND_TIME), mute_logger("odoo.addons.mail.models.mail_render_mixin"):
            campaign.action_launch()
            self.assertEqual(campaign._process_steps(), 2)
        failed = campaign.participant_ids.trace_ids.filtered(lambda a: a.state == "error")
        self.assertEqual(failed.participant_id.email_normalized, "cliente1@motor.example")
        self.assertTrue(failed.state_msg)
        self.assertEqual(len(self._mails_of(campaign)), 2)

    def test_validity_cancels_late_step(self):
        campaign = self._create_campaign(self.env)
        campaign.step_ids.write({"validity_value": 2, "validity_unit": "hours"})
        self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
        with freeze_time(SEND_TIME + timedelta(hours=3)):
            campaign._process_steps()
        self.assertEqual(campaign.participant_ids.trace_ids.state, "canceled")
        self.assertFalse(self._mails_of(campaign))

    def test_reply_exits_with_reason(self):
        campaign, email_step, not_opened, opened = self._create_branch_campaign()
        self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            campaign.participant_ids.trace_ids.mailing_trace_id.set_replied()
        participant = campaign.participant_ids
        self.assertEqual(participant.state, "exited")
        self.assertEqual(participant.exit_reason, "replied")
        self.assertEqual(participant.trace_ids.filtered(lambda a: a.step_id == not_opened).state, "canceled")

    def test_won_lead_exits(self):
        lead = self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Más tarde", "subject": "Hola", "body_html": "<p>Hola</p>", "delay_value": 3},
        ])
        with freeze_time(SEND_TIME):
            campaign.action_launch()
        lead.action_set_won()
        self.assertEqual(campaign.participant_ids.exit_reason, "won")

    def test_booked_meeting_exits(self):
        lead = self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Más tarde", "subject": "Hola", "body_html": "<p>Hola</p>", "delay_value": 3},
        ])
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            self.env["calendar.event"].create({
                "name": "Demostración",
                "opportunity_id": lead.id,
                "start": SEND_TIME + timedelta(days=7),
                "stop": SEND_TIME + timedelta(days=7, hours=1),
            })
        participant = campaign.participant_ids
        self.assertEqual(participant.state, "exited")
        self.assertEqual(participant.exit_reason, "meeting")

    def test_pause_and_resume(self):
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Uno", "subject": "Uno", "body_html": "<p>Uno</p>"},
            {"name": "Dos", "subject": "Dos", "body_html": "<p>Dos</p>", "delay_value": 1},
        ])
        first, second = campaign.step_ids
        second.parent_id = first
        self._create_leads(self.env, 2)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            campaign.action_stop()
        with freeze_time(SEND_TIME + timedelta(days=2)):
            self.assertEqual(campaign._process_steps(), 0)
            self.assertEqual(self.env["montanes.campaign.trace"]._process_due(), 0, "A paused campaign sends nothing")
            campaign.action_launch()
            self.assertEqual(campaign._process_steps(), 2)
            self.assertEqual(campaign._process_steps(), 0)
        self.assertEqual(len(first.mailing_id.mailing_trace_ids), 2)
        self.assertEqual(len(second.mailing_id.mailing_trace_ids), 2)

    def _create_ab_campaign(self, criterion="opened", wait_hours=24):
        return self._create_campaign(self.env, steps=[{
            "name": "A/B", "subject": "Versión A", "body_html": "<p>A</p>",
            "ab_enabled": True, "subject_b": "Versión B", "body_html_b": "<p>B</p>",
            "ab_test_size": 2, "ab_criterion": criterion, "ab_wait_hours": wait_hours,
        }])

    def test_ab_test_picks_winner(self):
        campaign = self._create_ab_campaign()
        step = campaign.step_ids
        self._create_leads(self.env, 4)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            # Only the first four are mailed: two per version.
            self.assertEqual(campaign._process_steps(), 4)
        self.assertEqual(step.ab_decision_date, SEND_TIME + timedelta(hours=24))
        activities = campaign.participant_ids.trace_ids
        self.assertEqual(sorted(activities.mapped("variant")), ["a", "a", "b", "b"])
        version_a = activities.filtered(lambda a: a.variant == "a").mailing_trace_id
        version_b = activities.filtered(lambda a: a.variant == "b").mailing_trace_id

        with freeze_time(SEND_TIME + timedelta(hours=1)):
            version_b[0].set_opened()
            version_a[0].montanes_machine_open_count = 5
            self._create_leads(self.env, 2, prefix="tarde")
            self.assertEqual(campaign._process_steps(), 0, "Later participants wait for the choice")
        self.assertFalse(step.ab_winner, "B leads after one hour, but the winner is not chosen yet")
        late = campaign.participant_ids.filtered(lambda p: p.email_normalized.startswith("tarde")).trace_ids
        self.assertEqual(set(late.mapped("state")), {"scheduled"})
        self.assertEqual(set(late.mapped("schedule_date")), {SEND_TIME + timedelta(hours=24)})
        self.assertEqual(set(late.mapped("state_msg")), {"Waiting for the winner of the A/B test."})

        # Both A e-mails are opened before the decision date; an open after it does not count.
        with freeze_time(SEND_TIME + timedelta(hours=23, minutes=59)):
            version_a.set_opened()
        with freeze_time(SEND_TIME + timedelta(hours=23, minutes=59, seconds=59)):
            self.assertEqual(campaign._process_steps(), 0)
        with freeze_time(SEND_TIME + timedelta(hours=24, minutes=1)):
            version_b[1].set_opened()
            self.assertEqual(campaign._process_steps(), 2)
        self.assertEqual(step.ab_winner, "a", "Two human opens of A against one of B by the decision date")
        self.assertEqual(set(late.mapped("variant")), {"a"})
        self.assertEqual(set(late.mapped("state")), {"processed"})

    def test_ab_test_tie_keeps_a(self):
        campaign = self._create_ab_campaign(criterion="clicked", wait_hours=2)
        step = campaign.step_ids
        self._create_leads(self.env, 5)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            self.assertEqual(campaign._process_steps(), 4)
        traces = campaign.participant_ids.trace_ids.filtered("variant").sorted("id")
        with freeze_time(SEND_TIME + timedelta(hours=1)):
            traces.filtered(lambda a: a.variant == "a")[:1].mailing_trace_id.set_clicked()
            traces.filtered(lambda a: a.variant == "b")[:1].mailing_trace_id.set_clicked()
        with freeze_time(SEND_TIME + timedelta(hours=2)):
            self.assertEqual(campaign._process_steps(), 1)
        self.assertEqual(step.ab_winner, "a", "One click each: the tie keeps version A")

    def test_ab_test_replies_pick_b(self):
        campaign = self._create_ab_campaign(criterion="replied", wait_hours=0)
        step = campaign.step_ids
        self._create_leads(self.env, 4)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
            self.assertEqual(step.ab_decision_date, SEND_TIME)
            traces = campaign.participant_ids.trace_ids
            traces.filtered(lambda a: a.variant == "a").mailing_trace_id.set_opened()
            traces.filtered(lambda a: a.variant == "b")[:1].mailing_trace_id.set_replied()
            self._create_leads(self.env, 1, prefix="tarde")
            self.assertEqual(campaign._process_steps(), 1)
        self.assertEqual(step.ab_winner, "b", "Opens do not count when the winner is chosen on replies")

    def test_lead_created_trigger(self):
        campaign = self._create_campaign(self.env, trigger_type="lead_created")
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            self.assertFalse(campaign.participant_ids)
            lead = self._create_leads(self.env, 1)
        self.assertEqual(campaign.participant_ids.lead_id, lead)

    def test_stage_and_tag_triggers(self):
        stage_campaign = self._create_campaign(self.env, name="Etapa", trigger_type="stage",
                                               trigger_stage_id=self.stage_new.id)
        tag_campaign = self._create_campaign(self.env, name="Etiqueta", trigger_type="tag",
                                             trigger_tag_id=self.tag_opened.id)
        lead = self._create_leads(self.env, 1, stage_id=self.stage_other.id)
        (stage_campaign | tag_campaign).action_launch()
        lead.stage_id = self.stage_new
        self.assertEqual(stage_campaign.participant_ids.lead_id, lead)
        self.assertFalse(tag_campaign.participant_ids)
        lead.tag_ids = [Command.link(self.tag_opened.id)]
        self.assertEqual(tag_campaign.participant_ids.lead_id, lead)

    def test_metrics_count_outcomes(self):
        self._create_leads(self.env, 4)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        self._mails_of(campaign).mailing_trace_ids.set_sent()
        traces = campaign.participant_ids.trace_ids.mailing_trace_id.sorted("id")
        traces[:2].set_opened()
        traces[:1].set_clicked()
        traces[3:].set_bounced()
        campaign.participant_ids.sorted("id")[1].lead_id.convert_opportunity(self.env["res.partner"])
        campaign.invalidate_recordset()
        campaign.step_ids.invalidate_recordset()
        self.assertEqual(campaign.participant_count, 4)
        self.assertEqual(campaign.sent_count, 4)
        self.assertEqual(campaign.opened_count, 2)
        self.assertEqual(campaign.clicked_count, 1)
        self.assertEqual(campaign.bounced_count, 1)
        self.assertEqual(campaign.delivered_count, 3)
        self.assertEqual(campaign.converted_count, 1)
        self.assertEqual(campaign.open_rate, 66.7)
        self.assertEqual(campaign.conversion_rate, 25.0)

    def test_preview_and_test_send(self):
        campaign = self._create_campaign(self.env)
        lead = self._create_leads(self.env, 1)
        preview = self.env["montanes.campaign.step.preview"].create({
            "step_id": campaign.step_ids.id, "lead_id": lead.id,
        })
        self.assertEqual(preview.subject_preview, "Hola Contacto cliente 0")
        self.assertIn("Hola Contacto cliente 0", preview.body_preview)
        self.assertFalse(campaign.participant_ids, "The preview saves no participant")

        self.env.user.email = "yo@montanessoluciones.example"
        preview.action_send_test()
        mail = self.env["mail.mail"].search([("email_to", "ilike", "yo@montanessoluciones.example")])
        self.assertEqual(mail.subject, "[Test] Hola Contacto cliente 0")

    def test_step_link_tracker_shared(self):
        self._create_leads(self.env, 3)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            self.assertEqual(campaign._process_steps(), 3)
        tracker = self.env["link.tracker"].search([("mass_mailing_id", "=", campaign.step_ids.mailing_id.id)])
        self.assertEqual(len(tracker), 1, "One tracker for the link of the step")
        self.assertEqual(tracker.url, "https://montanessoluciones.example/demo")
        for mail in self._mails_of(campaign):
            self.assertIn(tracker.short_url, mail.body_html)
        self.assertNotIn("montanes_campaigns_link_trackers", self.env.cr.cache, "The cache ends with the sending")

    def test_step_mailing_not_sent_by_hand(self):
        self._create_leads(self.env, 2)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        mailing = campaign.step_ids.mailing_id
        late_lead = self._create_leads(self.env, 1, prefix="tarde")
        with freeze_time(SEND_TIME):
            campaign._process_steps()
        self.assertEqual(len(self._mails_of(campaign)), 3)
        late_participant = campaign.participant_ids.filtered(lambda p: p.lead_id == late_lead)
        late_participant.trace_ids.mailing_trace_id.unlink()
        expected = (
            "The mailing Motor (pruebas) - Hola sends the step Hola of the automated campaign "
            "Motor (pruebas), which mails each participant when the step is due. It cannot be "
            "sent, scheduled or queued by hand: launch or stop the campaign instead. Use the "
            "Test button to send it to yourself."
        )
        for action in ("action_launch", "action_schedule", "action_put_in_queue", "action_send_mail",
                       "action_retry_failed"):
            with self.subTest(action=action), self.assertRaises(UserError) as caught:
                getattr(mailing.with_user(self.env.ref("base.user_admin")), action)()
            self.assertEqual(caught.exception.args[0], expected)
        self.assertEqual(mailing.state, "done")
        self.assertEqual(len(self._mails_of(campaign)), 3, "No e-mail was queued by hand")

        inbox = self._start_smtp()
        self.env.user.email = "yo@montanessoluciones.example"
        self.env["mailing.mailing.test"].create({
            "mass_mailing_id": mailing.id, "email_to": "yo@montanessoluciones.example",
        }).send_mail_test()
        self.assertIn("yo@montanessoluciones.example", inbox.recipients(), "The test send to oneself still works")
        self.assertFalse([address for address in inbox.recipients() if address.endswith("@motor.example")],
                         "No participant receives the test send")
        self.assertEqual(len(self._mails_of(campaign)), 3)

        other = self.env["mailing.mailing"].create({
            "name": "Boletín", "subject": "Boletín", "body_html": "<p>Boletín</p>",
            "mailing_model_id": self.env["ir.model"]._get_id("crm.lead"),
            "mailing_domain": repr([("id", "in", late_lead.ids)]),
        })
        other.action_put_in_queue()
        self.assertEqual(other.state, "in_queue", "Other mailings are queued as usual")

    def test_revenue_through_utm(self):
        if "sale.order" not in self.env:
            self.skipTest("Sales is not installed")
        partner = self.env["res.partner"].create({"name": "Compradora S.L.", "email": "compra@motor.example"})
        self._create_leads(self.env, 1, partner_id=partner.id)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
        product = self.env["product.product"].create({"name": "Licencia (pruebas)", "list_price": 250.0})
        order = self.env["sale.order"].create({
            "partner_id": partner.id,
            "campaign_id": campaign.utm_campaign_id.id,
            "order_line": [Command.create({"product_id": product.id, "product_uom_qty": 2, "tax_ids": False})],
        })
        order.action_confirm()
        campaign.invalidate_recordset()
        self.assertEqual(campaign.revenue, 500.0)
        self.assertEqual(campaign.converted_count, 1)

    # ------------------------------------------------------------
    # Bad input
    # ------------------------------------------------------------

    def test_bad_input_rejected(self):
        campaign = self._create_campaign(self.env, steps=[
            {"name": "Uno", "subject": "Uno", "body_html": "<p>Uno</p>"},
            {"name": "Dos", "subject": "Dos", "body_html": "<p>Dos</p>"},
        ])
        first, second = campaign.step_ids
        second.parent_id = first
        with self.assertRaises(ValidationError):
            campaign.segment_domain = "[('stage_id', '=']"
        with self.assertRaises(ValidationError):
            self.env["montanes.campaign.step"].create({
                "campaign_id": campaign.id, "name": "Espera", "step_type": "wait", "delay_value": 0,
            })
        with self.assertRaises(ValidationError):
            self.env["montanes.campaign.step"].create({
                "campaign_id": campaign.id, "name": "Espera", "step_type": "wait", "delay_value": -2,
            })
        with self.assertRaises(ValidationError):
            first.parent_id = second
        with self.assertRaises(ValidationError):
            campaign.write({"window_enabled": True, "window_hour_from": 18.0, "window_hour_to": 9.0})
        with self.assertRaises(ValidationError):
            campaign.write({"window_enabled": True, **{
                field_name: False for field_name in (
                    "window_monday", "window_tuesday", "window_wednesday", "window_thursday",
                    "window_friday", "window_saturday", "window_sunday",
                )
            }})

    def test_saved_filter_fills_segment(self):
        saved = self.env["ir.filters"].create({
            "name": "Leads del motor", "model_id": "crm.lead",
            "domain": repr([("tag_ids", "in", [self.tag.id])]),
        })
        campaign = self._create_campaign(self.env)
        with Form(campaign) as form:
            form.segment_filter_id = saved
        self.assertEqual(campaign.segment_domain, saved.domain)

    def test_bad_input_message_in_spanish(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"].search([("name", "=", "montanes_campaigns")])._load_module_terms(
            ["montanes_campaigns"], ["es_ES"], overwrite=True,
        )
        campaign = self._create_campaign(self.env)
        with self.assertRaisesRegex(ValidationError, "espera"):
            self.env["montanes.campaign.step"].with_context(lang="es_ES").create({
                "campaign_id": campaign.id, "name": "Espera", "step_type": "wait", "delay_value": 0,
            })

    def test_invalid_segment_names_wrong_part(self):
        campaign = self._create_campaign(self.env)
        cases = [
            ("[('stage_id', '=']",
             "the text is not a list of conditions. Check its brackets, commas and quotes"),
            ("'stage_id'", "the text is not a list of conditions between square brackets"),
            ("[('stage_id', '=')]",
             "('stage_id', '=') is not a condition. Write each condition as ('field', 'operator', value)"),
            ("[('no_such_field', '=', 1)]", "the field no_such_field does not exist on Lead"),
            ("[('stage_id.no_such_field', '=', 1)]", "the field stage_id.no_such_field does not exist on CRM Stages"),
            ("[('stage_id', 'equals', 1)]",
             "the operator 'equals' of the condition on stage_id does not exist. "
             "Use one of =, !=, in, not in, ilike, not ilike, <, <=, >, >="),
            ("[('date_deadline', '=', 'mañana')]",
             "the value 'mañana' does not fit the field date_deadline. Enter a value of the field's type"),
            ("['&', ('id', '=', 1)]", "the conditions are not combined correctly. Check the operators &, | and !"),
        ]
        for segment, reason in cases:
            with self.subTest(segment=segment), self.assertRaises(ValidationError) as caught:
                campaign.segment_domain = segment
            self.assertEqual(
                caught.exception.args[0],
                f"The segment of the campaign Motor (pruebas) is not a valid filter: {reason}. "
                "Correct it or rebuild it with the filter editor.",
            )

    def test_invalid_condition_names_field(self):
        campaign = self._create_campaign(self.env)
        with self.assertRaises(ValidationError) as caught:
            self.env["montanes.campaign.step"].create({
                "campaign_id": campaign.id, "name": "¿Caliente?", "step_type": "condition",
                "condition_domain": "[('montanes_banda', '=', 'hot')]",
            })
        self.assertEqual(
            caught.exception.args[0],
            "The condition of the step ¿Caliente? is not a valid filter: the field montanes_banda "
            "does not exist on Lead. Correct it or rebuild it with the filter editor.",
        )

    def test_window_error_shows_clock_hours(self):
        campaign = self._create_campaign(self.env)
        with self.assertRaises(ValidationError) as caught:
            campaign.write({"window_enabled": True, "window_hour_from": 18.0, "window_hour_to": 9.5})
        self.assertEqual(
            caught.exception.args[0],
            "The send window of the campaign Motor (pruebas) allows no hour: it goes from 18:00 "
            "to 09:30. The start must be before the end, between 00:00 and 24:00.",
        )

    def test_filter_errors_in_spanish(self):
        self.env["res.lang"]._activate_lang("es_ES")
        self.env["ir.module.module"].search([("name", "=", "montanes_campaigns")])._load_module_terms(
            ["montanes_campaigns"], ["es_ES"], overwrite=True,
        )
        campaign = self._create_campaign(self.env).with_context(lang="es_ES")
        with self.assertRaises(ValidationError) as caught:
            campaign.segment_domain = "[('no_such_field', '=', 1)]"
        self.assertEqual(
            caught.exception.args[0],
            "El segmento de la campaña Motor (pruebas) no es un filtro válido: el campo "
            "no_such_field no existe en Lead. Corríjalo o vuelva a crearlo con el "
            "editor de filtros.",
        )
        with self.assertRaises(ValidationError) as caught:
            campaign.write({"window_enabled": True, "window_hour_from": 9.0, "window_hour_to": 8.0})
        self.assertEqual(
            caught.exception.args[0],
            "La ventana de envío de la campaña Motor (pruebas) no permite ninguna hora: va de "
            "09:00 a 08:00. El inicio debe ser anterior al fin, entre 00:00 y 24:00.",
        )

    # ------------------------------------------------------------
    # Real SMTP and tracking
    # ------------------------------------------------------------

    def test_smtp_links_and_pixel_resolve_to_trace(self):
        inbox = self._start_smtp()
        self._create_leads(self.env, 2)
        campaign = self._create_campaign(self.env)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        self._mails_of(campaign).send()

        for participant in campaign.participant_ids:
            [body] = inbox.html_for(participant.email_normalized)
            trace = participant.trace_ids.mailing_trace_id
            pixel = re.search(r"/mail/track/(\d+)/([\w-]+)/blank\.gif", body)
            link = re.search(r"/r/([\w-]+)/m/(\d+)", body)
            self.assertTrue(pixel, "The received e-mail carries the open pixel")
            self.assertTrue(link, "The received e-mail carries a tracked link")
            self.assertEqual(int(pixel.group(1)), trace.mail_mail_id_int)
            self.assertEqual(int(link.group(2)), trace.id)
            self.assertEqual(
                self.env["mailing.trace"].search([("mail_mail_id_int", "=", int(pixel.group(1)))]), trace,
            )
            self.assertIn(participant._get_unsubscribe_url(), body)
            self.assertIn(f"Hola {participant.contact_name}", body)


@tagged("post_install", "-at_install")
class TestCampaignWorkers(CampaignEngineCommon):
    """Runs on committed data with real cursors, as cron workers do."""

    disable_weekly_cap = False

    def setUp(self):
        super().setUp()
        with self._real_env() as env:
            self.tag_id = env["crm.tag"].create({"name": "Trabajadores (pruebas)"}).id
            leads = env["crm.lead"].create([
                {
                    "name": f"Empresa trabajadores {index}",
                    "contact_name": f"Contacto {index}",
                    "email_from": f"trabajador{index}@motor.example",
                    "type": "lead",
                    "tag_ids": [Command.link(self.tag_id)],
                }
                for index in range(10)
            ])
            self.lead_ids = leads.ids
            campaign = env["montanes.campaign"].create({
                "name": "Trabajadores (pruebas)",
                "segment_domain": repr([("tag_ids", "in", [self.tag_id])]),
                "step_ids": [Command.create({
                    "name": "Hola", "subject": "Hola", "body_html": "<p>Hola</p>", "delay_value": 0,
                })],
            })
            campaign.action_launch()
            self.campaign_id = campaign.id
        self.other_campaign_ids = []
        self.addCleanup(self._cleanup)

    def _cleanup(self):
        for campaign_id in [self.campaign_id, *self.other_campaign_ids]:
            self._delete_campaign(campaign_id)
        with self._real_env() as env:
            env["crm.lead"].browse(self.lead_ids).unlink()
            env["crm.tag"].browse(self.tag_id).unlink()
            env["montanes.campaign.address"].search([("email_normalized", "=like", "trabajador%")]).unlink()

    def _delete_campaign(self, campaign_id):
        with self._real_env() as env:
            campaign = env["montanes.campaign"].browse(campaign_id)
            mailings = campaign.step_ids.mailing_id
            env["mail.mail"].search([("mailing_id", "in", mailings.ids)]).unlink()
            env["mailing.trace"].search([("mass_mailing_id", "in", mailings.ids)]).unlink()
            campaign.participant_ids.trace_ids.unlink()
            campaign.participant_ids.unlink()
            campaign.state = "stopped"
            utm_campaign = campaign.utm_campaign_id
            campaign.step_ids.write({"mailing_id": False})
            mailings.unlink()
            campaign.unlink()
            utm_campaign.unlink()

    def _count_mails(self):
        with self._real_env() as env:
            campaign = env["montanes.campaign"].browse(self.campaign_id)
            mails = env["mail.mail"].search([("mailing_id", "in", campaign.step_ids.mailing_id.ids)])
            return sorted(mails.mapped("res_id")), campaign.participant_ids.ids

    def test_two_workers_same_batch(self):
        barrier = threading.Barrier(2)
        results = {}
        errors = []

        def work(name, env):
            try:
                barrier.wait(timeout=30)
                results[name] = env["montanes.campaign.trace"]._process_due(chunk_size=10)
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(error)

        # The environments are built here: building one takes the registry
        # lock, which the test runner holds.
        with self._real_env() as first_env, self._real_env() as second_env:
            threads = [
                threading.Thread(target=work, args=("first", first_env)),
                threading.Thread(target=work, args=("second", second_env)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)

        self.assertFalse(errors)
        self.assertEqual(sorted(results.values()), [0, 10], "One worker takes the batch, the other skips it")
        mailed, participant_ids = self._count_mails()
        self.assertEqual(mailed, sorted(participant_ids), "One e-mail per participant")
        with self._real_env() as env:
            traces = env["mailing.trace"].search([
                ("mass_mailing_id", "in", env["montanes.campaign"].browse(self.campaign_id).step_ids.mailing_id.ids),
            ])
            self.assertEqual(sorted(traces.mapped("res_id")), sorted(participant_ids),
                             "One mailing trace per step and participant")

    def _run_two_workers(self, first_campaign_id, second_campaign_id):
        """Run the due activities of two campaigns in two threads, each on
        its own cursor. Both threads claim their chunk before either sends,
        so each counts the weekly cap before the other commits.

        :return: e-mails queued by each worker, and the errors raised
        """
        barrier = threading.Barrier(2)
        original = MontanesCampaignTrace._execute_email
        results = {}
        errors = []

        def execute_email_together(activities, now):
            barrier.wait(timeout=30)
            return original(activities, now)

        def work(name, env, campaign_id):
            try:
                campaigns = env["montanes.campaign"].browse(campaign_id)
                results[name] = env["montanes.campaign.trace"]._process_due(campaigns=campaigns)
            except Exception as error:  # noqa: BLE001 - reported by the assertion of the caller
                errors.append(error)
                barrier.abort()

        with self._real_env() as first_env, self._real_env() as second_env, \
                patch.object(MontanesCampaignTrace, "_execute_email", execute_email_together):
            threads = [
                threading.Thread(target=work, args=("first", first_env, first_campaign_id)),
                threading.Thread(target=work, args=("second", second_env, second_campaign_id)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        return results, errors

    def test_weekly_cap_two_workers(self):
        with self._real_env() as env:
            previous_cap = env.company.montanes_campaign_weekly_cap
            env.company.montanes_campaign_weekly_cap = 1
            self.addCleanup(self._set_weekly_cap, previous_cap)
            other = env["montanes.campaign"].browse(self.campaign_id).copy({"name": "Trabajadores 2 (pruebas)"})
            other.action_launch()
            self.other_campaign_ids.append(other.id)

        results, errors = self._run_two_workers(self.campaign_id, other.id)

        self.assertFalse(errors)
        self.assertEqual(sorted(results.values()), [0, 10],
                         "The worker that locks the addresses second sends none of them")
        with self._real_env() as env:
            campaigns = env["montanes.campaign"].browse([self.campaign_id, other.id])
            mails = env["mail.mail"].search([("mailing_id", "in", campaigns.step_ids.mailing_id.ids)])
            self.assertEqual(len(mails), 10)
            self.assertEqual(len(set(mails.mapped("email_to"))), 10, "One e-mail per address with a cap of 1")
            waiting = campaigns.participant_ids.trace_ids.filtered(lambda activity: activity.state == "scheduled")
            self.assertEqual(len(waiting), 10)
            self.assertEqual(set(waiting.mapped("state_msg")),
                             {"Postponed: another worker was sending to this address."})
            sent_at = max(campaigns.participant_ids.trace_ids.filtered("date_done").mapped("date_done"))

        # The next run counts the committed e-mails and waits for the week.
        with freeze_time(sent_at + timedelta(minutes=2)), self._real_env() as env:
            self.assertEqual(env["montanes.campaign.trace"]._process_due(), 0)
        with self._real_env() as env:
            waiting = env["montanes.campaign.trace"].browse(waiting.ids)
            self.assertEqual(set(waiting.mapped("schedule_date")), {sent_at + timedelta(days=7)})

    def _set_weekly_cap(self, cap):
        with self._real_env() as env:
            env.company.montanes_campaign_weekly_cap = cap

    def test_crash_after_half_batch(self):
        original = MontanesCampaignTrace._send_mailing
        calls = []

        def crash_on_second_chunk(activities, *args, **kwargs):
            calls.append(len(activities))
            if len(calls) == 2:
                raise RuntimeError("Worker killed in the middle of the batch")
            return original(activities, *args, **kwargs)

        with self._real_env() as env, patch.object(MontanesCampaignTrace, "_send_mailing", crash_on_second_chunk):
            with self.assertRaises(RuntimeError):
                env["montanes.campaign.trace"]._process_due(chunk_size=5)
            env.cr.rollback()
        mailed, participant_ids = self._count_mails()
        self.assertEqual(len(mailed), 5, "The first half was committed before the crash")

        with self._real_env() as env:
            self.assertEqual(env["montanes.campaign.trace"]._process_due(chunk_size=5), 5)
        mailed, participant_ids = self._count_mails()
        self.assertEqual(mailed, sorted(participant_ids), "The rerun sends the other half only")


@tagged("post_install", "-at_install")
class TestCampaignHooks(CampaignEngineCommon):
    """Entry triggers and actions wired to lead scoring and the licence inventory."""

    def test_band_change_enrols_lead(self):
        campaign = self._create_campaign(self.env, trigger_type="band", trigger_band_code="hot")
        campaign.action_launch()
        lead = self._create_leads(self.env, 1)
        cold = self.env.ref("montanes_lead_scoring.score_band_cold")
        hot = self.env.ref("montanes_lead_scoring.score_band_hot")

        lead.montanes_band_id = self.env.ref("montanes_lead_scoring.score_band_warm")
        lead._montanes_on_band_change({lead.id: cold})
        self.assertFalse(campaign.participant_ids, "Reaching the warm band does not enrol")

        lead.montanes_band_id = hot
        lead._montanes_on_band_change({lead.id: cold})
        self.assertEqual(campaign.participant_ids.lead_id, lead)

    def test_info_request_enrols_lead(self):
        campaign = self._create_campaign(self.env, trigger_type="info_request")
        campaign.action_launch()
        lead = self._create_leads(self.env, 1)
        lead._montanes_register_event("info_request", "website.form,1")
        self.assertEqual(campaign.participant_ids.lead_id, lead)

    def test_score_action_writes_ledger(self):
        campaign = self._create_campaign(self.env, steps=[{
            "name": "Sumar puntos", "step_type": "action", "action_type": "score",
            "action_score_points": 10, "action_summary": "Campaña de bienvenida",
        }])
        lead = self._create_leads(self.env, 1)
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            campaign._process_steps()
        line = self.env["montanes.lead.score.line"].search([("lead_id", "=", lead.id), ("rule_type", "=", "manual")])
        self.assertEqual(line.points, 10)
        self.assertEqual(line.description, "Campaña de bienvenida")
        self.assertEqual(campaign.participant_ids.trace_ids.state, "processed")

    def test_license_renewal_reads_hook(self):
        campaign = self._create_campaign(self.env, target_model="res.partner", trigger_type="license_renewal",
                                         renewal_days_before=60, segment_domain="[('email', '!=', False)]")
        Partner = self.env["res.partner"]
        with freeze_time(SEND_TIME):
            campaign.action_launch()
            if not hasattr(Partner, "_montanes_license_renewal_candidates"):
                self.assertFalse(campaign.participant_ids, "Without the licence inventory nobody enters")
                return
            candidates = Partner._montanes_license_renewal_candidates(
                SEND_TIME.date(), SEND_TIME.date() + timedelta(days=60),
            )
        with_email = Partner.browse({candidate["partner_id"] for candidate in candidates}).filtered("email_normalized")
        self.assertEqual(campaign.participant_ids.partner_id, with_email)

    def test_ready_flows_copy_and_launch(self):
        names = {
            "montanes_campaigns.flow_welcome": "Bienvenida a nuevos leads",
            "montanes_campaigns.flow_reactivation": "Reactivación de leads dormidos",
            "montanes_campaigns.flow_renewal": "Renovación de licencia",
            "montanes_campaigns.flow_hot_lead": "Lead caliente: aviso al comercial",
        }
        for xml_id, name in names.items():
            flow = self.env.ref(xml_id)
            self.assertEqual(flow.name, name)
            self.assertEqual(flow.state, "draft")
            copy = flow.copy()
            self.assertEqual(
                [(step.name, step.parent_id.name, step.trigger_type) for step in copy.step_ids],
                [(step.name, step.parent_id.name, step.trigger_type) for step in flow.step_ids],
            )
            copy.action_launch()
            self.assertEqual(copy.state, "running")
