import ast
import csv
import threading
import time
from datetime import datetime
from unittest.mock import patch

from lxml import etree
from psycopg2 import IntegrityError

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import DummyRLock, Registry
from odoo.service.model import retrying
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, tagged, users
from odoo.tools import mute_logger

from .common import MontanesScoringCommon, get_shared_data_dir


@tagged('post_install', '-at_install')
class TestProfileScoring(MontanesScoringCommon):

    def test_create_scores_matching_rules(self):
        lead = self._create_lead(function='Director comercial', expected_revenue=12000)
        self.assertEqual(lead.montanes_score_fit, 25)
        self.assertEqual(lead.montanes_score_engagement, 0)
        self.assertEqual(lead.montanes_score, 25)
        self.assertEqual(lead.montanes_score_line_ids.rule_id, self.rule_director | self.rule_budget)
        self.assertEqual(set(lead.montanes_score_line_ids.mapped('source_ref')), {'profile'})

    def test_create_without_match_scores_zero(self):
        lead = self._create_lead(function='Contable', expected_revenue=850.5)
        self.assertEqual(lead.montanes_score, 0)
        self.assertFalse(lead.montanes_score_line_ids)

    def test_negative_rule_subtracts(self):
        lead = self._create_lead(email_from=False, function='Director financiero')
        self.assertEqual(lead.montanes_score, 5)

    def test_write_adds_and_removes_points(self):
        lead = self._create_lead(function='Contable')
        self.assertEqual(lead.montanes_score, 0)

        lead.write({'function': 'Director de IT'})
        self.assertEqual(lead.montanes_score, 15)
        self.assertEqual(lead.montanes_score_line_ids.rule_id, self.rule_director)

        lead.write({'function': 'Técnico de sistemas'})
        self.assertEqual(lead.montanes_score, 0)
        self.assertFalse(lead.montanes_score_line_ids)

    def test_write_computed_source_field(self):
        """Setting a partner changes email_from by compute, and the e-mail rule follows."""
        lead = self._create_lead(email_from=False)
        self.assertEqual(lead.montanes_score, -10)
        partner = self.env['res.partner'].create({
            'name': 'Pilar Garrido',
            'email': 'pilar.garrido@construccionesvalle.example',
        })
        lead.write({'partner_id': partner.id})
        self.assertEqual(lead.email_from, 'pilar.garrido@construccionesvalle.example')
        self.assertEqual(lead.montanes_score, 0)

    def test_trigger_fields_follow_rule_conditions(self):
        trigger_fields = self.env['crm.lead']._montanes_get_profile_trigger_fields()
        self.assertIn('function', trigger_fields)
        self.assertIn('expected_revenue', trigger_fields)
        self.assertIn('email_from', trigger_fields)
        self.assertIn('partner_id', trigger_fields, 'email_from is computed from partner_id')
        self.assertIn('company_id', trigger_fields)
        self.assertNotIn('description', trigger_fields)
        self.assertNotIn('montanes_score', trigger_fields)

    def test_rule_create_scores_existing_leads(self):
        lead = self._create_lead(city='Zaragoza')
        self.assertEqual(lead.montanes_score, 0)
        self.env['montanes.scoring.rule'].create({
            'name': 'Zaragoza',
            'rule_type': 'profile',
            'domain': "[('city', '=', 'Zaragoza')]",
            'points': 7,
        })
        self.assertEqual(lead.montanes_score, 7)

    def test_rule_points_change_rescores(self):
        lead = self._create_lead(function='Director comercial')
        self.rule_director.write({'points': 30})
        self.assertEqual(lead.montanes_score, 30)
        self.assertEqual(lead.montanes_score_line_ids.points, 30)

    def test_rule_domain_change_rescores(self):
        director = self._create_lead(function='Director comercial')
        ceo = self._create_lead(function='CEO')
        self.rule_director.write({'domain': "[('function', '=', 'CEO')]"})
        self.assertEqual(director.montanes_score, 0)
        self.assertEqual(ceo.montanes_score, 15)

    def test_rule_archive_and_restore(self):
        lead = self._create_lead(function='Director comercial')
        self.rule_director.action_archive()
        self.assertEqual(lead.montanes_score, 0)
        self.assertFalse(lead.montanes_score_line_ids)

        self.rule_director.action_unarchive()
        self.assertEqual(lead.montanes_score, 15)

    def test_rule_unlink_removes_points(self):
        lead = self._create_lead(function='Director comercial', expected_revenue=6000)
        self.rule_director.unlink()
        self.assertEqual(lead.montanes_score, 10)
        self.assertEqual(lead.montanes_score_line_ids.rule_id, self.rule_budget)

    def test_company_rule_scores_own_company_only(self):
        other_company = self.env['res.company'].create({'name': 'Montañés Portugal'})
        lead_main = self._create_lead(city='Oporto')
        lead_other = self._create_lead(city='Oporto', company_id=other_company.id)
        self.env['montanes.scoring.rule'].create({
            'name': 'Oporto (PT)',
            'rule_type': 'profile',
            'domain': "[('city', '=', 'Oporto')]",
            'company_id': other_company.id,
            'points': 8,
        })
        self.assertEqual(lead_main.montanes_score, 0)
        self.assertEqual(lead_other.montanes_score, 8)

    def test_score_is_searchable_and_sortable(self):
        low = self._create_lead(function='Contable')
        high = self._create_lead(function='Director comercial', expected_revenue=12000)
        found = self.env['crm.lead'].search(
            [('id', 'in', (low | high).ids), ('montanes_score', '>=', 20)],
        )
        self.assertEqual(found, high)
        ordered = self.env['crm.lead'].search(
            [('id', 'in', (low | high).ids)], order='montanes_score desc',
        )
        self.assertEqual(ordered.ids, [high.id, low.id])

    def test_leads_from_sales_spreadsheet(self):
        """Leads built from the real sales spreadsheet get the score the rules predict."""
        data_dir = get_shared_data_dir()
        csv_path = data_dir / 'hoja_comercial_leads.csv'
        if not csv_path.is_file():
            self.skipTest(f'Shared data file not found: {csv_path}')
        with csv_path.open(encoding='cp1252', newline='') as csv_file:
            rows = [row for row in csv.DictReader(csv_file, delimiter=';') if row.get('Empresa')]
        rows = rows[:120]

        vals_list = []
        expected_scores = []
        for row in rows:
            amount_text = (row['Importe estimado (€)'] or '0').replace('.', '').replace(',', '.')
            vals_list.append({
                'name': row['Empresa'],
                'type': 'lead',
                'function': row['Cargo'],
                'email_from': 'contacto@cliente.example',
                'expected_revenue': float(amount_text),
                'company_id': self.company.id,
            })
            expected = 0
            if 'director' in row['Cargo'].lower():
                expected += 15
            if float(amount_text) >= 5000:
                expected += 10
            expected_scores.append(expected)
        leads = self.env['crm.lead'].create(vals_list)

        self.assertEqual(leads.mapped('montanes_score'), expected_scores)
        self.assertGreater(expected_scores.count(25), 0, 'the sample should hold top-scored leads')
        self.assertGreater(expected_scores.count(0), 0, 'the sample should hold unscored leads')


