import datetime

from odoo.tests import TransactionCase, tagged

from ..tools import lead_import_normalize as normalize


@tagged('post_install', '-at_install')
class TestLeadImportNormalize(TransactionCase):
    """Normalisers of the sales spreadsheet, fed with the cell variants the file contains."""

    def test_email_trimmed_lowercase(self):
        self.assertEqual(normalize.normalize_email("  BEATRIZ.NUNEZ20@MAIL.EXAMPLE "), "beatriz.nunez20@mail.example")
        self.assertEqual(normalize.normalize_email("beatriz.nunez20@mail.example"), "beatriz.nunez20@mail.example")

    def test_email_unusable_cells(self):
        self.assertIsNone(normalize.normalize_email("no tiene"))
        self.assertIsNone(normalize.normalize_email("sin email"))
        self.assertIsNone(normalize.normalize_email("n/a"))
        self.assertIsNone(normalize.normalize_email("-"))
        self.assertIsNone(normalize.normalize_email(""))
        self.assertIsNone(normalize.normalize_email(None))
        self.assertIsNone(normalize.normalize_email("juan@"))
        self.assertIsNone(normalize.normalize_email("maria.gomez@correo"))
        self.assertIsNone(normalize.normalize_email("ana@@empresa.example"))
        self.assertIsNone(normalize.normalize_email("ana@empresa@otra.example"))
        self.assertIsNone(normalize.normalize_email("ana perez@empresa.example"))

    def test_phone_spanish_variants_equal(self):
        expected = "+34612345678"
        self.assertEqual(normalize.normalize_phone("+34 612 34 56 78"), expected)
        self.assertEqual(normalize.normalize_phone("0034612345678"), expected)
        self.assertEqual(normalize.normalize_phone("612-345-678"), expected)
        self.assertEqual(normalize.normalize_phone("612 34 56 78"), expected)
        self.assertEqual(normalize.normalize_phone("612345678"), expected)
        self.assertEqual(normalize.normalize_phone("34612345678"), expected)
        self.assertEqual(normalize.normalize_phone("(+34) 612345678"), expected)

    def test_phone_file_cells(self):
        self.assertEqual(normalize.normalize_phone("(+34) 796494249"), "+34796494249")
        self.assertEqual(normalize.normalize_phone("+34 776 887 989"), "+34776887989")
        self.assertEqual(normalize.normalize_phone("904038150"), "+34904038150")

    def test_phone_foreign_and_unusable(self):
        self.assertEqual(normalize.normalize_phone("+33 1 42 68 53 00"), "+33142685300")
        self.assertEqual(normalize.normalize_phone("0033142685300"), "+33142685300")
        self.assertIsNone(normalize.normalize_phone("12345"))
        self.assertIsNone(normalize.normalize_phone("no tiene"))
        self.assertIsNone(normalize.normalize_phone(""))
        self.assertIsNone(normalize.normalize_phone("+34 12345"))

    def test_vat_normalised(self):
        self.assertEqual(normalize.normalize_vat("B60319953"), "B60319953")
        self.assertEqual(normalize.normalize_vat(" b-6031 9953 "), "B60319953")
        self.assertEqual(normalize.normalize_vat("ES B60319953"), "B60319953")
        self.assertEqual(normalize.normalize_vat("12.345.678-Z"), "12345678Z")
        self.assertIsNone(normalize.normalize_vat(""))

    def test_date_day_first(self):
        self.assertEqual(normalize.parse_spanish_date("03/11/2025"), datetime.date(2025, 11, 3))
        self.assertEqual(normalize.parse_spanish_date("3-11-25"), datetime.date(2025, 11, 3))
        self.assertEqual(normalize.parse_spanish_date("07-06-25"), datetime.date(2025, 6, 7))
        self.assertEqual(normalize.parse_spanish_date("21/05/2026"), datetime.date(2026, 5, 21))
        self.assertEqual(normalize.parse_spanish_date("21-10-26"), datetime.date(2026, 10, 21))
        self.assertEqual(normalize.parse_spanish_date(datetime.date(2025, 1, 2)), datetime.date(2025, 1, 2))
        self.assertIsNone(normalize.parse_spanish_date(""))

    def test_date_invalid_raises(self):
        with self.assertRaises(ValueError):
            normalize.parse_spanish_date("31/02/2025")
        with self.assertRaises(ValueError):
            normalize.parse_spanish_date("13/13/2025")
        with self.assertRaises(ValueError):
            normalize.parse_spanish_date("ayer")
        with self.assertRaises(ValueError):
            normalize.parse_spanish_date("2025-11-03")

    def test_number_spanish_notation(self):
        self.assertEqual(normalize.parse_spanish_number("1.490,00"), 1490.0)
        self.assertEqual(normalize.parse_spanish_number("3.200"), 3200.0)
        self.assertEqual(normalize.parse_spanish_number("850,50"), 850.5)
        self.assertEqual(normalize.parse_spanish_number("0"), 0.0)
        self.assertEqual(normalize.parse_spanish_number("12.000,00"), 12000.0)
        self.assertEqual(normalize.parse_spanish_number("12.000,00 €"), 12000.0)
        self.assertEqual(normalize.parse_spanish_number("850.5"), 850.5)
        self.assertIsNone(normalize.parse_spanish_number(""))

    def test_number_invalid_raises(self):
        with self.assertRaises(ValueError):
            normalize.parse_spanish_number("mucho")

    def test_employee_count_estimate(self):
        self.assertEqual(normalize.parse_employee_count("300"), 300)
        self.assertEqual(normalize.parse_employee_count("250+"), 250)
        self.assertEqual(normalize.parse_employee_count("50-249"), 50)
        self.assertEqual(normalize.parse_employee_count("unos 20"), 20)
        self.assertEqual(normalize.parse_employee_count("1.200"), 1200)
        self.assertEqual(normalize.parse_employee_count("1-9"), 1)
        self.assertEqual(normalize.parse_employee_count("10-49"), 10)
        self.assertIsNone(normalize.parse_employee_count(""))
        self.assertIsNone(normalize.parse_employee_count("no sabe"))

    def test_header_normalised(self):
        self.assertEqual(normalize.normalize_header("Importe estimado (€)"), "importeestimado")
        self.assertEqual(normalize.normalize_header("Nº empleados"), "noempleados")
        self.assertEqual(normalize.normalize_header(" ÚLTIMO CONTACTO "), "ultimocontacto")
        self.assertEqual(normalize.normalize_header("Teléfono"), "telefono")

    def test_province_to_spanish_state(self):
        """Every spelling of the file, and the other official names, reach Odoo's state."""
        wizard = self.env['montanes.lead.import']
        state_id_by_key = wizard._get_province_map(self.env.ref('base.es'))

        def state_code(cell):
            for key in normalize.province_lookup_keys(cell):
                if key in state_id_by_key:
                    return self.env['res.country.state'].browse(state_id_by_key[key]).code
            return None

        cases = [
            ("Málaga", "MA"), ("Malaga", "MA"), ("Caceres", "CC"), ("Cáceres", "CC"),
            ("Guipúzcoa", "SS"), ("Gipuzkoa", "SS"), ("Illes Balears", "PM"), ("Baleares", "PM"),
            ("A Coruña", "C"), ("La Coruña", "C"), ("Bizkaia", "BI"), ("Vizcaya", "BI"),
            ("Araba", "VI"), ("Álava", "VI"), ("València", "V"), ("Valencia", "V"),
            ("Castelló", "CS"), ("Alacant", "A"), ("Alicante", "A"), ("Alicante/Alacant", "A"),
            ("Lleida", "L"), ("Girona", "GI"), ("Ourense", "OR"), ("Nafarroa", "NA"),
            ("Navarra", "NA"), ("Leon", "LE"), ("LAS PALMAS", "GC"),
        ]
        for cell, code in cases:
            with self.subTest(cell=cell):
                self.assertEqual(state_code(cell), code)
        self.assertIsNone(state_code("Narnia"))

    def test_number_not_finite_rejected(self):
        for value in ("1e400", "-1e400", "inf", "nan", float('inf'), float('nan')):
            with self.assertRaises(normalize.NonFiniteNumberError, msg=repr(value)):
                normalize.parse_spanish_number(value)
        self.assertEqual(normalize.parse_spanish_number("1e3"), 1000.0)

    def test_employee_count_negative_rejected(self):
        with self.assertRaises(normalize.NegativeNumberError):
            normalize.parse_employee_count("-5")
        with self.assertRaises(normalize.NegativeNumberError):
            normalize.parse_employee_count(-5)
        self.assertEqual(normalize.parse_employee_count("50-249"), 50)

    def test_date_year_range(self):
        with self.assertRaises(normalize.DateOutOfRangeError):
            normalize.parse_spanish_date("31/12/1899")
        with self.assertRaises(normalize.DateOutOfRangeError):
            normalize.parse_spanish_date("01/01/2101")
        with self.assertRaises(normalize.DateOutOfRangeError):
            normalize.parse_spanish_date(datetime.date(1850, 1, 1))
        self.assertEqual(normalize.parse_spanish_date("01/01/1900"), datetime.date(1900, 1, 1))
        self.assertEqual(normalize.parse_spanish_date("31/12/2100"), datetime.date(2100, 12, 31))
