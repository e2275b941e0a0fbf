from odoo.tests import tagged

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestLedgerInvariants(MontanesScoringCommon):
    """A lead's scores equal the sum of its score entries after every kind of change."""

    def assertScoresMatchLedger(self, lead):
        lines = lead.montanes_score_line_ids
        fit = sum(lines.filtered(lambda line: line.rule_type == 'profile').mapped('points'))
        engagement = sum(lines.filtered(lambda line: line.rule_type != 'profile').mapped('points'))
        self.assertEqual(lead.montanes_score_fit, fit, "Profile score is the sum of profile entries")
        self.assertEqual(lead.montanes_score_engagement, engagement,
                         "Engagement score is the sum of the other entries")
        self.assertEqual(lead.montanes_score, fit + engagement)
        # The SQL recompute of the nightly job finds nothing to correct.
        self.assertEqual(lead._montanes_recompute_totals(), 0)

    def test_manual_adjustment(self):
        lead = self._create_lead(function='Director financiero')
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead._montanes_adjust_score(80, 'Came to the product demo')
        self.assertEqual(lead.montanes_score, 15 + 5 + 80)
        self.assertScoresMatchLedger(lead)

    def test_rule_points_change(self):
        lead = self._create_lead(function='Director financiero')
        self.rule_open.points = 5
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        self.rule_open.points = 8
        lead._montanes_register_event('email_open', 'mailing.trace,2,open')
        self.rule_director.points = 8
        self.assertEqual(
            sorted(lead.montanes_score_line_ids.mapped('points')), [5, 8, 8],
            "Behaviour entries keep what they earned, profile entries follow the rule",
        )
        self.assertEqual(lead.montanes_score, 21)
        self.assertScoresMatchLedger(lead)

    def test_rule_deleted(self):
        lead = self._create_lead(function='Director financiero')
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead._montanes_register_event('email_click', 'mailing.trace,1,click')
        self.assertEqual(lead.montanes_score, 30)
        self.rule_click.unlink()
        self.assertEqual(lead.montanes_score, 20)
        self.rule_director.unlink()
        self.assertEqual(lead.montanes_score, 5)
        self.assertScoresMatchLedger(lead)

    def test_rule_archived(self):
        lead = self._create_lead(function='Director financiero')
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        self.rule_director.active = False
        self.rule_open.active = False
        self.assertEqual(lead.montanes_score, 5, "An archived profile rule no longer matches")
        self.assertScoresMatchLedger(lead)
        lead._montanes_register_event('email_open', 'mailing.trace,2,open')
        self.assertEqual(lead.montanes_score, 5, "An archived behaviour rule scores nothing new")

    def test_leads_merged(self):
        lead_a = self._create_lead(name='Ferretería Ruiz', function='Director de compras',
                                   email_from='compras@ferreteriaruiz.example')
        lead_b = self._create_lead(name='Ferretería Ruiz (feria)', email_from='compras@ferreteriaruiz.example',
                                   expected_revenue=9000)
        self.rule_open.repeat_policy = 'once_per_lead'
        lead_a._montanes_register_event('email_open', 'mailing.trace,1,open')
        lead_b._montanes_register_event('email_open', 'mailing.trace,2,open')
        lead_b._montanes_register_event('email_click', 'mailing.trace,2,click')
        lead_b._montanes_adjust_score(80, 'Met at the fair')
        self.assertEqual(lead_a.montanes_score, 15 + 5)
        self.assertEqual(lead_b.montanes_score, 10 + 5 + 10 + 80)

        merged = (lead_a | lead_b)._merge_opportunity(auto_unlink=True, max_length=None)
        self.assertEqual(len(merged), 1)
        self.assertEqual(
            merged.montanes_score_fit, 15 + 10,
            "The merged lead is a director with a big budget",
        )
        self.assertEqual(
            merged.montanes_score_engagement, 5 + 10 + 80,
            "A once-per-lead open scores once on the merged lead",
        )
        self.assertEqual(len(merged.montanes_score_line_ids.filtered(lambda line: line.rule_id == self.rule_open)), 1)
        self.assertScoresMatchLedger(merged)

    def test_caps_changed(self):
        lead = self._create_lead(function='Director financiero', expected_revenue=10000)
        lead._montanes_register_event('email_open', 'mailing.trace,1,open')
        group = self.env['montanes.scoring.rule.group'].create({'name': 'Company', 'max_points': 0})
        self.rule_budget.group_id = group
        self.assertEqual(lead.montanes_score, 15 + 10 + 5)

        steps = [
            ('profile maximum set', lambda: self.env['res.config.settings'].create(
                {'montanes_max_fit_score': 18}).execute(), 18 + 5),
            ('group maximum set', lambda: group.write({'max_points': 2}), 17 + 5),
            ('rule moved out of the group', lambda: self.rule_budget.write({'group_id': False}), 18 + 5),
            ('rule moved into the group', lambda: self.rule_director.write({'group_id': group.id}), 2 + 10 + 5),
            ('profile maximum removed', lambda: self.env['res.config.settings'].create(
                {'montanes_max_fit_score': 0}).execute(), 2 + 10 + 5),
            ('group deleted', group.unlink, 15 + 10 + 5),
        ]
        for step, change, score in steps:
            with self.subTest(step=step):
                change()
                self.assertEqual(lead.montanes_score, score)
                self.assertScoresMatchLedger(lead)
