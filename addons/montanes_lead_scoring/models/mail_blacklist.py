from odoo import api, models


class MailBlacklist(models.Model):
    _inherit = 'mail.blacklist'

    @api.model_create_multi
    def create(self, vals_list):
        entries = super().create(vals_list)
        entries._montanes_register_unsubscribe()
        return entries

    def _montanes_register_unsubscribe(self):
        """Score an 'unsubscribe' event on the leads whose e-mail was just blacklisted."""
        Lead = self.env['crm.lead'].sudo()
        if 'unsubscribe' not in Lead._montanes_get_active_event_types():
            return
        for entry in self.sudo():
            leads = Lead.search([('email_normalized', '=', entry.email)])
            leads._montanes_register_event('unsubscribe', f'mail.blacklist,{entry.id}')
