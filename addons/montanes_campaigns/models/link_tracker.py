from odoo import api, models

# Key of the cursor cache that contains the link trackers of the step mailing
# being queued, keyed by the values the renderer looks them up with.
LINK_TRACKER_CACHE_KEY = "montanes_campaigns_link_trackers"


class LinkTracker(models.Model):
    _inherit = "link.tracker"

    @api.model
    def search_or_create(self, vals_list):
        """Reuse the trackers already found while a campaign step is queued.

        The mass mailing renderer looks up the trackers of every link once
        per recipient, with the same values for every recipient of a step.
        Outside MailingMailing._montanes_queue, which opens and drops the
        cache, this is Odoo's method unchanged.
        """
        cache = self.env.cr.cache.get(LINK_TRACKER_CACHE_KEY)
        if cache is None or not isinstance(vals_list, list):
            return super().search_or_create(vals_list)
        keys = [repr(sorted(vals.items())) for vals in vals_list]
        missing = {key: vals for key, vals in zip(keys, vals_list) if key not in cache}
        if missing:
            trackers = super().search_or_create(list(missing.values()))
            cache.update(zip(missing, trackers.ids))
        return self.browse([cache[key] for key in keys])
