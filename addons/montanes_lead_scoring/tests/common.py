import os
from pathlib import Path

from odoo.addons.mail.tests.common import mail_new_test_user
from odoo.tests import TransactionCase


def get_shared_data_dir():
    """Return the folder of the sales team's real input files.

    MONTANES_SHARED_DATA wins. Otherwise the folder is 'shared/data' next to
    the repository clone, which is where CI puts it.
    """
    if os.environ.get('MONTANES_SHARED_DATA'):
        return Path(os.environ['MONTANES_SHARED_DATA'])
    repo_root = Path(__file__).resolve().parents[3]
    return repo_root.parent / 'shared' / 'data'


class MontanesScoringCommon(TransactionCase):
    """Scoring world with known rules only, whatever data the database holds.

    Rules present before the test (module data, demo rules) are archived, so
    every score asserted below comes from the rules created here:

        profile   "Director"          function ilike 'director'   +15
        profile   "Big budget"        expected_revenue >= 5000    +10
        profile   "No e-mail"         email_from not set          -10
        behaviour "Open"              email_open                   +5
        behaviour "Click"             email_click                 +10
        behaviour "Reply"             email_reply                 +20
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        cls.company = cls.env.ref('base.main_company')

        cls.env['montanes.scoring.rule'].search([]).write({'active': False})

        cls.user_salesman = mail_new_test_user(
            cls.env,
            login='montanes_salesman',
            name='Test Salesman',
            email='salesman@montanessoluciones.example',
            groups='sales_team.group_sale_salesman',
            company_id=cls.company.id,
        )
        cls.user_other_salesman = mail_new_test_user(
            cls.env,
            login='montanes_other_salesman',
            name='Test Other Salesman',
            email='other.salesman@montanessoluciones.example',
            groups='sales_team.group_sale_salesman',
            company_id=cls.company.id,
        )
        cls.user_marketing = mail_new_test_user(
            cls.env,
            login='montanes_marketing',
            name='Test Marketing',
            email='marketing@montanessoluciones.example',
            groups='mass_mailing.group_mass_mailing_user,'
            'montanes_lead_scoring.group_scoring_manager,'
            'sales_team.group_sale_salesman_all_leads',
            company_id=cls.company.id,
        )

        Rule = cls.env['montanes.scoring.rule']
        cls.rule_director = Rule.create({
            'name': 'Director',
            'rule_type': 'profile',
            'domain': "[('function', 'ilike', 'director')]",
            'points': 15,
        })
        cls.rule_budget = Rule.create({
            'name': 'Big budget',
            'rule_type': 'profile',
            'domain': "[('expected_revenue', '>=', 5000)]",
            'points': 10,
        })
        cls.rule_no_email = Rule.create({
            'name': 'No e-mail',
            'rule_type': 'profile',
            'domain': "[('email_from', '=', False)]",
            'points': -10,
        })
        cls.rule_open = Rule.create({
            'name': 'Open',
            'rule_type': 'behaviour',
            'event_type': 'email_open',
            'points': 5,
        })
        cls.rule_click = Rule.create({
            'name': 'Click',
            'rule_type': 'behaviour',
            'event_type': 'email_click',
            'points': 10,
        })
        cls.rule_reply = Rule.create({
            'name': 'Reply',
            'rule_type': 'behaviour',
            'event_type': 'email_reply',
            'points': 20,
        })

    @classmethod
    def _create_lead(cls, **values):
        """Create a lead with an e-mail and no scoring field set, then apply ``values``."""
        vals = {
            'name': 'Test lead',
            'type': 'lead',
            'email_from': 'contacto@cliente.example',
            'company_id': cls.company.id,
        }
        vals.update(values)
        return cls.env['crm.lead'].create(vals)
