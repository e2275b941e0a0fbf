"""Normalise the cells of the sales team's lead spreadsheet.

Pure functions with no Odoo dependency, so they can be unit-tested in
isolation and reused by the import wizard.
"""
import datetime
import math
import re
import unicodedata

# Spanish national numbers have 9 digits; fixed lines start with 8 or 9 and
# mobile lines with 6 or 7 (Plan Nacional de Numeración Telefónica).
SPANISH_NATIONAL_PHONE_RE = re.compile(r'^[6-9]\d{8}$')
SPANISH_COUNTRY_CODE = '34'

DATE_RE = re.compile(r'^(\d{1,2})[/\-.](\d{1,2})[/\-.](\d{4}|\d{2})$')
# Spreadsheet dates outside these years are typing mistakes ("03/11/0025",
# "03/11/20255" read as another date) rather than real contact dates.
MIN_DATE_YEAR = 1900
MAX_DATE_YEAR = 2100

# "1.200" and "12.000" are thousands in Spanish notation: groups of three
# digits after each dot, and no comma.
SPANISH_THOUSANDS_RE = re.compile(r'^-?\d{1,3}(\.\d{3})+$')
# A cell starting with a minus sign then a digit is a negative number, while
# "50-249" is a range.
NEGATIVE_NUMBER_RE = re.compile(r'^\s*[-\u2212]\s*\d')

# Province names the sales team writes that Odoo's Spanish state names
# (base/data/res.country.state.csv) do not contain, mapped to the state code.
EXTRA_PROVINCE_ALIASES = {
    'baleares': 'PM',
    'islas baleares': 'PM',
    'balears': 'PM',
    'alava': 'VI',
    'castellon de la plana': 'CS',
    'tenerife': 'TF',
}


class NonFiniteNumberError(ValueError):
    """A number cell contains infinity or NaN ("1e400", "inf", "nan")."""


class NegativeNumberError(ValueError):
    """A count cell contains a negative number."""


class DateOutOfRangeError(ValueError):
    """A date cell contains a year outside MIN_DATE_YEAR..MAX_DATE_YEAR."""


def normalize_text_key(value):
    """Return ``value`` lower-cased, without accents and with single spaces.

    Used to compare names written by hand ("Málaga", "MALAGA", " malaga ").
    """
    if not value:
        return ''
    decomposed = unicodedata.normalize('NFKD', str(value))
    unaccented = ''.join(char for char in decomposed if not unicodedata.combining(char))
    return ' '.join(unaccented.lower().split())


def normalize_header(value):
    """Return the comparable form of a column header: letters and digits only.

    "Importe estimado (€)" becomes "importeestimado" and "Nº empleados"
    becomes "noempleados".
    """
    return ''.join(char for char in normalize_text_key(value) if char.isalnum())


def normalize_identity_text(value):
    """Return a company or person name reduced to lower-case letters and digits.

    "FERRETERÍA RIBERA S.L.L." and "Ferretería Ribera SLL" give the same value.
    """
    return normalize_header(value)


def normalize_email(value):
    """Return the e-mail address trimmed and lower-cased, or None if unusable.

    Cells such as "no tiene", "n/a", "-", "juan@" or "a@b@c.example" are
    unusable: an address needs exactly one "@", no blanks inside, a local
    part and a domain with a dot.
    """
    if not value:
        return None
    email = str(value).strip().lower()
    if email.count('@') != 1 or any(char.isspace() for char in email):
        return None
    local_part, domain = email.split('@')
    if not local_part or '.' not in domain.strip('.'):
        return None
    return email


def normalize_phone(value):
    """Return a phone number in E.164 form ("+34612345678"), or None.

    Spanish numbers may come with "+34", "0034", "(+34)" or no prefix, and
    with spaces, dashes or dots between digits. A number with another
    international prefix ("+33…" or "0033…") is kept in E.164 form. Anything
    else (too short, letters only) returns None.
    """
    if not value:
        return None
    text = str(value).strip()
    digits = re.sub(r'\D', '', text)
    if not digits:
        return None
    has_plus = '+' in text
    if digits.startswith('00'):
        digits = digits[2:]
        has_plus = True
    if (has_plus or len(digits) == 11) and digits.startswith(SPANISH_COUNTRY_CODE):
        national = digits[len(SPANISH_COUNTRY_CODE):]
        if SPANISH_NATIONAL_PHONE_RE.match(national):
            return '+' + SPANISH_COUNTRY_CODE + national
        return None
    if has_plus:
        # E.164 allows at most 15 digits, and country codes plus subscriber
        # numbers are at least 8 digits long.
        return '+' + digits if 8 <= len(digits) <= 15 else None
    if SPANISH_NATIONAL_PHONE_RE.match(digits):
        return '+' + SPANISH_COUNTRY_CODE + digits
    return None


