import logging
import secrets
from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import api, fields, models, modules
from odoo.exceptions import AccessError, UserError
from odoo.fields import Domain

_logger = logging.getLogger(__name__)

# Character that replaces the hidden part of a key for users outside the key groups.
KEY_MASK_CHARACTER = '•'
# Characters left visible at the end of a key without hyphens, enough to tell keys apart.
KEY_VISIBLE_TAIL_LENGTH = 5
# Groups allowed to read the key itself. Other licence users only read the masked key.
KEY_GROUPS = (
    'montanes_license_inventory.montanes_license_inventory_group_service,'
    'montanes_license_inventory.montanes_license_inventory_group_manager'
)
# Fields of a licence that contain its key.
KEY_FIELDS = ('key', 'generated_key')
KEY_FIELD_PATHS = [[fname] for fname in KEY_FIELDS]
# Licences handled per batch by the renewal cron, each batch committed on its own.
RENEWAL_BATCH_SIZE = 100
# Letters and digits of generated keys: no 0/O or 1/I, which customers mistype.
GENERATED_KEY_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'
# Four groups of five characters, the layout of the vendor keys: 32^20 possible keys.
GENERATED_KEY_GROUPS = 4
GENERATED_KEY_GROUP_LENGTH = 5


class MontanesLicense(models.Model):
    _name = 'montanes.license'
    _description = "Licence"
    _inherit = ['mail.thread']
    _order = 'date_start desc, id desc'
    _check_company_auto = True

    name = fields.Char(
        string="Reference",
        required=True,
        readonly=True,
        copy=False,
        default=lambda self: self.env._("New"),
    )
    partner_id = fields.Many2one(
        comodel_name='res.partner',
        string="Holder",
        required=True,
        index=True,
        tracking=True,
    )
    product_id = fields.Many2one(
        comodel_name='product.product',
        string="Product",
        required=True,
        check_company=True,
    )
    lot_id = fields.Many2one(
        comodel_name='stock.lot',
        string="Key Serial Number",
        index=True,
        check_company=True,
        groups=KEY_GROUPS,
        help="Serial number that contains the licence key. Empty for seat pools.",
    )
    key = fields.Char(
        related='lot_id.name',
        string="Key",
        groups=KEY_GROUPS,
    )
    generated_key = fields.Char(
        string="Generated Key",
        readonly=True,
        copy=False,
        groups=KEY_GROUPS,
        help="Key created at confirmation for a licence of kind Key generated at sale.",
    )
    montanes_key_masked = fields.Char(
        string="Masked Key",
        compute='_compute_montanes_key_masked',
        compute_sudo=True,
        help="The key with every group but the first and the last hidden.",
    )
    user_id = fields.Many2one(
        related='order_id.user_id',
        string="Salesperson",
        store=True,
        index=True,
    )
    renewal_order_id = fields.Many2one(
        comodel_name='sale.order',
        string="Renewal Quotation",
        readonly=True,
        copy=False,
        index='btree_not_null',
    )
    key_sent_date = fields.Datetime(
        string="Key Sent On",
        readonly=True,
        copy=False,
        help="When the e-mail with the key was sent to the customer.",
    )
    reveal_ids = fields.One2many(
        comodel_name='montanes.license.key.reveal',
        inverse_name='license_id',
        string="Key Reveals",
        groups=KEY_GROUPS,
    )
    sale_line_id = fields.Many2one(
        comodel_name='sale.order.line',
        string="Sales Order Line",
        index=True,
        ondelete='restrict',
    )
    order_id = fields.Many2one(
        related='sale_line_id.order_id',
        string="Sales Order",
        store=True,
        index=True,
    )
    invoice_line_id = fields.Many2one(
        comodel_name='account.move.line',
        string="Invoice Line",
        ondelete='set null',
    )
    invoice_id = fields.Many2one(
        related='invoice_line_id.move_id',
        string="Invoice",
    )
    seats = fields.Integer(string="Seats", default=1, required=True)
    date_start = fields.Date(string="Start Date", required=True, tracking=True)
    date_end = fields.Date(
        string="End Date",
        tracking=True,
        help="Date the licence expires: the start date plus the term. Empty for a perpetual "
             "licence.",
    )
    state = fields.Selection(
        selection=[
            ('active', "Active"),
            ('expiring', "Expiring"),
            ('expired', "Expired"),
            ('revoked', "Revoked"),
        ],
        string="Status",
        required=True,
        default='active',
        tracking=True,
    )
    company_id = fields.Many2one(
        comodel_name='res.company',
        string="Company",
        required=True,
        index=True,
        default=lambda self: self.env.company,
    )

    # A key is held by one licence at a time: a revoked licence frees its key for a new one.
    _lot_id_unique_not_revoked = models.UniqueIndex(
        "(lot_id) WHERE lot_id IS NOT NULL AND state != 'revoked'",
        "This licence key is already held by another licence that is not revoked.",
    )
    _generated_key_unique = models.UniqueIndex(
        "(generated_key) WHERE generated_key IS NOT NULL",
        "This generated key already exists. Each key is given to one licence only.",
    )
    _check_seats_positive = models.Constraint(
        'CHECK(seats > 0)',
        "A licence needs at least one seat.",
    )
    _check_date_end_after_start = models.Constraint(
        'CHECK(date_end IS NULL OR date_end >= date_start)',
        "The end date of a licence cannot be before its start date.",
    )

    @api.depends('lot_id.name', 'generated_key')
    def _compute_montanes_key_masked(self):
        for license_ in self:
            license_.montanes_key_masked = self.montanes_mask_key(license_._montanes_get_key())

    def _montanes_get_key(self):
        """Return the key of this licence: its serial number or its generated key."""
        self.ensure_one()
        license_ = self.sudo()
        return license_.lot_id.name or license_.generated_key or False

    @api.model
    def montanes_generate_key(self, product):
        """Return a new random key made of the product's key prefix and four groups of five
        characters."""
        groups = [
            ''.join(
                secrets.choice(GENERATED_KEY_ALPHABET)
                for _index in range(GENERATED_KEY_GROUP_LENGTH)
            )
            for _group in range(GENERATED_KEY_GROUPS)
        ]
        prefix = (product.montanes_key_prefix or '').strip()
        return self.env['stock.lot'].montanes_normalize_key(prefix + '-'.join(groups), product)

    # ------------------------------------------------------------
    # Key reveal
    # ------------------------------------------------------------

    def action_reveal_key(self):
        """Show the key of this licence in a notification and log who revealed it."""
        self.ensure_one()
        key = self.montanes_reveal_key(channel='backend')
        return {
            'type': 'ir.actions.client',
            'tag': 'display_notification',
            'params': {
                'title': self.env._("Key of %(license)s", license=self.name),
                'message': key,
                'sticky': True,
                'type': 'info',
            },
        }

    def montanes_reveal_key(self, channel):
        """Return the key of this licence and log the reveal with the user and the channel.

        Only the licence holder through the portal and the users of `KEY_GROUPS` may reveal a
        key. The record rules decide first whether the user may read the licence at all.

        :raises AccessError: for any other user.
        """
        self.ensure_one()
        self.check_access('read')
        user = self.env.user
        is_holder = (
            user._is_portal()
            and self.partner_id.commercial_partner_id == user.partner_id.commercial_partner_id
        )
        if not (self.env.su or is_holder or user.has_groups(KEY_GROUPS)):
            raise AccessError(self.env._(
                "Only the licence service team, the licence administrators and the holder may "
                "reveal the key of %(license)s.", license=self.name))
        key = self._montanes_get_key()
        self.env['montanes.license.key.reveal']._montanes_log_license_reveals(self, channel)
        return key

    def _read_format(self, fnames, load='_classic_read'):
        """Mask the key fields in every read outside sudo(), for the key groups too.

        A full key reaches a user only through a path that logs it: the Reveal Key button, the
        portal, the key e-mail, an export or a printed report.
        """
        result = super()._read_format(fnames, load=load)
        key_fields = [fname for fname in KEY_FIELDS if fname in fnames]
        if not key_fields or not self.env['stock.lot']._montanes_must_mask_keys():
            return result
        for values in result:
            for fname in key_fields:
                if values.get(fname):
                    values[fname] = self.montanes_mask_key(values[fname])
        return result

    def _export_rows(self, fields, *, _is_toplevel_call=True):
        """Export the keys in full to the key groups and log each key exported, masked to
        anyone else."""
        rows = super()._export_rows(fields, _is_toplevel_call=_is_toplevel_call)
        key_columns = [index for index, path in enumerate(fields) if path in KEY_FIELD_PATHS]
        if not key_columns or self.env.su:
            return rows
        if self.env.user.has_groups(KEY_GROUPS):
            self.env['montanes.license.key.reveal']._montanes_log_license_reveals(
                self, 'export')
            return rows
        for row in rows:
            for index in key_columns:
                if row[index]:
                    row[index] = self.montanes_mask_key(row[index])
        return rows

    def _web_read_group_groupby_formatter(self, groupby_spec, values):
        """Mask the generated keys used as group labels, as the serial number keys are."""
        formatter = super()._web_read_group_groupby_formatter(groupby_spec, values)
        if (
            groupby_spec.split(':')[0] != 'generated_key'
            or not self.env['stock.lot']._montanes_must_mask_keys()
        ):
            return formatter

        def formatter_mask_key(value):
            if not value:
                return formatter(value)
            licenses = self.sudo().search([('generated_key', '=', value)])
            return self.montanes_mask_key(value), [('id', 'in', licenses.ids)]

        return formatter_mask_key

    @api.model
    @api.readonly
    def formatted_read_group(self, domain, groupby=(), aggregates=(), having=(), offset=0,
                             limit=None, order=None):
        self.env['stock.lot']._montanes_check_key_aggregates(aggregates, set(KEY_FIELDS))
        return super().formatted_read_group(
            domain, groupby=groupby, aggregates=aggregates, having=having, offset=offset,
            limit=limit, order=order,
        )

    @api.model
    @api.readonly
    def formatted_read_grouping_sets(self, domain, grouping_sets, aggregates=(), *, order=None):
        self.env['stock.lot']._montanes_check_key_aggregates(aggregates, set(KEY_FIELDS))
        return super().formatted_read_grouping_sets(
            domain, grouping_sets, aggregates=aggregates, order=order)

    @api.model
    @api.readonly
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False,
                   lazy=True):
        Lot = self.env['stock.lot']
        Lot._montanes_check_key_aggregates(fields, set(KEY_FIELDS))
        rows = super().read_group(
            domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        return Lot._montanes_mask_read_group_rows(self, 'generated_key', rows)

    @api.model
    def _montanes_get_key_value_domain(self, field_name, values):
        """Return the domain of the licences whose `field_name` is one of `values`: every
        generated key is a licence key."""
        return Domain(field_name, 'in', list(values))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if not vals.get('name') or vals['name'] == self.env._("New"):
                vals['name'] = self.env['ir.sequence'].next_by_code('montanes.license') or '/'
        return super().create(vals_list)

    @api.model
    def montanes_mask_key(self, key):
        """Return the key with every hyphen-separated group but the first and the last hidden.

        A key without at least three groups keeps only its last characters visible.
        """
        if not key:
            return False
        groups = key.split('-')
        if len(groups) >= 3:
            hidden = [KEY_MASK_CHARACTER * len(group) for group in groups[1:-1]]
            return '-'.join([groups[0], *hidden, groups[-1]])
        visible_length = min(KEY_VISIBLE_TAIL_LENGTH, len(key) // 2)
        hidden_length = len(key) - visible_length
        return KEY_MASK_CHARACTER * hidden_length + key[hidden_length:]

    def _montanes_link_invoice_line(self):
        """Link each licence to the customer invoice line of its order line, if any."""
        for license_ in self:
            invoice_lines = license_.sale_line_id.invoice_lines.filtered(
                lambda line: line.move_id.move_type == 'out_invoice'
                and line.move_id.state != 'cancel'
            )
            if invoice_lines:
                license_.invoice_line_id = invoice_lines[:1]

    def _montanes_send_key_email(self):
        """E-mail the customer of each order the keys of these licences not sent yet.

        The e-mail is a user notification authored by the company, so neither the order's
        chatter nor the salesperson who confirmed the order shows the keys. Each key sent is
        logged as a reveal through the e-mail channel.
        """
        to_send = self.filtered(lambda license_: not license_.key_sent_date)
        if not to_send:
            return
        template = self.env.ref('montanes_license_inventory.mail_template_license_keys')
        for order, licenses in to_send.grouped('order_id').items():
            if not order:
                continue
            template.sudo().with_context(montanes_licenses=licenses.sudo()).send_mail(
                order.id, email_layout_xmlid='mail.mail_notification_light',
                email_values={
                    'message_type': 'user_notification',
                    'author_id': order.company_id.partner_id.id,
                })
        now = fields.Datetime.now()
        to_send.sudo().key_sent_date = now
        self.env['montanes.license.key.reveal']._montanes_log_license_reveals(
            to_send, 'email')

    # ------------------------------------------------------------
    # Renewals
    # ------------------------------------------------------------

    @api.model
    def _cron_update_license_states(self):
        """Flag licences expiring soon or expired, and quote the renewal of each expiring one.

        Runs per company with its own notice period. Each batch gets its quotations and state
        changes in one transaction, so a failure skips the batch, which the next run retries.
        """
        today = fields.Date.context_today(self)
        expired_count = expiring_count = 0
        for company in self.env['res.company'].sudo().search([]):
            licenses = self.sudo().with_company(company)
            expired = licenses.search([
                ('company_id', '=', company.id),
                ('state', 'in', ('active', 'expiring')),
                ('date_end', '<', today),
            ])
            expired.write({'state': 'expired'})
            expired_count += len(expired)

            notice_date = today + timedelta(days=company.montanes_license_expiry_notice_days)
            expiring = licenses.search([
                ('company_id', '=', company.id),
                ('state', '=', 'active'),
                ('date_end', '>=', today),
                ('date_end', '<=', notice_date),
            ])
            for start in range(0, len(expiring), RENEWAL_BATCH_SIZE):
                batch = expiring[start:start + RENEWAL_BATCH_SIZE]
                batch.write({'state': 'expiring'})
                to_quote = batch.filtered(lambda license_: not license_.renewal_order_id)
                to_quote._montanes_create_renewal_orders()
                expiring_count += len(batch)
                if not modules.module.current_test:
                    self.env['ir.cron']._commit_progress(len(batch))
        _logger.info(
            "Licence states updated: %d expired, %d flagged as expiring",
            expired_count, expiring_count,
        )

    def action_create_renewal_order(self):
        """Create the renewal quotation of this licence and open it."""
        self.ensure_one()
        if self.renewal_order_id:
            raise UserError(self.env._(
                "The licence %(license)s already has the renewal quotation %(order)s.",
                license=self.name, order=self.renewal_order_id.name))
        self.check_access('read')
        order = self.sudo()._montanes_create_renewal_orders()
        return {
            'type': 'ir.actions.act_window',
            'res_model': 'sale.order',
            'res_id': order.id,
            'view_mode': 'form',
        }

    def _montanes_create_renewal_orders(self):
        """Create one renewal quotation per original order for these licences, link it to
        them and schedule an activity for the salesperson.

        :return: the quotations created.
        """
        orders = self.env['sale.order']
        groups = self.grouped(lambda license_: (license_.order_id, license_.partner_id))
        for (origin, partner), licenses in groups.items():
            order = orders.create(licenses._montanes_prepare_renewal_order_vals(origin, partner))
            licenses.renewal_order_id = order
            order.message_post(body=self.env._(
                "Renewal of the licences %(licenses)s of order %(origin)s.",
                licenses=', '.join(licenses.mapped('name')), origin=origin.name or '-',
            ))
            order.activity_schedule(
                'mail.mail_activity_data_todo',
                date_deadline=min(licenses.mapped('date_end')),
                summary=self.env._("Renew the licences of %(partner)s", partner=partner.name),
                user_id=(origin.user_id or partner.user_id or self.env.user).id,
            )
            orders |= order
        return orders

    def _montanes_prepare_renewal_order_vals(self, origin, partner):
        """Return the values of the renewal quotation of these licences, which share the
        original order `origin` and the holder `partner`."""
        line_vals = []
        for product, licenses in self.grouped('product_id').items():
            renewal_product = product.montanes_license_renewal_product_id or product
            if product.montanes_license_kind == 'seats':
                quantity = sum(licenses.mapped('seats')) / max(
                    product.montanes_license_seats_per_unit, 1)
            else:
                quantity = len(licenses)
            line_vals.append(fields.Command.create({
                'product_id': renewal_product.id,
                'product_uom_qty': quantity,
            }))
        return {
            'partner_id': partner.id,
            'company_id': self.company_id[:1].id,
            'user_id': origin.user_id.id or partner.user_id.id or False,
            'origin': origin.name or False,
            'montanes_renewed_order_id': origin.id or False,
            'order_line': line_vals,
        }

    @api.model
    def montanes_compute_date_end(self, date_start, term_months):
        """Return the expiry date of a licence of `term_months` months: `date_start` plus the
        term, or False when perpetual."""
        if not term_months:
            return False
        return date_start + relativedelta(months=term_months)
