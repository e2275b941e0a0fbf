from odoo import api, fields, models


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

    @api.model
    def _montanes_license_renewal_candidates(self, date_from, date_to):
        """Return the running licences of the current company ending within [date_from,
        date_to], for the campaigns module's renewal flow.

        Read with sudo() so that a campaign runs whoever its author is, but limited to the
        current company.

        :return: a list of dicts with the keys partner_id, license_id, license_name,
            product_name and date_end, ordered by end date.
        """
        licenses = self.env['montanes.license'].sudo().search([
            ('company_id', '=', self.env.company.id),
            ('state', 'in', ('active', 'expiring')),
            ('date_end', '>=', date_from),
            ('date_end', '<=', date_to),
        ], order='date_end, id')
        return [{
            'partner_id': license_.partner_id.id,
            'license_id': license_.id,
            'license_name': license_.name,
            'product_name': license_.product_id.display_name,
            'date_end': license_.date_end,
        } for license_ in licenses]