def normalize_vat(value):
    """Return a Spanish CIF/NIF upper-cased without blanks, dashes, dots or "ES".

    "b-6031 9953", "ES B60319953" and "B60319953" all give "B60319953".
    Returns None for an empty cell.
    """
    if not value:
        return None
    vat = re.sub(r'[^0-9A-Za-z]', '', str(value)).upper()
    if vat.startswith('ES') and len(vat) == 11:
        vat = vat[2:]
    return vat or None


def parse_spanish_date(value):
    """Return the ``datetime.date`` of a day-first Spanish date, or None if empty.

    Accepts "03/11/2025", "3-11-25" and "07.06.2025"; a two-digit year is in
    the 2000s. Spreadsheet cells that are already dates are returned as
    dates. Raises ValueError when the text is not a date, the day does not
    exist ("31/02/2025") or the year is outside MIN_DATE_YEAR..MAX_DATE_YEAR.
    """
    if value is None or value == '':
        return None
    if isinstance(value, datetime.datetime):
        date = value.date()
    elif isinstance(value, datetime.date):
        date = value
    else:
        text = str(value).strip()
        if not text:
            return None
        match = DATE_RE.match(text)
        if not match:
            raise ValueError(f"{text!r} is not a day/month/year date")
        day, month, year = (int(part) for part in match.groups())
        if year < 100:
            year += 2000
        date = datetime.date(year, month, day)
    if not MIN_DATE_YEAR <= date.year <= MAX_DATE_YEAR:
        raise DateOutOfRangeError(f"{value!r} is outside the years {MIN_DATE_YEAR} to {MAX_DATE_YEAR}")
    return date


def parse_spanish_number(value):
    """Return the float of a number in Spanish notation, or None if empty.

    "1.490,00" is 1490.0, "3.200" is 3200.0 and "850,50" is 850.5. A value
    such as "850.5" (a spreadsheet number turned into text) keeps its dot
    as the decimal separator. Raises ValueError for text that is not a number
    and for values that are not finite ("1e400", "inf", "nan"), which
    PostgreSQL cannot store in a numeric or JSON column.
    """
    if value is None or value == '':
        return None
    if isinstance(value, (int, float)):
        return _finite_float(value)
    text = str(value).replace('€', '').replace('\xa0', '').replace(' ', '').strip()
    if not text:
        return None
    if ',' in text:
        text = text.replace('.', '').replace(',', '.')
    elif SPANISH_THOUSANDS_RE.match(text):
        text = text.replace('.', '')
    try:
        number = float(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    return _finite_float(number, value)


def _finite_float(number, value=None):
    try:
        number = float(number)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise NonFiniteNumberError(f"{number if value is None else value!r} is not a finite number")
    return number


def parse_employee_count(value):
    """Return the estimated number of employees written in free text, or None.

    Takes the first number of the cell, so a range gives its lower bound:
    "300" is 300, "250+" is 250, "50-249" is 50, "unos 20" is 20, "1.200" is
    1200 and "1-9" is 1. Returns None when the cell contains no number.
    Raises ValueError for a negative count ("-5") or a number that is not finite.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)):
        count = int(_finite_float(value))
        if count < 0:
            raise NegativeNumberError(f"{value!r} is a negative number of employees")
        return count
    if NEGATIVE_NUMBER_RE.match(str(value)):
        raise NegativeNumberError(f"{value!r} is a negative number of employees")
    match = re.search(r'\d+(?:\.\d{3})*', str(value))
    if not match:
        return None
    return int(match.group().replace('.', ''))


def province_keys(state_name):
    """Return the comparable keys of one Odoo state name.

    Odoo writes Spanish provinces as "A Coruña (La Coruña)", "Araba/Álava"
    or "Gipuzkoa (Guipúzcoa)": each of the official names becomes a key.
    """
    keys = {normalize_text_key(state_name)}
    for part in re.split(r'[()/]', state_name):
        key = normalize_text_key(part)
        if key:
            keys.add(key)
    return keys


def province_lookup_keys(value):
    """Return the keys to try, in order, for a province cell.

    "Alicante/Alacant" gives the whole cell first, then each of its names.
    """
    keys = []
    for part in [value, *re.split(r'[()/]', value or '')]:
        key = normalize_text_key(part)
        if key and key not in keys:
            keys.append(key)
    return keys
