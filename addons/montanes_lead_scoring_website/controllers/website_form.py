from odoo.addons.website_crm.controllers.website_form import WebsiteForm


class MontanesWebsiteForm(WebsiteForm):

    def insert_record(self, request, model_sudo, values, custom, meta=None):
        """Score a lead created by a website form as an information request."""
        record_id = super().insert_record(request, model_sudo, values, custom, meta=meta)
        if model_sudo.model == 'crm.lead' and record_id:
            request.env['crm.lead'].sudo().browse(record_id)._montanes_register_website_form(
                request.httprequest.headers.get('User-Agent'), request.httprequest.remote_addr)
        return record_id
