import logging

from odoo import api, models
from odoo.fields import Domain

_logger = logging.getLogger(__name__)

# Leads listed per section of the digest; the full lists are one click away in Odoo.
DIGEST_MAX_LEADS = 20


class ResUsers(models.Model):
    _inherit = 'res.users'

    @api.model
    def _cron_montanes_send_lead_digest(self):
        """E-mail each salesperson their hot leads and their forgotten leads, in their language."""
        hot_band = self.env.ref('montanes_lead_scoring.score_band_hot', raise_if_not_found=False)
        Lead = self.env['crm.lead'].sudo()
        open_leads = Domain([('active', '=', True), ('won_status', '=', 'pending'), ('user_id', '!=', False)])
        hot_domain = open_leads & Domain('montanes_band_id', '=', hot_band.id if hot_band else False)
        forgotten_domain = open_leads & Domain('montanes_followup_state', 'in', ('reminded', 'escalated'))
        owners = Lead.search(hot_domain | forgotten_domain).user_id.filtered(lambda user: user.email and not user.share)
        for user in owners:
            user._montanes_send_lead_digest(
                Lead.search(hot_domain & Domain('user_id', '=', user.id), order='montanes_score desc, id'),
                Lead.search(forgotten_domain & Domain('user_id', '=', user.id),
                            order='montanes_last_contact_date asc, id'),
            )
        _logger.info("Lead digest sent to %d salespeople", len(owners))

    def _montanes_send_lead_digest(self, hot_leads, forgotten_leads):
        self.ensure_one()
        if not (hot_leads or forgotten_leads):
            return self.env['mail.mail']
        lang_self = self.with_context(lang=self.lang or 'es_ES')
        base_url = self.get_base_url()
        body = lang_self.env['ir.qweb']._render('montanes_lead_scoring.lead_digest_email', {
            'user': self,
            'hot_leads': hot_leads[:DIGEST_MAX_LEADS],
            'hot_count': len(hot_leads),
            'forgotten_leads': forgotten_leads[:DIGEST_MAX_LEADS],
            'forgotten_count': len(forgotten_leads),
            'lead_url': lambda lead: f'{base_url}/odoo/crm/{lead.id}',
            'format_datetime': lambda value: value and value.strftime('%d/%m/%Y') or '-',
        })
        return self.env['mail.mail'].sudo().create({
            'subject': lang_self.env._(
                "Your leads today: %(hot)s hot, %(forgotten)s without follow-up",
                hot=len(hot_leads), forgotten=len(forgotten_leads),
            ),
            'body_html': body,
            'email_to': self.email_formatted,
            'auto_delete': True,
        })
