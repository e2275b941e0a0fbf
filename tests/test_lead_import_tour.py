"""Browser tour in Chromium: the spreadsheet import screen and the lead kanban with scores."""

from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestLeadImportTour(HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # The only profile rule, one that both companies of the tour's spreadsheet match: each
        # has a CIF. Rules of demo data, if any, would add their own points.
        cls.env["montanes.scoring.rule"].search([("rule_type", "=", "profile")]).active = False
        cls.env["montanes.scoring.rule"].create({
            "name": "Tiene CIF",
            "rule_type": "profile",
            "domain": "[('montanes_vat', '!=', False)]",
            "points": 15,
        })

    def test_import_then_kanban_scores(self):
        self.start_tour("/odoo", "montanes_lead_import_tour", login="admin", timeout=180)

        leads = self.env["crm.lead"].search([
            ("partner_name", "in", ["Hostelería del Norte S.L.L.", "Bodegas Sierra S.A."]),
        ])
        self.assertEqual(len(leads), 2, "the skipped duplicate row created no third lead")
        self.assertEqual(leads.mapped("montanes_score"), [15, 15])
