import json
import time
from datetime import datetime, timedelta

from odoo.tests import HttpCase, tagged
from odoo.tools.misc import hash_sign

from ..controllers.website_tracking import MAX_REQUESTS_PER_IP
from .common import MontanesScoringCommon

WEBSITE_ORIGIN = 'https://www.montanessoluciones.example'
FIREFOX = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0'
TOKEN_SCOPE = 'montanes_lead_scoring.website_visitor'


@tagged('post_install', '-at_install')
class TestTrackingRoute(MontanesScoringCommon, HttpCase):
    """The public route that the company website reports page views and forms to."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env['ir.config_parameter'].set_param(
            'montanes_lead_scoring.website_origins', f'{WEBSITE_ORIGIN}, https://tienda.montanessoluciones.example/',
        )
        cls.lead_pilar = cls._create_lead(
            name='Construcciones Valle: licencias',
            contact_name='Pilar Garrido Domínguez',
            email_from='pilar.garrido@construccionesvalle.example',
        )
        cls.lead_marta = cls._create_lead(
            name='Talleres Puerto: renovación',
            contact_name='Marta Torres Moreno',
            email_from='marta.torres@tallerespuerto.example',
        )
        cls.env['montanes.scoring.rule'].create([{
            'name': 'Page visited',
            'rule_type': 'behaviour',
            'event_type': 'page_view',
            'points': 2,
        }, {
            'name': 'Information requested',
            'rule_type': 'behaviour',
            'event_type': 'info_request',
            'points': 25,
        }])
        Hit = cls.env['montanes.tracking.hit']
        cls.token_pilar = Hit._sign_visitor_token(cls.lead_pilar.id, 0)
        cls.token_marta = Hit._sign_visitor_token(cls.lead_marta.id, 0)
        cls.hit_number = 0

    def _hit(self, **values):
        """Return the JSON values of a valid page view of Pilar, with ``values`` applied."""
        self.hit_number += 1
        hit = {
            'token': self.token_pilar,
            'hit_id': f'{self.hit_number:04d}-7b0e-4a5e-9d55-6f1e3c2a8b90',
            'event': 'page_view',
            'url': f'{WEBSITE_ORIGIN}/licencias/antivirus',
        }
        hit.update(values)
        return hit

    def _post(self, body, origin=WEBSITE_ORIGIN, headers=None):
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        request_headers = {'Content-Type': 'text/plain;charset=UTF-8', 'User-Agent': FIREFOX}
        if origin:
            request_headers['Origin'] = origin
        request_headers.update(headers or {})
        return self.url_open('/montanes/track', data=body, headers=request_headers, method='POST')

    def _written_counts(self):
        """Return the number of hits, token rate-limit rows and score entries in the database.

        Every request counts against the limit of its IP address, so the IP counters are left out.
        """
        self.env.flush_all()
        self.env.cr.execute("""
            SELECT (SELECT count(*) FROM montanes_tracking_hit),
                   (SELECT count(*) FROM montanes_tracking_rate WHERE key NOT LIKE 'ip:%'),
                   (SELECT count(*) FROM montanes_lead_score_line)
        """)
        return self.env.cr.fetchone()

    def assertRejected(self, response, status, written_before):
        self.assertEqual(response.status_code, status)
        self.assertEqual(response.content, b'', 'an error response has no body')
        self.assertEqual(self._written_counts(), written_before,
                         'a rejected request writes nothing but its IP counter')

    # ------------------------------------------------------------
    # ACCEPTED HITS
    # ------------------------------------------------------------

    def test_page_view_scores_lead(self):
        response = self._post(self._hit(url=f'{WEBSITE_ORIGIN}/licencias/antivirus?email=pilar%40x.example#precio'))

        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.content, b'')
        self.assertEqual(response.headers['Access-Control-Allow-Origin'], WEBSITE_ORIGIN)
        self.assertNotIn('Set-Cookie', response.headers, 'the route opens no Odoo session')
        hit = self.env['montanes.tracking.hit'].search([('lead_id', '=', self.lead_pilar.id)])
        self.assertEqual(len(hit), 1)
        self.assertEqual((hit.hit_type, hit.classification), ('page_view', 'human'))
        self.assertEqual(hit.company_id, self.lead_pilar.company_id)
        self.assertEqual(hit.url, f'{WEBSITE_ORIGIN}/licencias/antivirus', 'query and fragment are dropped')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 2)
        line = self.lead_pilar.montanes_score_line_ids
        self.assertEqual(line.source_ref, hit.url, 'page rules match and count the page URL')
        self.assertEqual(line.event_type, 'page_view')
        self.assertEqual(self.lead_marta.montanes_score, 0)

    def test_bot_hit_scores_nothing(self):
        """A hit from a bot or an HTTP library with a valid token is kept as a machine hit and scores nothing."""
        for user_agent in ('Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'python-requests/2.31.0', ''):
            with self.subTest(user_agent=user_agent):
                response = self._post(self._hit(), headers={'User-Agent': user_agent})
                self.assertEqual(response.status_code, 204, 'a bot gets the same answer as a person')
        hits = self.env['montanes.tracking.hit'].search([('lead_id', '=', self.lead_pilar.id)])
        self.assertEqual(hits.mapped('classification'), ['machine'] * 3)
        self.assertEqual(set(hits.mapped('machine_reason')), {'bot'})
        self.assertEqual(self.lead_pilar.montanes_score, 0)
        self.assertFalse(self.lead_pilar.montanes_score_line_ids)
        self.assertFalse(self.lead_pilar.montanes_last_interest)

    def test_form_submit_is_information_request(self):
        response = self._post(self._hit(event='form_submit', url=f'{WEBSITE_ORIGIN}/contacto'))

        self.assertEqual(response.status_code, 204)
        line = self.lead_pilar.montanes_score_line_ids
        self.assertEqual((line.event_type, line.points), ('info_request', 25))
        self.assertEqual(self.env['montanes.tracking.hit'].search([]).hit_type, 'form_submit')

    def test_same_page_scores_once(self):
        self._post(self._hit())
        self._post(self._hit())
        self._post(self._hit(url=f'{WEBSITE_ORIGIN}/licencias/copias-de-seguridad'))

        self.assertEqual(self.env['montanes.tracking.hit'].search_count([]), 3, 'every hit is kept')
        lines = self.lead_pilar.montanes_score_line_ids
        self.assertEqual(len(lines), 2, 'the default rule scores each page once')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 4)

    def test_page_rule_url_pattern(self):
        self.env['montanes.scoring.rule'].search([('event_type', '=', 'page_view')]).write({
            'url_pattern': '*/licencias/*',
            'repeat_policy': 'every_time',
        })
        self._post(self._hit())
        self._post(self._hit())
        self._post(self._hit(url=f'{WEBSITE_ORIGIN}/blog/novedades'))

        lines = self.lead_pilar.montanes_score_line_ids
        self.assertEqual(len(lines), 2, 'each visit of a matching page scores, the blog does not')
        self.assertEqual(self.lead_pilar.montanes_score_engagement, 4)

    def test_preflight(self):
        response = self.url_open('/montanes/track', method='OPTIONS', headers={
            'Origin': 'https://tienda.montanessoluciones.example',
            'Access-Control-Request-Method': 'POST',
        })
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.headers['Access-Control-Allow-Origin'], 'https://tienda.montanessoluciones.example')
        self.assertEqual(response.headers['Access-Control-Allow-Methods'], 'POST')

        response = self.url_open('/montanes/track', method='OPTIONS', headers={'Origin': 'https://evil.example'})
        self.assertEqual(response.status_code, 403)
        self.assertNotIn('Access-Control-Allow-Origin', response.headers)

    def test_pixel_fallback(self):
        hit = self._hit()
        response = self.url_open(
            '/montanes/track/pixel.gif?' + '&'.join(f'{key}={value}' for key, value in hit.items()),
            headers={'Referer': f'{WEBSITE_ORIGIN}/licencias/antivirus', 'User-Agent': FIREFOX},
        )
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Content-Type'], 'image/gif')
        self.assertEqual(self.lead_pilar.montanes_score, 2)

        written = self._written_counts()
        response = self.url_open('/montanes/track/pixel.gif?' + '&'.join(
            f'{key}={value}' for key, value in self._hit().items()
        ))
        self.assertRejected(response, 403, written)

    # ------------------------------------------------------------
    # TOKENS
    # ------------------------------------------------------------

    def test_forged_token(self):
        written = self._written_counts()
        for token in ('', 'abc', 'A' * 120, self.token_pilar[:-2] + 'xx', '%%%', 'AQ', 'AQAAAAAAAAAA' * 50):
            with self.subTest(token=token):
                self.assertRejected(self._post(self._hit(token=token)), 403, written)

    def test_tampered_token_lead(self):
        """Re-encoding the token with another lead id breaks its signature."""
        import base64  # noqa: PLC0415

        raw = base64.urlsafe_b64decode(self.token_pilar + '===')
        forged = raw.replace(f'"lead": {self.lead_pilar.id}'.encode(), f'"lead": {self.lead_marta.id}'.encode())
        self.assertNotEqual(forged, raw)
        token = base64.urlsafe_b64encode(forged).decode().rstrip('=')

        written = self._written_counts()
        self.assertRejected(self._post(self._hit(token=token)), 403, written)
        self.assertEqual(self.lead_marta.montanes_score, 0)

    def test_expired_token(self):
        token = hash_sign(
            self.env, TOKEN_SCOPE, {'lead': self.lead_pilar.id, 'trace': 0},
            expiration=datetime.now() - timedelta(seconds=1),
        )
        written = self._written_counts()
        self.assertRejected(self._post(self._hit(token=token)), 403, written)

    def test_token_of_other_scope(self):
        token = hash_sign(self.env, 'mail.some_other_use', {'lead': self.lead_pilar.id, 'trace': 0})
        written = self._written_counts()
        self.assertRejected(self._post(self._hit(token=token)), 403, written)

    def test_signed_token_with_invalid_values(self):
        """A correctly signed token whose values are not a lead id and a trace id gets a 403."""
        lead_id = self.lead_pilar.id
        payloads = [
            {'lead': str(lead_id), 'trace': 0},
            {'lead': float(lead_id), 'trace': 0},
            {'lead': True, 'trace': 0},
            {'lead': None, 'trace': 0},
            {'lead': [lead_id], 'trace': 0},
            {'lead': {'id': lead_id}, 'trace': 0},
            {'lead': 0, 'trace': 0},
            {'lead': -lead_id, 'trace': 0},
            {'lead': 2**31, 'trace': 0},
            {'lead': 10**30, 'trace': 0},
            {'lead': lead_id, 'trace': None},
            {'lead': lead_id, 'trace': 'x'},
            {'lead': lead_id, 'trace': [1]},
            {'lead': lead_id, 'trace': -3},
            {'lead': lead_id, 'trace': 2**40},
            {'lead': lead_id},
            {'lead': lead_id, 'trace': 0, 'extra': 1},
            [lead_id, 0],
            str(lead_id),
            lead_id,
        ]
        written = self._written_counts()
        for payload in payloads:
            token = hash_sign(self.env, TOKEN_SCOPE, payload, expiration=timedelta(days=1))
            with self.subTest(payload=payload):
                self.assertRejected(self._post(self._hit(token=token)), 403, written)

        token = hash_sign(self.env, TOKEN_SCOPE, {'lead': 10**30, 'trace': 0}, expiration=timedelta(days=1))
        hit = self._hit(token=token)
        response = self.url_open(
            '/montanes/track/pixel.gif?' + '&'.join(f'{key}={value}' for key, value in hit.items()),
            headers={'Referer': f'{WEBSITE_ORIGIN}/licencias/antivirus', 'User-Agent': FIREFOX},
        )
        self.assertRejected(response, 403, written)

    def test_largest_lead_id_accepted(self):
        """The largest database id is a valid token value, and the route treats it as an unknown lead."""
        token = hash_sign(self.env, TOKEN_SCOPE, {'lead': 2**31 - 1, 'trace': 2**31 - 1},
                          expiration=timedelta(days=1))
        entries_before = self.env['montanes.lead.score.line'].search_count([])
        response = self._post(self._hit(token=token))
        self.assertEqual(response.status_code, 204)
        self.assertEqual(self.env['montanes.lead.score.line'].search_count([]), entries_before)

    def test_replayed_hit(self):
        hit = self._hit()
        self.assertEqual(self._post(hit).status_code, 204)
        written = self._written_counts()
        response = self._post(hit)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(self._written_counts()[0::2], written[0::2], 'a replay adds no hit and no score')
        self.assertEqual(self.lead_pilar.montanes_score, 2)

    def test_same_answer_for_deleted_lead(self):
        token = self.env['montanes.tracking.hit']._sign_visitor_token(self.lead_marta.id, 0)
        self.lead_marta.unlink()
        known = self._post(self._hit())
        unknown = self._post(self._hit(token=token))

        self.assertEqual(unknown.status_code, known.status_code)
        self.assertEqual(unknown.content, known.content)
        ignored = {'Date', 'Content-Length'}
        self.assertEqual(
            {key: value for key, value in unknown.headers.items() if key not in ignored},
            {key: value for key, value in known.headers.items() if key not in ignored},
        )

    # ------------------------------------------------------------
    # HOSTILE INPUT
    # ------------------------------------------------------------

    def test_wrong_or_missing_origin(self):
        written = self._written_counts()
        for origin in (None, 'https://evil.example', 'http://www.montanessoluciones.example',
                       f'{WEBSITE_ORIGIN}.evil.example', 'null'):
            with self.subTest(origin=origin):
                response = self._post(self._hit(), origin=origin)
                self.assertRejected(response, 403, written)
                self.assertNotIn('Access-Control-Allow-Origin', response.headers)

    def test_invalid_bodies(self):
        written = self._written_counts()
        bodies = [
            b'not json',
            b'',
            b'\xff\xfe\x00',
            b'[' * 1020 + b']' * 1020,
            json.dumps([self._hit()]),
            json.dumps('page_view'),
            self._hit(lead_id=self.lead_marta.id),
            self._hit(email='marta.torres@tallerespuerto.example'),
            self._hit(event='purchase'),
            self._hit(event=['page_view']),
            self._hit(hit_id='short'),
            self._hit(hit_id='x' * 65),
            self._hit(hit_id="'; DROP TABLE crm_lead; --------"),
            self._hit(url='https://evil.example/licencias'),
            self._hit(url=None),
            self._hit(url=12),
            self._hit(token=None),
            self._hit(token=[self.token_pilar]),
            self._hit(token=12),
            self._hit(url=f'{WEBSITE_ORIGIN}/licencias\u0000antivirus'),
            self._hit(url=f'{WEBSITE_ORIGIN}/licencias\ud800'),
            self._hit(url=f'{WEBSITE_ORIGIN}/licencias\nantivirus'),
        ]
        for body in bodies:
            with self.subTest(body=str(body)[:80]):
                response = self._post(body)
                self.assertIn(response.status_code, (400, 403))
                self.assertRejected(response, response.status_code, written)

    def test_oversized_body(self):
        written = self._written_counts()
        response = self._post(self._hit(url=f'{WEBSITE_ORIGIN}/' + 'a' * 5000))
        self.assertEqual(response.status_code, 413)
        self.assertEqual(self._written_counts(), written)

    def test_long_fields_are_bounded(self):
        long_path = '/'.join(['licencias'] * 150)
        response = self._post(
            self._hit(url=f'{WEBSITE_ORIGIN}/{long_path}'),
            headers={'User-Agent': 'Mozilla/5.0 ' + 'x' * 1000},
        )
        self.assertEqual(response.status_code, 204)
        hit = self.env['montanes.tracking.hit'].search([])
        self.assertEqual(len(hit.url), 500)
        self.assertEqual(len(hit.user_agent), 300)

    def test_burst_is_rate_limited(self):
        statuses = [
            self._post(self._hit(url=f'{WEBSITE_ORIGIN}/licencias/{page}')).status_code
            for page in range(32)
        ]
        self.assertEqual(statuses[:30], [204] * 30)
        self.assertEqual(statuses[30:], [429, 429])
        self.assertEqual(self.env['montanes.tracking.hit'].search_count([]), 30)
        self.assertEqual(self.lead_pilar.montanes_score, 60, 'only the 30 accepted pages score')

        response = self._post(self._hit(token=self.token_marta))
        self.assertEqual(response.status_code, 204, 'another visitor on the same address still gets through')

    def test_ip_limit_counts_rejected_requests(self):
        """Forged tokens and foreign origins use up the limit of the IP address they come from."""
        # Counters start a new window each minute, so the burst must not cross one.
        second = datetime.now().second
        if second >= 45:
            time.sleep(61 - second)
        written = self._written_counts()
        for number in range(MAX_REQUESTS_PER_IP - 1):
            self.assertRejected(self._post(self._hit(token=f'forged-{number:03d}-' + 'A' * 40)), 403, written)
        self.assertRejected(self._post(self._hit(), origin='https://evil.example'), 403, written)

        response = self._post(self._hit(token='forged-after-limit-' + 'A' * 40))
        self.assertRejected(response, 429, written)
        self.assertEqual(response.headers['Retry-After'], '60')
        self.assertEqual(response.headers['Access-Control-Allow-Origin'], WEBSITE_ORIGIN)
        self.assertRejected(self._post(self._hit(), origin='https://evil.example'), 429, written)
        self.assertRejected(self._post(self._hit()), 429, written)
        pixel = self.url_open(
            '/montanes/track/pixel.gif?' + '&'.join(f'{key}={value}' for key, value in self._hit().items()),
            headers={'Referer': f'{WEBSITE_ORIGIN}/licencias/antivirus', 'User-Agent': FIREFOX},
        )
        self.assertRejected(pixel, 429, written)
        self.assertEqual(self.lead_pilar.montanes_score, 0)

    def test_never_server_error(self):
        hostile = [
            ('POST', b'{"token": "' + b'\\u0000' * 300 + b'"}'),
            ('POST', b'{"token": {"$gt": ""}, "hit_id": 1, "event": null, "url": []}'),
            ('POST', b'1e999999'),
            ('POST', b'{"a":' * 400 + b'1' + b'}' * 400),
            ('PUT', b'{}'),
            ('GET', None),
            ('DELETE', None),
        ]
        for method, body in hostile:
            with self.subTest(method=method, body=(body or b'')[:40]):
                response = self.url_open(
                    '/montanes/track', data=body, method=method,
                    headers={'Origin': WEBSITE_ORIGIN, 'Content-Type': 'application/json'},
                )
                self.assertLess(response.status_code, 500)
                self.assertGreaterEqual(response.status_code, 400)

        referer = {'Referer': f'{WEBSITE_ORIGIN}/'}
        hostile_queries = [
            'token=&hit_id=&event=&url=',
            'event=page_view&event=form_submit',
            f'token={self.token_pilar}&hit_id=0123456789abcdef&event=page_view&url=' + 'x' * 20000,
            f'token={self.token_pilar}&hit_id=0123456789abcdef&event=page_view&url=%00%ff',
            f'token={self.token_pilar}&hit_id=0123456789abcdef&event=page_view&url=javascript:alert(1)',
            'lead=1&token=x',
        ]
        for query in hostile_queries:
            with self.subTest(query=query[:60]):
                response = self.url_open(f'/montanes/track/pixel.gif?{query}', headers=referer)
                self.assertIn(response.status_code, (400, 403))
        self.assertEqual(self.env['montanes.tracking.hit'].search_count([]), 0)
