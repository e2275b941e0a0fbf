from odoo import models
from odoo.http import request

from odoo.addons.montanes_lead_scoring.models.montanes_tracking_hit import MAX_URL_LENGTH


class WebsiteVisitor(models.Model):
    _inherit = 'website.visitor'

    def _upsert_visitor(self, access_token, force_track_values=None):
        # Odoo records the views of tracked pages here, with raw SQL that bypasses
        # website.track create().
        visitor_id, upsert = super()._upsert_visitor(access_token, force_track_values=force_track_values)
        if force_track_values and force_track_values.get('url'):
            self.browse(visitor_id)._montanes_register_page_view(force_track_values['url'])
        return visitor_id, upsert

    def _montanes_register_page_view(self, url, occurrence_ref=None, view_date=None):
        """Score a view of the page ``url`` on the leads of this visitor.

        The source of the event is the page URL without query and fragment, so page
        rules match their URL pattern against it and "once per page" counts each page
        once. Views sent with the user agent of a bot, a link preview or an HTTP library
        score nothing. Visitors without a lead cost one query.

        :param occurrence_ref: what makes this view unique for "every time" rules,
            such as 'website.track,7'; the view date when not given
        :return: the montanes.lead.score.line records created
        """
        self.ensure_one()
        entries = self.env['montanes.lead.score.line']
        if request and self.env['montanes.tracking.hit']._get_user_agent_machine_reason(
                request.httprequest.headers.get('User-Agent'), request.httprequest.remote_addr):
            return entries
        # sudo: lead_ids is readable by salespeople only, and visitors are public users.
        leads = self.sudo().lead_ids
        if not leads:
            return entries
        page_url = (url or '').split('#', 1)[0].split('?', 1)[0][:MAX_URL_LENGTH]
        if not page_url:
            return entries
        return leads._montanes_register_event(
            'page_view', page_url, event_date=view_date, description=page_url, occurrence_ref=occurrence_ref)
