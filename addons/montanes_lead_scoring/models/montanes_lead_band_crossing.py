from odoo import fields, models


class MontanesLeadBandCrossing(models.Model):
    """Record of a lead moving from one score band to another, written once per crossing."""
    _name = 'montanes.lead.band.crossing'
    _description = 'Lead Score Band Crossing'
    _order = 'date desc, id desc'

    lead_id = fields.Many2one(
        comodel_name='crm.lead',
        string='Lead',
        required=True,
        index=True,
        ondelete='cascade',
    )
    # Not stored: a stored copy would cost a query on every lead whose company is recomputed.
    company_id = fields.Many2one(related='lead_id.company_id')
    old_band_id = fields.Many2one(comodel_name='montanes.score.band', string='From Band', ondelete='set null')
    new_band_id = fields.Many2one(comodel_name='montanes.score.band', string='To Band', ondelete='set null')
    score = fields.Integer(string='Score', help='Total score of the lead right after the crossing.')
    date = fields.Datetime(string='Date', required=True, default=fields.Datetime.now)
    action_ids = fields.Many2many(
        comodel_name='montanes.band.action',
        string='Actions Run',
        readonly=True,
    )
