"""Time the confirmation of a 2-key licence order against Odoo doing the same work by hand.

Licence case: ``sale.order.action_confirm()`` on an order of 2 × a key licence product, which
reserves and delivers two keys, creates two licences, posts the invoice and schedules the
service activity. Baseline, measured in the same run: the same order of an ordinary
serial-tracked product, confirmed, its picking validated with two serials, and its invoice
created and posted with Odoo's own methods.

    python3 bench/bench_license_confirm.py -d DATABASE [--repeat 5]
"""

from odoo_bench import median_seconds, odoo_env, parse_args

KEYS_IN_STOCK = 20


def make_product(env, name, prefix, licence):
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
    for number in range(KEYS_IN_STOCK):
        lot = env["stock.lot"].create({
            "name": f"{prefix}-{number:05d}-BENCH",
            "product_id": product.id,
            "company_id": env.company.id,
        })
        env["stock.quant"]._update_available_quantity(product, stock, 1, lot_id=lot)
    return product


def make_order(env, partner, product):
    return env["sale.order"].create({
        "partner_id": partner.id,
        "order_line": [(0, 0, {"product_id": product.id, "product_uom_qty": 2})],
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
    args = parse_args(__doc__.splitlines()[0])
    with odoo_env(args) as env:
        partner = env["res.partner"].create({"name": "Cliente de prueba de rendimiento"})
        licence = make_product(env, "Licencia de prueba", "BENCHLIC", licence=True)
        plain = make_product(env, "Producto con número de serie", "BENCHSER", licence=False)

        licence_seconds = median_seconds(
            env, lambda: make_order(env, partner, licence).action_confirm(), args.repeat)
        plain_seconds = median_seconds(
            env, lambda: confirm_by_hand(make_order(env, partner, plain)), args.repeat)

        print(f"licence order, 2 keys, action_confirm:        {licence_seconds * 1000:8.1f} ms")
        print(f"serial order, 2 serials, confirm by hand:     {plain_seconds * 1000:8.1f} ms")
        print(f"ratio licence / by hand:                      {licence_seconds / plain_seconds:8.2f}")


if __name__ == "__main__":
    main()