@tagged('post_install', '-at_install')
class TestScoringRuleConstraints(MontanesScoringCommon):

    def test_domain_valid_accepted(self):
        rule = self.env['montanes.scoring.rule'].create({
            'name': 'Madrid',
            'rule_type': 'profile',
            'domain': "[('city', 'ilike', 'madrid')]",
            'points': 3,
        })
        self.assertEqual(rule.domain, "[('city', 'ilike', 'madrid')]")

    def test_domain_unknown_field_rejected(self):
        with self.assertRaisesRegex(ValidationError, 'Bad field rule'):
            self.env['montanes.scoring.rule'].create({
                'name': 'Bad field rule',
                'rule_type': 'profile',
                'domain': "[('no_such_field', '=', 1)]",
                'points': 3,
            })

    def test_domain_not_literal_rejected(self):
        with self.assertRaisesRegex(ValidationError, 'Bad syntax rule'):
            self.env['montanes.scoring.rule'].create({
                'name': 'Bad syntax rule',
                'rule_type': 'profile',
                'domain': "[('city', '=', user.city)]",
                'points': 3,
            })

    def test_domain_write_invalid_rejected(self):
        with self.assertRaisesRegex(ValidationError, 'Director'):
            self.rule_director.write({'domain': "[('function', 'likes', 'x')]"})

    def test_profile_rule_needs_domain(self):
        with self.assertRaisesRegex(ValidationError, 'Empty profile'):
            self.env['montanes.scoring.rule'].create({
                'name': 'Empty profile',
                'rule_type': 'profile',
                'domain': '[]',
                'points': 3,
            })

    def test_domain_on_score_field_rejected(self):
        with self.assertRaisesRegex(ValidationError, 'montanes_score_engagement'):
            self.env['montanes.scoring.rule'].create({
                'name': 'Engaged',
                'rule_type': 'profile',
                'domain': "[('montanes_score_engagement', '>', 20)]",
                'points': 3,
            })

    def test_behaviour_rule_needs_event(self):
        with self.assertRaisesRegex(ValidationError, 'No event'):
            self.env['montanes.scoring.rule'].create({
                'name': 'No event',
                'rule_type': 'behaviour',
                'points': 3,
            })
        rule = self.env['montanes.scoring.rule'].create({
            'name': 'With event',
            'rule_type': 'behaviour',
            'event_type': 'email_reply',
            'points': 3,
        })
        self.assertEqual(rule.event_type, 'email_reply')

    def test_points_zero_rejected(self):
        self.rule_director.write({'points': -1})
        self.assertEqual(self.rule_director.points, -1)
        with mute_logger('odoo.sql_db'), self.assertRaises(IntegrityError):
            self.rule_director.write({'points': 0})
            self.env.flush_all()

    def test_rule_type_locked_once_scored(self):
        self._create_lead(function='Director comercial')
        with self.assertRaisesRegex(ValidationError, 'Director'):
            self.rule_director.write({'rule_type': 'behaviour', 'event_type': 'email_open'})

        unused = self.env['montanes.scoring.rule'].create({
            'name': 'Unused',
            'rule_type': 'profile',
            'domain': "[('city', '=', 'Soria')]",
            'points': 2,
        })
        unused.write({'rule_type': 'behaviour', 'event_type': 'email_open'})
        self.assertEqual(unused.rule_type, 'behaviour')

    def test_lead_count_and_actions(self):
        # Demo leads may already match the rule, so the check counts the increase.
        count_before = self.rule_director.lead_count
        leads = self._create_lead(function='Director comercial')
        leads |= self._create_lead(function='Directora financiera')
        self.rule_director.invalidate_recordset(['lead_count'])
        self.assertEqual(self.rule_director.lead_count, count_before + 2)

        action = self.rule_director.action_view_leads()
        self.assertEqual(action['res_model'], 'crm.lead')
        found = self.env['crm.lead'].with_context(active_test=False).search(action['domain'])
        self.assertEqual(found & leads, leads)
        self.assertEqual(len(found), count_before + 2)

        action = self.rule_director.action_view_score_lines()
        self.assertEqual(action['res_model'], 'montanes.lead.score.line')
        lines = self.env['montanes.lead.score.line'].search(action['domain'])
        self.assertEqual(lines.rule_id, self.rule_director)
        self.assertEqual(len(lines), count_before + 2)


