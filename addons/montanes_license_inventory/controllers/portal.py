import csv
import io

from odoo import http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.portal.controllers.portal import CustomerPortal



class MontanesLicensePortal(CustomerPortal):

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if 'montanes_license_count' in counters:
            License = request.env['montanes.license']
            values['montanes_license_count'] = (
                License.search_count(self._montanes_get_license_domain())
                if License.has_access('read') else 0
            )
        return values

    def _montanes_get_license_domain(self):
        partner = request.env.user.partner_id
        return [('partner_id', 'child_of', [partner.commercial_partner_id.id])]

    def _montanes_get_licenses(self):
        License = request.env['montanes.license']
        if not License.has_access('read'):
            return License
        return License.search(self._montanes_get_license_domain(), order='date_end, id')

    @http.route('/my/licenses', type='http', auth='user', methods=['GET'], website=True)
    def portal_my_licenses(self, **kwargs):
        return self._montanes_render_licenses()

    @http.route(
        '/my/licenses/<int:license_id>/reveal', type='http', auth='user', methods=['POST'],
        website=True,
    )
    def portal_my_license_reveal(self, license_id, **kwargs):
        """Show the key of one licence of the user, and log the reveal."""
        License = request.env['montanes.license']
        license_ = License.browse(license_id)
        try:
            license_.check_access('read')
            key = license_.montanes_reveal_key(channel='portal')
        except (AccessError, MissingError):
            return request.redirect('/my/licenses')
        return self._montanes_render_licenses(revealed_keys={license_.id: key})

    @http.route('/my/licenses/csv', type='http', auth='user', methods=['GET'])
    def portal_my_licenses_csv(self, **kwargs):
        """Download the user's licences as CSV, keys masked: each key is revealed on its own."""
        output = io.StringIO()
        writer = csv.writer(output, delimiter=';')
        env = request.env
        writer.writerow([
            env._("Reference"), env._("Product"), env._("Key"), env._("Seats"),
            env._("Start Date"), env._("End Date"), env._("Status"), env._("Invoice"),
        ])
        states = dict(env['montanes.license']._fields['state']._description_selection(env))
        for license_ in self._montanes_get_licenses():
            writer.writerow([
                license_.name,
                license_.sudo().product_id.display_name,
                license_.montanes_key_masked or '',
                license_.seats,
                license_.date_start.isoformat(),
                license_.date_end.isoformat() if license_.date_end else '',
                states.get(license_.state, license_.state),
                license_.sudo().invoice_id.name or '',
            ])
        content = '\ufeff' + output.getvalue()
        return request.make_response(content.encode('utf-8'), headers=[
            ('Content-Type', 'text/csv; charset=utf-8'),
            ('Content-Disposition', 'attachment; filename="licencias.csv"'),
        ])

    def _montanes_render_licenses(self, revealed_keys=None):
        values = self._prepare_portal_layout_values()
        licenses = self._montanes_get_licenses()
        values.update({
            'licenses': licenses,
            'revealed_keys': revealed_keys or {},
            'page_name': 'montanes_licenses',
        })
        return request.render('montanes_license_inventory.portal_my_licenses', values)
