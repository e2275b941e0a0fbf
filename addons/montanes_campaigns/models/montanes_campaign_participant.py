from odoo import fields, models


class MontanesCampaignParticipant(models.Model):
    _name = "montanes.campaign.participant"
    _description = "Automated Campaign Participant"
    _order = "date_enrolled desc, id desc"
    _rec_name = "email_normalized"
    _check_company_auto = True

    campaign_id = fields.Many2one(
        comodel_name="montanes.campaign",
        string="Campaign",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(
        related="campaign_id.company_id",
        store=True,
        index=True,
    )
    lead_id = fields.Many2one(
        comodel_name="crm.lead",
        string="Lead",
        required=True,
        ondelete="cascade",
        index=True,
    )
    email_normalized = fields.Char(
        string="Normalized E-mail",
        required=True,
        help="E-mail address of the lead when it was enrolled. "
        "A campaign enrols each address once.",
    )
    state = fields.Selection(
        selection=[
            ("running", "Running"),
            ("completed", "Completed"),
            ("exited", "Exited"),
        ],
        string="Status",
        default="running",
        required=True,
        index=True,
    )
    last_step_id = fields.Many2one(
        comodel_name="montanes.campaign.step",
        string="Last Step Sent",
        ondelete="restrict",
        index="btree_not_null",
    )
    date_last_step = fields.Datetime(
        string="Last Step Sent On",
    )
    date_enrolled = fields.Datetime(
        string="Enrolled On",
        required=True,
        default=fields.Datetime.now,
    )

    # Two workers that enrol the same segment at once would insert the same
    # rows, so these indexes make the second insert fail instead of adding a
    # duplicate participant.
    _campaign_lead_unique = models.UniqueIndex(
        "(campaign_id, lead_id)",
        "A lead can only be enrolled once in a campaign.",
    )
    _campaign_email_unique = models.UniqueIndex(
        "(campaign_id, email_normalized)",
        "An e-mail address can only be enrolled once in a campaign.",
    )
