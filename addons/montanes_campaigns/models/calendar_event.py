from odoo import api, models


class CalendarEvent(models.Model):
    _inherit = "calendar.event"

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        # Booking the meeting is the campaign goal. Lead scoring scores the
        # meeting only once it has been held, which may be days later.
        leads = self.env["crm.lead"]
        for event in events:
            leads |= event._montanes_get_meeting_lead()
        if leads and self.env["montanes.campaign"]._get_running_triggers():
            leads._montanes_exit_campaigns("meeting", leads)
        return events
