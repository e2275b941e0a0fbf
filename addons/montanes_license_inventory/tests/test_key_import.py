import base64
from datetime import date, datetime
from unittest import SkipTest

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import VENDOR_KEYS_FILE_NAME, MontanesLicenseCommon, get_shared_data_dir

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
# Import date of the vendor file tests. The earliest activation deadline of the file is
# 2027-01-01, so from then on a real-time import would reject keys as expired.
VENDOR_FILE_IMPORT_DATE = '2026-12-04'

# Rows of the vendor file that must be rejected: (line number, normalised key, reason).
VENDOR_FILE_REJECTED_ROWS = [
    (317, 'MSERP-4HJRG-AD79M-N6NJ4-2H34P', 'duplicate_in_file'),
    (318, 'AVC-DKZJR-HBW26-F2WSD-V3R9C', 'duplicate_in_file'),
    (319, False, 'blank_key'),
    (320, 'XX-YF3X8-MGJ6D-HKDRP-LXWDM', 'unknown_product'),
    (321, 'OFP-12', 'bad_format'),
]


@tagged('post_install', '-at_install')
class TestKeyImportVendorFile(MontanesLicenseCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        vendor_file = get_shared_data_dir() / VENDOR_KEYS_FILE_NAME
        if not vendor_file.is_file():
            raise SkipTest(f"Vendor key file not found at {vendor_file}: "
                           "set MONTANES_SHARED_DATA to the shared data folder.")
        cls.vendor_content = vendor_file.read_bytes()
        cls.move_count_before = cls.env['stock.move'].search_count([])
        with freeze_time(VENDOR_FILE_IMPORT_DATE):
            cls.wizard = cls._import_keys(cls.vendor_content, VENDOR_KEYS_FILE_NAME)

    def _stock_of(self, product):
        quants = self.env['stock.quant'].search([
            ('product_id', '=', product.id),
            ('location_id', '=', self.stock_location.id),
        ])
        return sum(quants.mapped('quantity'))

    def test_vendor_file_counts(self):
        self.assertEqual(self.wizard.state, 'done')
        self.assertEqual(self.wizard.imported_count, 315)
        self.assertEqual(self.wizard.error_count, 5)
        self.assertEqual(len(self.wizard.lot_ids), 315)
        self.assertEqual(len(self.wizard.line_ids), 5)

    def test_vendor_file_rejected_rows(self):
        found = [(line.row_number, line.key, line.reason) for line in self.wizard.line_ids]
        self.assertEqual(found, VENDOR_FILE_REJECTED_ROWS)

    def test_vendor_file_duplicate_names_first_row(self):
        duplicate = self.wizard.line_ids.filtered(lambda line: line.row_number == 318)
        self.assertIn("row 62", duplicate.message)

    def test_vendor_file_stock_per_product(self):
        self.assertEqual(self._stock_of(self.product_erp), 40)
        self.assertEqual(self._stock_of(self.product_antivirus), 250)
        self.assertEqual(self._stock_of(self.product_office), 25)

    def test_vendor_file_creates_stock_moves(self):
        moves = self.env['stock.move'].search([('move_line_ids.lot_id', 'in', self.wizard.lot_ids.ids)])
        self.assertEqual(len(moves), 315)
        self.assertEqual(set(moves.mapped('state')), {'done'})
        self.assertEqual(moves.location_dest_id, self.stock_location)
        self.assertEqual(self.env['stock.move'].search_count([]) - self.move_count_before, 315)

    def test_vendor_file_lot_values(self):
        lot = self.env['stock.lot'].search([('name', '=', 'MSERP-76NM8-MG6VK-FC36L-AEDCN')])
        self.assertEqual(lot.product_id, self.product_erp)
        self.assertEqual(
            fields.Datetime.context_timestamp(lot, lot.expiration_date).date(), date(2027, 9, 15))
        self.assertEqual(lot.removal_date, lot.expiration_date)
        self.assertTrue(lot.montanes_is_license_key)
        self.assertEqual(lot.company_id, self.company)
        perpetual_lot = self.env['stock.lot'].search([('name', '=', 'OFP-5BPPH-TPFXL-4RCE5-WQWG6')])
        self.assertFalse(perpetual_lot.expiration_date)
        self.assertFalse(perpetual_lot.removal_date)

    def test_reimport_rejects_every_row(self):
        lot_count = self._count('stock.lot')
        move_count = self._count('stock.move')

        with freeze_time(VENDOR_FILE_IMPORT_DATE):
            wizard = self._import_keys(self.vendor_content, VENDOR_KEYS_FILE_NAME)

        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.error_count, 320)
        reasons = wizard.line_ids.mapped('reason')
        self.assertEqual(reasons.count('already_exists'), 315)
        self.assertEqual(reasons.count('duplicate_in_file'), 2)
        self.assertEqual(self._count('stock.lot'), lot_count)
        self.assertEqual(self._count('stock.move'), move_count)

    def test_key_unique_across_products(self):
        """The unique index rejects an imported key on another product, in any spelling."""
        with mute_logger('odoo.sql_db'), self.assertRaises(IntegrityError):
            self.env['stock.lot'].create({
                'name': ' mserp-76nm8-mg6vk-fc36l-aedcn ',
                'product_id': self.product_antivirus.id,
                'company_id': self.company.id,
            })
            self.env.flush_all()

    def test_key_name_reusable_by_non_licence_lot(self):
        plain_product = self._create_product(
            name="Cable USB", is_storable=True, tracking='serial', company_id=self.company.id)
        lot = self.env['stock.lot'].create({
            'name': 'MSERP-76NM8-MG6VK-FC36L-AEDCN',
            'product_id': plain_product.id,
            'company_id': self.company.id,
        })
        self.env.flush_all()
        self.assertFalse(lot.montanes_is_license_key)


