import psycopg2

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
        with mute_logger('odoo.sql_db'), self.assertRaisesRegex(ValidationError, "'abc'"):
            self._create_rule(domain="[('id', '=', 'abc')]")
        # The failed query did not abort the transaction.
        self.assertTrue(self.rule_director.exists())

    def test_property_condition_accepted(self):
        rule = self._create_rule(self.user_marketing, domain="[('lead_properties.sector', '=', 'tic')]")
        self.assertEqual(rule.domain, "[('lead_properties.sector', '=', 'tic')]")

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


# Fragments of Odoo's and Python's own error texts, which must never reach users.
ENGLISH_ERROR_FRAGMENTS = r'Invalid|invalid|malformed|Domain\(|Failed to cast|Traceback|literal|node'


@tagged('post_install', '-at_install')
class TestConditionErrorsInSpanish(MontanesScoringCommon):
    """Every invalid condition gets a Spanish message naming the wrong part and the fix."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['res.lang']._activate_lang('es_ES')
        cls.env['ir.module.module']._load_module_terms(['montanes_lead_scoring'], ['es_ES'], overwrite=True)
        cls.user_marketing.lang = 'es_ES'

    def _assert_rejected_in_spanish(self, domain, expected, user=None):
        """Create a profile rule with ``domain`` in Spanish and assert the message contains every
        fragment of ``expected`` and no English error text."""
        Rule = self.env['montanes.scoring.rule'].with_context(lang='es_ES')
        if user:
            Rule = Rule.with_user(user)
        with mute_logger('odoo.sql_db'), self.assertRaises(ValidationError) as caught:
            Rule.create({'name': 'Regla mala', 'rule_type': 'profile', 'domain': domain, 'points': 5})
        message = str(caught.exception)
        self.assertIn('«Regla mala»', message)
        for fragment in expected:
            self.assertIn(fragment, message)
        self.assertNotRegex(message, ENGLISH_ERROR_FRAGMENTS)
        return message

    def test_unknown_field(self):
        self._assert_rejected_in_spanish("[('sector_x', '=', 'TIC')]", ['sector_x', 'no existe', 'Iniciativa'])

    def test_unknown_field_after_relation(self):
        self._assert_rejected_in_spanish("[('partner_id.sector_x', '=', 1)]", ['sector_x', 'partner_id.sector_x'])

    def test_dot_after_plain_field(self):
        self._assert_rejected_in_spanish("[('city.name', '=', 'Madrid')]", ['city.name', 'no es una relación'])

    def test_relative_date(self):
        self._assert_rejected_in_spanish(
            "[('create_date', '>=', context_today().strftime('%Y-%m-%d'))]",
            ["context_today().strftime('%Y-%m-%d')", 'valor fijo'],
        )

    def test_expression_value(self):
        self._assert_rejected_in_spanish("[('city', '=', user.city)]", ['user.city', 'valor fijo'])

    def test_syntax_error(self):
        self._assert_rejected_in_spanish("[('city', '='", ['no es válida', 'editor de condiciones'])

    def test_not_a_list(self):
        for domain in ("'city'", '42', "{'city': 'Madrid'}"):
            with self.subTest(domain=domain):
                self._assert_rejected_in_spanish(domain, ['lista de condiciones'])

    def test_incomplete_condition(self):
        self._assert_rejected_in_spanish("[('city', '=')]", ["('city', '=')", '(campo, operador, valor)'])

    def test_unknown_operator(self):
        self._assert_rejected_in_spanish("[('city', 'parecido', 'Madrid')]", ["'parecido'", 'operador'])

    def test_value_of_wrong_type(self):
        self._assert_rejected_in_spanish("[('create_date', '>=', 'ayer')]", ['2026-01-31'])
        self._assert_rejected_in_spanish("[('id', '=', 'abc')]", ["'abc'", 'no es adecuado'])
        self._assert_rejected_in_spanish("[('expected_revenue', '>', 'abc')]", ["'abc'", 'no es adecuado'])

    def test_unstored_field(self):
        self._assert_rejected_in_spanish(UNSTORED_CONDITION, ['user_id.password', 'no se guarda'])

    def test_forbidden_model(self):
        self._assert_rejected_in_spanish(
            FORBIDDEN_CONDITION, ['user_id.log_ids.create_date', 'no tiene permiso'], user=self.user_marketing)

    def test_band_action_condition(self):
        band = self.env.ref('montanes_lead_scoring.score_band_hot')
        with self.assertRaises(ValidationError) as caught:
            self.env['montanes.band.action'].with_context(lang='es_ES').create({
                'name': 'Mala', 'band_id': band.id, 'action_type': 'convert',
                'domain': "[('sector_x', '=', 1)]",
            })
        message = str(caught.exception)
        self.assertIn('«Mala»', message)
        self.assertIn('sector_x', message)
        self.assertNotRegex(message, ENGLISH_ERROR_FRAGMENTS)

    def test_negative_caps(self):
        with self.assertRaisesRegex(ValidationError, 'no puede ser negativa'):
            self.env['res.config.settings'].with_context(lang='es_ES').create({
                'montanes_max_engagement_score': -1,
            })

        with mute_logger('odoo.sql_db'), self.assertRaises(psycopg2.IntegrityError) as caught, \
                self.cr.savepoint():
            self.env['montanes.scoring.rule.group'].create({'name': 'Web', 'max_points': -5})
        message = self.env['montanes.scoring.rule.group'].with_context(lang='es_ES')._sql_error_to_message(
            caught.exception)
        self.assertIn('no pueden ser negativos', message)

    def test_overlapping_bands(self):
        band = self.env.ref('montanes_lead_scoring.score_band_warm').with_context(lang='es_ES')
        with self.assertRaisesRegex(ValidationError, 'se solapan'):
            band.min_score = self.env.ref('montanes_lead_scoring.score_band_hot').min_score

    def test_half_life_zero(self):
        Rule = self.env['montanes.scoring.rule'].with_context(lang='es_ES')
        with self.assertRaisesRegex(ValidationError, 'La vida media de la regla «Abre» debe ser de al menos 1 día'):
            Rule.create({'name': 'Abre', 'rule_type': 'behaviour', 'event_type': 'email_open', 'points': 5,
                         'validity': 'half_life', 'half_life_days': 0})
