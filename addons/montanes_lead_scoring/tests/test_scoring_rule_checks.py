from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import MontanesScoringCommon

# Filters on the login history of the salesperson: res.users.log is readable by
# administrators only, so a condition on it would reveal when colleagues log in.
FORBIDDEN_CONDITION = "[('user_id.log_ids.create_date', '>=', '2026-01-01')]"
# Job title that no demo lead has, so counts do not depend on demo data.
TEST_FUNCTION = 'Gerente (pruebas de puntuación)'
# res.users.password is not stored, so no query can filter on it.
UNSTORED_CONDITION = "[('user_id.password', '=', 'secreto')]"


@tagged('post_install', '-at_install')
class TestScoringRuleChecks(MontanesScoringCommon):
    """Rules score as superuser, so their conditions are checked as their author."""

    def _create_rule(self, user=None, **values):
        Rule = self.env['montanes.scoring.rule']
        if user:
            Rule = Rule.with_user(user)
        return Rule.create({
            'name': 'Regla (pruebas)',
            'rule_type': 'profile',
            'domain': repr([('function', '=', TEST_FUNCTION)]),
            'points': 5,
            **values,
        })

    def test_forbidden_path_rejected_on_create(self):
        lead = self._create_lead(function=TEST_FUNCTION)
        rule_count = self.env['montanes.scoring.rule'].search_count([])
        line_count = self.env['montanes.lead.score.line'].search_count([])

        with self.assertRaisesRegex(ValidationError, r'user_id\.log_ids\.create_date') as caught:
            self._create_rule(self.user_marketing, domain=FORBIDDEN_CONDITION)

        self.assertIn('Users Log', str(caught.exception))
        self.assertEqual(self.env['montanes.scoring.rule'].search_count([]), rule_count)
        self.assertEqual(self.env['montanes.lead.score.line'].search_count([]), line_count)
        self.assertEqual(lead.montanes_score_fit, 0)

    def test_forbidden_path_rejected_on_write(self):
        rule = self._create_rule(self.user_marketing)
        with self.assertRaisesRegex(ValidationError, r'user_id\.log_ids\.create_date'):
            rule.write({'domain': FORBIDDEN_CONDITION})
        self.assertEqual(rule.domain, repr([('function', '=', TEST_FUNCTION)]))

    def test_forbidden_path_saved_by_admin(self):
        rule = self._create_rule(domain=FORBIDDEN_CONDITION)
        self.assertEqual(rule.domain, FORBIDDEN_CONDITION)

    def test_allowed_condition_saved_by_marketer(self):
        lead = self._create_lead(function=TEST_FUNCTION)
        rule = self._create_rule(self.user_marketing)
        self.assertEqual(rule.lead_count, 1)
        self.assertEqual(lead.montanes_score_fit, 5)

    def test_unstored_field_rejected(self):
        with self.assertRaisesRegex(ValidationError, r'user_id\.password') as caught:
            self._create_rule(domain=UNSTORED_CONDITION)
        self.assertIn('not stored', str(caught.exception))

    def test_bad_value_rejected(self):
        with mute_logger('odoo.sql_db'), self.assertRaises(ValidationError):
            self._create_rule(domain="[('id', '=', 'abc')]")
        # The failed query did not abort the transaction.
        self.assertTrue(self.rule_director.exists())

    def test_points_limits_accepted(self):
        for points in (100000, -100000):
            rule = self._create_rule(points=points)
            self.assertEqual(rule.points, points)

    def test_points_beyond_limit_rejected_on_create(self):
        for points in (100001, -100001, 2**31):
            with self.assertRaisesRegex(ValidationError, str(points)):
                self._create_rule(points=points)

    def test_points_beyond_limit_rejected_on_write(self):
        rule = self._create_rule()
        with self.assertRaisesRegex(ValidationError, str(2**31)):
            rule.write({'points': 2**31})
        self.assertEqual(rule.points, 5)
