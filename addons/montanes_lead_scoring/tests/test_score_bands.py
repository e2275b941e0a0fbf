import psycopg2

from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestScoreBands(MontanesScoringCommon):
    """Bands of the total score with the default thresholds: Frío < 25 <= Templado < 50 <= Caliente."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.band_cold = cls.env.ref('montanes_lead_scoring.score_band_cold')
        cls.band_warm = cls.env.ref('montanes_lead_scoring.score_band_warm')
        cls.band_hot = cls.env.ref('montanes_lead_scoring.score_band_hot')
        (cls.band_cold | cls.band_warm | cls.band_hot).write({'active': True})
        cls.band_cold.min_score = 0
        cls.band_warm.min_score = 25
        cls.band_hot.min_score = 50
        cls.env['montanes.score.band'].search([
            ('id', 'not in', (cls.band_cold | cls.band_warm | cls.band_hot).ids),
        ]).active = False

    def _crossings(self, lead):
        return self.env['montanes.lead.band.crossing'].search([('lead_id', '=', lead.id)], order='id')

    def test_default_bands(self):
        self.assertEqual(
            [(band.code, band.name) for band in self.band_cold | self.band_warm | self.band_hot],
            [('cold', 'Frío'), ('warm', 'Templado'), ('hot', 'Caliente')],
        )

    def test_new_lead_is_cold(self):
        lead = self._create_lead()
        self.assertEqual(lead.montanes_score, 0)
        self.assertEqual(lead.montanes_band_id, self.band_cold)
        self.assertFalse(self._crossings(lead), "Creating a lead in the lowest band is no crossing")

    def test_band_follows_score(self):
        lead = self._create_lead()
        lead._montanes_adjust_score(30, 'Visited our stand at the fair')
        self.assertEqual(lead.montanes_band_id, self.band_warm)
        self.assertEqual(lead.priority, '2', "Templado sets two priority stars")
        lead._montanes_adjust_score(20, 'Asked for a quote by phone')
        self.assertEqual(lead.montanes_score, 50)
        self.assertEqual(lead.montanes_band_id, self.band_hot)
        self.assertEqual(lead.priority, '3')
        lead._montanes_adjust_score(-100, 'Bought from a competitor')
        self.assertEqual(lead.montanes_score, -50)
        self.assertEqual(lead.montanes_band_id, self.band_cold, "Scores below the lowest band stay in it")
        self.assertEqual(
            [(crossing.old_band_id, crossing.new_band_id, crossing.score) for crossing in self._crossings(lead)],
            [
                (self.band_cold, self.band_warm, 30),
                (self.band_warm, self.band_hot, 50),
                (self.band_hot, self.band_cold, -50),
            ],
        )

    def test_same_band_no_crossing(self):
        lead = self._create_lead()
        lead._montanes_adjust_score(5, 'Called back')
        lead._montanes_adjust_score(5, 'Called back again')
        self.assertEqual(lead.montanes_band_id, self.band_cold)
        self.assertFalse(self._crossings(lead))

    def test_profile_rule_sets_band(self):
        self.rule_director.points = 60
        lead = self._create_lead(function='Directora de compras')
        self.assertEqual(lead.montanes_score, 60)
        self.assertEqual(lead.montanes_band_id, self.band_hot)
        self.assertEqual(len(self._crossings(lead)), 1)
        # A new condition that still matches removes and re-adds nothing visible.
        self.rule_director.domain = "[('function', 'ilike', 'directora')]"
        self.assertEqual(lead.montanes_band_id, self.band_hot)
        self.assertEqual(len(self._crossings(lead)), 1, "Re-scoring to the same total is no crossing")

    def test_threshold_change_moves_leads(self):
        lead = self._create_lead()
        lead._montanes_adjust_score(30, 'Fair')
        self.assertEqual(lead.montanes_band_id, self.band_warm)
        self.band_hot.min_score = 30
        self.assertEqual(lead.montanes_band_id, self.band_hot)
        self.assertEqual(self._crossings(lead)[-1].old_band_id, self.band_warm)

    def test_overlapping_thresholds(self):
        with self.assertRaisesRegex(ValidationError, 'overlap'):
            self.band_warm.min_score = 50

    def test_duplicate_code(self):
        with self.assertRaises(psycopg2.IntegrityError), mute_logger('odoo.sql_db'), self.cr.savepoint():
            self.env['montanes.score.band'].create({'name': 'Tibio', 'code': 'warm', 'min_score': 10})

    def test_adjust_score_ledger(self):
        lead = self._create_lead(function='Director general')
        lines = lead.with_user(self.user_marketing)._montanes_adjust_score(80, 'Met the buyer at the fair')
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines.rule_type, 'manual')
        self.assertEqual(lines.user_id, self.user_marketing)
        self.assertEqual(lines.description, 'Met the buyer at the fair')
        self.assertEqual(lead.montanes_score_fit, 15)
        self.assertEqual(lead.montanes_score_engagement, 80)
        self.assertEqual(lead.montanes_score, sum(lead.montanes_score_line_ids.mapped('points')))

    def test_adjust_score_bad_input(self):
        lead = self._create_lead()
        with self.assertRaisesRegex(UserError, 'other than 0'):
            lead._montanes_adjust_score(0, 'Nothing')
        with self.assertRaisesRegex(UserError, 'reason is required'):
            lead._montanes_adjust_score(5, '  ')
        self.assertFalse(lead.montanes_score_line_ids)


@tagged('post_install', '-at_install')
class TestScoringAccessBands(MontanesScoringCommon):
    """A salesperson sees the scores and breakdowns of their own leads; only marketing edits the setup."""

    def test_salesman_breakdown_own_leads_only(self):
        own = self._create_lead(user_id=self.user_salesman.id)
        other = self._create_lead(user_id=self.user_other_salesman.id)
        (own | other)._montanes_adjust_score(30, 'Fair')
        Line = self.env['montanes.lead.score.line'].with_user(self.user_salesman)
        self.assertEqual(Line.search([('lead_id', 'in', (own | other).ids)]).lead_id, own)
        Crossing = self.env['montanes.lead.band.crossing'].with_user(self.user_salesman)
        self.assertEqual(Crossing.search([('lead_id', 'in', (own | other).ids)]).lead_id, own)
        action = own.with_user(self.user_salesman).action_montanes_score_breakdown()
        self.assertEqual(Line.search(action['domain']).mapped('points'), [30])
        self.assertEqual(own.with_user(self.user_salesman).montanes_score, 30)

    def test_salesman_adjusts_own_lead_only(self):
        own = self._create_lead(user_id=self.user_salesman.id)
        other = self._create_lead(user_id=self.user_other_salesman.id)
        own.with_user(self.user_salesman)._montanes_adjust_score(10, 'Called back')
        self.assertEqual(own.montanes_score, 10)
        with self.assertRaises(AccessError):
            other.with_user(self.user_salesman)._montanes_adjust_score(10, 'Not my lead')
        self.assertEqual(other.montanes_score, 0)

    def test_marketing_reaches_scoring_menus(self):
        """The scoring menus do not depend on CRM's Configuration menu, which only sales managers see."""
        scoring_menus = [
            self.env.ref(f'montanes_lead_scoring.{xmlid}').id
            for xmlid in ('menu_montanes_lead_scoring', 'menu_montanes_scoring_rule', 'menu_montanes_score_band',
                          'menu_montanes_tracking_hit')
        ]
        self.assertFalse(self.user_marketing.has_group('sales_team.group_sale_manager'))
        visible = self.env['ir.ui.menu'].with_user(self.user_marketing)._visible_menu_ids()
        for menu_id in scoring_menus:
            self.assertIn(menu_id, visible)
        # The web client hides a menu whose parent is hidden, so the folder is what matters.
        visible_to_salesman = self.env['ir.ui.menu'].with_user(self.user_salesman)._visible_menu_ids()
        self.assertNotIn(scoring_menus[0], visible_to_salesman)
        tracking_hits_in_mailing = self.env.ref('montanes_lead_scoring.menu_montanes_tracking_hit_mass_mailing')
        self.assertIn(tracking_hits_in_mailing.id, visible)

    def test_only_marketing_edits_setup(self):
        band = self.env.ref('montanes_lead_scoring.score_band_hot')
        with self.assertRaises(AccessError):
            band.with_user(self.user_salesman).min_score = 70
        with self.assertRaises(AccessError):
            self.env['montanes.band.action'].with_user(self.user_salesman).create({
                'name': 'Tag', 'band_id': band.id, 'action_type': 'tag',
                'tag_ids': [(0, 0, {'name': 'Caliente'})],
            })
        with self.assertRaises(AccessError):
            self.env['montanes.followup.rule'].with_user(self.user_salesman).create({'band_id': band.id})
        with self.assertRaises(AccessError):
            self.rule_open.with_user(self.user_salesman).points = 50
        band.with_user(self.user_marketing).min_score = 70
        self.assertEqual(band.min_score, 70)
        self.rule_open.with_user(self.user_marketing).points = 6
        self.assertEqual(self.rule_open.points, 6)
