"""Time the confirmation of a licence order against Odoo doing the same work by hand.

Licence case: ``sale.order.action_confirm()`` on an order of LINES lines of one key each,
which reserves and delivers the keys, creates one licence per key, posts the invoice, e-mails
the keys and schedules the service activity. Baseline, measured in the same run: the same
order of an ordinary serial-tracked product, confirmed, its picking validated with one serial
per line, and its invoice created and posted with Odoo's own methods. The licence module is
installed for both cases, and its confirmation override only locks the order rows of the
baseline order.

    python3 bench/bench_license_confirm.py -d DATABASE [--lines 100] [--repeat 5]
"""

import sys

from odoo_bench import median_seconds, odoo_env, parse_args

# Order lines of the default run, one key each.
DEFAULT_LINES = 100


def make_product(env, name, prefix, licence, keys_in_stock):
    values = {
        "name": name,
        "default_code": prefix,
        "list_price": 1490.0,
        "is_storable": True,
        "tracking": "serial",
        "invoice_policy": "order",
    }
    if licence:
        values.update({
            "montanes_license_kind": "key",
            "montanes_license_term_months": 12,
            "montanes_key_prefix": f"{prefix}-",
        })
    product = env["product.product"].create(values)
    stock = env["stock.warehouse"].search([("company_id", "=", env.company.id)], limit=1).lot_stock_id
    lots = env["stock.lot"].create([{
        "name": f"{prefix}-{number:05d}-BENCH",
        "product_id": product.id,
        "company_id": env.company.id,
    } for number in range(keys_in_stock)])
    for lot in lots:
        env["stock.quant"]._update_available_quantity(product, stock, 1, lot_id=lot)
    return product


def make_order(env, partner, product, lines):
    return env["sale.order"].create({
        "partner_id": partner.id,
        "order_line": [
            (0, 0, {"product_id": product.id, "product_uom_qty": 1}) for _line in range(lines)
        ],
    })


def confirm_by_hand(order):
    """Do with Odoo's own methods what the licence module does on confirmation."""
    order.action_confirm()
    picking = order.picking_ids
    picking.action_assign()
    picking.move_ids.picked = True
    picking.with_context(skip_backorder=True, skip_sms=True).button_validate()
    order._create_invoices().action_post()


def main():
    lines = DEFAULT_LINES
    if "--lines" in sys.argv:
        position = sys.argv.index("--lines")
        lines = int(sys.argv[position + 1])
        del sys.argv[position:position + 2]
    args = parse_args(__doc__.splitlines()[0])
    with odoo_env(args) as env:
        partner = env["res.partner"].create({
            "name": "Cliente de prueba de rendimiento",
            "email": "rendimiento@cliente.example",
        })
        licence = make_product(env, "Licencia de prueba", "BENCHLIC", True, lines)
        plain = make_product(env, "Producto con número de serie", "BENCHSER", False, lines)

        licence_seconds = median_seconds(
            env, lambda: make_order(env, partner, licence, lines).action_confirm(), args.repeat)
        plain_seconds = median_seconds(
            env, lambda: confirm_by_hand(make_order(env, partner, plain, lines)), args.repeat)

        print(f"licence order, {lines} keys, action_confirm:      {licence_seconds * 1000:8.1f} ms")
        print(f"serial order, {lines} serials, confirm by hand:   {plain_seconds * 1000:8.1f} ms")
        print(f"ratio licence / by hand:                      {licence_seconds / plain_seconds:8.2f}")


if __name__ == "__main__":
    main()
