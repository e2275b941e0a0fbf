"""Time the sales spreadsheet import wizard against Odoo's plain import of the same rows.

Wizard case: ``montanes.lead.import`` on hoja_comercial_leads.csv (1,300 rows), analysis
with duplicate detection, then the import. Baseline, measured in the same run:
``base_import.import.execute_import`` of the same file into crm.lead, its columns mapped
one to one onto lead fields, with no normalisation and no duplicate detection. Both run
with the wizard's mail context (no creation message, no tracking, no assignment e-mail),
so the ratio measures the wizard's own work. Each run is rolled back.

    python3 bench/bench_lead_import.py -d DATABASE [--repeat 3]
"""

import base64

from odoo_bench import SHARED_DATA, median_seconds, odoo_env, parse_args

CSV_PATH = SHARED_DATA / "hoja_comercial_leads.csv"

# Baseline mapping of the spreadsheet columns, in file order; False leaves a column out.
# Province, sector, source, status and salesperson need the wizard's matching, and
# "Último contacto" mixes two date formats that the plain import rejects.
PLAIN_FIELDS = [
    "montanes_date_registered", "name", "montanes_vat", "contact_name", "function",
    "email_from", "phone", False, False, "montanes_employee_text", "montanes_product_interest",
    False, False, False, False, "description", "expected_revenue",
]
PLAIN_OPTIONS = {
    "quoting": '"',
    "separator": ";",
    "encoding": "windows-1252",
    "has_headers": True,
    "date_format": "%d/%m/%Y",
    "float_thousand_separator": ".",
    "float_decimal_separator": ",",
    "fallback_values": {},
    "name_create_enabled_fields": {},
    "import_set_empty_fields": [],
    "import_skip_records": [],
    "skip": 0,
}


def main():
    args = parse_args(__doc__)
    content = CSV_PATH.read_bytes()
    with odoo_env(args) as env:
        from odoo.addons.montanes_lead_scoring.wizards.montanes_lead_import import IMPORT_CONTEXT  # noqa: PLC0415

        env = env(context=dict(env.context, **IMPORT_CONTEXT))
        env["crm.lead"].with_context(active_test=False).search([]).unlink()
        plain_counts = {}
        wizard_counts = {}

        def run_plain():
            importer = env["base_import.import"].create({
                "res_model": "crm.lead", "file": content, "file_name": CSV_PATH.name,
            })
            result = importer.execute_import(PLAIN_FIELDS, [], dict(PLAIN_OPTIONS))
            errors = [message for message in result.get("messages", []) if message.get("type") == "error"]
            if errors:
                raise RuntimeError(f"plain import failed: {errors[:3]}")
            plain_counts["created"] = len(result["ids"])

        def run_wizard():
            wizard = env["montanes.lead.import"].create({
                "file": base64.b64encode(content), "file_name": CSV_PATH.name,
            })
            wizard.action_analyze()
            wizard.action_import()
            wizard_counts.update(created=wizard.created_count, merged=wizard.merged_count,
                                 errors=wizard.error_count)

        plain_seconds = median_seconds(env, run_plain, args.repeat)
        wizard_seconds = median_seconds(env, run_wizard, args.repeat)

    print(f"rows: 1300 ({CSV_PATH.name}), median of {args.repeat} runs each")
    print(f"plain execute_import: {plain_seconds:.2f} s, {plain_counts}")
    print(f"wizard analyse+import: {wizard_seconds:.2f} s, {wizard_counts}")
    print(f"ratio wizard / plain: {wizard_seconds / plain_seconds:.2f} (target <= 3.00)")


if __name__ == "__main__":
    main()
