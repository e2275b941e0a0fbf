from odoo import api, fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    montanes_campaign_participant_ids = fields.One2many(
        comodel_name="montanes.campaign.participant",
        inverse_name="lead_id",
        string="Campaign Enrolments",
        groups="mass_mailing.group_mass_mailing_user",
    )

    @api.model_create_multi
    def create(self, vals_list):
        leads = super().create(vals_list)
        if "lead_created" in self.env["montanes.campaign"]._get_running_triggers():
            self.env["montanes.campaign"]._enrol_from_event(leads, "lead_created")
        return leads

    def write(self, vals):
        # Without a running campaign there is nothing to enrol or exit: the
        # cached check keeps lead writes free of extra queries.
        Campaign = self.env["montanes.campaign"]
        if not self or not Campaign._get_running_triggers():
            return super().write(vals)
        old_tags = {lead.id: lead.tag_ids for lead in self} if "tag_ids" in vals else {}
        result = super().write(vals)
        if "stage_id" in vals:
            Campaign._enrol_from_event(self, "stage", lambda campaign, lead: lead.stage_id == campaign.trigger_stage_id)
            self._montanes_exit_campaigns("won", self.filtered(lambda lead: lead.won_status == "won"))
        if "tag_ids" in vals:
            Campaign._enrol_from_event(
                self, "tag",
                lambda campaign, lead: campaign.trigger_tag_id in lead.tag_ids - old_tags.get(lead.id),
            )
        if "active" in vals or "lost_reason_id" in vals:
            self._montanes_exit_campaigns("lost", self.filtered(lambda lead: lead.won_status == "lost"))
        return result

    def _montanes_on_band_change(self, old_band_by_lead_id):
        result = super()._montanes_on_band_change(old_band_by_lead_id)
        if "band" not in self.env["montanes.campaign"]._get_running_triggers():
            return result
        self.env["montanes.campaign"]._enrol_from_event(
            self, "band",
            lambda campaign, lead: lead.montanes_band_id.code == campaign.trigger_band_code,
        )
        return result

    def _montanes_register_event(self, event_type, source_ref, event_date=None, description=None,
                                 occurrence_ref=None):
        lines = super()._montanes_register_event(
            event_type, source_ref, event_date=event_date, description=description,
            occurrence_ref=occurrence_ref,
        )
        running_triggers = self.env["montanes.campaign"]._get_running_triggers()
        if event_type == "info_request" and "info_request" in running_triggers:
            self.env["montanes.campaign"]._enrol_from_event(self, "info_request")
        elif event_type == "meeting" and running_triggers:
            self._montanes_exit_campaigns("meeting", self)
        return lines

    def _montanes_exit_campaigns(self, reason, leads):
        """Exit the running participations of leads in the campaigns whose
        goals include reason."""
        if not leads:
            return
        exit_field = {"won": "exit_on_won", "lost": "exit_on_lost", "meeting": "exit_on_meeting"}[reason]
        participants = self.env["montanes.campaign.participant"].sudo().search([
            ("lead_id", "in", leads.ids),
            ("state", "=", "running"),
            (f"campaign_id.{exit_field}", "=", True),
        ])
        participants._exit(reason)
