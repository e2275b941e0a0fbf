import random

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..wizards.montanes_scoring_calibration import roc_auc, top_share_conversion
from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestCalibration(MontanesScoringCommon):

    def test_roc_auc_values(self):
        self.assertEqual(roc_auc([1, 2, 3, 4], [False, False, True, True]), 1.0)
        self.assertEqual(roc_auc([4, 3, 2, 1], [False, False, True, True]), 0.0)
        self.assertEqual(roc_auc([1, 2, 2, 3], [False, True, False, True]), 0.875, "A tie counts half")
        self.assertIsNone(roc_auc([1, 2], [True, True]), "No lost lead: no AUC")
        self.assertEqual(top_share_conversion([9, 1, 8, 2, 7], [True, False, False, False, True]), 1.0)

    def test_learn_and_apply(self):
        # Closed history: directors win 4 times in 5, other leads 1 time in 5. A seeded draw
        # spreads the outcomes whatever ids the leads get, so the held-out fifth mixes both.
        rng = random.Random(7)
        Lead = self.env['crm.lead']
        for index in range(200):
            director = index % 2 == 0
            lead = self._create_lead(
                name=f'Histórico {index}', type='opportunity',
                function='Director de compras' if director else 'Técnico',
                email_from=f'contacto{index}@historico.example',
            )
            if rng.random() < (0.8 if director else 0.2):
                lead.action_set_won()
            else:
                lead.action_set_lost()

        wizard = self.env['montanes.scoring.calibration'].with_user(self.user_marketing).create({})
        wizard.action_learn()
        self.assertEqual(wizard.learn_count + wizard.holdout_count,
                         Lead.with_context(active_test=False).search_count([('won_status', 'in', ['won', 'lost'])]))
        line_director = wizard.line_ids.filtered(lambda line: line.rule_id == self.rule_director)
        self.assertTrue(line_director.enough_data)
        self.assertGreater(line_director.suggested_points, 0, "Directors win more often than average")
        self.assertGreater(wizard.auc_suggested, 0.5, "The suggested points rank held-out won leads first")
        self.assertGreaterEqual(wizard.top_suggested, wizard.base_rate)

        wizard.action_apply()
        self.assertEqual(self.rule_director.points, line_director.suggested_points)

    def test_not_enough_history(self):
        self.env['crm.lead'].with_context(active_test=False).search([('won_status', '=', 'lost')]).unlink()
        wizard = self.env['montanes.scoring.calibration'].create({})
        with self.assertRaisesRegex(UserError, 'won and lost leads'):
            wizard.action_learn()
