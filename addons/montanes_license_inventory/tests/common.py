import base64
import os
from pathlib import Path

from odoo import Command
from odoo.tests import new_test_user

from odoo.addons.account.tests.common import AccountTestInvoicingCommon

VENDOR_KEYS_FILE_NAME = 'claves_licencias_proveedor.csv'
GROUP_SERVICE = 'montanes_license_inventory.montanes_license_inventory_group_service'


def get_shared_data_dir():
    """Return the folder of the sales team's real input files.

    The MONTANES_SHARED_DATA variable is used when set, else the folder `shared/data` next to
    the repository.
    """
    if os.environ.get('MONTANES_SHARED_DATA'):
        return Path(os.environ['MONTANES_SHARED_DATA'])
    repository_root = Path(__file__).resolve().parents[3]
    return repository_root.parent / 'shared' / 'data'


class MontanesLicenseCommon(AccountTestInvoicingCommon):
    """Company with a 21 % sale tax, the three key licences of the vendor file and users.

    Everything is created here, so the tests need neither demo data nor l10n_es.
    """

    @classmethod
    def get_default_groups(cls):
        return super().get_default_groups() | cls.env.ref('sales_team.group_sale_manager')

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.warehouse = cls.env['stock.warehouse'].search(
            [('company_id', '=', cls.company.id)], limit=1)
        cls.stock_location = cls.warehouse.lot_stock_id

        cls.tax_21 = cls.env['account.tax'].create({
            'name': "IVA 21% (test)",
            'amount': 21.0,
            'amount_type': 'percent',
            'type_tax_use': 'sale',
            'company_id': cls.company.id,
        })
        cls.product_erp = cls._create_license_product(
            'MS-ERP-PRO-1Y', "Montañés ERP Pro - licencia anual", 1490.0, 12, 'MSERP-')
        cls.product_antivirus = cls._create_license_product(
            'AV-CORP-1Y', "Antivirus Corporativo - 1 equipo, 1 año", 39.90, 12, 'AVC-')
        cls.product_office = cls._create_license_product(
            'OFF-PERP', "Licencia ofimática perpetua", 249.0, 0, 'OFP-')

        cls.customer = cls.env['res.partner'].create({
            'name': "Talleres Ebro S.L.",
            'email': 'compras@talleresebro.example',
            'company_id': cls.company.id,
        })
        cls.user_service = new_test_user(
            cls.env, login='montanes_service',
            groups=f'{GROUP_SERVICE},stock.group_stock_user',
            name="Andrés Gil (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.user_salesman = new_test_user(
            cls.env, login='montanes_salesman',
            groups='sales_team.group_sale_salesman',
            name="Lucía Romero (test)",
            company_id=cls.company.id, company_ids=[Command.set(cls.company.ids)],
        )
        cls.company.montanes_license_service_user_id = cls.user_service

    @classmethod
    def _create_license_product(cls, reference, name, price, term_months, prefix):
        return cls._create_product(
            name=name,
            default_code=reference,
            lst_price=price,
            taxes_id=[Command.set(cls.tax_21.ids)],
            montanes_license_kind='key',
            montanes_license_term_months=term_months,
            montanes_key_prefix=prefix,
            company_id=cls.company.id,
        )

    @classmethod
    def _import_keys(cls, content, file_name='claves.csv'):
        """Run the key import wizard on `content` (str or bytes) and return the wizard."""
        if isinstance(content, str):
            content = content.encode('utf-8')
        wizard = cls.env['montanes.license.key.import'].create({
            'file': base64.b64encode(content),
            'file_name': file_name,
        })
        wizard.action_import()
        return wizard

    @classmethod
    def _create_order(cls, lines, partner=None, user=None):
        """Create a draft order; `lines` is a list of (product, quantity, unit price)."""
        env = cls.env(user=user) if user else cls.env
        return env['sale.order'].create({
            'partner_id': (partner or cls.customer).id,
            'company_id': cls.company.id,
            'order_line': [
                Command.create({
                    'product_id': product.id,
                    'product_uom_qty': quantity,
                    'price_unit': price,
                    'tax_ids': [Command.set(cls.tax_21.ids)],
                })
                for product, quantity, price in lines
            ],
        })

    def _count(self, model, domain=None):
        return self.env[model].search_count(domain or [])
