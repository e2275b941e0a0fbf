import re

from odoo import models

# Query parameter that carries the signature of a tracked link's trace.
LINK_SIGNATURE_PARAMETER = 'montanes_sig'


class MailMail(models.Model):
    _inherit = 'mail.mail'

    def _prepare_outgoing_body(self):
        """Sign the tracked links of mass mailings with their trace id.

        Odoo's link redirect /r/<code>/m/<trace id> carries no secret, so anyone
        can call it with any trace id. The signature proves that the click comes
        from the link of that e-mail, and only then does the redirect hand out a
        visitor token for the website.
        """
        body = super()._prepare_outgoing_body()
        if not body or not self.mailing_id or not self.mailing_trace_ids:
            return body
        trace_id = self.mailing_trace_ids[0].id
        signature = self.env['montanes.tracking.hit']._sign_trace_link(trace_id)
        pattern = re.compile(rf'(/r/[\w-]+/m/{trace_id})(?=["\'])')
        return body.__class__(pattern.sub(rf'\g<1>?{LINK_SIGNATURE_PARAMETER}={signature}', str(body)))
