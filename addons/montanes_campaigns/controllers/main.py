from odoo import http
from odoo.http import request
from odoo.tools import consteq


class MontanesCampaignUnsubscribe(http.Controller):
    """Campaign unsubscribe page.

    The routes are website routes, as mass_mailing's own unsubscribe pages are:
    when Odoo's website module is installed, web.frontend_layout needs the
    website that such routes put in the rendering values. Without the website
    module the flag changes nothing.
    """

    def _get_participant(self, participant_id, token):
        """Return the participant the link was sent to, or None when the
        token does not match."""
        participant = request.env["montanes.campaign.participant"].sudo().browse(participant_id).exists()
        if not participant or not token or not consteq(participant.access_token or "", token):
            return None
        return participant

    @http.route(
        "/montanes_campaigns/unsubscribe/<int:participant_id>/<string:token>",
        type="http", auth="public", methods=["GET"], website=True, sitemap=False,
    )
    def unsubscribe_form(self, participant_id, token, **kwargs):
        participant = self._get_participant(participant_id, token)
        if participant is None:
            raise request.not_found()
        return request.render("montanes_campaigns.unsubscribe_page", {
            "participant": participant,
            "token": token,
            "done": False,
        })

    @http.route(
        "/montanes_campaigns/unsubscribe/<int:participant_id>/<string:token>",
        type="http", auth="public", methods=["POST"], website=True, sitemap=False,
    )
    def unsubscribe_submit(self, participant_id, token, scope="campaign", reason="", **kwargs):
        participant = self._get_participant(participant_id, token)
        if participant is None:
            raise request.not_found()
        participant._unsubscribe("all" if scope == "all" else "campaign", reason)
        return request.render("montanes_campaigns.unsubscribe_page", {
            "participant": participant,
            "token": token,
            "done": True,
            "scope": scope,
        })
