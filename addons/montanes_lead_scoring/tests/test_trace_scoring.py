from datetime import timedelta

from odoo.tests import tagged
from odoo.tests.common import freeze_time

from .common import MontanesScoringCommon

# Fields that must not depend on which path inserted an entry.
ENTRY_FIELDS = ['rule_id', 'rule_type', 'points_earned', 'event_type', 'source_ref', 'event_ref',
                'date', 'expiry_date', 'description', 'company_id']


@tagged('post_install', '-at_install')
class TestTraceScoring(MontanesScoringCommon):
    """Mass mailing opens and clicks scored by the one-statement path and by the general one."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.mailing = cls.env['mailing.mailing'].create({
            'name': 'Renovación de licencias 2026',
            'subject': 'Renueve sus licencias antes de fin de año',
            'mailing_type': 'mail',
            'mailing_model_id': cls.env['ir.model']._get_id('crm.lead'),
            'body_html': '<p>Ofertas</p>',
        })
        cls.rule_click.write({'validity': 'window', 'validity_days': 30})

    def _traces(self, leads):
        return self.env['mailing.trace'].create([{
            'mass_mailing_id': self.mailing.id,
            'model': 'crm.lead',
            'res_id': lead.id,
            'email': lead.email_from,
            'trace_status': 'sent',
        } for lead in leads])

    def _entries(self, lead):
        entries = lead.montanes_score_line_ids.sorted(lambda line: (line.rule_id.id, line.source_ref))
        # The trace id differs from lead to lead: keep only the event of the references.
        return [
            {name: entry[name] for name in ENTRY_FIELDS}
            | {'source_ref': entry.source_ref.split(',')[2], 'event_ref': entry.event_ref.split(',')[2]}
            for entry in entries
        ]

    @freeze_time('2026-02-10 09:30:00')
    def test_open_and_click_entries(self):
        lead = self._create_lead()
        deleted = self._create_lead(email_from='baja@cliente.example')
        traces = self._traces(lead | deleted)
        deleted.unlink()

        ScoreLine = self.env['montanes.lead.score.line']
        self.assertTrue(ScoreLine._are_uniform_event_rules(self.rule_open | self.rule_click))
        traces.set_opened()
        traces.set_clicked()
        traces.set_opened()

        trace = traces.filtered(lambda trace: trace.res_id == lead.id)
        open_entry, click_entry = lead.montanes_score_line_ids.sorted('points_earned')
        self.assertEqual(open_entry.source_ref, f'mailing.trace,{trace.id},open')
        self.assertEqual(open_entry.event_ref, f'mailing.trace,{trace.id},open')
        self.assertEqual(open_entry.description, 'Renueve sus licencias antes de fin de año')
        self.assertEqual(open_entry.company_id, self.company)
        self.assertFalse(open_entry.expiry_date)
        self.assertEqual(click_entry.event_type, 'email_click')
        self.assertEqual(click_entry.expiry_date, open_entry.date + timedelta(days=30))
        self.assertEqual(lead.montanes_score_engagement, 15)
        self.assertFalse(ScoreLine.search([('source_ref', 'like', f'mailing.trace,{(traces - trace).id},%')]),
                         "The trace of a deleted lead scores nothing")

    @freeze_time('2026-02-10 09:30:00')
    def test_both_paths_same_entries(self):
        uniform_lead = self._create_lead()
        general_lead = self._create_lead(email_from='otra@cliente.example')
        self._traces(uniform_lead).set_opened()
        self._traces(uniform_lead).set_clicked()

        # A rule group with a maximum sends the next events through the general path.
        group = self.env['montanes.scoring.rule.group'].create({'name': 'E-mail', 'max_points': 1000})
        (self.rule_open | self.rule_click).group_id = group
        self.assertFalse(self.env['montanes.lead.score.line']._are_uniform_event_rules(self.rule_open))
        self._traces(general_lead).set_opened()
        self._traces(general_lead).set_clicked()

        self.assertEqual(len(uniform_lead.montanes_score_line_ids), 2)
        self.assertEqual(self._entries(uniform_lead), self._entries(general_lead))
        self.assertEqual(uniform_lead.montanes_score, general_lead.montanes_score)

    def test_company_rule_uses_general_path(self):
        other_company = self.env['res.company'].create({'name': 'Montañés Portugal'})
        self.rule_open.company_id = other_company
        lead = self._create_lead()
        self.assertFalse(self.env['montanes.lead.score.line']._are_uniform_event_rules(self.rule_open))
        self._traces(lead).set_opened()
        self.assertFalse(lead.montanes_score_line_ids, "A rule of another company does not score this lead")
