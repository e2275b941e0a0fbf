import base64
import csv
import hashlib
import io
import logging
import os
import time

import psycopg2
import psycopg2.errors

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, html2plaintext, plaintext2html
from odoo.tools.mimetypes import guess_mimetype

from odoo.addons.base_import.models.base_import import MIMETYPE_TO_READER

from ..tools import lead_import_normalize as normalize
from .montanes_lead_import_line import DUPLICATE_STATUSES

_logger = logging.getLogger(__name__)

# Spreadsheet columns by value key: the Spanish header the sales team uses,
# then every normalised header accepted for it, so the columns may come in
# any order and with or without accents or symbols.
COLUMNS = {
    'date_registered': ("Fecha alta", ('fechaalta', 'fechadealta')),
    'company': ("Empresa", ('empresa', 'compania')),
    'vat': ("CIF", ('cif', 'nif', 'cifnif')),
    'contact': ("Contacto", ('contacto', 'personadecontacto')),
    'function': ("Cargo", ('cargo', 'puesto')),
    'email': ("Email", ('email', 'correo', 'correoelectronico', 'mail')),
    'phone': ("Teléfono", ('telefono', 'tel', 'movil')),
    'province': ("Provincia", ('provincia',)),
    'industry': ("Sector", ('sector',)),
    'employees': ("Nº empleados", ('noempleados', 'numeroempleados', 'empleados', 'numerodeempleados')),
    'product': ("Producto de interés", ('productodeinteres', 'producto')),
    'source': ("Origen", ('origen',)),
    'date_last_contact': ("Último contacto", ('ultimocontacto', 'fechaultimocontacto')),
    'status': ("Estado", ('estado',)),
    'salesperson': ("Comercial", ('comercial', 'vendedor')),
    'notes': ("Notas", ('notas', 'observaciones')),
    'amount': ("Importe estimado (€)", ('importeestimado', 'importe', 'importeestimadoeur')),
}
# Without these columns a row cannot be named nor checked for duplicates.
REQUIRED_COLUMNS = ('company', 'contact', 'email', 'phone')

# "Estado" values of the spreadsheet, normalised, mapped to a crm stage XML id.
# Lost rows are handled apart because Odoo marks them lost rather than staging them.
STAGE_XMLID_BY_STATUS = {
    'nuevo': 'crm.stage_lead1',
    'sin respuesta': 'crm.stage_lead1',
    'contactado': 'crm.stage_lead2',
    'interesado': 'crm.stage_lead2',
    'propuesta enviada': 'crm.stage_lead3',
    'negociacion': 'crm.stage_lead3',
    'cliente': 'crm.stage_lead4',
    'perdido': 'crm.stage_lead1',
}
LOST_STATUS = 'perdido'

# Fields handed to crm.lead.load(), in the order of the rows built for it.
LOAD_FIELDS = [
    'id', 'name', 'partner_name', 'contact_name', 'function', 'email_from', 'phone',
    'montanes_vat', 'country_id/.id', 'state_id/.id', 'montanes_industry_id/.id',
    'montanes_employee_count', 'montanes_employee_text', 'montanes_product_interest',
    'source_id/.id', 'montanes_date_registered', 'montanes_date_last_contact',
    'stage_id/.id', 'user_id/.id', 'partner_id/.id', 'description', 'expected_revenue',
    'montanes_import_key',
]
# Lead fields a merge fills when they are empty on the target lead.
MERGE_FILL_FIELDS = [
    'partner_name', 'contact_name', 'function', 'email_from', 'phone', 'montanes_vat',
    'state_id', 'montanes_industry_id', 'montanes_employee_count', 'montanes_employee_text',
    'montanes_product_interest', 'source_id', 'montanes_date_registered',
    'montanes_date_last_contact', 'user_id', 'expected_revenue',
]
XMLID_MODULE = '__import__'
# Context of the load() call. A bulk import writes no "created" message, no
# field tracking and no assignment e-mail per lead: for 1,300 rows these
# would be 1,300 chatter messages and as many e-mails to the salespeople.
IMPORT_CONTEXT = {
    'import_file': True,
    'mail_create_nolog': True,
    'mail_notrack': True,
    'mail_auto_subscribe_no_notify': True,
}
XMLID_PREFIX = 'montanes_lead_'
# First key of the advisory locks taken on the import keys of the rows
# being loaded, so two imports of the same rows do not load them at once.
# Any fixed number works if no other code uses it as its first key.
IMPORT_LOCK_NAMESPACE = 480_117
# Errors of concurrent transactions that Odoo's request retry also handles.
PG_CONCURRENCY_ERRORS = (
    psycopg2.errors.SerializationFailure,
    psycopg2.errors.LockNotAvailable,
    psycopg2.errors.DeadlockDetected,
)
# load() turns database errors into messages, which keep PostgreSQL's text.
# NOTE: these are the server's English messages. With another lc_messages
# the row keeps PostgreSQL's own message instead.
PG_CONCURRENCY_MESSAGES = (
    'could not serialize access',
    'deadlock detected',
    'could not obtain lock',
)
# base_import readers of workbook files, which are binary and need no text check.
SPREADSHEET_READERS = ('xlsx', 'xls', 'ods')
# Candidate CSV separators, in the order that breaks ties: Spanish Excel writes ";".
CSV_SEPARATORS = (';', ',', '\t', '|')
DEFAULT_CSV_SEPARATOR = ';'
# Control characters that text files do not contain (tab, line feed, form
# feed and carriage return are allowed), so they mark a binary file.
BINARY_CONTROL_CHARACTERS = frozenset(chr(code) for code in range(32) if chr(code) not in '\t\n\x0c\r')
# Cell starts that Excel and LibreOffice read as a formula (OWASP "CSV
# injection"): such cells of the rejected rows file get a leading quote.
FORMULA_PREFIXES = ('=', '+', '-', '@', '\t', '\r')
# Largest value of a PostgreSQL "integer" column, the type of Integer fields.
MAX_INTEGER = 2_147_483_647


