from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

OWN_KEY = 'MPORT-AAAAA-BBBBB-CCCCC-OWN01'
OTHER_KEY = 'MPORT-DDDDD-EEEEE-FFFFF-OTH02'


@tagged('post_install', '-at_install')
class TestLicensePortal(HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        product = cls.env['product.product'].create({
            'name': "Licencia portal (test)",
            'default_code': 'MPORT-TEST',
            'montanes_license_kind': 'key',
            'montanes_license_term_months': 12,
            'montanes_key_prefix': 'MPORT-',
        })
        cls.customer = cls.env['res.partner'].create({'name': "Talleres Ebro S.L."})
        other_customer = cls.env['res.partner'].create({'name': "Conservas Cantábrico S.A."})
        cls.portal_user = new_test_user(
            cls.env, login='montanes_portal_http', groups='base.group_portal',
            partner_id=cls.customer.id)
        lots = cls.env['stock.lot'].create([
            {'name': key, 'product_id': product.id} for key in (OWN_KEY, OTHER_KEY)])
        cls.own, cls.other = cls.env['montanes.license'].create([{
            'partner_id': partner.id,
            'product_id': product.id,
            'lot_id': lot.id,
            'date_start': '2026-01-15',
            'date_end': '2027-01-15',
        } for partner, lot in ((cls.customer, lots[0]), (other_customer, lots[1]))])

    def test_portal_lists_own_licences_masked(self):
        self.authenticate('montanes_portal_http', 'montanes_portal_http')
        response = self.url_open('/my/licenses')
        self.assertEqual(response.status_code, 200)
        self.assertIn(self.own.name, response.text)
        self.assertIn('MPORT-•••••-•••••-•••••-OWN01', response.text)
        self.assertNotIn(OWN_KEY, response.text)
        self.assertNotIn(self.other.name, response.text)
        self.assertNotIn('OTH02', response.text)

    def test_portal_reveal_logged(self):
        self.authenticate('montanes_portal_http', 'montanes_portal_http')
        response = self.url_open(
            f'/my/licenses/{self.own.id}/reveal', data={'csrf_token': http_csrf(self)})
        self.assertEqual(response.status_code, 200)
        self.assertIn(OWN_KEY, response.text)
        reveal = self.own.sudo().reveal_ids
        self.assertEqual(reveal.user_id, self.portal_user)
        self.assertEqual(reveal.channel, 'portal')

    def test_portal_reveal_other_rejected(self):
        self.authenticate('montanes_portal_http', 'montanes_portal_http')
        response = self.url_open(
            f'/my/licenses/{self.other.id}/reveal', data={'csrf_token': http_csrf(self)})
        self.assertNotIn(OTHER_KEY, response.text)
        self.assertFalse(self.other.sudo().reveal_ids)

    def test_portal_csv_download(self):
        self.authenticate('montanes_portal_http', 'montanes_portal_http')
        response = self.url_open('/my/licenses/csv')
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Content-Type'], 'text/csv; charset=utf-8')
        lines = response.content.decode('utf-8-sig').splitlines()
        self.assertEqual(len(lines), 2)
        self.assertEqual(lines[0], "Reference;Product;Key;Seats;Start Date;End Date;Status;Invoice")
        self.assertEqual(
            lines[1],
            f"{self.own.name};[MPORT-TEST] Licencia portal (test);MPORT-•••••-•••••-•••••-OWN01;"
            "1;2026-01-15;2027-01-15;Active;",
        )

    def test_portal_tour(self):
        self.start_tour('/my', 'montanes_license_portal_tour', login='montanes_portal_http')
        self.assertEqual(self.own.sudo().reveal_ids.channel, 'portal')


def http_csrf(case):
    """Return a CSRF token valid for the session that `case` authenticated."""
    response = case.url_open('/my/licenses')
    marker = 'name="csrf_token" value="'
    start = response.text.index(marker) + len(marker)
    return response.text[start:response.text.index('"', start)]
