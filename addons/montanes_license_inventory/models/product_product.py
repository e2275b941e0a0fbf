from odoo import api, models


class ProductProduct(models.Model):
    _inherit = 'product.product'

    @api.model_create_multi
    def create(self, vals_list):
        # The ORM precomputes the template's storable and tracking values before the template
        # create runs, so the key licence values must be filled in here as well.
        for vals in vals_list:
            self.env['product.template']._montanes_add_key_license_values(vals)
        return super().create(vals_list)
