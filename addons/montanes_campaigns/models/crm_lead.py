from odoo import fields, models


class CrmLead(models.Model):
    _inherit = "crm.lead"

    # Inverse of the participant link: the step mailings filter their
    # recipients on it, so a mailing sent by hand from Email Marketing only
    # reaches the people enrolled in its campaign, not the whole segment.
    montanes_campaign_participant_ids = fields.One2many(
        comodel_name="montanes.campaign.participant",
        inverse_name="lead_id",
        string="Campaign Enrolments",
        groups="mass_mailing.group_mass_mailing_user",
    )
