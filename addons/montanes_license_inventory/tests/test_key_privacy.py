from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
KEY = 'MSERP-HWGQ4-96RAF-HUG6A-9WP3S'
MASKED_KEY = 'MSERP-•••••-•••••-•••••-9WP3S'
PLAIN_SERIAL = 'CABLE-00001'
# A key typed on a move line whose lot does not exist yet.
TYPED_KEY = 'MSERP-TYPED-AAAAA-BBBBB-NEW01'
MASKED_TYPED_KEY = 'MSERP-•••••-•••••-•••••-NEW01'


@tagged('post_install', '-at_install')
class TestKeyGroupingAndSearch(MontanesLicenseCommon):
    """A warehouse user neither reads licence keys as group values nor finds them by a
    partial key, through the methods that the web client calls."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.lot = cls._import_keys(HEADER + f"MS-ERP-PRO-1Y;{KEY};;\r\n").lot_ids
        cls.plain_product = cls._create_product(
            name="Cable USB", is_storable=True, tracking='serial', company_id=cls.company.id)
        cls.plain_lot = cls.env['stock.lot'].create({
            'name': PLAIN_SERIAL,
            'product_id': cls.plain_product.id,
            'company_id': cls.company.id,
        })
        cls.user_stock = new_test_user(
            cls.env, login='montanes_warehouse',
            groups='stock.group_stock_user',
            name="Pilar Sanz (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.Lot = cls.env['stock.lot'].with_user(cls.user_stock)
        cls.Quant = cls.env['stock.quant'].with_user(cls.user_stock)
        cls.MoveLine = cls.env['stock.move.line'].with_user(cls.user_stock)

    def _group_values(self, groups, groupby):
        return [group[groupby] for group in groups]

    # Grouping

    def test_lot_grouped_by_name_masked(self):
        groups = self.Lot.formatted_read_group(
            [('product_id', '=', self.product_erp.id)], ['name'], ['__count'])
        self.assertEqual(self._group_values(groups, 'name'), [MASKED_KEY])
        self.assertNotIn(KEY, str(groups))

    def test_lot_group_domain_opens_lot(self):
        groups = self.Lot.formatted_read_group(
            [('product_id', '=', self.product_erp.id)], ['name'], ['__count'])
        self.assertEqual(self.Lot.search(groups[0]['__extra_domain']), self.lot)

    def test_plain_lot_group_label_full(self):
        groups = self.Lot.formatted_read_group(
            [('product_id', '=', self.plain_product.id)], ['name'], ['__count'])
        self.assertEqual(self._group_values(groups, 'name'), [PLAIN_SERIAL])

    def test_lot_web_read_group_masked(self):
        result = self.Lot.web_read_group(
            [('product_id', '=', self.product_erp.id)], ['name'],
            auto_unfold=True, unfold_read_specification={'name': {}})
        self.assertEqual(self._group_values(result['groups'], 'name'), [MASKED_KEY])
        records = result['groups'][0]['__records']
        self.assertEqual([record['name'] for record in records], [MASKED_KEY])
        self.assertNotIn(KEY, str(result))

    def test_lot_read_group_masked(self):
        with self.assertWarns(DeprecationWarning):
            rows = self.Lot.read_group(
                [('product_id', '=', self.product_erp.id)], ['name'], ['name'])
        self.assertEqual(self._group_values(rows, 'name'), [MASKED_KEY])
        self.assertNotIn(KEY, str(rows))
        self.assertEqual(self.Lot.search(rows[0]['__domain']), self.lot)

    def test_quant_grouped_by_lot_masked(self):
        groups = self.Quant.formatted_read_group(
            [('lot_id', '=', self.lot.id)], ['lot_id'], ['quantity:sum'])
        self.assertEqual(self._group_values(groups, 'lot_id'), [(self.lot.id, MASKED_KEY)])

    def test_quant_grouped_by_lot_name_masked(self):
        groups = self.Quant.formatted_read_group(
            [('lot_id', '=', self.lot.id)], ['lot_id.name'], ['quantity:sum'])
        self.assertEqual(self._group_values(groups, 'lot_id.name'), [MASKED_KEY])
        self.assertNotIn(KEY, str(groups))
        self.assertEqual(
            self.Quant.search(groups[0]['__extra_domain']).lot_id, self.lot)

    def test_move_line_web_read_group_masked(self):
        result = self.MoveLine.web_read_group(
            [('lot_id', '=', self.lot.id)], ['lot_id.name'])
        self.assertEqual(self._group_values(result['groups'], 'lot_id.name'), [MASKED_KEY])
        self.assertNotIn(KEY, str(result))

    def test_move_line_grouped_by_lot_name_masked(self):
        move_line = self.env['stock.move.line'].search([('lot_id', '=', self.lot.id)])
        move_line.lot_name = KEY
        groups = self.MoveLine.formatted_read_group(
            [('id', '=', move_line.id)], ['lot_name'], ['__count'])
        self.assertEqual(self._group_values(groups, 'lot_name'), [MASKED_KEY])
        self.assertEqual(self.MoveLine.search(groups[0]['__extra_domain']), move_line)
        values = move_line.with_user(self.user_stock).read(['lot_name'])
        self.assertEqual(values[0]['lot_name'], MASKED_KEY)

    def test_key_aggregate_rejected(self):
        for aggregate in ('name:array_agg', 'name:max', 'name:min'):
            with self.subTest(aggregate=aggregate), self.assertRaises(AccessError):
                self.Lot.formatted_read_group(
                    [('product_id', '=', self.product_erp.id)], ['product_id'], [aggregate])

    def test_key_count_aggregate_allowed(self):
        groups = self.Lot.formatted_read_group(
            [('product_id', '=', self.product_erp.id)], ['product_id'],
            ['name:count_distinct'])
        self.assertEqual(groups[0]['name:count_distinct'], 1)

    def test_service_user_group_label_masked(self):
        """Group labels are generic reads, which show keys masked to the key groups too."""
        groups = self.env['stock.lot'].with_user(self.user_service).formatted_read_group(
            [('product_id', '=', self.product_erp.id)], ['name'], ['__count'])
        self.assertEqual(self._group_values(groups, 'name'), [MASKED_KEY])

    # Searching

    def test_key_prefix_search_finds_nothing(self):
        for operator, value in [
            ('ilike', 'MSERP-HWGQ4'),
            ('ilike', 'HWGQ4%'),
            ('like', 'MSERP-H'),
            ('=like', 'MSERP-H%'),
            ('=ilike', 'mserp-h%'),
            ('>=', 'MSERP-HWGQ4'),
            ('<', 'MSERP-HWGQ5'),
        ]:
            with self.subTest(operator=operator, value=value):
                domain = [('product_id', '=', self.product_erp.id), ('name', operator, value)]
                self.assertEqual(self.Lot.search_count(domain), 0)
                self.assertFalse(self.Lot.search(domain))

    def test_key_negative_pattern_matches_key(self):
        domain = [('product_id', '=', self.product_erp.id), ('name', 'not ilike', 'MSERP-H')]
        self.assertEqual(self.Lot.search(domain), self.lot)

    def test_full_key_search_finds_lot(self):
        for operator, value in [('=', KEY), ('ilike', KEY), ('ilike', KEY.lower()), ('in', [KEY])]:
            with self.subTest(operator=operator, value=value):
                self.assertEqual(self.Lot.search([('name', operator, value)]), self.lot)

    def test_key_prefix_search_through_quant(self):
        for domain in [
            [('lot_id.name', 'ilike', 'MSERP-HWGQ4')],
            [('lot_id', 'ilike', 'MSERP-HWGQ4')],
        ]:
            with self.subTest(domain=domain):
                self.assertEqual(self.Quant.search_count(domain), 0)
                self.assertEqual(self.MoveLine.search_count(domain), 0)

    def test_key_prefix_name_search(self):
        self.assertFalse(self.Lot.name_search('MSERP-HWGQ4'))
        self.assertEqual(
            [lot_id for lot_id, _name in self.Lot.name_search(KEY)], self.lot.ids)

    def test_plain_serial_prefix_search(self):
        self.assertEqual(self.Lot.search([('name', 'ilike', 'CABLE-0')]), self.plain_lot)
        self.assertEqual(self.Quant.search_count([('lot_id.name', 'ilike', 'MSERP-')]), 0)

    def test_service_user_prefix_search(self):
        lots = self.env['stock.lot'].with_user(self.user_service).search(
            [('name', 'ilike', 'MSERP-HWGQ4')])
        self.assertEqual(lots, self.lot)

    def _type_key_on_move_line(self, key):
        move_line = self.env['stock.move.line'].search([('lot_id', '=', self.lot.id)])
        move_line.write({'lot_id': False, 'lot_name': key})
        return move_line

    def test_typed_key_prefix_search_finds_nothing(self):
        move_line = self._type_key_on_move_line(TYPED_KEY)
        for operator, value in [
            ('ilike', 'MSERP-TYPED'),
            ('like', 'MSERP-T'),
            ('=ilike', 'mserp-t%'),
            ('>=', 'MSERP-TYPED'),
        ]:
            with self.subTest(operator=operator, value=value):
                domain = [('id', '=', move_line.id), ('lot_name', operator, value)]
                self.assertEqual(self.MoveLine.search_count(domain), 0)

    def test_typed_key_whole_search_finds_line(self):
        move_line = self._type_key_on_move_line(TYPED_KEY)
        for operator, value in [('=', TYPED_KEY), ('ilike', TYPED_KEY.lower())]:
            with self.subTest(operator=operator, value=value):
                self.assertEqual(
                    self.MoveLine.search([('lot_name', operator, value)]), move_line)

    def test_typed_key_prefix_search_for_service(self):
        move_line = self._type_key_on_move_line(TYPED_KEY)
        move_lines = self.env['stock.move.line'].with_user(self.user_service).search(
            [('lot_name', 'ilike', 'MSERP-TYPED')])
        self.assertEqual(move_lines, move_line)

    def test_typed_plain_serial_prefix_search(self):
        move_line = self.env['stock.move.line'].create({
            'product_id': self.plain_product.id,
            'location_id': self.stock_location.id,
            'location_dest_id': self.stock_location.id,
            'lot_name': 'CABLE-TYPED-00001',
            'quantity': 1,
            'company_id': self.company.id,
        })
        self.assertEqual(self.MoveLine.search([('lot_name', 'ilike', 'CABLE-TYPED')]), move_line)

    def test_typed_key_without_lot_masked(self):
        move_line = self._type_key_on_move_line(TYPED_KEY)
        values = move_line.with_user(self.user_stock).read(['lot_name'])
        self.assertEqual(values[0]['lot_name'], MASKED_TYPED_KEY)
        groups = self.MoveLine.formatted_read_group(
            [('id', '=', move_line.id)], ['lot_name'], ['__count'])
        self.assertEqual(self._group_values(groups, 'lot_name'), [MASKED_TYPED_KEY])
        self.assertNotIn(TYPED_KEY, str(groups))
        self.assertEqual(self.MoveLine.search(groups[0]['__extra_domain']), move_line)

    def test_stock_unique_check_as_warehouse_user(self):
        """Stock's own check groups lots by name as the current user and must still work."""
        lot = self.Lot.create({
            'name': 'CABLE-00002',
            'product_id': self.plain_product.id,
            'company_id': self.company.id,
        })
        self.assertEqual(lot.name, 'CABLE-00002')
        with self.assertRaises(ValidationError):
            self.Lot.create({
                'name': PLAIN_SERIAL,
                'product_id': self.plain_product.id,
                'company_id': self.company.id,
            })

    # Stock's error messages

    def _assign_key_twice(self):
        self.env['stock.quant']._update_available_quantity(
            self.product_erp, self.stock_location, 1, lot_id=self.lot)
        return self.env['stock.quant'].search([('lot_id', '=', self.lot.id)])

    def test_assigned_twice_error_masked(self):
        quants = self._assign_key_twice().with_user(self.user_stock)
        with self.assertRaises(ValidationError) as error:
            quants.check_quantity()
        message = error.exception.args[0]
        self.assertIn(f"Serial Number: {MASKED_KEY}", message)
        self.assertNotIn(KEY, message)
        self.assertIsNone(error.exception.__cause__)
        self.assertTrue(error.exception.__suppress_context__)

    def test_assigned_twice_error_full_for_service(self):
        quants = self._assign_key_twice().with_user(self.user_service)
        with self.assertRaises(ValidationError) as error:
            quants.check_quantity()
        self.assertIn(f"Serial Number: {KEY}", error.exception.args[0])

    def test_serial_in_use_warning_masked(self):
        message, _location = self.Quant._check_serial_number(
            self.product_erp, self.lot.with_user(self.user_stock), self.company)
        self.assertIn(f"({MASKED_KEY})", message)
        self.assertNotIn(KEY, message)

    def test_plain_serial_warning_full(self):
        self.env['stock.quant']._update_available_quantity(
            self.plain_product, self.stock_location, 1, lot_id=self.plain_lot)
        message, _location = self.Quant._check_serial_number(
            self.plain_product, self.plain_lot.with_user(self.user_stock), self.company)
        self.assertIn(f"({PLAIN_SERIAL})", message)
