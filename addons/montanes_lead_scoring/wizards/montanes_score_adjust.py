from odoo import fields, models


class MontanesScoreAdjust(models.TransientModel):
    """Dialog adding the same manual score adjustment to one or more leads."""
    _name = 'montanes.score.adjust'
    _description = 'Lead Score Adjustment'

    lead_ids = fields.Many2many(comodel_name='crm.lead', string='Leads', required=True)
    points = fields.Integer(string='Points', required=True, help='Points to add; negative to subtract.')
    reason = fields.Char(string='Reason', required=True, help='Why the score changes, shown in the breakdown.')

    def action_apply(self):
        self.ensure_one()
        self.lead_ids._montanes_adjust_score(self.points, self.reason)
        return {'type': 'ir.actions.act_window_close'}
