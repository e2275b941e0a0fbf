import ipaddress
import logging
import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from odoo import api, fields, models, tools
from odoo.tools import SQL, consteq
from odoo.tools.misc import hash_sign, hmac, verify_hash_signed

_logger = logging.getLogger(__name__)

# Lower-case user agent fragments of mail image proxies. Gmail loads images through
# GoogleImageProxy and Yahoo through YahooMailProxy, so the hit comes from the proxy and
# may be a prefetch or a cached copy rather than a reader.
# NOTE: Gmail's proxy also loads the pixel when a person opens the message, so real
# Gmail opens are discarded too; a click by that person still counts.
PROXY_USER_AGENT_MARKERS = (
    'googleimageproxy',
    'ggpht.com',
    'yahoomailproxy',
    'ymailproxy',
)

# Apple Mail Privacy Protection fetches the pixel at delivery from Apple's 17.0.0.0/8
# network with the bare user agent "Mozilla/5.0", which no browser sends.
APPLE_PROXY_USER_AGENT = 'mozilla/5.0'
APPLE_NETWORK = ipaddress.ip_network('17.0.0.0/8')

# Lower-case user agent fragments of link-preview bots, crawlers, HTTP libraries and
# mail security gateways that fetch every link of a message.
BOT_USER_AGENT_MARKERS = (
    'bot', 'crawler', 'spider', 'preview', 'facebookexternalhit', 'linkexpanding',
    'whatsapp', 'skypeuripreview', 'headlesschrome', 'python-', 'curl/', 'wget/',
    'go-http-client', 'okhttp', 'java/', 'libwww', 'httpclient', 'barracuda',
    'mimecast', 'proofpoint', 'trendmicro', 'symantec', 'forcepoint', 'safelinks',
)

# Security scanners open and click a message within seconds of its delivery, which a
# person rarely does. The system parameter below overrides it, and 0 disables the check.
DEFAULT_SCANNER_DELAY_SECONDS = 10
SCANNER_DELAY_PARAM = 'montanes_lead_scoring.machine_delay_seconds'
MAX_SCANNER_DELAY_SECONDS = 3600

# Extra user agent fragments, comma-separated, counted as machines on top of the lists above.
EXTRA_MARKERS_PARAM = 'montanes_lead_scoring.machine_user_agents'

# Two different links of one message clicked this close together come from a scanner
# following every link, not from a reader.
BURST_SECONDS = 2

# Maximum length, in characters, of the user agent and URL kept. It is enough to
# classify the hit and read the page path, and keeps one hit at a few hundred bytes.
MAX_USER_AGENT_LENGTH = 300
MAX_URL_LENGTH = 500

# Maximum length of a visitor token. Real tokens are about 100 characters.
MAX_TOKEN_LENGTH = 300

# Largest id an Odoo record can have: ids are PostgreSQL "integer" columns.
MAX_RECORD_ID = 2**31 - 1

# Hits older than this many days are deleted by the daily clean-up.
DEFAULT_RETENTION_DAYS = 400
RETENTION_PARAM = 'montanes_lead_scoring.tracking_hit_retention_days'

# Visitor tokens: the HMAC scope (signed with the database secret), the query parameter
# that carries them from the tracked link to the website, and their validity in days.
TOKEN_SCOPE = 'montanes_lead_scoring.website_visitor'
LINK_SCOPE = 'montanes_lead_scoring.trace_link'
TOKEN_QUERY_PARAMETER = 'montanes_token'
DEFAULT_TOKEN_DAYS = 90
TOKEN_DAYS_PARAM = 'montanes_lead_scoring.website_token_days'
MAX_TOKEN_DAYS = 730

# Website origins, comma-separated, allowed to report page views and forms,
# such as "https://www.montanessoluciones.es".
WEBSITE_ORIGINS_PARAM = 'montanes_lead_scoring.website_origins'
ORIGIN_PATTERN = re.compile(r'https?://[a-z0-9.-]+(:[0-9]{1,5})?')

