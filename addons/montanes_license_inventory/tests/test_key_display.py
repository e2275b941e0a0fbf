from odoo import SUPERUSER_ID
from odoo.tests import tagged

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
KEY = 'MSERP-HWGQ4-96RAF-HUG6A-9WP3S'
MASKED_KEY = 'MSERP-•••••-•••••-•••••-9WP3S'


@tagged('post_install', '-at_install')
class TestKeyDisplayName(MontanesLicenseCommon):
    """A salesperson reads serial numbers only through many2one values, which show the
    display name: that name must be the masked key."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lot = cls._import_keys(HEADER + f"MS-ERP-PRO-1Y;{KEY};;\r\n").lot_ids

    def _quant_lot_value(self, user):
        quants = self.env['stock.quant'].with_user(user).search_read(
            [('lot_id', '=', self.lot.id)], ['lot_id'])
        return quants[0]['lot_id']

    def _move_line_lot_value(self, user):
        move_lines = self.env['stock.move.line'].with_user(user).search_read(
            [('lot_id', '=', self.lot.id)], ['lot_id', 'lot_name'])
        return move_lines[0]

    def test_salesman_quant_lot_masked(self):
        self.assertEqual(self._quant_lot_value(self.user_salesman), (self.lot.id, MASKED_KEY))

    def test_salesman_move_line_lot_masked(self):
        values = self._move_line_lot_value(self.user_salesman)
        self.assertEqual(values['lot_id'], (self.lot.id, MASKED_KEY))
        self.assertFalse(values['lot_name'])

    def test_salesman_web_read_lot_masked(self):
        quant = self.env['stock.quant'].search([('lot_id', '=', self.lot.id)])
        values = quant.with_user(self.user_salesman).web_read({'lot_id': {'fields': {'display_name': {}}}})
        self.assertEqual(values[0]['lot_id']['display_name'], MASKED_KEY)

    def test_service_user_quant_lot_masked(self):
        self.assertEqual(self._quant_lot_value(self.user_service), (self.lot.id, MASKED_KEY))

    def test_service_user_move_line_lot_masked(self):
        values = self._move_line_lot_value(self.user_service)
        self.assertEqual(values['lot_id'], (self.lot.id, MASKED_KEY))

    def test_display_name_follows_user(self):
        """The cached display name of one user is not reused for another."""
        lot = self.lot.with_user(self.user_salesman).sudo()
        self.assertEqual(lot.display_name, MASKED_KEY)
        self.assertEqual(lot.with_user(SUPERUSER_ID).display_name, KEY)

    def test_plain_lot_not_masked(self):
        plain_product = self._create_product(
            name="Cable USB", is_storable=True, tracking='serial', company_id=self.company.id)
        lot = self.env['stock.lot'].create({
            'name': 'CABLE-00001-00002-00003',
            'product_id': plain_product.id,
            'company_id': self.company.id,
        })
        self.assertEqual(
            lot.with_user(self.user_salesman).sudo().display_name, 'CABLE-00001-00002-00003')

    def test_salesman_quant_detailed_name_masked(self):
        # Many2one values such as stock.move.line.quant_id are read with sudo().
        quant = self.env['stock.quant'].search([
            ('lot_id', '=', self.lot.id),
            ('location_id', '=', self.stock_location.id),
        ])
        name = quant.with_user(self.user_salesman).sudo().with_context(
            formatted_display_name=True).display_name
        self.assertIn(MASKED_KEY, name)
        self.assertNotIn(KEY, name)

    def test_service_user_quant_detailed_name_masked(self):
        quant = self.env['stock.quant'].search([
            ('lot_id', '=', self.lot.id),
            ('location_id', '=', self.stock_location.id),
        ])
        name = quant.with_user(self.user_service).with_context(
            formatted_display_name=True).display_name
        self.assertIn(MASKED_KEY, name)
        self.assertNotIn(KEY, name)
