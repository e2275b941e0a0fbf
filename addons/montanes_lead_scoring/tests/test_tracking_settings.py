from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged


@tagged('post_install', '-at_install')
class TestTrackingSettings(TransactionCase):
    """The tracking block of the Email Marketing settings."""

    def _settings(self, **values):
        return self.env['res.config.settings'].create(values)

    def test_valid_settings_are_stored(self):
        self._settings(
            montanes_website_origins=' https://www.montanessoluciones.es/, http://tienda.example:8080 ',
            montanes_website_token_days=30,
            montanes_machine_delay_seconds=20,
        ).execute()

        ICP = self.env['ir.config_parameter']
        self.assertEqual(
            ICP.get_param('montanes_lead_scoring.website_origins'),
            'https://www.montanessoluciones.es/, http://tienda.example:8080',
        )
        self.assertEqual(ICP.get_param('montanes_lead_scoring.website_token_days'), '30')
        self.assertEqual(ICP.get_param('montanes_lead_scoring.machine_delay_seconds'), '20')
        Hit = self.env['montanes.tracking.hit']
        self.assertEqual(
            Hit._get_website_origins(),
            {'https://www.montanessoluciones.es', 'http://tienda.example:8080'},
        )
        self.assertEqual(Hit._get_token_days(), 30)
        self.assertEqual(Hit._get_scanner_delay(), 20)

    def test_defaults(self):
        settings = self._settings()
        self.assertEqual(settings.montanes_website_token_days, 90)
        self.assertEqual(settings.montanes_machine_delay_seconds, 10)

    def test_invalid_origins(self):
        for origins in ('www.montanessoluciones.es', 'https://www.montanessoluciones.es/contacto',
                        'ftp://files.example', 'https://a.example; https://b.example', '*'):
            with self.subTest(origins=origins), self.assertRaisesRegex(ValidationError, 'is not a website origin'):
                self._settings(montanes_website_origins=origins)

    def test_invalid_numbers(self):
        for days in (0, -5, 731):
            with self.subTest(days=days), self.assertRaisesRegex(ValidationError, 'visitor token validity'):
                self._settings(montanes_website_token_days=days)
        for seconds in (0, -1, 3601):
            with self.subTest(seconds=seconds), self.assertRaisesRegex(ValidationError, 'scanner delay'):
                self._settings(montanes_machine_delay_seconds=seconds)