HIT_TYPES = [
    ('email_open', 'E-mail opened'),
    ('email_click', 'Link clicked'),
    ('page_view', 'Website page visited'),
    ('form_submit', 'Website form submitted'),
]

MACHINE_REASONS = [
    ('proxy', 'Mail image proxy or prefetch'),
    ('bot', 'Bot, crawler or link preview'),
    ('scanner', 'Seconds after delivery'),
    ('burst', 'Several links clicked at once'),
]


class MontanesTrackingHit(models.Model):
    _name = 'montanes.tracking.hit'
    _description = 'Tracking Hit'
    _order = 'id desc'
    _rec_name = 'hit_type'

    hit_type = fields.Selection(selection=HIT_TYPES, string='Hit', required=True, readonly=True)
    classification = fields.Selection(
        selection=[('human', 'Human'), ('machine', 'Machine')],
        string='Classification',
        required=True,
        readonly=True,
        help='Machine hits are kept as evidence only: they give no points, '
        'trigger nothing and do not change the mailing statistics.',
    )
    machine_reason = fields.Selection(selection=MACHINE_REASONS, string='Machine Reason', readonly=True)
    trace_id = fields.Many2one(
        comodel_name='mailing.trace',
        string='Mailing Trace',
        readonly=True,
        index='btree_not_null',
        ondelete='cascade',
    )
    mailing_id = fields.Many2one(
        comodel_name='mailing.mailing',
        string='Mailing',
        readonly=True,
        index='btree_not_null',
        ondelete='cascade',
    )
    lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string='Lead',
        readonly=True,
        index='btree_not_null',
        ondelete='cascade',
    )
    company_id = fields.Many2one(
        comodel_name='res.company',
        string='Company',
        readonly=True,
        index='btree_not_null',
        help="Company of the hit's lead. Without a lead, the company of the mailing's recipient "
        "record, or else of the mailing's responsible user. Only users of that company read the hit.",
    )
    url = fields.Char(string='URL', readonly=True)
    user_agent = fields.Char(string='User Agent', readonly=True)
    ip_address = fields.Char(string='IP Address', readonly=True)
    delay_seconds = fields.Integer(
        string='Seconds After Sending',
        readonly=True,
        help='Seconds between the sending of the e-mail and this hit.',
    )
    nonce = fields.Char(
        string='Hit Identifier',
        readonly=True,
        help='Random identifier the website snippet gives each hit, so a replayed request is rejected.',
    )

    _nonce_unique = models.UniqueIndex('(nonce) WHERE nonce IS NOT NULL')

    # ------------------------------------------------------------
    # CLASSIFICATION
    # ------------------------------------------------------------

    @api.model
    def _classify_email_hit(self, trace, hit_type, user_agent, ip_address, url=None):
        """Classify an open or click of ``trace`` as a person or a machine.

        :return: ``(classification, machine_reason, delay_seconds)``, where
            machine_reason is False for human hits and delay_seconds is None when
            the trace has no sending date
        """
        delay = None
        if trace.sent_datetime:
            delay = int((fields.Datetime.now() - trace.sent_datetime).total_seconds())

        reason = self._get_user_agent_machine_reason(user_agent, ip_address)
        if not reason and delay is not None and delay < self._get_scanner_delay():
            reason = 'scanner'
        if not reason and hit_type == 'email_click' and url and self._has_recent_other_click(trace, url):
            reason = 'burst'
        return ('machine' if reason else 'human'), reason, delay

    @api.model
    def _get_user_agent_machine_reason(self, user_agent, ip_address):
        """Return the machine reason that ``user_agent`` alone proves, or False."""
        agent = (user_agent or '').strip().lower()
        if not agent:
            return 'bot'
        if any(marker in agent for marker in PROXY_USER_AGENT_MARKERS):
            return 'proxy'
        if agent == APPLE_PROXY_USER_AGENT and self._is_apple_address(ip_address):
            return 'proxy'
        if any(marker in agent for marker in BOT_USER_AGENT_MARKERS + self._get_extra_markers()):
            return 'bot'
        return False

    @api.model
    def _is_apple_address(self, ip_address):
        try:
            return ipaddress.ip_address(ip_address or '') in APPLE_NETWORK
        except ValueError:
            return False

    @api.model
    def _get_scanner_delay(self):
        """Return the scanner delay in seconds from the system parameter, or the default when
        the parameter is missing or not a whole number between 0 and 3600."""
        value = self.env['ir.config_parameter'].sudo().get_param(SCANNER_DELAY_PARAM)
        return self._parse_scanner_delay(value or '')

    @api.model
    @tools.ormcache('value')
    def _parse_scanner_delay(self, value):
        # Cached per value, so an invalid value is logged once per worker, not on every hit.
        if not value:
            return DEFAULT_SCANNER_DELAY_SECONDS
        try:
            delay = int(value)
        except ValueError:
            delay = -1
        if not 0 <= delay <= MAX_SCANNER_DELAY_SECONDS:
            _logger.warning(
                "Ignoring invalid system parameter %s=%r: expected whole seconds from 0 to %d",
                SCANNER_DELAY_PARAM, value, MAX_SCANNER_DELAY_SECONDS,
            )
            return DEFAULT_SCANNER_DELAY_SECONDS
        return delay

    @api.model
    def _get_extra_markers(self):
        value = self.env['ir.config_parameter'].sudo().get_param(EXTRA_MARKERS_PARAM) or ''
        # Fragments of fewer than 3 characters would match almost any browser.
        return tuple(marker for marker in (part.strip().lower() for part in value.split(',')) if len(marker) >= 3)

    @api.model
    def _has_recent_other_click(self, trace, url):
        """Return whether another link of ``trace`` was clicked in the last BURST_SECONDS."""
        since = fields.Datetime.now() - timedelta(seconds=BURST_SECONDS)
        return bool(self.sudo().search_count([
            ('trace_id', '=', trace.id),
            ('hit_type', '=', 'email_click'),
            ('create_date', '>=', since),
            ('url', '!=', url[:MAX_URL_LENGTH]),
        ], limit=1))

    # ------------------------------------------------------------
    # WEBSITE VISITOR TOKENS
    # ------------------------------------------------------------

    @api.model
    def _get_website_origins(self):
        """Return the set of website origins allowed to report hits, lower-case, without
        trailing slash. Entries that are not a bare http(s) origin are ignored."""
        value = self.env['ir.config_parameter'].sudo().get_param(WEBSITE_ORIGINS_PARAM) or ''
        return self._parse_website_origins(value)

    @api.model
    @tools.ormcache('value')
    def _parse_website_origins(self, value):
        # Cached per value, so an invalid entry is logged once per worker, not on every request.
        origins = set()
        for entry in re.split(r'[\s,]+', value.strip().lower()):
            origin = entry.rstrip('/')
            if not origin:
                continue
            if ORIGIN_PATTERN.fullmatch(origin):
                origins.add(origin)
            else:
                _logger.warning(
                    "Ignoring invalid website origin %r in system parameter %s: expected https://host[:port]",
                    entry, WEBSITE_ORIGINS_PARAM,
                )
        return frozenset(origins)

    @api.model
    def _get_url_origin(self, url):
        """Return the lower-case ``scheme://host[:port]`` of ``url``, or '' when it has none."""
        try:
            parts = urlsplit(url or '')
        except ValueError:
            return ''
        if parts.scheme not in ('http', 'https') or not parts.netloc:
            return ''
        return f'{parts.scheme}://{parts.netloc}'.lower()

    @api.model
    def _get_token_days(self):
        value = self.env['ir.config_parameter'].sudo().get_param(TOKEN_DAYS_PARAM)
        try:
            days = int(value) if value else DEFAULT_TOKEN_DAYS
        except ValueError:
            days = 0
        if not 1 <= days <= MAX_TOKEN_DAYS:
            _logger.warning(
                "Ignoring invalid system parameter %s=%r: expected whole days from 1 to %d",
                TOKEN_DAYS_PARAM, value, MAX_TOKEN_DAYS,
            )
            return DEFAULT_TOKEN_DAYS
        return days

    @api.model
    def _sign_visitor_token(self, lead_id, trace_id):
        """Return a token that identifies the visitor as the contact of ``lead_id`` until it expires.

        The token is an HMAC-SHA256 of the lead and trace ids with the database secret
        (odoo.tools.misc.hash_sign). It is readable by the visitor but cannot be forged
        or extended without the secret.
        """
        return hash_sign(
            self.sudo().env, TOKEN_SCOPE, {'lead': lead_id, 'trace': trace_id},
            expiration=timedelta(days=self._get_token_days()),
        )

    @api.model
    def _verify_visitor_token(self, token):
        """Return the ``{'lead': id, 'trace': id}`` values of ``token``, or None when the
        token is malformed, forged or expired, or when its signed values are not exactly a
        lead id and a trace id (0 for none) within the range of database ids."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        try:
            values = verify_hash_signed(self.sudo().env, TOKEN_SCOPE, token)
        except (ValueError, TypeError):
            # Bad base64, unknown version or text that is not UTF-8 / JSON.
            return None
        if not isinstance(values, dict) or set(values) != {'lead', 'trace'}:
            return None
        if not self._is_record_id(values['lead']) or not (
                values['trace'] == 0 or self._is_record_id(values['trace'])):
            return None
        return values

    @api.model
    def _is_record_id(self, value):
        """Return whether ``value`` can be a database id: a positive int that fits PostgreSQL's
        integer column. ``True`` is an int in Python, so booleans are rejected explicitly."""
        return type(value) is int and 0 < value <= MAX_RECORD_ID

    @api.model
    def _sign_trace_link(self, trace_id):
        """Return the HMAC-SHA256, with the database secret, that the tracked links of the
        e-mail of ``trace_id`` carry."""
        return hmac(self.sudo().env, LINK_SCOPE, trace_id)

    @api.model
    def _check_trace_link_signature(self, trace_id, signature):
        return isinstance(signature, str) and consteq(signature, self._sign_trace_link(trace_id))

    @api.model
    def _add_visitor_token_to_url(self, url, trace):
        """Return ``url`` with a visitor token for the lead of ``trace`` when ``url`` points to a
        configured website origin and the trace was sent to a lead; ``url`` unchanged otherwise."""
        if trace.model != 'crm.lead' or not trace.res_id:
            return url
        if self._get_url_origin(url) not in self._get_website_origins():
            return url
        parts = urlsplit(url)
        query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True)
                 if key != TOKEN_QUERY_PARAMETER]
        query.append((TOKEN_QUERY_PARAMETER, self._sign_visitor_token(trace.res_id, trace.id)))
        return urlunsplit(parts._replace(query=urlencode(query)))

    # ------------------------------------------------------------
    # RECORDING
    # ------------------------------------------------------------

    @api.model
    def _insert_hit(self, vals):
        """Insert one hit and return its id, or None when a hit with the same nonce exists.

        Raw SQL because the ORM has no ON CONFLICT: the unique index on the nonce,
        not a prior read, decides which of two replays of one request wins.
        User agent and URL are cut to their maximum length here, so every caller
        writes bounded rows.
        """
        now = fields.Datetime.now()
        uid = self.env.uid
        rows = self.env.execute_query(SQL(
            """
            INSERT INTO montanes_tracking_hit
                (hit_type, classification, machine_reason, trace_id, mailing_id, lead_id, company_id,
                 url, user_agent, ip_address, delay_seconds, nonce,
                 create_uid, create_date, write_uid, write_date)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (nonce) WHERE nonce IS NOT NULL DO NOTHING
            RETURNING id
            """,
            vals['hit_type'], vals['classification'], vals.get('machine_reason') or None,
            vals.get('trace_id') or None, vals.get('mailing_id') or None, vals.get('lead_id') or None,
            vals.get('company_id') or None,
            (vals.get('url') or '')[:MAX_URL_LENGTH] or None,
            # PostgreSQL text cannot hold NUL characters.
            (vals.get('user_agent') or '').replace('\x00', '')[:MAX_USER_AGENT_LENGTH] or None,
            (vals.get('ip_address') or '')[:45] or None,
            vals.get('delay_seconds'), vals.get('nonce') or None,
            uid, now, uid, now,
        ))
        return rows[0][0] if rows else None

    @api.model
    def _record_email_hit(self, trace, hit_type, user_agent, ip_address, url=None):
        """Classify and log an open or click of ``trace``; count it on the trace when it is a machine.

        :return: the classification, 'human' or 'machine'
        """
        classification, reason, delay = self._classify_email_hit(trace, hit_type, user_agent, ip_address, url=url)
        lead = self.env['crm.lead']
        if trace.model == 'crm.lead' and trace.res_id:
            lead = lead.sudo().browse(trace.res_id).exists()
        self._insert_hit({
            'hit_type': hit_type,
            'classification': classification,
            'machine_reason': reason,
            'trace_id': trace.id,
            'mailing_id': trace.mass_mailing_id.id,
            'lead_id': lead.id,
            'company_id': lead.company_id.id if lead else self._get_trace_company(trace).id,
            'url': url,
            'user_agent': user_agent,
            'ip_address': ip_address,
            'delay_seconds': delay,
        })
        if classification == 'machine':
            trace._montanes_count_machine_hit(hit_type)
        return classification

    @api.model
    def _get_trace_company(self, trace):
        """Return the company of the record ``trace`` was sent to when that model has one,
        else the company of the mailing's responsible user (possibly empty)."""
        if trace.model in self.env and trace.res_id and 'company_id' in self.env[trace.model]._fields:
            record = self.env[trace.model].sudo().browse(trace.res_id).exists()
            if record.company_id:
                return record.company_id
        return trace.sudo().mass_mailing_id.user_id.company_id

    def _register_lead_event(self, lead, event_type):
        """Score this website hit on ``lead`` as a ledger event of ``event_type``.

        The page URL is the event's source, because page rules match their URL
        pattern against it and "once per page" counts each URL once. A replayed
        hit never gets here (the hit id is unique), and a hit without a URL falls
        back to 'montanes.tracking.hit,<id>'.
        """
        self.ensure_one()
        return lead.sudo()._montanes_register_event(
            event_type,
            self.url or f'{self._name},{self.id}',
            occurrence_ref=f'{self._name},{self.id}',
            event_date=self.create_date,
            description=self.url,
        )

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_delete_old_hits(self):
        """Delete hits older than the retention period, and expired rate-limit windows."""
        value = self.env['ir.config_parameter'].sudo().get_param(RETENTION_PARAM)
        try:
            days = int(value) if value else DEFAULT_RETENTION_DAYS
        except ValueError:
            days = 0
        if days < 1:
            _logger.warning(
                "Ignoring invalid system parameter %s=%r: expected a whole number of days above 0",
                RETENTION_PARAM, value,
            )
            days = DEFAULT_RETENTION_DAYS
        limit = fields.Datetime.now() - timedelta(days=days)
        # Raw SQL: the hits are evidence nobody edits, and millions may go at once.
        deleted = self.env.execute_query(SQL(
            "DELETE FROM montanes_tracking_hit WHERE create_date < %s RETURNING id", limit,
        ))
        self.env['montanes.tracking.rate']._delete_expired_windows()
        self.invalidate_model()
        _logger.info("Tracking hit clean-up: %d hits older than %d days deleted", len(deleted), days)