@tagged('post_install', '-at_install')
class TestScoreLedger(MontanesScoringCommon):

    def test_unique_index_rejects_duplicate(self):
        lead = self._create_lead()
        ScoreLine = self.env['montanes.lead.score.line']
        vals = {
            'lead_id': lead.id,
            'rule_id': self.rule_open.id,
            'points': 5,
            'event_type': 'email_open',
            'source_ref': 'mailing.trace,1,open',
        }
        ScoreLine.create(vals)
        ScoreLine.create(dict(vals, source_ref='mailing.trace,2,open'))
        self.env.flush_all()
        self.assertEqual(len(lead.montanes_score_line_ids), 2)
        with mute_logger('odoo.sql_db'), self.assertRaises(IntegrityError):
            ScoreLine.create(vals)
            self.env.flush_all()

    def test_register_event_scores_once(self):
        lead = self._create_lead()
        lines = lead._montanes_register_event('email_open', 'mailing.trace,77,open')
        self.assertEqual(len(lines), 1)
        self.assertEqual(lines.rule_id, self.rule_open)
        self.assertEqual(lines.points, 5)
        self.assertEqual(lines.event_type, 'email_open')
        self.assertEqual(lines.source_ref, 'mailing.trace,77,open')
        self.assertEqual(lead.montanes_score_engagement, 5)
        self.assertEqual(lead.montanes_score, 5)

        again = lead._montanes_register_event('email_open', 'mailing.trace,77,open')
        self.assertFalse(again)
        self.assertEqual(again._name, 'montanes.lead.score.line')
        self.assertEqual(len(lead.montanes_score_line_ids), 1)
        self.assertEqual(lead.montanes_score, 5)

    def test_register_event_date_and_all_rules(self):
        lead = self._create_lead(function='Director comercial')
        second_click_rule = self.env['montanes.scoring.rule'].create({
            'name': 'Click bonus',
            'rule_type': 'behaviour',
            'event_type': 'email_click',
            'points': 3,
        })
        event_date = datetime(2026, 3, 2, 9, 30)
        lines = lead._montanes_register_event('email_click', 'web,1,click', event_date=event_date)
        self.assertEqual(lines.rule_id, self.rule_click | second_click_rule)
        self.assertEqual(set(lines.mapped('date')), {event_date})
        self.assertEqual(lead.montanes_score_fit, 15)
        self.assertEqual(lead.montanes_score_engagement, 13)
        self.assertEqual(lead.montanes_score, 28)

    def test_register_event_skips_archived_rule(self):
        lead = self._create_lead()
        self.rule_reply.action_archive()
        lines = lead._montanes_register_event('email_reply', 'mailing.trace,5,reply')
        self.assertFalse(lines)
        self.assertEqual(lead.montanes_score, 0)

    def test_register_event_unknown_type_raises(self):
        lead = self._create_lead()
        with self.assertRaisesRegex(ValueError, 'email_forward'):
            lead._montanes_register_event('email_forward', 'mailing.trace,5,forward')
        with self.assertRaisesRegex(ValueError, 'source_ref'):
            lead._montanes_register_event('email_open', '')

    def test_behaviour_points_survive_profile_rescore(self):
        lead = self._create_lead(function='Director comercial')
        lead._montanes_register_event('email_reply', 'mailing.trace,9,reply')
        lead.write({'function': 'Contable'})
        lead._montanes_recompute_profile_score()
        self.assertEqual(lead.montanes_score_fit, 0)
        self.assertEqual(lead.montanes_score_engagement, 20)
        self.assertEqual(lead.montanes_score, 20)

    def test_recompute_profile_repairs_missing_entry(self):
        lead = self._create_lead(function='Director comercial')
        lead.montanes_score_line_ids.unlink()
        self.assertEqual(lead.montanes_score, 0)
        lead._montanes_recompute_profile_score()
        self.assertEqual(lead.montanes_score, 15)


