import hashlib
import json
import logging
import re

from odoo import http
from odoo.http import Response, request

from .mailing_tracking import BLANK_GIF

_logger = logging.getLogger(__name__)

# Largest request body accepted, in bytes. A hit is about 300 bytes of JSON.
MAX_BODY_BYTES = 2048

# Requests allowed per minute from one IP address, and for one visitor token.
# A person browsing sends a few page views a minute; a burst above this is a script.
MAX_REQUESTS_PER_IP = 120
MAX_REQUESTS_PER_TOKEN = 30

# Website event -> (hit type, ledger event type).
WEBSITE_EVENTS = {
    'page_view': ('page_view', 'page_view'),
    'form_submit': ('form_submit', 'info_request'),
}

# Fields a hit may carry. Any other field makes the request invalid.
HIT_FIELDS = frozenset({'token', 'hit_id', 'event', 'url'})

# The snippet makes hit ids with crypto.randomUUID(). Other clients may send any
# URL-safe random string of this size.
HIT_ID_PATTERN = re.compile(r'[A-Za-z0-9_-]{16,64}')

# Seconds browsers may cache the response to a CORS preflight request.
PREFLIGHT_MAX_AGE = 86400


class MontanesWebsiteTracking(http.Controller):
    """Page views and form submissions reported by the company's own website.

    The website is not Odoo: a script on its pages posts each hit here with the
    visitor token that the tracked e-mail link added to the landing page URL.
    Every response is empty. A valid token gets the same 204 whether or not its
    lead still exists, so the route reveals nothing about leads or e-mails.
    """

    @http.route('/montanes/track', type='http', auth='public', methods=['POST', 'OPTIONS'],
                csrf=False, save_session=False, max_content_length=MAX_BODY_BYTES)
    def montanes_track(self, **kwargs):
        origin = self._montanes_get_request_origin()
        if not self._montanes_consume_ip_rate():
            return self._montanes_response(429, origin)
        if not origin:
            return self._montanes_response(403)
        if request.httprequest.method == 'OPTIONS':
            return self._montanes_response(204, origin, {
                'Access-Control-Allow-Methods': 'POST',
                'Access-Control-Allow-Headers': 'Content-Type',
                'Access-Control-Max-Age': str(PREFLIGHT_MAX_AGE),
            })
        body = request.httprequest.get_data(cache=False)
        try:
            values = json.loads(body)
        except (ValueError, RecursionError):
            return self._montanes_response(400, origin)
        status = self._montanes_process_hit(values, origin)
        return self._montanes_response(status, origin)

    @http.route('/montanes/track/pixel.gif', type='http', auth='public', methods=['GET'],
                csrf=False, save_session=False)
    def montanes_track_pixel(self, **kwargs):
        """Report a hit from an image, for browsers without JavaScript or beacons.

        Images send no Origin header, so the origin is read from the Referer.
        """
        origin = self._montanes_get_request_origin()
        if not self._montanes_consume_ip_rate():
            return self._montanes_response(429, origin)
        if not origin:
            return self._montanes_response(403)
        status = self._montanes_process_hit(dict(kwargs), origin)
        if status != 204:
            return self._montanes_response(status, origin)
        return Response(BLANK_GIF, mimetype='image/gif', headers={'Cache-Control': 'no-store'})

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _montanes_get_request_origin(self):
        """Return the origin of the calling page when it is an allowed website origin, else ''."""
        Hit = request.env['montanes.tracking.hit'].sudo()
        headers = request.httprequest.headers
        origin = (headers.get('Origin') or '').strip().lower().rstrip('/')
        if not origin:
            origin = Hit._get_url_origin(headers.get('Referer'))
        if origin and origin in Hit._get_website_origins():
            return origin
        return ''

    def _montanes_consume_ip_rate(self):
        """Count the request against the limit of its IP address, and tell whether it is within it.

        Both routes call this before any other check, so forged tokens, invalid
        bodies and foreign origins use up the limit too. The counter row is the
        only thing such a request writes.
        """
        ip_address = request.httprequest.remote_addr or ''
        ip_key = hashlib.sha256(ip_address.encode()).hexdigest()[:32]
        return request.env['montanes.tracking.rate'].sudo()._consume([(f'ip:{ip_key}', MAX_REQUESTS_PER_IP)])

    def _montanes_process_hit(self, values, origin):
        """Validate, rate-limit per token and record one website hit, and return the response status.

        Nothing but rate-limit counters is written unless the token is valid, and the
        lead comes from the token only, so a visitor can only add hits to the lead the
        token was issued for.
        """
        if not isinstance(values, dict) or not set(values) <= HIT_FIELDS:
            return 400
        event, url, hit_id = values.get('event'), values.get('url'), values.get('hit_id')
        if not isinstance(event, str) or event not in WEBSITE_EVENTS:
            return 400
        if not isinstance(hit_id, str) or not HIT_ID_PATTERN.fullmatch(hit_id):
            return 400
        Hit = request.env['montanes.tracking.hit'].sudo()
        # The page must be on the website the request comes from. Query and fragment
        # are dropped because forms often put personal data there.
        if not isinstance(url, str) or Hit._get_url_origin(url) != origin:
            return 400
        # Control characters (NUL among them) and lone surrogates cannot be stored in
        # PostgreSQL text, and a browser sends them percent-encoded anyway.
        if not url.isprintable():
            return 400
        page_url = url.split('#', 1)[0].split('?', 1)[0]

        token_values = Hit._verify_visitor_token(values.get('token'))
        if token_values is None:
            return 403

        # Only valid tokens get a counter, so forged ones cannot fill the table with rows.
        token_key = hashlib.sha256(values['token'].encode()).hexdigest()[:32]
        if not request.env['montanes.tracking.rate'].sudo()._consume([
            (f'token:{token_key}', MAX_REQUESTS_PER_TOKEN),
        ]):
            return 429

        hit_type, event_type = WEBSITE_EVENTS[event]
        lead = request.env['crm.lead'].sudo().browse(token_values['lead']).exists()
        ip_address = request.httprequest.remote_addr or ''
        user_agent = request.httprequest.headers.get('User-Agent', '')
        # A link preview or crawler that fetches the landing page or the image with the
        # token is kept as evidence, like machine opens and clicks, and scores nothing.
        machine_reason = Hit._get_user_agent_machine_reason(user_agent, ip_address)
        hit_id = Hit._insert_hit({
            'hit_type': hit_type,
            'classification': 'machine' if machine_reason else 'human',
            'machine_reason': machine_reason,
            'lead_id': lead.id,
            'company_id': lead.company_id.id,
            'url': page_url,
            'user_agent': user_agent,
            'ip_address': ip_address,
            'nonce': hit_id,
        })
        if hit_id is None:
            # The same hit id was recorded before: a replayed request.
            return 409
        if lead and not machine_reason:
            Hit.browse(hit_id)._register_lead_event(lead, event_type)
        return 204

    def _montanes_response(self, status, origin=None, headers=None):
        response = Response(status=status, headers=headers or {})
        response.headers['Cache-Control'] = 'no-store'
        response.headers['Vary'] = 'Origin, Referer'
        if origin:
            response.headers['Access-Control-Allow-Origin'] = origin
        if status == 429:
            response.headers['Retry-After'] = '60'
        return response
