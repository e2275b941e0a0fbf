from odoo import fields, models


class MontanesLicenseKeyImportLine(models.TransientModel):
    _name = 'montanes.license.key.import.line'
    _description = "Rejected Row of a Licence Key Import"
    _order = 'row_number, id'

    import_id = fields.Many2one(
        comodel_name='montanes.license.key.import',
        string="Import",
        required=True,
        ondelete='cascade',
    )
    row_number = fields.Integer(
        string="Row",
        help="Line number in the file, where the header is line 1.",
    )
    product_reference = fields.Char(string="Product Reference")
    key = fields.Char(string="Key")
    reason = fields.Selection(
        selection=[
            ('blank_key', "Blank key"),
            ('unknown_product', "Unknown product reference"),
            ('not_key_product', "Product is not a key licence"),
            ('bad_format', "Key format does not match the product"),
            ('unsafe_pattern', "Unsafe key pattern of the product"),
            ('bad_date', "Invalid activation deadline"),
            ('expired', "Activation deadline already past"),
            ('duplicate_in_file', "Key listed twice in the file"),
            ('already_exists', "Key already in the database"),
        ],
        string="Reason",
        required=True,
    )
    message = fields.Char(string="Details")
