from odoo import Command
from odoo.tests import tagged

from .common import MontanesLicenseCommon

HEADER = "Referencia producto;Clave;Fecha límite de activación;Observaciones\r\n"
# Lines of the small and the large order whose query counts are compared.
SMALL_ORDER_LINES = 2
LARGE_ORDER_LINES = 12
# Maximum SQL queries that each additional key line may add to a confirmation: 7.2 measured on
# Odoo 19.0 (367 queries for 2 lines, 439 for 12), plus a margin for Odoo's own changes.
MAX_QUERIES_PER_LINE = 9


@tagged('post_install', '-at_install')
class TestConfirmQueryCount(MontanesLicenseCommon):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rows = ''.join(
            f"MS-ERP-PRO-1Y;MSERP-PERF0-{index:05d}-AAAAA-AAAAA;;\r\n"
            for index in range(SMALL_ORDER_LINES + LARGE_ORDER_LINES)
        )
        cls._import_keys(HEADER + rows)

    def _confirm_query_count(self, line_count):
        order = self.env['sale.order'].create({
            'partner_id': self.customer.id,
            'company_id': self.company.id,
            'order_line': [Command.create({
                'product_id': self.product_erp.id,
                'product_uom_qty': 1,
                'price_unit': 1490.0,
                'tax_ids': [Command.set(self.tax_21.ids)],
            }) for _line in range(line_count)],
        })
        self.env.flush_all()
        self.env.invalidate_all()
        start = self.env.cr.sql_log_count
        order.action_confirm()
        self.env.flush_all()
        count = self.env.cr.sql_log_count - start
        self.assertEqual(len(order.montanes_license_ids), line_count)
        return count

    def test_queries_per_additional_line(self):
        small = self._confirm_query_count(SMALL_ORDER_LINES)
        large = self._confirm_query_count(LARGE_ORDER_LINES)
        per_line = (large - small) / (LARGE_ORDER_LINES - SMALL_ORDER_LINES)
        self.assertLessEqual(per_line, MAX_QUERIES_PER_LINE)
