from odoo import models


class MailActivity(models.Model):
    _inherit = 'mail.activity'

    def _action_done(self, feedback=False, attachment_ids=None):
        lead_activities = [
            (activity.id, activity.res_id, activity.activity_type_id.category, activity.summary
             or activity.activity_type_id.name)
            for activity in self.sudo()
            if activity.res_model == 'crm.lead' and activity.res_id
        ]
        result = super()._action_done(feedback=feedback, attachment_ids=attachment_ids)
        if lead_activities:
            self._montanes_register_lead_activities(lead_activities)
        return result

    def _montanes_register_lead_activities(self, lead_activities):
        """Store the contact of done lead activities and score the calls among them."""
        Lead = self.env['crm.lead'].sudo()
        score_calls = 'call' in Lead._montanes_get_active_event_types()
        for activity_id, lead_id, category, summary in lead_activities:
            lead = Lead.browse(lead_id).exists()
            if not lead:
                continue
            is_call = category == 'phonecall'
            lead._montanes_set_last_contact('call' if is_call else 'activity')
            if is_call and score_calls:
                lead._montanes_register_event('call', f'mail.activity,{activity_id}', description=summary)
