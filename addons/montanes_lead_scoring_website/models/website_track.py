from odoo import api, models


class WebsiteTrack(models.Model):
    _inherit = 'website.track'

    @api.model_create_multi
    def create(self, vals_list):
        # Views recorded through the ORM, such as website_sale's product views
        # (website.visitor._add_tracking).
        tracks = super().create(vals_list)
        for track in tracks.filtered('url'):
            track.visitor_id._montanes_register_page_view(
                track.url, occurrence_ref=f'{track._name},{track.id}', view_date=track.visit_datetime)
        return tracks
