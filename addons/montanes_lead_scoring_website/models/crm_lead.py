from odoo import models


class CrmLead(models.Model):
    _inherit = 'crm.lead'

    def _montanes_register_website_form(self, user_agent, ip_address):
        """Score these leads, just created by a website form, as information requests.

        A form sent with the user agent of a bot or an HTTP library scores nothing,
        like a machine page view.

        :return: the montanes.lead.score.line records created
        """
        entries = self.env['montanes.lead.score.line']
        if self.env['montanes.tracking.hit']._get_user_agent_machine_reason(user_agent, ip_address):
            return entries
        for lead in self:
            entries |= lead._montanes_register_event(
                'info_request', f'crm.lead,{lead.id},website_form', description=lead.name or None)
        return entries
