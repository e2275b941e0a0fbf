import base64
import binascii
import csv
import io
import logging
import re
from datetime import datetime

from odoo import api, fields, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

# Vendor file layout: UTF-8 (a BOM is accepted), ';' separated, one header line.
CSV_DELIMITER = ';'
COLUMN_PRODUCT_REF = 0
COLUMN_KEY = 1
COLUMN_ACTIVATION_DEADLINE = 2
# Lower-case header of the key column, used to recognise the vendor file.
KEY_HEADER_NAMES = ('clave', 'key')
ACTIVATION_DATE_FORMAT = '%d/%m/%Y'
# Keys from the current vendors are four groups of five letters or digits after the product
# prefix, for example MSERP-76NM8-MG6VK-FC36L-AEDCN. A product's own key pattern replaces it.
DEFAULT_KEY_BODY_PATTERN = r'[A-Z0-9]{5}(?:-[A-Z0-9]{5}){3}'
# Maximum length of a key, in characters. Vendor keys have about 30, and the bound keeps the
# time of matching a key against its product's pattern small.
MAX_KEY_LENGTH = 100



class MontanesLicenseKeyImport(models.TransientModel):
    _name = 'montanes.license.key.import'
    _description = "Licence Key Import"

    file = fields.Binary(string="Vendor File", required=True)
    file_name = fields.Char(string="File Name")
    state = fields.Selection(
        selection=[('draft', "Draft"), ('done', "Done")],
        string="Status",
        default='draft',
        required=True,
    )
    imported_count = fields.Integer(string="Imported Key Count", readonly=True)
    error_count = fields.Integer(string="Rejected Row Count", readonly=True)
    line_ids = fields.One2many(
        comodel_name='montanes.license.key.import.line',
        inverse_name='import_id',
        string="Rejected Rows",
        readonly=True,
    )
    lot_ids = fields.Many2many(
        comodel_name='stock.lot',
        string="Imported Keys",
        readonly=True,
    )

    @api.model
    def montanes_import_file(self, file_content, file_name):
        """Import a vendor file given as base64 and return the finished import."""
        wizard = self.create({'file': file_content, 'file_name': file_name})
        wizard.action_import()
        return wizard

    def action_import(self):
        """Create a serial number per valid row and receive it into the company's stock.

        Invalid rows are skipped and listed in `line_ids` with the reason. A file that cannot
        be read raises a UserError and imports nothing.
        """
        self.ensure_one()
        if not self.env.user.has_group('stock.group_stock_user'):
            raise UserError(self.env._(
                "Importing keys receives them into stock, which needs the Inventory / User "
                "access right. Ask an inventory administrator to grant it."))
        if self.state == 'done':
            raise UserError(self.env._(
                "This file has already been imported. Open a new import to load another file."))

        rows = self._read_rows()
        valid_rows, error_vals = self._validate_rows(rows)
        lots = self._receive_keys(valid_rows)

        self.write({
            'state': 'done',
            'imported_count': len(lots),
            'error_count': len(error_vals),
            'lot_ids': [fields.Command.set(lots.ids)],
            'line_ids': [fields.Command.create(vals) for vals in error_vals],
        })
        _logger.info(
            "Licence key import %s: %d keys received, %d rows rejected",
            self.file_name or '-', len(lots), len(error_vals),
        )
        return {
            'type': 'ir.actions.act_window',
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'target': 'new',
            'name': self.env._("Licence Key Import"),
        }

    # ------------------------------------------------------------
    # Reading and validation
    # ------------------------------------------------------------

    def _read_rows(self):
        """Return the data rows of the file as (row_number, cells) pairs.

        Row numbers are line numbers of the file, so the header is row 1.
        """
        try:
            content = base64.b64decode(self.file or b'', validate=True)
        except (binascii.Error, ValueError):
            raise UserError(self.env._(
                "The file “%(name)s” could not be read. Upload the CSV file again.",
                name=self.file_name or '',
            )) from None
        try:
            text = content.decode('utf-8-sig')
        except UnicodeDecodeError:
            raise UserError(self.env._(
                "The file “%(name)s” is not UTF-8 text. Save it as CSV UTF-8 and import it again.",
                name=self.file_name or '',
            )) from None

        rows = list(csv.reader(io.StringIO(text, newline=''), delimiter=CSV_DELIMITER))
        if not rows:
            raise UserError(self.env._(
                "The file “%(name)s” is empty.", name=self.file_name or ''))
        header = [cell.strip().lower() for cell in rows[0]]
        if len(header) <= COLUMN_ACTIVATION_DEADLINE or header[COLUMN_KEY] not in KEY_HEADER_NAMES:
            raise UserError(self.env._(
                "The file “%(name)s” does not have the vendor layout. Its first line must be "
                "the header “Referencia producto;Clave;Fecha límite de activación;Observaciones”, "
                "separated by semicolons. First line found: %(header)s",
                name=self.file_name or '',
                header=';'.join(rows[0]),
            ))
        return [
            (index, cells)
            for index, cells in enumerate(rows[1:], start=2)
            if any(cell.strip() for cell in cells)
        ]

    def _validate_rows(self, rows):
        """Split the rows into valid keys and rejected rows.

        :return: a list of dicts (row_number, key, product, deadline) for the valid rows, and a
            list of values for `montanes.license.key.import.line` for the rejected ones.
        """
        Lot = self.env['stock.lot']
        products = self._find_products(rows)
        existing_keys = self._find_existing_keys(rows)

        valid_rows = []
        error_vals = []
        first_row_by_key = {}
        today = fields.Date.context_today(self)
        for row_number, cells in rows:
            cells = cells + [''] * (COLUMN_ACTIVATION_DEADLINE + 1 - len(cells))
            reference = cells[COLUMN_PRODUCT_REF].strip()
            product = products.get(reference)
            key = Lot.montanes_normalize_key(cells[COLUMN_KEY], product)

            def reject(reason, message, row_number=row_number, key=key, reference=reference):
                error_vals.append({
                    'row_number': row_number,
                    'product_reference': reference,
                    'key': key or False,
                    'reason': reason,
                    'message': message,
                })

            if not key:
                reject('blank_key', self.env._("The key is empty."))
                continue
            if not product:
                reject('unknown_product', self.env._(
                    "No product has the internal reference “%(reference)s”.",
                    reference=reference))
                continue
            if product.montanes_license_kind != 'key':
                reject('not_key_product', self.env._(
                    "The product “%(product)s” is not a key licence.",
                    product=product.display_name))
                continue
            if len(key) > MAX_KEY_LENGTH:
                reject('bad_format', self.env._(
                    "The key is %(length)s characters long: keys have at most %(max)s "
                    "characters.",
                    length=len(key), max=MAX_KEY_LENGTH))
                continue
            if not self._is_key_pattern_safe(product):
                reject('unsafe_pattern', self.env._(
                    "The key pattern “%(pattern)s” of “%(product)s” contains a nested "
                    "quantifier, which can make the import hang. Correct the pattern on the "
                    "product and import the file again.",
                    pattern=product.montanes_key_pattern,
                    product=product.display_name))
                continue
            if not self._is_key_format_valid(key, product):
                reject('bad_format', self.env._(
                    "The key does not have the format of “%(product)s”: it must be "
                    "“%(prefix)s” followed by text matching the pattern “%(pattern)s”.",
                    product=product.display_name,
                    prefix=product.montanes_key_prefix or '',
                    pattern=product.montanes_key_pattern or DEFAULT_KEY_BODY_PATTERN))
                continue
            deadline_text = cells[COLUMN_ACTIVATION_DEADLINE].strip()
            try:
                deadline = (
                    datetime.strptime(deadline_text, ACTIVATION_DATE_FORMAT).date()
                    if deadline_text else False
                )
            except ValueError:
                reject('bad_date', self.env._(
                    "The activation deadline “%(date)s” is not a valid date in dd/mm/yyyy format.",
                    date=deadline_text))
                continue
            if deadline and deadline < today:
                reject('expired', self.env._(
                    "The activation deadline “%(date)s” is already past: the vendor no longer "
                    "activates this key. Ask the vendor for a replacement key.",
                    date=deadline_text))
                continue
            if key in first_row_by_key:
                reject('duplicate_in_file', self.env._(
                    "The key is listed twice in the file: it was already on row %(row)s.",
                    row=first_row_by_key[key]))
                continue
            first_row_by_key[key] = row_number
            if key in existing_keys:
                reject('already_exists', self.env._("The key already exists in the database."))
                continue
            valid_rows.append({
                'row_number': row_number,
                'key': key,
                'product': product,
                'deadline': deadline,
            })
        return valid_rows, error_vals

    def _find_products(self, rows):
        """Return the products of the file by internal reference, in the current company."""
        references = {cells[COLUMN_PRODUCT_REF].strip() for _row, cells in rows if cells}
        products = self.env['product.product'].search([
            ('default_code', 'in', list(references)),
            ('company_id', 'in', [False, self.env.company.id]),
        ])
        # A product of the current company wins over a shared product with the same reference.
        products = products.sorted(lambda product: bool(product.company_id))
        return {product.default_code: product for product in products}

    def _find_existing_keys(self, rows):
        """Return the keys of the file that already exist as licence keys in any company."""
        # The case rule depends on the product, so every spelling a rule can produce is looked up.
        keys = set()
        for _row, cells in rows:
            if len(cells) > COLUMN_KEY and cells[COLUMN_KEY].strip():
                key = cells[COLUMN_KEY].strip()
                keys.update((key, key.upper(), key.lower()))
        # Keys are unique across companies, so the check must see every company's lots.
        existing = self.env['stock.lot'].sudo().with_context(active_test=False).search([
            ('name', 'in', list(keys)),
            ('montanes_is_license_key', '=', True),
        ])
        return set(existing.mapped('name'))

    @api.model
    def _is_key_pattern_safe(self, product):
        """Return whether the product's key pattern is safe to match.

        The product constraint checks patterns on save. This check also catches patterns saved
        before that constraint existed or written with SQL.
        """
        pattern = product.montanes_key_pattern
        return not pattern or self.env['product.template'].montanes_is_key_pattern_safe(pattern)

    @api.model
    def _is_key_format_valid(self, key, product):
        prefix = self.env['stock.lot'].montanes_normalize_key(
            product.montanes_key_prefix, product)
        if not key.startswith(prefix):
            return False
        pattern = product.montanes_key_pattern or DEFAULT_KEY_BODY_PATTERN
        return bool(re.fullmatch(pattern, key[len(prefix):]))

    # ------------------------------------------------------------
    # Stock
    # ------------------------------------------------------------

    def _receive_keys(self, valid_rows):
        """Create the serial numbers and add them to stock with an inventory adjustment.

        The `montanes_inventory_name` context key replaces the reference of the stock moves.
        """
        if not valid_rows:
            return self.env['stock.lot']
        company = self.env.company
        warehouse = self.env['stock.warehouse'].search(
            [('company_id', '=', company.id)], order='sequence, id', limit=1)
        if not warehouse:
            raise UserError(self.env._(
                "The company %(company)s has no warehouse to receive the keys into. "
                "Create a warehouse first.", company=company.name))

        Lot = self.env['stock.lot']
        lots = Lot.create([{
            'name': row['key'],
            'product_id': row['product'].id,
            'company_id': company.id,
            'expiration_date': (
                Lot.montanes_get_deadline_expiration_date(row['deadline'])
                if row['deadline'] else False
            ),
        } for row in valid_rows])
        quants = self.env['stock.quant'].with_context(
            inventory_mode=True,
            inventory_name=(
                self.env.context.get('montanes_inventory_name')
                or self.env._("Licence key import %(file)s", file=self.file_name or '')
            ),
        ).create([{
            'product_id': lot.product_id.id,
            'location_id': warehouse.lot_stock_id.id,
            'lot_id': lot.id,
            'inventory_quantity': 1,
        } for lot in lots])
        quants.action_apply_inventory()
        # Keys received may bring the stock back above the low stock threshold.
        lots.product_id.product_tmpl_id._montanes_check_key_low_stock()
        return lots
