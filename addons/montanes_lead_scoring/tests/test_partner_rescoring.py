from odoo.tests import tagged

from .common import MontanesScoringCommon


@tagged('post_install', '-at_install')
class TestPartnerRescoring(MontanesScoringCommon):
    """Profile rules reading the lead's contact or its company follow edits of that contact."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.industry_public = cls.env['res.partner.industry'].create({'name': 'Administración pública'})
        cls.industry_retail = cls.env['res.partner.industry'].create({'name': 'Comercio minorista'})
        cls.rule_public_sector = cls.env['montanes.scoring.rule'].create({
            'name': 'Public sector company',
            'rule_type': 'profile',
            'domain': "[('partner_id.commercial_partner_id.industry_id.name', '=', 'Administración pública')]",
            'points': 12,
        })
        cls.company_partner = cls.env['res.partner'].create({
            'name': 'Ayuntamiento de Teruel',
            'is_company': True,
            'industry_id': cls.industry_retail.id,
        })
        cls.contact = cls.env['res.partner'].create({
            'name': 'Marta Lozano',
            'parent_id': cls.company_partner.id,
            'email': 'marta.lozano@teruel.example',
        })

    def test_trigger_fields_follow_contact_paths(self):
        trigger_fields = self.env['res.partner']._montanes_get_profile_trigger_fields()
        self.assertIn('commercial_partner_id', trigger_fields)
        self.assertIn('industry_id', trigger_fields)
        self.assertIn('parent_id', trigger_fields, 'commercial_partner_id is computed from parent_id')
        self.assertNotIn('phone', trigger_fields)

    def test_company_edit_rescores_contact_leads(self):
        lead = self._create_lead(partner_id=self.contact.id)
        self.assertEqual(lead.montanes_score, 0)

        self.company_partner.write({'industry_id': self.industry_public.id})
        self.assertEqual(lead.montanes_score, 12)
        self.assertEqual(lead.montanes_score_line_ids.rule_id, self.rule_public_sector)

        self.company_partner.write({'industry_id': self.industry_retail.id})
        self.assertEqual(lead.montanes_score, 0)
        self.assertFalse(lead.montanes_score_line_ids)

    def test_contact_moved_to_other_company(self):
        public_body = self.env['res.partner'].create({
            'name': 'Diputación de Huesca',
            'is_company': True,
            'industry_id': self.industry_public.id,
        })
        lead = self._create_lead(partner_id=self.contact.id)
        self.assertEqual(lead.montanes_score, 0)

        self.contact.write({'parent_id': public_body.id})
        self.assertEqual(lead.montanes_score, 12)

    def test_any_operator_paths(self):
        self.rule_public_sector.write({
            'domain': "[('partner_id', 'any', [('industry_id.name', '=', 'Comercio minorista')])]",
        })
        trigger_fields = self.env['res.partner']._montanes_get_profile_trigger_fields()
        self.assertIn('industry_id', trigger_fields)

        shop = self.env['res.partner'].create({'name': 'Ferretería Ebro', 'is_company': True})
        lead = self._create_lead(partner_id=shop.id)
        self.assertEqual(lead.montanes_score, 0)
        shop.write({'industry_id': self.industry_retail.id})
        self.assertEqual(lead.montanes_score, 12)

    def test_salesman_edit_rescores_other_leads(self):
        """A salesperson editing a company re-scores its leads owned by a colleague."""
        lead = self._create_lead(partner_id=self.contact.id, user_id=self.user_other_salesman.id)
        self.company_partner.with_user(self.user_salesman).write({'industry_id': self.industry_public.id})
        self.assertEqual(lead.montanes_score, 12)
