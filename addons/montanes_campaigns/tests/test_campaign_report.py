from datetime import datetime

from odoo.fields import Command
from odoo.tests import freeze_time, new_test_user, tagged

from .common_engine import CampaignEngineCommon

SEND_TIME = datetime(2026, 5, 4, 9, 0)


@tagged("post_install", "-at_install")
class TestCampaignReport(CampaignEngineCommon):

    def _send_first_step(self, campaign, launch_time=SEND_TIME):
        with freeze_time(launch_time):
            campaign.action_launch()
            campaign._process_steps()
        self._mails_of(campaign).mailing_trace_ids.set_sent()
        return campaign.participant_ids.sorted("id")

    def _report_of(self, campaign):
        self.env.flush_all()
        return self.env["montanes.campaign.report"].search([("campaign_id", "=", campaign.id)])

    def test_report_exact_figures(self):
        self._create_leads(self.env, 4)
        campaign = self._create_campaign(self.env)
        participants = self._send_first_step(campaign)
        traces = participants.trace_ids.mailing_trace_id.sorted("id")
        traces[:2].set_opened()
        traces[:1].set_clicked()
        traces[1:2].set_replied()
        traces[2:3].montanes_machine_open_count = 3
        traces[3:].set_bounced()
        participants[1].lead_id.convert_opportunity(self.env["res.partner"])
        participants[2]._unsubscribe("campaign", "Demasiados correos")

        report = self._report_of(campaign)
        self.assertEqual(len(report), 1)
        self.assertEqual(report.company_id, self.env.company)
        self.assertEqual(report.date_launched, SEND_TIME)
        self.assertEqual(report.trigger_type, "segment")
        self.assertEqual(report.participant_count, 4)
        self.assertEqual(report.sent_count, 4)
        self.assertEqual(report.delivered_count, 3)
        self.assertEqual(report.opened_count, 2)
        self.assertEqual(report.machine_open_count, 3)
        self.assertEqual(report.clicked_count, 1)
        self.assertEqual(report.replied_count, 1)
        self.assertEqual(report.bounced_count, 1)
        self.assertEqual(report.unsubscribed_count, 1)
        self.assertEqual(report.converted_count, 1)
        self.assertEqual(report.revenue, 0.0)
        self.assertEqual(report.open_rate, 66.7)
        self.assertEqual(report.click_rate, 33.3)
        self.assertEqual(report.reply_rate, 33.3)
        self.assertEqual(report.bounce_rate, 25.0)
        self.assertEqual(report.unsubscribe_rate, 33.3)
        self.assertEqual(report.conversion_rate, 25.0)

        # The campaign form computes the same figures.
        campaign.invalidate_recordset()
        campaign.step_ids.invalidate_recordset()
        for field_name in ("participant_count", "sent_count", "delivered_count", "opened_count",
                           "machine_open_count", "clicked_count", "replied_count", "bounced_count",
                           "unsubscribed_count", "converted_count", "open_rate", "conversion_rate"):
            self.assertEqual(report[field_name], campaign[field_name], field_name)

    def test_report_revenue_through_utm(self):
        if "sale.order" not in self.env:
            self.skipTest("Sales is not installed")
        partner = self.env["res.partner"].create({"name": "Compradora S.L.", "email": "compra@motor.example"})
        self._create_leads(self.env, 1, partner_id=partner.id)
        self._create_leads(self.env, 1, prefix="otro")
        campaign = self._create_campaign(self.env)
        self._send_first_step(campaign)
        product = self.env["product.product"].create({"name": "Licencia (pruebas)", "list_price": 250.0})
        for quantity, confirm in ((2, True), (5, False)):
            order = self.env["sale.order"].create({
                "partner_id": partner.id,
                "campaign_id": campaign.utm_campaign_id.id,
                "order_line": [Command.create({
                    "product_id": product.id, "product_uom_qty": quantity, "tax_ids": False,
                })],
            })
            if confirm:
                order.action_confirm()

        report = self._report_of(campaign)
        self.assertEqual(report.revenue, 500.0, "Only the confirmed order counts")
        self.assertEqual(report.converted_count, 1)
        self.assertEqual(report.conversion_rate, 50.0)

    def test_report_groups_by_month(self):
        self._create_leads(self.env, 2)
        may = self._create_campaign(self.env, name="Mayo")
        june = self._create_campaign(self.env, name="Junio", trigger_type="segment")
        self._send_first_step(may, SEND_TIME)
        may_traces = may.participant_ids.trace_ids.mailing_trace_id
        may_traces[:1].set_opened()
        # June's campaign mails the same leads a month later.
        self._send_first_step(june, datetime(2026, 6, 8, 9, 0))
        june.participant_ids.trace_ids.mailing_trace_id.set_opened()
        self.env.flush_all()

        groups = self.env["montanes.campaign.report"]._read_group(
            [("campaign_id", "in", (may | june).ids)],
            ["date_launched:month"],
            ["sent_count:sum", "opened_count:sum", "open_rate:avg"],
        )
        self.assertEqual(
            [(month.month, sent, opened, rate) for month, sent, opened, rate in groups],
            [(5, 2, 1, 50.0), (6, 2, 2, 100.0)],
        )

    def test_report_respects_company(self):
        self._create_leads(self.env, 1)
        campaign = self._create_campaign(self.env)
        self._send_first_step(campaign)
        other_company = self.env["res.company"].create({"name": "Otra empresa (pruebas)"})
        other_campaign = self._create_campaign(self.env, name="Otra", company_id=other_company.id)
        user = new_test_user(
            self.env, login="informe_marketing", groups="base.group_user,mass_mailing.group_mass_mailing_user",
            company_id=self.env.company.id, company_ids=[Command.set(self.env.company.ids)],
        )
        self.env.flush_all()
        visible = self.env["montanes.campaign.report"].with_user(user).search([
            ("campaign_id", "in", (campaign | other_campaign).ids),
        ])
        self.assertEqual(visible.campaign_id, campaign)
        salesman = new_test_user(self.env, login="informe_comercial", groups="sales_team.group_sale_salesman")
        self.assertEqual(
            self.env["montanes.campaign.report"].with_user(salesman).search([("campaign_id", "=", campaign.id)])
            .sent_count,
            1,
            "Salespeople read the analysis",
        )
        portal = new_test_user(self.env, login="informe_portal", groups="base.group_portal")
        self.assertFalse(
            self.env["montanes.campaign.report"].with_user(portal).has_access("read"),
            "Portal users cannot read the analysis",
        )