@tagged('post_install', '-at_install')
class TestScoringAccess(MontanesScoringCommon):

    @users('montanes_salesman')
    def test_salesman_reads_but_cannot_write_rules(self):
        rule = self.rule_director.with_env(self.env)
        self.assertEqual(rule.points, 15)
        with self.assertRaises(AccessError):
            rule.write({'points': 20})
        with self.assertRaises(AccessError):
            self.env['montanes.scoring.rule'].create({
                'name': 'Salesman rule',
                'rule_type': 'behaviour',
                'event_type': 'email_open',
                'points': 1,
            })
        with self.assertRaises(AccessError):
            rule.unlink()

    @users('montanes_marketing')
    def test_marketing_manages_rules(self):
        rule = self.env['montanes.scoring.rule'].create({
            'name': 'Sevilla',
            'rule_type': 'profile',
            'domain': "[('city', '=', 'Sevilla')]",
            'points': 4,
        })
        rule.write({'points': 6})
        self.assertEqual(rule.points, 6)
        rule.unlink()
        self.assertFalse(rule.exists())

    def test_salesman_sees_entries_of_own_leads_only(self):
        own = self._create_lead(function='Director comercial', user_id=self.user_salesman.id)
        other = self._create_lead(function='Director comercial', user_id=self.user_other_salesman.id)
        ScoreLine = self.env['montanes.lead.score.line'].with_user(self.user_salesman)
        visible = ScoreLine.search([('lead_id', 'in', (own | other).ids)])
        self.assertEqual(visible.lead_id, own)
        with self.assertRaises(AccessError):
            ScoreLine.create({
                'lead_id': own.id,
                'rule_id': self.rule_open.id,
                'points': 50,
                'source_ref': 'manual',
            })

    def test_salesman_write_rescores_own_lead(self):
        lead = self._create_lead(function='Contable', user_id=self.user_salesman.id)
        lead.with_user(self.user_salesman).write({'function': 'Director general'})
        self.assertEqual(lead.montanes_score, 15)

    def test_sales_manager_implies_scoring_manager(self):
        scoring_manager = self.env.ref('montanes_lead_scoring.group_scoring_manager')
        sales_manager = self.env.ref('sales_team.group_sale_manager')
        self.assertIn(scoring_manager, sales_manager.all_implied_ids)


