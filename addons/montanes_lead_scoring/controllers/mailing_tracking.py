import base64

from werkzeug.exceptions import NotFound, Unauthorized

from odoo import http
from odoo.http import Response, request
from odoo.tools import consteq

from odoo.addons.mass_mailing.controllers.main import MassMailController

from ..models.mail_mail_tracking import LINK_SIGNATURE_PARAMETER

# The transparent 1x1 GIF that Odoo's open pixel returns.
BLANK_GIF = base64.b64decode(b'R0lGODlhAQABAIAAANvf7wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==')


class MontanesMassMailController(MassMailController):
    """Classify each open pixel load and link click as a person or a machine.

    Human hits go through Odoo's routes unchanged. Machine hits are logged and
    counted on the trace, and never reach mailing.trace.set_opened or
    set_clicked, so the trace status, the mailing ratios and the lead score only
    reflect people.
    """

    @http.route()
    def track_mail_open(self, mail_id, token, **post):
        expected_token = request.env['mail.mail']._generate_mail_recipient_token(mail_id)
        if not consteq(token, expected_token):
            raise Unauthorized()

        traces = request.env['mailing.trace'].sudo().search([('mail_mail_id_int', '=', mail_id)])
        Hit = request.env['montanes.tracking.hit'].sudo()
        user_agent, ip_address = self._montanes_get_client()
        classifications = {
            Hit._record_email_hit(trace, 'email_open', user_agent, ip_address)
            for trace in traces
        }
        if classifications == {'machine'}:
            return Response(BLANK_GIF, mimetype='image/gif')
        return super().track_mail_open(mail_id, token, **post)

    @http.route()
    def full_url_redirect(self, code, mailing_trace_id, **post):
        trace = request.env['mailing.trace'].sudo().browse(mailing_trace_id).exists()
        if not trace:
            return super().full_url_redirect(code, mailing_trace_id, **post)
        redirect_url = request.env['link.tracker'].get_url_from_code(code)
        if not redirect_url:
            raise NotFound()

        user_agent, ip_address = self._montanes_get_client()
        Hit = request.env['montanes.tracking.hit'].sudo()
        classification = Hit._record_email_hit(trace, 'email_click', user_agent, ip_address, url=redirect_url)
        if classification == 'machine':
            return request.redirect(redirect_url, code=301, local=False)

        signed = Hit._check_trace_link_signature(trace.id, post.get(LINK_SIGNATURE_PARAMETER))
        if not signed:
            # Anyone can build Odoo's unsigned link for any trace id. Odoo still records the
            # click, but it scores nothing, takes no campaign branch and gets no visitor token.
            request.update_context(montanes_unsigned_click=True)
        response = super().full_url_redirect(code, mailing_trace_id, **post)
        if not signed:
            return response
        tokenized_url = Hit._add_visitor_token_to_url(redirect_url, trace)
        if tokenized_url != redirect_url:
            # The token expires, so browsers must not cache this redirect as Odoo's 301 allows.
            response = request.redirect(tokenized_url, code=302, local=False)
            response.headers['Cache-Control'] = 'no-store'
        return response

    def _montanes_get_client(self):
        """Return the ``(user_agent, ip_address)`` of the current request."""
        httprequest = request.httprequest
        return httprequest.headers.get('User-Agent', ''), httprequest.remote_addr