@tagged('post_install', '-at_install')
class TestKeyImportRows(MontanesLicenseCommon):

    def test_key_normalised(self):
        wizard = self._import_keys(HEADER + "MS-ERP-PRO-1Y; mserp-aaaaa-bbbbb-ccccc-ddddd ;;\r\n")
        self.assertEqual(wizard.imported_count, 1)
        self.assertEqual(wizard.lot_ids.name, 'MSERP-AAAAA-BBBBB-CCCCC-DDDDD')

    def test_product_not_key_licence(self):
        self._create_product(
            name="Soporte premium anual", default_code='SOP-PREM-1Y', type='service',
            montanes_license_kind='service', company_id=self.company.id)
        wizard = self._import_keys(HEADER + "SOP-PREM-1Y;SOP-AAAAA-BBBBB-CCCCC-DDDDD;;\r\n")
        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.line_ids.reason, 'not_key_product')

    def test_wrong_prefix(self):
        wizard = self._import_keys(HEADER + "MS-ERP-PRO-1Y;AVC-AAAAA-BBBBB-CCCCC-DDDDD;;\r\n")
        self.assertEqual(wizard.line_ids.reason, 'bad_format')
        self.assertIn("MSERP-", wizard.line_ids.message)

    def test_bad_activation_date(self):
        wizard = self._import_keys(HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;31/02/2027;\r\n")
        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.line_ids.reason, 'bad_date')
        self.assertIn("31/02/2027", wizard.line_ids.message)

    def test_expired_deadline_rejected(self):
        lot_count = self._count('stock.lot')
        wizard = self._import_keys(HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;03/12/2026;\r\n")
        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.error_count, 1)
        self.assertEqual(wizard.line_ids.reason, 'expired')
        self.assertIn("03/12/2026", wizard.line_ids.message)
        self.assertEqual(self._count('stock.lot'), lot_count)

    @freeze_time('2026-12-04')
    def test_deadline_today_accepted(self):
        wizard = self._import_keys(HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;04/12/2026;\r\n")
        self.assertEqual(wizard.imported_count, 1)
        self.assertEqual(wizard.error_count, 0)
        lot = wizard.lot_ids
        self.assertEqual(
            fields.Datetime.context_timestamp(lot, lot.expiration_date).date(), date(2026, 12, 4))

    def test_deadline_end_of_day_in_user_timezone(self):
        Lot = self.env['stock.lot'].with_context(tz='Europe/Madrid')
        self.assertEqual(
            Lot.montanes_get_deadline_expiration_date(date(2027, 9, 15)),
            datetime(2027, 9, 15, 21, 59, 59),
        )
        self.assertEqual(
            Lot.montanes_get_deadline_expiration_date(date(2027, 1, 15)),
            datetime(2027, 1, 15, 22, 59, 59),
        )

    def test_wrong_layout_imports_nothing(self):
        lot_count = self._count('stock.lot')
        with self.assertRaisesRegex(UserError, "does not have the vendor layout"):
            self._import_keys("ref,key\nMS-ERP-PRO-1Y,MSERP-AAAAA-BBBBB-CCCCC-DDDDD\n")
        self.assertEqual(self._count('stock.lot'), lot_count)

    def test_not_utf8_imports_nothing(self):
        content = (HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;;Año\r\n").encode('cp1252')
        with self.assertRaisesRegex(UserError, "is not UTF-8"):
            self._import_keys(content)

    def test_user_without_stock_rights_rejected(self):
        accountant = new_test_user(
            self.env, login='montanes_accountant', groups='account.group_account_manager',
            company_id=self.company.id, company_ids=self.company.ids)
        wizard = self.env['montanes.license.key.import'].with_user(accountant).create({
            'file': base64.b64encode(
                (HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;;\r\n").encode()),
            'file_name': 'claves.csv',
        })
        with self.assertRaisesRegex(UserError, "Inventory / User"):
            wizard.action_import()

    def test_service_user_imports(self):
        wizard = self.env['montanes.license.key.import'].with_user(self.user_service).create({
            'file': base64.b64encode(
                (HEADER + "MS-ERP-PRO-1Y;MSERP-AAAAA-BBBBB-CCCCC-DDDDD;;\r\n").encode()),
            'file_name': 'claves.csv',
        })
        wizard.action_import()
        self.assertEqual(wizard.imported_count, 1)
        stocked = wizard.lot_ids.quant_ids.filtered(lambda quant: quant.quantity > 0)
        self.assertEqual(stocked.location_id, self.stock_location)


@tagged('post_install', '-at_install')
class TestKeyPatternSafety(MontanesLicenseCommon):
    """Key patterns that could make the import hang are rejected on save and at import."""

    def test_nested_quantifiers_rejected(self):
        for pattern in ('(a+)+$', '(a*)*', '(a|ab)*', '(?:[A-Z]{1,5})+', '((a+){2})+',
                        '(?:x(?:y|z)+)+'):
            with self.subTest(pattern=pattern), self.assertRaises(ValidationError) as error:
                self.product_antivirus.montanes_key_pattern = pattern
            self.assertIn("nested repetition", error.exception.args[0])

    def test_safe_patterns_accepted(self):
        for pattern in (r'[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}', r'(?:[A-Z0-9]{5}-){4}[A-Z0-9]{5}',
                        r'[A-Z0-9]+', r'(?:-[A-Z0-9]{5})+', r'(AB|CD)-[0-9]+',
                        r'[0-9]{4}-[0-9]{4}'):
            with self.subTest(pattern=pattern):
                self.product_antivirus.montanes_key_pattern = pattern
                self.assertEqual(self.product_antivirus.montanes_key_pattern, pattern)

    def test_saved_unsafe_pattern_rejects_rows(self):
        """A pattern saved before the check existed is not matched at import."""
        self.env.cr.execute(
            "UPDATE product_template SET montanes_key_pattern = %s WHERE id = %s",
            ['(A+)+$', self.product_antivirus.product_tmpl_id.id])
        self.product_antivirus.invalidate_recordset(['montanes_key_pattern'])
        key = 'AVC-' + 'A' * 40 + '!'
        wizard = self._import_keys(HEADER + f"AV-CORP-1Y;{key};;\r\n")
        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.line_ids.reason, 'unsafe_pattern')
        self.assertIn("(A+)+$", wizard.line_ids.message)

    def test_key_too_long_rejected(self):
        key = 'MSERP-' + 'A' * 95
        wizard = self._import_keys(HEADER + f"MS-ERP-PRO-1Y;{key};;\r\n")
        self.assertEqual(wizard.imported_count, 0)
        self.assertEqual(wizard.line_ids.reason, 'bad_format')
        self.assertEqual(
            wizard.line_ids.message, "The key is 101 characters long: keys have at most 100 characters.")