@tagged('post_install', '-at_install')
class TestScoringViews(MontanesScoringCommon):

    def test_lead_views_show_score(self):
        views = self.env['crm.lead'].get_views([(False, 'list'), (False, 'kanban'), (False, 'form')])
        for view_type in ('list', 'kanban', 'form'):
            with self.subTest(view_type=view_type):
                self.assertIn('name="montanes_score"', views['views'][view_type]['arch'])
        self.assertIn('name="montanes_score_line_ids"', views['views']['form']['arch'])

    def test_lead_search_view_has_score_filters(self):
        for xmlid in ('crm.view_crm_case_leads_filter', 'crm.view_crm_case_opportunities_filter'):
            with self.subTest(view=xmlid):
                view = self.env.ref(xmlid)
                arch = self.env['crm.lead'].get_view(view.id, 'search')['arch']
                self.assertIn('name="montanes_high_score"', arch)
                self.assertIn('name="montanes_scored"', arch)
                self.assertIn('name="montanes_group_by_score"', arch)

    def test_high_score_filter_follows_hot_band(self):
        arch = self.env['crm.lead'].get_view(self.env.ref('crm.view_crm_case_leads_filter').id, 'search')['arch']
        domain = ast.literal_eval(etree.fromstring(arch).xpath('//filter[@name="montanes_high_score"]')[0].get('domain'))
        lead = self._create_lead(name='Hotel Miramar')
        lead._montanes_adjust_score(60, 'Pidió presupuesto')
        self.assertIn(lead, self.env['crm.lead'].search(domain))

        self.env.ref('montanes_lead_scoring.score_band_hot').min_score = 70
        self.assertNotIn(lead, self.env['crm.lead'].search(domain))

    def test_rule_views_load(self):
        views = self.env['montanes.scoring.rule'].get_views([(False, 'list'), (False, 'form'), (False, 'search')])
        self.assertIn('widget="domain"', views['views']['form']['arch'])
        self.assertIn('name="lead_count"', views['views']['form']['arch'])


@tagged('post_install', '-at_install')
class TestScoreConcurrency(TransactionCase):
    """Two workers register the same event at the same moment, each in its own transaction.

    The data is committed through separate cursors, because the test cursor
    cannot show one transaction waiting for another. Cleanup deletes it again.
    """

    def _run_in_new_cursor(self, function):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            result = function(env)
            cr.commit()
            return result

    def test_concurrent_register_event_scores_once(self):
        source_ref = 'concurrency-test,1,open'
        # The test runner holds the registry lock while it runs tests, and a new
        # Environment takes that lock, so the workers would wait for the end of
        # the run. Odoo's own HttpCase lifts the lock the same way.
        self.startPatcher(patch.object(Registry, '_lock', DummyRLock()))

        def create_lead_and_rule(env):
            rule = env['montanes.scoring.rule'].create({
                'name': 'Concurrent open',
                'rule_type': 'behaviour',
                'event_type': 'email_open',
                'points': 4,
            })
            lead = env['crm.lead'].create({'name': 'Concurrent lead', 'email_from': 'concurrent@cliente.example'})
            return lead.id, rule.id

        lead_id, rule_id = self._run_in_new_cursor(create_lead_and_rule)

        def cleanup(env):
            env['crm.lead'].browse(lead_id).unlink()
            env['montanes.scoring.rule'].browse(rule_id).unlink()

        self.addCleanup(self._run_in_new_cursor, cleanup)

        first_inserted = threading.Event()
        second_started = threading.Event()
        results = {}
        attempts = []

        def first_worker():
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                lines = env['crm.lead'].browse(lead_id)._montanes_register_event('email_open', source_ref)
                results['first'] = lines.ids
                first_inserted.set()
                # Keep the transaction open while the second worker inserts the same rows.
                second_started.wait(timeout=10)
                time.sleep(1)
                cr.commit()

        def second_worker():
            first_inserted.wait(timeout=10)
            with self.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                second_started.set()

                def register():
                    attempts.append(1)
                    lead = env['crm.lead'].browse(lead_id)
                    results['second'] = lead._montanes_register_event('email_open', source_ref).ids

                # The first attempt waits for the first worker, then fails with a
                # serialization error (REPEATABLE READ). retrying() is what Odoo
                # wraps around every HTTP request, and its second attempt reads the
                # committed rows.
                with mute_logger('odoo.sql_db', 'odoo.service.model'):
                    retrying(register, env)
                cr.commit()

        threads = [threading.Thread(target=first_worker), threading.Thread(target=second_worker)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        self.assertIn('first', results, 'the first worker did not finish')
        self.assertIn('second', results, 'the second worker did not finish')
        self.assertTrue(results['first'])
        self.assertEqual(results['second'], [])
        self.assertEqual(len(attempts), 2, 'the second worker should hit the race once, then retry')

        def read_state(env):
            lines = env['montanes.lead.score.line'].search([
                ('lead_id', '=', lead_id), ('source_ref', '=', source_ref),
            ])
            return lines.ids, lines.filtered(lambda line: line.rule_id.id == rule_id).points

        line_ids, rule_points = self._run_in_new_cursor(read_state)
        self.assertEqual(sorted(line_ids), sorted(results['first']))
        self.assertEqual(rule_points, 4)
