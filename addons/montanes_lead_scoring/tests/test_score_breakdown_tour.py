from odoo.tests import HttpCase, tagged

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestScoreBreakdownTour(MontanesScoringCommon, HttpCase):
    """Browser tour in Chromium: the Scoring tab of the lead form and its breakdown."""

    def test_lead_form_breakdown(self):
        lead = self._create_lead(name='Hotel Miramar: 40 licencias', function='Director general')
        lead._montanes_adjust_score(40, 'Pidió presupuesto en la feria')
        self.assertEqual(lead.montanes_score, 55)
        self.start_tour(f'/odoo/crm/{lead.id}', 'montanes_score_breakdown_tour', login='admin', timeout=120)
