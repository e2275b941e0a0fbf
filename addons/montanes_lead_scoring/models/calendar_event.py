from odoo import api, fields, models


class CalendarEvent(models.Model):
    _inherit = 'calendar.event'

    @api.model_create_multi
    def create(self, vals_list):
        events = super().create(vals_list)
        events.filtered('opportunity_id')._montanes_register_meeting()
        return events

    def _montanes_register_meeting(self):
        """Score a 'meeting' event and store the contact on the leads of these meetings."""
        # NOTE: a meeting counts when it is scheduled, dated at its start (or
        # now, for a future meeting); a meeting cancelled later keeps its points.
        now = fields.Datetime.now()
        score_meetings = 'meeting' in self.env['crm.lead']._montanes_get_active_event_types()
        for event in self.sudo():
            meeting_date = min(event.start or now, now)
            event.opportunity_id._montanes_set_last_contact('meeting', meeting_date)
            if score_meetings:
                event.opportunity_id._montanes_register_event(
                    'meeting', f'calendar.event,{event.id}', event_date=meeting_date, description=event.name)
