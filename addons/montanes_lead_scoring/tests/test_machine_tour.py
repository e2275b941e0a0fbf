from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, tagged


@tagged('post_install', '-at_install')
class TestMachineTour(HttpCase):
    """The mailing form in the browser, with one machine open."""

    def test_mailing_form_shows_machine_opens(self):
        lead = self.env['crm.lead'].create({
            'name': 'Construcciones Valle: licencias',
            'email_from': 'pilar.garrido@construccionesvalle.example',
        })
        mailing = self.env['mailing.mailing'].create({
            'name': 'Renovación de licencias 2026',
            'subject': 'Renueve sus licencias antes de fin de año',
            'mailing_type': 'mail',
            'mailing_model_id': self.env['ir.model']._get_id('crm.lead'),
            'body_html': '<p>Hola</p>',
            'state': 'done',
        })
        trace = self.env['mailing.trace'].create({
            'mass_mailing_id': mailing.id,
            'model': 'crm.lead',
            'res_id': lead.id,
            'email': lead.email_from,
            'trace_status': 'sent',
            'sent_datetime': fields.Datetime.now() - timedelta(seconds=2),
        })
        self.env['montanes.tracking.hit']._record_email_hit(
            trace, 'email_open', 'Mozilla/5.0 (via ggpht.com GoogleImageProxy)', '66.249.84.1',
        )
        self.assertEqual(trace.montanes_machine_open_count, 1)

        self.start_tour(
            f'/odoo/action-mass_mailing.mailing_mailing_action_mail/{mailing.id}',
            'montanes_machine_opens_tour',
            login='admin',
        )
