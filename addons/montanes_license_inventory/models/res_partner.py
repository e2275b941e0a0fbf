from odoo import fields, models


class ResPartner(models.Model):
    _inherit = 'res.partner'

    montanes_license_ids = fields.One2many(
        comodel_name='montanes.license',
        inverse_name='partner_id',
        string="Licences",
    )
    montanes_license_count = fields.Integer(
        string="Licence Count",
        compute='_compute_montanes_license_count',
    )

    def _compute_montanes_license_count(self):
        counts = dict(self.env['montanes.license']._read_group(
            domain=[('partner_id', 'child_of', self.ids)],
            groupby=['partner_id'],
            aggregates=['__count'],
        ))
        for partner in self:
            partner.montanes_license_count = sum(
                count for holder, count in counts.items()
                if holder == partner or holder.commercial_partner_id == partner
            )

    def action_view_montanes_licenses(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id(
            'montanes_license_inventory.action_montanes_license')
        action['domain'] = [('partner_id', 'child_of', self.id)]
        action['context'] = {'default_partner_id': self.id}
        return action