class MontanesLeadImport(models.TransientModel):
    _name = 'montanes.lead.import'
    _description = "Sales Spreadsheet Import"
    _order = 'id desc'

    state = fields.Selection(
        selection=[
            ('upload', "Upload"),
            ('review', "Review"),
            ('done', "Done"),
        ],
        string="Step",
        required=True,
        default='upload',
    )
    file = fields.Binary(
        string="Spreadsheet",
        required=True,
        attachment=False,
        help="Lead spreadsheet as CSV (any encoding, any separator) or Excel (.xlsx, .xls, .ods). "
        "A salesperson who sees only their own leads cannot import rows of another salesperson: "
        "those rows are errors, for a sales manager to import.",
    )
    file_name = fields.Char(string="File Name")
    header_values = fields.Json(
        help="Header row of the file as written, reused for the rejected rows file.",
    )
    line_ids = fields.One2many(
        comodel_name='montanes.lead.import.line',
        inverse_name='wizard_id',
        string="Rows",
    )

    # Review counts
    to_create_count = fields.Integer(string="To Create", compute='_compute_counts')
    to_merge_count = fields.Integer(string="To Merge", compute='_compute_counts')
    to_skip_count = fields.Integer(string="To Skip", compute='_compute_counts')
    duplicate_count = fields.Integer(string="Duplicates", compute='_compute_counts')

    # Result counts
    created_count = fields.Integer(string="Created", compute='_compute_counts')
    merged_count = fields.Integer(string="Merged", compute='_compute_counts')
    skipped_count = fields.Integer(string="Skipped", compute='_compute_counts')
    error_count = fields.Integer(
        string="Errors",
        compute='_compute_counts',
        help="Rows that cannot be imported: rows with an error before the import and rows Odoo rejected during it.",
    )
    rejected_file = fields.Binary(string="Rejected Rows", attachment=False, readonly=True)
    rejected_file_name = fields.Char(readonly=True)

    @api.depends('line_ids.action', 'line_ids.status', 'line_ids.result')
    def _compute_counts(self):
        for wizard in self:
            lines = wizard.line_ids
            valid_lines = lines.filtered(lambda line: line.status != 'error')
            wizard.to_create_count = len(valid_lines.filtered(lambda line: line.action == 'create'))
            wizard.to_merge_count = len(valid_lines.filtered(lambda line: line.action == 'merge'))
            wizard.to_skip_count = len(valid_lines.filtered(lambda line: line.action == 'skip'))
            wizard.duplicate_count = len(lines.filtered(lambda line: line.status in DUPLICATE_STATUSES))
            wizard.created_count = len(lines.filtered(lambda line: line.result == 'created'))
            wizard.merged_count = len(lines.filtered(lambda line: line.result == 'merged'))
            wizard.skipped_count = len(lines.filtered(lambda line: line.result == 'skipped'))
            wizard.error_count = len(lines.filtered(
                lambda line: line.status == 'error' or line.result == 'rejected'
            ))

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def action_analyze(self):
        """Read the file and fill one review line per non-blank data row.

        Raises UserError when the file cannot be read or a required column is missing.
        """
        self.ensure_one()
        self.env['crm.lead'].check_access('create')
        started = time.monotonic()
        headers, rows, row_numbers = self._read_spreadsheet()
        column_indexes = self._match_columns(headers)
        row_values = [self._parse_row(row, column_indexes) for row in rows]
        line_vals_list = self._analyze_duplicates(row_values, row_numbers)

        self.line_ids.unlink()
        self.write({
            'header_values': [str(header) for header in headers],
            'line_ids': [fields.Command.create(vals) for vals in line_vals_list],
            'state': 'review',
        })
        self._link_matched_lines()
        _logger.info(
            "Lead import %s: analysed %d rows of %s in %.2fs",
            self.id, len(rows), self.file_name, time.monotonic() - started,
        )
        return self._action_reopen()

    def action_merge_all_duplicates(self):
        self.ensure_one()
        lines = self.line_ids.filtered(
            lambda line: line.status in DUPLICATE_STATUSES and line.can_merge
        )
        lines.action = 'merge'
        return self._action_reopen()

    def action_skip_all_duplicates(self):
        self.ensure_one()
        self.line_ids.filtered(lambda line: line.status in DUPLICATE_STATUSES).action = 'skip'
        return self._action_reopen()

    def action_back(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.state = 'upload'
        return self._action_reopen()

    def action_import(self):
        """Create and merge the leads of the reviewed lines and show the result.

        Rows run through ``crm.lead.load()`` in one transaction. A row that
        load() rejects is marked rejected with Odoo's message, and the other
        rows are imported.
        """
        self.ensure_one()
        if self.state == 'upload':
            self.action_analyze()
        if self.state != 'review':
            raise UserError(self.env._("This import has already run. Start a new import to load the file again."))
        self.env['crm.lead'].check_access('create')
        started = time.monotonic()

        lines = self.line_ids
        lines.filtered(lambda line: line.status == 'error').write({'result': 'rejected'})
        lines.filtered(lambda line: line.status != 'error' and line.action == 'skip').write({
            'result': 'skipped',
            'result_message': self.env._("Skipped on review."),
        })
        to_create, merges = self._plan_import(lines.filtered(lambda line: not line.result))
        self._load_leads(to_create)
        self._merge_lines(merges)

        self.rejected_file = self._build_rejected_file()
        self.rejected_file_name = self.env._("rejected_rows.csv") if self.rejected_file else False
        self.state = 'done'
        _logger.info(
            "Lead import %s: %d created, %d merged, %d skipped, %d rejected in %.2fs",
            self.id, self.created_count, self.merged_count, self.skipped_count,
            self.error_count, time.monotonic() - started,
        )
        return self._action_reopen()

    def action_open_leads(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id('crm.crm_lead_all_leads')
        action.update({
            'name': self.env._("Imported Leads"),
            'domain': [('id', 'in', self.line_ids.lead_id.ids)],
            'context': {'active_test': False},
            'views': [(False, 'list'), (False, 'kanban'), (False, 'form')],
            'view_mode': 'list,kanban,form',
        })
        return action

    def _action_reopen(self):
        return {
            'type': 'ir.actions.act_window',
            'name': self.env._("Import Sales Spreadsheet"),
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'views': [(False, 'form')],
            'target': 'new',
        }

    # ------------------------------------------------------------------
    # Step 1: read the file through base_import
    # ------------------------------------------------------------------

    def _read_spreadsheet(self):
        """Return the header row and the non-blank data rows of the file."""
        if not self.file:
            raise UserError(self.env._("Select a spreadsheet file to import."))
        content = base64.b64decode(self.file)
        importer = self.env['base_import.import'].create({
            'res_model': 'crm.lead',
            'file': content,
            'file_name': self.file_name or '',
        })
        encoding = self._guess_csv_encoding(content)
        options = {'quoting': '"', 'separator': '', 'encoding': encoding}
        if not self._is_spreadsheet_file(content):
            text = self._decode_text_file(content, encoding)
            # base_import only guesses the separator when every row has the
            # same number of cells, so it is set here from the header row.
            options['separator'] = self._guess_csv_separator(text)
        try:
            _length, rows = importer._read_file(options)
        except Exception as error:  # noqa: BLE001 base_import raises whatever its readers raise
            # base_import reports a damaged file in untranslated English, so the user gets
            # this message and the log keeps the reader's error.
            _logger.info("Spreadsheet %r could not be read: %s", self.file_name, error)
            raise UserError(self.env._(
                "The file %(file)s could not be read as a CSV or Excel spreadsheet. "
                "Save it as CSV or XLSX and try again.",
                file=self.file_name or '',
            )) from error
        if not rows:
            raise UserError(self.env._(
                "The file %(file)s contains no rows. Check that you selected the sales spreadsheet.",
                file=self.file_name or '',
            ))
        row_numbers = self._get_csv_row_numbers(content, options) if 'sheet' not in options else None
        if not row_numbers or len(row_numbers) != len(rows):
            # Spreadsheet readers drop blank rows too: number the rows as read.
            row_numbers = list(range(1, len(rows) + 1))
        return rows[0], rows[1:], row_numbers[1:]

    def _is_spreadsheet_file(self, content):
        """Return whether the file is an Excel or ODS workbook, by its content or its extension."""
        reader = MIMETYPE_TO_READER.get(guess_mimetype(content))
        extension = os.path.splitext(self.file_name or '')[1].lower()
        return reader in SPREADSHEET_READERS or extension.removeprefix('.') in SPREADSHEET_READERS

    def _decode_text_file(self, content, encoding):
        """Return the text of a CSV file.

        Raises UserError when the content is binary (an image, a PDF): it does
        not decode, or it contains control characters that no CSV file has.
        """
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError:
            text = None
        if text is None or any(char in BINARY_CONTROL_CHARACTERS for char in text):
            raise UserError(self.env._(
                "The file %(file)s is not a CSV or Excel spreadsheet: it contains binary data. "
                "Open the sales spreadsheet in Excel or LibreOffice, save it as CSV or XLSX "
                "and select that file.",
                file=self.file_name or '',
            ))
        return text

    @api.model
    def _guess_csv_separator(self, text):
        """Return the separator that splits the first non-blank line into the most cells.

        Falls back on ";", the separator of Spanish Excel, when no candidate
        splits that line.
        """
        first_line = next((line for line in text.splitlines() if line.strip()), '')
        best_separator, best_width = DEFAULT_CSV_SEPARATOR, 1
        for separator in CSV_SEPARATORS:
            width = len(next(csv.reader([first_line], delimiter=separator, quotechar='"'), []))
            if width > best_width:
                best_separator, best_width = separator, width
        return best_separator

    @api.model
    def _get_csv_row_numbers(self, content, options):
        """Return the file row number of every non-blank CSV row base_import returned.

        base_import drops blank rows, so without this the rows after a blank
        line would be shown one row too early. Rows are counted as CSV
        records, so a quoted cell spanning two lines counts once.
        """
        try:
            text = content.decode(options['encoding'])
            reader = csv.reader(io.StringIO(text), quotechar=options['quoting'], delimiter=options['separator'])
            return [
                number for number, row in enumerate(reader, start=1)
                if any(cell.strip() for cell in row)
            ]
        except (KeyError, TypeError, UnicodeDecodeError, csv.Error):
            return None

    @api.model
    def _guess_csv_encoding(self, content):
        """Return the encoding for a CSV file: UTF-8 when it decodes, else Windows-1252.

        Spanish Excel saves CSV files as Windows-1252, which chardet often
        reports as ISO-8859-1; that codec would turn "€" into a control character.
        """
        try:
            content.decode('utf-8')
        except UnicodeDecodeError:
            return 'windows-1252'
        return 'utf-8-sig' if content.startswith(b'\xef\xbb\xbf') else 'utf-8'

    @api.model
    def _match_columns(self, headers):
        """Return ``{value key: column index}`` for the headers of the file.

        Raises UserError naming every required column that is missing.
        """
        index_by_header = {}
        for index, header in enumerate(headers):
            index_by_header.setdefault(normalize.normalize_header(header), index)
        column_indexes = {}
        for key, (_label, accepted) in COLUMNS.items():
            for header in accepted:
                if header in index_by_header:
                    column_indexes[key] = index_by_header[header]
                    break
        missing = [COLUMNS[key][0] for key in REQUIRED_COLUMNS if key not in column_indexes]
        if missing:
            raise UserError(self.env._(
                "The file %(file)s has no column %(columns)s. Add the column with that header "
                "to the first row, or check that you selected the sales spreadsheet.",
                file=self.file_name or '', columns=", ".join(f"“{label}”" for label in missing),
            ))
        return column_indexes

    # ------------------------------------------------------------------
    # Step 2: normalise the rows and look for duplicates
    # ------------------------------------------------------------------

    @api.model
    def _parse_row(self, row, column_indexes):
        """Return the raw cells, the normalised values, warnings and errors of one row."""
        def cell(key):
            index = column_indexes.get(key)
            if index is None or index >= len(row):
                return ''
            value = row[index]
            return value.strip() if isinstance(value, str) else value

        errors = []
        warnings = []
        values = {
            'company': cell('company') or '',
            'contact': cell('contact') or '',
            'function': cell('function') or '',
            'vat': normalize.normalize_vat(cell('vat')),
            'province': cell('province') or '',
            'industry': cell('industry') or '',
            'employee_text': str(cell('employees') or ''),
            'product': cell('product') or '',
            'source': cell('source') or '',
            'status': cell('status') or '',
            'salesperson': cell('salesperson') or '',
            'notes': cell('notes') or '',
        }
        values['employee_count'] = self._parse_employee_count(values['employee_text'], errors)

        raw_email = cell('email')
        values['email'] = normalize.normalize_email(raw_email)
        if raw_email and not values['email']:
            warnings.append(self.env._("unusable e-mail “%(value)s” left empty", value=raw_email))
        raw_phone = cell('phone')
        values['phone'] = normalize.normalize_phone(raw_phone)
        if raw_phone and not values['phone']:
            values['phone'] = str(raw_phone)
            values['phone_unrecognised'] = True
            warnings.append(self.env._("phone “%(value)s” is not a Spanish number, kept as written", value=raw_phone))

        for key, column in (('date_registered', 'Fecha alta'), ('date_last_contact', 'Último contacto')):
            raw_date = cell(key)
            try:
                date = normalize.parse_spanish_date(raw_date)
            except normalize.DateOutOfRangeError:
                errors.append(self.env._(
                    "date “%(value)s” in column %(column)s is before %(min_year)s or after %(max_year)s, "
                    "correct the year",
                    value=raw_date, column=column,
                    min_year=normalize.MIN_DATE_YEAR, max_year=normalize.MAX_DATE_YEAR,
                ))
                date = None
            except ValueError:
                errors.append(self.env._(
                    "invalid date “%(value)s” in column %(column)s, write it as day/month/year",
                    value=raw_date, column=column,
                ))
                date = None
            values[key] = date.isoformat() if date else ''

        raw_amount = cell('amount')
        try:
            amount = normalize.parse_spanish_number(raw_amount)
        except normalize.NonFiniteNumberError:
            errors.append(self.env._(
                "amount “%(value)s” in column Importe estimado is not a finite number, "
                "write an amount such as 1.490,00",
                value=raw_amount,
            ))
            amount = None
        except ValueError:
            errors.append(self.env._(
                "invalid amount “%(value)s” in column Importe estimado, write a number such as 1.490,00",
                value=raw_amount,
            ))
            amount = None
        if amount is not None and amount < 0:
            errors.append(self.env._(
                "negative amount “%(value)s” in column Importe estimado, write an amount of 0 or more",
                value=raw_amount,
            ))
            amount = None
        values['amount'] = amount or 0.0

        if not values['company'] and not values['contact']:
            errors.append(self.env._("no company and no contact: the row cannot be named"))

        values['import_key'] = self._compute_import_key(values)
        return {
            'raw': [cell_value if isinstance(cell_value, str) else str(cell_value) for cell_value in row],
            'values': values,
            'errors': errors,
            'warnings': warnings,
        }

    @api.model
    def _parse_employee_count(self, text, errors):
        """Return the employee count of the "Nº empleados" cell, 0 when it has no number.

        Appends a row error for a negative count or one that does not fit the
        PostgreSQL integer column.
        """
        try:
            count = normalize.parse_employee_count(text)
        except normalize.NegativeNumberError:
            errors.append(self.env._(
                "negative number of employees “%(value)s” in column Nº empleados, write 0 or more",
                value=text,
            ))
            return 0
        if count and count > MAX_INTEGER:
            errors.append(self.env._(
                "number “%(value)s” in column %(column)s is above the maximum of %(maximum)s",
                value=text, column="Nº empleados", maximum=f"{MAX_INTEGER:,}",
            ))
            return 0
        return count or 0

    @api.model
    def _compute_import_key(self, values):
        """Return the identity of a row: its normalised company and contact.

        Rows with neither fall back on the e-mail, then the phone.
        """
        company = normalize.normalize_identity_text(values['company'])
        contact = normalize.normalize_identity_text(values['contact'])
        if company or contact:
            return f"{company}|{contact}"
        if values['email']:
            return f"email|{values['email']}"
        if values['phone']:
            return f"phone|{values['phone']}"
        return False

    def _analyze_duplicates(self, parsed_rows, row_numbers):
        """Return the line values of every row, with its status and default action.

        Every kind of key is looked up once for all rows: import keys, e-mails,
        phones and tax IDs against leads, and e-mails, phones and tax IDs
        against contacts.
        """
        resolver = self._prepare_resolver(parsed_rows)
        existing = self._find_existing_matches(parsed_rows)
        may_assign_others = self._may_assign_other_salespeople()

        first_row_by_key = {}
        line_vals_list = []
        for position, parsed in enumerate(parsed_rows):
            values = parsed['values']
            warnings = list(parsed['warnings'])
            lead_values = resolver(values, warnings)
            line_vals = {
                'row_number': row_numbers[position],
                'company_name': values['company'],
                'contact_name': values['contact'],
                'email': values['email'] or '',
                'phone': values['phone'] or '',
                'vat': values['vat'] or '',
                'import_key': values['import_key'],
                'lead_values': lead_values,
                'raw_values': parsed['raw'],
            }
            errors = list(parsed['errors'])
            if lead_values['user_id'] and lead_values['user_id'] != self.env.uid and not may_assign_others:
                errors.append(self.env._(
                    "the salesperson is %(salesperson)s and you may only create your own leads, "
                    "so a sales manager must import this row",
                    salesperson=self.env['res.users'].browse(lead_values['user_id']).name,
                ))
            if errors:
                line_vals.update(status='error', action='skip')
                reasons = errors + warnings
                line_vals['reason'] = self._join_reasons(reasons)
                line_vals_list.append(line_vals)
                continue

            row_keys = self._identity_keys(values)
            earlier_position, earlier_reason = self._find_earlier_row(row_keys, first_row_by_key)
            for key in row_keys:
                first_row_by_key.setdefault(key[0], {}).setdefault(key[1], position)

            lead_by_key = existing['lead_by_import_key'].get(values['import_key'])
            if lead_by_key:
                line_vals.update(
                    status='update',
                    action='merge',
                    matched_lead_id=lead_by_key.id,
                    reason=self.env._("already imported as lead “%(lead)s”", lead=lead_by_key.display_name),
                )
            elif earlier_position is not None:
                line_vals.update(
                    status='duplicate_file',
                    action='merge',
                    matched_row_number=row_numbers[earlier_position],
                    reason=self.env._("same %(what)s as row %(row)s", what=earlier_reason, row=row_numbers[earlier_position]),
                )
            else:
                lead, partner, match_reason = self._pick_existing_match(values, existing)
                if lead:
                    line_vals.update(
                        status='duplicate_existing',
                        action='merge',
                        matched_lead_id=lead.id,
                        matched_partner_id=partner.id if partner else False,
                        reason=self.env._("same %(what)s as lead “%(lead)s”", what=match_reason, lead=lead.display_name),
                    )
                elif partner:
                    # A contact alone is no lead to merge into: the new lead is linked to it.
                    line_vals.update(
                        status='duplicate_existing',
                        action='create',
                        matched_partner_id=partner.id,
                        reason=self.env._(
                            "same %(what)s as contact “%(partner)s”; the new lead is linked to that contact",
                            what=match_reason, partner=partner.display_name,
                        ),
                    )
                else:
                    line_vals.update(status='new', action='create', reason=False)
            line_vals['reason'] = self._join_reasons([line_vals['reason']] + warnings)
            line_vals_list.append(line_vals)
        return line_vals_list

    def _may_assign_other_salespeople(self):
        """Return whether the user may create leads assigned to another salesperson.

        The crm rule "Personal Leads" lets a salesperson without "All
        Documents" create only leads assigned to themselves or to nobody.
        """
        return self.env.su or self.env.user.has_group('sales_team.group_sale_salesman_all_leads')

    def _link_matched_lines(self):
        """Point each in-file duplicate at the line of its earlier row."""
        lines_by_row = {line.row_number: line for line in self.line_ids}
        for line in self.line_ids.filtered('matched_row_number'):
            line.matched_line_id = lines_by_row[line.matched_row_number]

    @api.model
    def _join_reasons(self, reasons):
        text = "; ".join(reason for reason in reasons if reason)
        return text[:1].upper() + text[1:] + "." if text else False

    @api.model
    def _identity_keys(self, values):
        """Return the (kind, value) pairs that identify the person or company of a row.

        The e-mail comes last because shared mailboxes ("info@mail.example")
        appear on rows of different companies, where the phone or tax ID
        points at the right earlier row.
        """
        keys = []
        if values['import_key']:
            keys.append(('name', values['import_key']))
        if values['vat']:
            keys.append(('vat', values['vat']))
        if values['phone'] and not values.get('phone_unrecognised'):
            keys.append(('phone', values['phone']))
        if values['email']:
            keys.append(('email', values['email']))
        return keys

    def _find_earlier_row(self, row_keys, first_row_by_key):
        labels = self._match_labels()
        for kind, value in row_keys:
            position = first_row_by_key.get(kind, {}).get(value)
            if position is not None:
                return position, labels[kind]
        return None, None

    def _match_labels(self):
        return {
            'name': self.env._("company and contact"),
            'email': self.env._("e-mail"),
            'phone': self.env._("phone"),
            'vat': self.env._("tax ID"),
        }

    def _prepare_resolver(self, parsed_rows):
        """Return a function turning row values into crm.lead values.

        Provinces, stages and salespeople are looked up once here for all
        rows. Industries and sources stay names until the import, because
        the analysis creates no industry or source.
        """
        spain = self.env.ref('base.es')
        state_id_by_key = self._get_province_map(spain)
        stage_id_by_status = {}
        for status_key, xmlid in STAGE_XMLID_BY_STATUS.items():
            stage = self.env.ref(xmlid, raise_if_not_found=False)
            if stage:
                stage_id_by_status[status_key] = stage.id
        default_type = 'lead' if self.env.user.has_group('crm.group_use_lead') else 'opportunity'
        new_stage_ids = {stage_id_by_status.get('nuevo'), stage_id_by_status.get('sin respuesta')}
        find_user = self._prepare_user_matcher(
            {parsed['values']['salesperson'] for parsed in parsed_rows if parsed['values']['salesperson']}
        )

        def resolve(values, warnings):
            state_id = False
            if values['province']:
                for key in normalize.province_lookup_keys(values['province']):
                    state_id = state_id_by_key.get(key)
                    if state_id:
                        break
                if not state_id:
                    warnings.append(self.env._(
                        "province “%(value)s” is not a Spanish province, left empty", value=values['province'],
                    ))

            status_key = normalize.normalize_text_key(values['status'])
            stage_id = stage_id_by_status.get(status_key or 'nuevo', False)
            if status_key and status_key not in stage_id_by_status:
                warnings.append(self.env._(
                    "unknown status “%(value)s”, the lead starts in the first stage", value=values['status'],
                ))
                stage_id = stage_id_by_status.get('nuevo', False)

            user_id = False
            if values['salesperson']:
                user_id, user_warning = find_user(values['salesperson'])
                if user_warning:
                    warnings.append(user_warning)

            name = values['company'] or values['contact']
            if values['product']:
                name = f"{name} - {values['product']}"
            return {
                'name': name,
                'partner_name': values['company'],
                'contact_name': values['contact'],
                'function': values['function'],
                'email_from': values['email'] or '',
                'phone': values['phone'] or '',
                'montanes_vat': values['vat'] or '',
                'country_id': spain.id,
                'state_id': state_id,
                'industry_name': values['industry'],
                'montanes_employee_count': values['employee_count'],
                'montanes_employee_text': values['employee_text'],
                'montanes_product_interest': values['product'],
                'source_name': values['source'],
                'montanes_date_registered': values['date_registered'],
                'montanes_date_last_contact': values['date_last_contact'],
                'stage_id': stage_id,
                'type': default_type if stage_id in new_stage_ids else 'opportunity',
                'is_lost': status_key == LOST_STATUS,
                'user_id': user_id,
                'notes': values['notes'],
                'expected_revenue': values['amount'],
                'montanes_import_key': values['import_key'],
            }

        return resolve

    @api.model
    def _get_province_map(self, country):
        """Return ``{normalised province name: state id}`` for the country's states."""
        states = self.env['res.country.state'].search([('country_id', '=', country.id)])
        state_id_by_key = {}
        state_id_by_code = {}
        for state in states:
            state_id_by_code[state.code] = state.id
            state_id_by_key[normalize.normalize_text_key(state.code)] = state.id
            for key in normalize.province_keys(state.name):
                state_id_by_key[key] = state.id
        for alias, code in normalize.EXTRA_PROVINCE_ALIASES.items():
            if code in state_id_by_code:
                state_id_by_key.setdefault(alias, state_id_by_code[code])
        return state_id_by_key

    @api.model
    def _prepare_user_matcher(self, cells):
        """Return a function mapping a "Comercial" cell to ``(user id, warning)``.

        A cell matches a user when its words, ignoring case, accents and dots,
        begin the words of the user's name in order: "marta" and "Marta R."
        match "Marta Ruiz", "Iñaki Puig" matches "Iñaki Puig Sola". An exact
        full name wins over a prefix match. Ambiguous and unknown cells give
        no salesperson and a warning.
        """
        users = self.env['res.users'].search([('share', '=', False)])
        user_words = [(user, normalize.normalize_text_key(user.name).replace('.', ' ').split()) for user in users]
        match_by_cell = {}
        for cell in cells:
            words = normalize.normalize_text_key(cell).replace('.', ' ').split()
            exact = [user for user, name_words in user_words if name_words == words]
            prefix = [
                user for user, name_words in user_words
                if words and len(words) <= len(name_words) and name_words[0] == words[0]
                and all(name_word.startswith(word) for word, name_word in zip(words[1:], name_words[1:]))
            ]
            candidates = exact or prefix
            if len(candidates) == 1:
                match_by_cell[cell] = (candidates[0].id, False)
            elif candidates:
                match_by_cell[cell] = (False, self.env._(
                    "salesperson “%(value)s” matches several users (%(users)s), left empty",
                    value=cell, users=", ".join(candidates_user.name for candidates_user in candidates),
                ))
            else:
                match_by_cell[cell] = (False, self.env._(
                    "salesperson “%(value)s” matches no user, left empty", value=cell,
                ))
        return lambda cell: match_by_cell[cell]

    def _find_existing_matches(self, parsed_rows):
        """Return the leads and contacts that share a key with any row, by kind of key.

        NOTE: the searches apply the user's record rules, so a salesperson with
        access to their own leads only is not warned about another salesperson's lead.
        """
        all_values = [parsed['values'] for parsed in parsed_rows if not parsed['errors']]
        import_keys = {values['import_key'] for values in all_values if values['import_key']}
        emails = {values['email'] for values in all_values if values['email']}
        phones = {
            values['phone'] for values in all_values
            if values['phone'] and not values.get('phone_unrecognised')
        }
        vats = {values['vat'] for values in all_values if values['vat']}
        Lead = self.env['crm.lead'].with_context(active_test=False)
        Partner = self.env['res.partner']

        def first_by(records, key_function):
            mapping = {}
            for record in records.sorted('id'):
                key = key_function(record)
                if key:
                    mapping.setdefault(key, record)
            return mapping

        lead_by_import_key = first_by(
            Lead.search([('montanes_import_key', 'in', list(import_keys))]) if import_keys else Lead,
            lambda lead: lead.montanes_import_key,
        )
        lead_by_email = first_by(
            Lead.search([('email_normalized', 'in', list(emails))]) if emails else Lead,
            lambda lead: lead.email_normalized,
        )
        lead_by_vat = first_by(
            Lead.search([('montanes_vat', 'in', list(vats))]) if vats else Lead,
            lambda lead: lead.montanes_vat,
        )
        lead_by_phone = first_by(
            Lead.browse(self._search_phone_candidates('crm_lead', phones)),
            lambda lead: normalize.normalize_phone(lead.phone),
        )
        partner_by_email = first_by(
            Partner.search([('email_normalized', 'in', list(emails))]) if emails else Partner,
            lambda partner: partner.email_normalized,
        )
        partner_by_phone = first_by(
            Partner.browse(self._search_phone_candidates('res_partner', phones)),
            lambda partner: normalize.normalize_phone(partner.phone),
        )
        partner_by_vat = first_by(
            Partner.browse(self._search_vat_candidates(vats)),
            lambda partner: normalize.normalize_vat(partner.vat),
        )
        return {
            'lead_by_import_key': lead_by_import_key,
            'lead': {'email': lead_by_email, 'phone': lead_by_phone, 'vat': lead_by_vat},
            'partner': {'email': partner_by_email, 'phone': partner_by_phone, 'vat': partner_by_vat},
        }

    def _search_phone_candidates(self, table, phones):
        """Return ids of the records of ``table`` whose phone may be one of ``phones``.

        Stored phones keep the user's formatting, and phone_sanitized is only
        E.164 when the phonenumbers library is installed. The ORM cannot
        compare them, so the query compares the last 9 digits. Record rules
        are applied afterwards by a search on the ids.
        """
        if not phones:
            return []
        model_name = {'crm_lead': 'crm.lead', 'res_partner': 'res.partner'}[table]
        Model = self.env[model_name].with_context(active_test=False)
        Model.flush_model(['phone'])
        national_endings = list({phone[-9:] for phone in phones})
        rows = self.env.execute_query(SQL(
            """
            SELECT id FROM %(table)s
             WHERE phone IS NOT NULL
               AND RIGHT(regexp_replace(phone, '\\D', '', 'g'), 9) = ANY(%(endings)s)
            """,
            table=SQL.identifier(table),
            endings=national_endings,
        ))
        candidate_ids = [row[0] for row in rows]
        if not candidate_ids:
            return []
        domain = [('id', 'in', candidate_ids)]
        if model_name == 'res.partner':
            domain.append(('active', '=', True))
        return Model.search(domain).ids

    def _search_vat_candidates(self, vats):
        """Return ids of the active contacts whose tax ID, normalised, is one of ``vats``.

        Contacts store the tax ID as typed ("ESB12345678", "B-12345678"), so
        the query strips the same characters as normalize_vat().
        """
        if not vats:
            return []
        Partner = self.env['res.partner']
        Partner.flush_model(['vat', 'active'])
        rows = self.env.execute_query(SQL(
            """
            SELECT id FROM res_partner
             WHERE vat IS NOT NULL AND active
               AND regexp_replace(upper(regexp_replace(vat, '[^0-9A-Za-z]', '', 'g')), '^ES(.{9})$', '\\1')
                   = ANY(%(vats)s)
            """,
            vats=list(vats),
        ))
        candidate_ids = [row[0] for row in rows]
        return Partner.search([('id', 'in', candidate_ids)]).ids if candidate_ids else []

    def _pick_existing_match(self, values, existing):
        """Return ``(lead, partner, reason)`` for the first key of the row found in the database."""
        labels = self._match_labels()
        row_keys = [('email', values['email']), ('vat', values['vat'])]
        if not values.get('phone_unrecognised'):
            row_keys.insert(1, ('phone', values['phone']))
        lead = partner = reason = False
        for kind, value in row_keys:
            if not value:
                continue
            if not lead and value in existing['lead'][kind]:
                lead = existing['lead'][kind][value]
                reason = labels[kind]
            if not partner and value in existing['partner'][kind]:
                partner = existing['partner'][kind][value]
                reason = reason or labels[kind]
        return lead, partner, reason

    # ------------------------------------------------------------------
    # Step 3: create and merge the leads
    # ------------------------------------------------------------------

    def _plan_import(self, lines):
        """Return the lines to create and the ``(line, target)`` merges, in row order.

        A target is a lead, or a line whose lead this import creates. A merge
        into an earlier row that is skipped or has an error becomes a
        creation, so the person is not lost.
        """
        to_create = []
        merges = []
        target_by_line = {}
        for line in lines.sorted('row_number'):
            if line.action == 'merge' and line.matched_lead_id:
                target = line.matched_lead_id
            elif line.action == 'merge':
                target = target_by_line.get(line.matched_line_id.id)
                if target is None:
                    line.result_message = self.env._(
                        "Created because row %(row)s, which it duplicates, is not imported.",
                        row=line.matched_line_id.row_number,
                    )
            else:
                target = None
            if target is None:
                to_create.append(line)
                target_by_line[line.id] = line
            else:
                merges.append((line, target))
                target_by_line[line.id] = target
        return to_create, merges

    def _load_leads(self, lines):
        """Create the leads of ``lines`` with crm.lead.load() and record the outcome per line.

        All rows go through one load() call first. load() rolls back every
        row when one fails and may pin a batch error on the wrong row, so
        after a failed batch each row is loaded alone in a savepoint. Every
        line ends with result "created" or "rejected".
        """
        if not lines:
            return
        industry_id_by_name, source_id_by_name = self._resolve_names(self.line_ids)
        xmlid_by_line = self._assign_xmlids(lines)
        Lead = self.env['crm.lead'].with_context(**IMPORT_CONTEXT)
        row_by_line = {
            line: self._prepare_load_row(line, xmlid_by_line[line.id], industry_id_by_name, source_id_by_name)
            for line in lines
        }

        busy_lines = self._lock_import_keys(lines)
        for line in busy_lines:
            line.write({'result': 'rejected', 'result_message': self._concurrent_import_message()})
        pending = [line for line in lines if line not in busy_lines]

        lead_id_by_line = {}
        if pending:
            result = Lead.load(LOAD_FIELDS, [row_by_line[line] for line in pending])
            has_error = any(message.get('type') == 'error' for message in result['messages'])
            if not has_error and result['ids'] and len(result['ids']) == len(pending):
                lead_id_by_line = dict(zip(pending, result['ids']))
            else:
                _logger.info(
                    "Lead import %s: batch load of %d rows failed, loading each row alone",
                    self.id, len(pending),
                )
                for line in pending:
                    lead_id, message = self._load_single_row(Lead, row_by_line[line])
                    if lead_id:
                        lead_id_by_line[line] = lead_id
                    else:
                        _logger.warning("Lead import %s: row %s rejected by load(): %s", self.id, line.row_number, message)
                        line.write({'result': 'rejected', 'result_message': message})

        lost_leads = self.env['crm.lead']
        unassigned_leads = self.env['crm.lead']
        for line, lead_id in lead_id_by_line.items():
            line.write({'result': 'created', 'lead_id': lead_id})
            lead = Lead.browse(lead_id)
            if line.lead_values['is_lost']:
                lost_leads |= lead
            if not line.lead_values['user_id']:
                unassigned_leads |= lead
        # load() takes the importing user as default salesperson when the cell is empty.
        unassigned_leads.write({'user_id': False})
        if lost_leads:
            lost_leads.action_set_lost()

    def _load_single_row(self, Lead, row):
        """Load one row in a savepoint and return ``(lead id, False)`` or ``(False, error message)``."""
        try:
            with self.env.cr.savepoint():
                result = Lead.load(LOAD_FIELDS, [row])
        except PG_CONCURRENCY_ERRORS as error:
            _logger.info("Lead import %s: concurrent update while loading a row: %s", self.id, error)
            return False, self._concurrent_import_message()
        messages = [
            message.get('message') or '' for message in result['messages']
            if message.get('type') == 'error'
        ]
        if any(text in message for message in messages for text in PG_CONCURRENCY_MESSAGES):
            return False, self._concurrent_import_message()
        if messages or not result['ids']:
            return False, "; ".join(filter(None, messages)) or self.env._(
                "Odoo created no lead for this row and gave no reason. Import the file again."
            )
        return result['ids'][0], False

    def _lock_import_keys(self, lines):
        """Lock the import keys of ``lines`` until the end of the transaction.

        Returns the lines whose key another transaction holds: another
        import of the same rows is running, and loading them would fail on
        the same external ids.
        """
        keys = list({line.import_key for line in lines if line.import_key})
        if not keys:
            return []
        rows = self.env.execute_query(SQL(
            """
            SELECT key FROM unnest(%(keys)s::text[]) AS key
             WHERE NOT pg_try_advisory_xact_lock(%(namespace)s, hashtext(key))
            """,
            keys=keys,
            namespace=IMPORT_LOCK_NAMESPACE,
        ))
        busy_keys = {row[0] for row in rows}
        return [line for line in lines if line.import_key in busy_keys]

    def _concurrent_import_message(self):
        return self.env._(
            "Another import of the same rows was running, so this row was not imported. "
            "Import the file again once that import has finished."
        )

    def _resolve_names(self, lines):
        """Return the industry and source ids by normalised name, creating the missing ones."""
        industry_names = {}
        source_names = {}
        for line in lines.filtered(lambda line: line.lead_values):
            if line.lead_values['industry_name']:
                industry_names.setdefault(normalize.normalize_text_key(line.lead_values['industry_name']), line.lead_values['industry_name'])
            if line.lead_values['source_name']:
                source_names.setdefault(normalize.normalize_text_key(line.lead_values['source_name']), line.lead_values['source_name'])
        # Only administrators may create industries, but a salesperson
        # importing leads must be able to add the sectors of the spreadsheet.
        # The calling action has checked crm.lead create access.
        industry_id_by_name = self._find_or_create_by_name(self.env['res.partner.industry'].sudo(), industry_names)
        source_id_by_name = self._find_or_create_by_name(self.env['utm.source'], source_names)
        return industry_id_by_name, source_id_by_name

    @api.model
    def _find_or_create_by_name(self, Model, name_by_key):
        if not name_by_key:
            return {}
        id_by_key = {}
        for record in Model.search([]).sorted('id'):
            id_by_key.setdefault(normalize.normalize_text_key(record.name), record.id)
        missing = {key: name for key, name in name_by_key.items() if key not in id_by_key}
        if missing:
            created = Model.create([{'name': name} for name in missing.values()])
            for key, record in zip(missing, created):
                id_by_key[key] = record.id
        return id_by_key

    def _assign_xmlids(self, lines):
        """Return ``{line id: external id}`` stable per import key.

        Importing the same row again gives the same external id, so load()
        updates the lead instead of creating a second one. A line created
        while its key already names a lead gets the next free numbered id.
        """
        base_by_line = {
            line.id: XMLID_PREFIX + hashlib.sha1(line.import_key.encode()).hexdigest()[:16]
            for line in lines
        }
        # ir.model.data is read for the existing ids only, and salespeople have no read access to it.
        used_names = set(self.env['ir.model.data'].sudo().search([
            ('module', '=', XMLID_MODULE),
            ('name', 'in', [name for base in base_by_line.values() for name in self._xmlid_candidates(base)]),
        ]).mapped('name'))
        xmlid_by_line = {}
        for line in lines:
            for name in self._xmlid_candidates(base_by_line[line.id]):
                if name not in used_names:
                    used_names.add(name)
                    xmlid_by_line[line.id] = f"{XMLID_MODULE}.{name}"
                    break
        return xmlid_by_line

    @api.model
    def _xmlid_candidates(self, base):
        # NOTE: a key imported as a separate lead more than 9 times takes an
        # unstable id; the first ten variants cover repeated "Create" choices.
        return [base] + [f"{base}_{number}" for number in range(2, 11)] + [f"{base}_{time.time_ns()}"]

    def _prepare_load_row(self, line, xmlid, industry_id_by_name, source_id_by_name):
        values = line.lead_values
        industry_id = industry_id_by_name.get(normalize.normalize_text_key(values['industry_name'])) if values['industry_name'] else False
        source_id = source_id_by_name.get(normalize.normalize_text_key(values['source_name'])) if values['source_name'] else False
        partner_id = line.matched_partner_id.id if line.matched_partner_id and not line.matched_lead_id else False
        row = {
            'id': xmlid,
            'name': values['name'],
            'partner_name': values['partner_name'],
            'contact_name': values['contact_name'],
            'function': values['function'],
            'email_from': values['email_from'],
            'phone': values['phone'],
            'montanes_vat': values['montanes_vat'],
            'country_id/.id': values['country_id'],
            'state_id/.id': values['state_id'],
            'montanes_industry_id/.id': industry_id,
            'montanes_employee_count': values['montanes_employee_count'],
            'montanes_employee_text': values['montanes_employee_text'],
            'montanes_product_interest': values['montanes_product_interest'],
            'source_id/.id': source_id,
            'montanes_date_registered': values['montanes_date_registered'],
            'montanes_date_last_contact': values['montanes_date_last_contact'],
            'stage_id/.id': values['stage_id'],
            'user_id/.id': values['user_id'],
            'partner_id/.id': partner_id,
            'description': plaintext2html(values['notes']) if values['notes'] else '',
            'expected_revenue': values['expected_revenue'],
            'montanes_import_key': values['montanes_import_key'],
        }
        return [self._to_load_text(row[field]) for field in LOAD_FIELDS]

    @api.model
    def _to_load_text(self, value):
        # load() reads every cell as text, the way base_import hands it a file.
        if value is False or value is None:
            return ''
        return str(value)

    def _merge_lines(self, merges):
        """Fill the empty fields of each target lead and append the row's notes."""
        if not merges:
            return
        industry_id_by_name, source_id_by_name = self._resolve_names(
            self.env['montanes.lead.import.line'].browse([line.id for line, _target in merges])
        )
        for line, target in merges:
            lead = target if target._name == 'crm.lead' else target.lead_id
            if not lead:
                line.write({
                    'result': 'rejected',
                    'result_message': self.env._(
                        "Not merged because row %(row)s, which it duplicates, was rejected.",
                        row=target.row_number,
                    ),
                })
                continue
            lead.write(self._prepare_merge_vals(line, lead, industry_id_by_name, source_id_by_name))
            line.write({'result': 'merged', 'lead_id': lead.id})

    def _prepare_merge_vals(self, line, lead, industry_id_by_name, source_id_by_name):
        values = dict(line.lead_values)
        values['montanes_industry_id'] = industry_id_by_name.get(normalize.normalize_text_key(values['industry_name'] or ''), False)
        values['source_id'] = source_id_by_name.get(normalize.normalize_text_key(values['source_name'] or ''), False)
        vals = {}
        for field_name in MERGE_FILL_FIELDS:
            new_value = values.get(field_name)
            if new_value and not lead[field_name]:
                vals[field_name] = new_value
        note = values['notes']
        if note and note not in html2plaintext(lead.description or ''):
            vals['description'] = (lead.description or '') + plaintext2html(note)
        if not lead.montanes_import_key and values['montanes_import_key']:
            vals['montanes_import_key'] = values['montanes_import_key']
        return vals

    def _build_rejected_file(self):
        """Return the rows that were not imported as a base64 CSV file, or False if none."""
        rejected = self.line_ids.filtered(lambda line: line.result == 'rejected')
        if not rejected:
            return False
        output = io.StringIO()
        writer = csv.writer(output, delimiter=';', lineterminator='\r\n')
        header = [self.env._("Row")] + list(self.header_values or []) + [self.env._("Reason")]
        writer.writerow([self._escape_csv_formula(cell) for cell in header])
        for line in rejected.sorted('row_number'):
            reason = "; ".join(filter(None, [line.reason, line.result_message]))
            cells = list(line.raw_values or []) + [reason]
            writer.writerow([line.row_number] + [self._escape_csv_formula(cell) for cell in cells])
        return base64.b64encode(output.getvalue().encode('utf-8-sig'))

    @api.model
    def _escape_csv_formula(self, cell):
        """Return ``cell`` with a leading quote when a spreadsheet would run it as a formula."""
        if isinstance(cell, str) and cell.startswith(FORMULA_PREFIXES):
            return "'" + cell
        return cell
