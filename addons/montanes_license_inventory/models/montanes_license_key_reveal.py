from odoo import api, fields, models


class MontanesLicenseKeyReveal(models.Model):
    _name = 'montanes.license.key.reveal'
    _description = "Licence Key Reveal"
    _order = 'create_date desc, id desc'
    _rec_name = 'license_id'

    license_id = fields.Many2one(
        comodel_name='montanes.license',
        string="Licence",
        index=True,
        ondelete='cascade',
        readonly=True,
        help="Licence whose key was shown. Empty for a key in stock that is not sold yet.",
    )
    lot_id = fields.Many2one(
        comodel_name='stock.lot',
        string="Key Serial Number",
        index='btree_not_null',
        ondelete='cascade',
        readonly=True,
    )
    user_id = fields.Many2one(
        comodel_name='res.users',
        string="Revealed By",
        required=True,
        readonly=True,
    )
    channel = fields.Selection(
        selection=[
            ('backend', "Back office"),
            ('portal', "Customer portal"),
            ('email', "Key e-mail"),
            ('export', "Export"),
            ('report', "Printed report"),
        ],
        string="Channel",
        required=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        comodel_name='res.company',
        string="Company",
        compute='_compute_company_id',
        store=True,
        index=True,
    )

    _check_license_or_lot = models.Constraint(
        'CHECK(license_id IS NOT NULL OR lot_id IS NOT NULL)',
        "A key reveal names the licence or the serial number of the key shown.",
    )

    @api.depends('license_id.company_id', 'lot_id.company_id')
    def _compute_company_id(self):
        for reveal in self:
            reveal.company_id = reveal.license_id.company_id or reveal.lot_id.company_id

    @api.model
    def _montanes_log_lot_reveals(self, lots, channel):
        """Log that the current user was shown the keys of `lots` through `channel`.

        Each reveal also names the licence of the key, if the key is sold. The reveals are created
        in one batch, so logging many keys costs a fixed number of queries.
        """
        lots = lots.sudo().filtered('montanes_is_license_key')
        if not lots:
            return self.browse()
        licenses = self.env['montanes.license'].sudo().search([
            ('lot_id', 'in', lots.ids),
            ('state', '!=', 'revoked'),
        ])
        license_by_lot = {license_.lot_id: license_ for license_ in licenses}
        return self.sudo().create([{
            'lot_id': lot.id,
            'license_id': license_by_lot.get(lot, licenses.browse()).id,
            'user_id': self.env.uid,
            'channel': channel,
        } for lot in lots])

    @api.model
    def _montanes_log_license_reveals(self, licenses, channel):
        """Log that the current user was shown the keys of `licenses` through `channel`, in
        one batch."""
        licenses = licenses.sudo().filtered(lambda license_: license_._montanes_get_key())
        return self.sudo().create([{
            'license_id': license_.id,
            'lot_id': license_.lot_id.id,
            'user_id': self.env.uid,
            'channel': channel,
        } for license_ in licenses])
