"""End-to-end sales journey on the team's own files, through Odoo's HTTP server.

The journey imports the spreadsheet, and a campaign mails its first step to a segment. The
messages reach a real SMTP server on loopback. Opening the pixel and a tracked link of a
received message raises the lead's score. The lead becomes an opportunity with a quotation for
2 × MS-ERP-PRO-1Y, and confirming it posts the invoice with IVA 21 %, delivers two keys,
records two licences and warns the service team. Last, an order placed when no key is left
fails and leaves nothing behind.

Every business step is an RPC call of the logged-in user on the HTTP server, and the test and
the server share the test transaction. The cron jobs and the mail queue, which no user calls,
run in the test's own environment.
"""

import base64
import csv
import email
import email.policy
import re
import socket
import threading
from pathlib import Path

from aiosmtpd.controller import Controller
from dateutil.relativedelta import relativedelta

from odoo import fields
from odoo.addons.base.models.ir_mail_server import IrMail_Server
from odoo.tests import HttpCase, tagged

REPO = Path(__file__).resolve().parent.parent
MODULES = ["montanes_lead_scoring", "montanes_campaigns", "montanes_license_inventory"]

# The segment: the three companies of the spreadsheet named "Carpintería Montaña …", each with
# its own e-mail address; the journey follows the first one.
TARGET_EMAIL = "aortega@carpinteriamontana.example"
# Lead scoring counts pixel loads and clicks from HTTP libraries as machines.
BROWSER_HEADERS = {"User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}
SEGMENT_DOMAIN = "[('partner_name', 'ilike', 'Carpintería Montaña')]"


def shared_data_dir():
    """Return the folder of the sales team's files (next to the repository, or from the env)."""
    import os

    configured = os.environ.get("MONTANES_SHARED_DATA")
    return Path(configured) if configured else REPO.parent / "shared" / "data"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpInbox:
    """aiosmtpd handler that keeps every received message, parsed."""

    def __init__(self):
        self.messages = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"

    def html_for(self, address):
        """Return the HTML body of each message sent to ``address``."""
        with self.lock:
            found = [msg for rcpts, msg in self.messages if address in rcpts]
        return [msg.get_body(preferencelist=("html",)).get_content() for msg in found]


class JsonRpcError(Exception):
    """Error returned by the server for a JSON-RPC call, with its user-facing message."""

    def __init__(self, name, message):
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@tagged("post_install", "-at_install")
class TestSalesJourney(HttpCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.data_dir = shared_data_dir()
        if not (cls.data_dir / "hoja_comercial_leads.csv").is_file():
            cls.skipTest(cls, f"the sales team's files are missing from {cls.data_dir}")

        # Spanish users: the error messages asserted below are the translated ones.
        cls.env["res.lang"]._activate_lang("es_ES")
        cls.env["ir.module.module"].search([("name", "in", MODULES)])._load_module_terms(
            MODULES, ["es_ES"], overwrite=True,
        )

        # The company of the real installation: Spanish chart of accounts, EUR, IVA 21 %.
        # A database with demo data already has it: the demo renames the main company.
        cls.company = cls.env["res.company"].search([("name", "=", "MontañésSoluciones S.L.")])
        if not cls.company:
            cls.company = cls.env["res.company"].create({
                "name": "MontañésSoluciones S.L.",
                "country_id": cls.env.ref("base.es").id,
                "currency_id": cls.env.ref("base.EUR").id,
            })
        if cls.company.chart_template != "es_pymes":
            cls.env["account.chart.template"].try_loading("es_pymes", cls.company, install_demo=False)
        cls.admin = cls.env.ref("base.user_admin")
        cls.admin.write({
            "company_ids": [(4, cls.company.id)],
            "company_id": cls.company.id,
            "lang": "es_ES",
            "tz": "Europe/Madrid",
        })
        cls.env = cls.env(context=dict(cls.env.context, allowed_company_ids=[cls.company.id]))
        cls.service_user = cls.env["res.users"].create({
            "name": "Andrés Gil",
            "login": "andres.gil.e2e",
            "email": "andres.gil@montanessoluciones.example",
            "company_id": cls.company.id,
            "company_ids": [(6, 0, [cls.company.id])],
            "group_ids": [(6, 0, [
                cls.env.ref("base.group_user").id,
                cls.env.ref("montanes_license_inventory.montanes_license_inventory_group_service").id,
            ])],
        })
        cls.company.montanes_license_service_user_id = cls.service_user

        # The catalogue row of the product sold, as the team keeps it.
        with open(cls.data_dir / "catalogo_productos.csv", encoding="utf-8") as handle:
            catalogue = {row["Referencia"]: row for row in csv.DictReader(handle, delimiter=";")}
        erp = catalogue["MS-ERP-PRO-1Y"]
        cls.tax_21 = cls.env["account.tax"].search([
            ("company_id", "=", cls.company.id),
            ("type_tax_use", "=", "sale"),
            ("amount", "=", 21.0),
            ("amount_type", "=", "percent"),
        ], limit=1)
        # Demo data already has the catalogue's product; otherwise create it from the row.
        cls.product = cls.env["product.product"].search([("default_code", "=", "MS-ERP-PRO-1Y")])
        if cls.product:
            cls.product.taxes_id = cls.tax_21
        else:
            cls.product = cls.env["product.product"].create({
                "name": erp["Nombre"],
                "default_code": "MS-ERP-PRO-1Y",
                "list_price": float(erp["Precio sin IVA (EUR)"].replace(".", "").replace(",", ".")),
                "montanes_license_kind": "key",
                "montanes_license_term_months": int(erp["Duración (meses)"]),
                "montanes_key_prefix": "MSERP-",
                "taxes_id": [(6, 0, cls.tax_21.ids)],
            })

        # A real SMTP server on loopback receives what Odoo sends.
        cls.inbox = SmtpInbox()
        cls.smtp_port = free_port()
        cls.smtp = Controller(cls.inbox, hostname="127.0.0.1", port=cls.smtp_port)
        cls.smtp.start()
        cls.addClassCleanup(cls.smtp.stop)
        cls.env["ir.mail_server"].create({
            "name": "SMTP de pruebas (loopback)",
            "smtp_host": "127.0.0.1",
            "smtp_port": cls.smtp_port,
            "smtp_encryption": "none",
            "sequence": 1,
        })

    def setUp(self):
        super().setUp()
        # Odoo never talks to SMTP while a test runs; this journey sends for real, on loopback.
        self.patch(IrMail_Server, "_disable_send", classmethod(lambda cls: False))
        self.authenticate("admin", "admin")

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------

    def call(self, model, method, *args, **kwargs):
        """Call ``model.method`` as the logged-in user through /web/dataset/call_kw."""
        context = {"lang": "es_ES", "tz": "Europe/Madrid", "allowed_company_ids": [self.company.id]}
        context.update(kwargs.pop("context", {}))
        response = self.opener.post(
            f"{self.base_url()}/web/dataset/call_kw/{model}/{method}",
            json={"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                "model": model, "method": method, "args": list(args),
                "kwargs": dict(kwargs, context=context),
            }},
            timeout=120,
        )
        response.raise_for_status()
        payload = response.json()
        if "error" in payload:
            data = payload["error"]["data"]
            raise JsonRpcError(data["name"], data["message"])
        return payload.get("result")

    def run_campaign_cron(self):
        """Run the campaign cron and the mail queue, as the cron workers would."""
        self.env["montanes.campaign"]._cron_process()
        self.env["mail.mail"].sudo().process_email_queue()

    def lead_score(self, lead_id):
        [values] = self.call("crm.lead", "read", [lead_id], ["montanes_score"])
        return values["montanes_score"]

    def behaviour_points(self, event_type):
        rules = self.env["montanes.scoring.rule"].search([
            ("rule_type", "=", "behaviour"), ("event_type", "=", event_type),
        ])
        return sum(rules.mapped("points"))

    # ------------------------------------------------------------------
    # The journey
    # ------------------------------------------------------------------

    def test_sales_journey(self):
        lead_id = self._step_import_spreadsheet()
        self._step_campaign_and_tracking(lead_id)
        order_id = self._step_opportunity_and_quotation(lead_id)
        self._step_confirm_order(order_id)
        self._step_shortage()

    def _step_import_spreadsheet(self):
        content = (self.data_dir / "hoja_comercial_leads.csv").read_bytes()
        wizard_id = self.call("montanes.lead.import", "create", {
            "file": base64.b64encode(content).decode(),
            "file_name": "hoja_comercial_leads.csv",
        })
        self.call("montanes.lead.import", "action_analyze", [wizard_id])
        self.call("montanes.lead.import", "action_import", [wizard_id])
        wizard = self.env["montanes.lead.import"].browse(wizard_id)
        non_blank_rows = sum(
            1 for row in content.decode("cp1252").splitlines()[1:] if row.strip(";\r\n ")
        )
        self.assertEqual(
            wizard.created_count + wizard.merged_count + wizard.skipped_count + wizard.error_count,
            non_blank_rows,
            "every non-blank row of the spreadsheet is created, merged, skipped or reported",
        )
        self.assertGreater(wizard.created_count, 1000)
        rejected = wizard.line_ids.filtered(lambda line: line.status == "error")
        self.assertTrue(all(rejected.mapped("reason")), "each rejected row says why")

        leads = self.env["crm.lead"].search([("email_from", "=ilike", TARGET_EMAIL)])
        self.assertEqual(len(leads), 1, "the target row becomes exactly one lead")
        self.assertEqual(leads.state_id, self.env.ref("base.state_es_na"))

        # Importing the same file again creates nothing new.
        lead_total = self.env["crm.lead"].with_context(active_test=False).search_count([])
        again_id = self.call("montanes.lead.import", "create", {
            "file": base64.b64encode(content).decode(),
            "file_name": "hoja_comercial_leads.csv",
        })
        self.call("montanes.lead.import", "action_analyze", [again_id])
        self.call("montanes.lead.import", "action_import", [again_id])
        self.assertEqual(self.env["montanes.lead.import"].browse(again_id).created_count, 0)
        self.assertEqual(
            self.env["crm.lead"].with_context(active_test=False).search_count([]), lead_total,
        )
        return leads.id

    def _step_campaign_and_tracking(self, lead_id):
        segment = self.env["crm.lead"].search(eval(SEGMENT_DOMAIN))  # noqa: S307 - literal above
        self.assertIn(lead_id, segment.ids)
        campaign_id = self.call("montanes.campaign", "create", {
            "name": "Bienvenida Carpintería Montaña",
            "segment_domain": SEGMENT_DOMAIN,
            "step_ids": [
                (0, 0, {
                    "sequence": 1,
                    "name": "Primer contacto",
                    "subject": "Gracias por tu interés, {{ object.contact_name }}",
                    "body_html": "<p>Hola {{ object.contact_name }},</p>"
                                 "<p>Mira la <a href='https://montanessoluciones.example/demo'>"
                                 "demo de Montañés ERP</a>.</p>",
                    "delay_value": 0,
                    "delay_unit": "days",
                }),
                (0, 0, {
                    "sequence": 2,
                    "name": "Seguimiento",
                    "subject": "¿Hablamos?",
                    "body_html": "<p>¿Te llamamos esta semana?</p>",
                    "delay_value": 2,
                    "delay_unit": "days",
                }),
            ],
        })
        self.call("montanes.campaign", "action_launch", [campaign_id])
        campaign = self.env["montanes.campaign"].browse(campaign_id)
        participants = campaign.participant_ids
        self.assertIn(lead_id, participants.lead_id.ids)
        self.assertEqual(len(participants), 3)

        self.run_campaign_cron()
        first_step, second_step = campaign.step_ids.sorted("sequence")
        self.assertEqual(first_step.sent_count, len(participants))
        self.assertEqual(second_step.sent_count, 0, "the second step waits two days")

        bodies = self.inbox.html_for(TARGET_EMAIL)
        self.assertEqual(len(bodies), 1, "the lead receives the first e-mail once")
        body = bodies[0]
        pixel = re.search(r"/mail/track/\d+/[\w-]+/blank\.gif", body)
        link = re.search(r"/r/[\w-]+/m/\d+\?montanes_sig=[\w-]+", body)
        self.assertTrue(pixel, "the received e-mail carries the open pixel")
        self.assertTrue(link, "the received e-mail carries a tracked link")

        # The contact reads the e-mail an hour later: hits within seconds of sending count
        # as security scanners and score nothing.
        self.env["mailing.trace"].search([("mass_mailing_id", "=", first_step.mailing_id.id)]).write({
            "sent_datetime": fields.Datetime.now() - relativedelta(hours=1),
        })
        score_before = self.lead_score(lead_id)
        opened = self.url_open(pixel.group(0), headers=BROWSER_HEADERS)
        self.assertEqual(opened.status_code, 200)
        score_opened = self.lead_score(lead_id)
        self.assertEqual(score_opened - score_before, self.behaviour_points("email_open"))

        clicked = self.url_open(link.group(0), allow_redirects=False, headers=BROWSER_HEADERS)
        self.assertIn(clicked.status_code, (301, 302, 303))
        target = clicked.headers["Location"]
        self.assertTrue(target.startswith("https://montanessoluciones.example/demo?"), target)
        self.assertIn("utm_campaign=Bienvenida+Carpinter", target, "the click keeps UTM attribution")
        score_clicked = self.lead_score(lead_id)
        self.assertEqual(score_clicked - score_opened, self.behaviour_points("email_click"))

        # A second open of the same e-mail scores nothing more.
        self.url_open(pixel.group(0), headers=BROWSER_HEADERS)
        self.assertEqual(self.lead_score(lead_id), score_clicked)

        first_step.invalidate_recordset()
        self.assertEqual(first_step.opened_count, 1)
        self.assertEqual(first_step.clicked_count, 1)

    def _step_opportunity_and_quotation(self, lead_id):
        wizard_id = self.call(
            "crm.lead2opportunity.partner", "create", {"name": "convert", "action": "create"},
            context={"active_model": "crm.lead", "active_id": lead_id, "active_ids": [lead_id]},
        )
        self.call(
            "crm.lead2opportunity.partner", "action_apply", [wizard_id],
            context={"active_model": "crm.lead", "active_id": lead_id, "active_ids": [lead_id]},
        )
        lead = self.env["crm.lead"].browse(lead_id)
        self.assertEqual(lead.type, "opportunity")
        self.assertTrue(lead.partner_id, "converting the lead creates its customer")

        # Keys from the vendor's batch enter the stock.
        keys_file = (self.data_dir / "claves_licencias_proveedor.csv").read_bytes()
        key_wizard_id = self.call("montanes.license.key.import", "create", {
            "file": base64.b64encode(keys_file).decode(),
            "file_name": "claves_licencias_proveedor.csv",
        })
        self.call("montanes.license.key.import", "action_import", [key_wizard_id])
        self.assertGreaterEqual(self._keys_in_stock(), 2)

        return self.call("sale.order", "create", {
            "partner_id": lead.partner_id.id,
            "opportunity_id": lead_id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 2})],
        })

    def _keys_in_stock(self):
        quants = self.env["stock.quant"].search([
            ("product_id", "=", self.product.id),
            ("location_id.usage", "=", "internal"),
            ("quantity", ">", 0),
        ])
        return int(sum(quants.mapped("quantity")) - sum(quants.mapped("reserved_quantity")))

    def _step_confirm_order(self, order_id):
        self.call("sale.order", "action_confirm", [order_id])
        order = self.env["sale.order"].browse(order_id)
        self.assertEqual(order.state, "sale")

        invoice = order.invoice_ids
        self.assertEqual(len(invoice), 1)
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(invoice.currency_id, self.env.ref("base.EUR"))
        self.assertEqual(invoice.amount_untaxed, 2980.00)
        self.assertEqual(invoice.amount_tax, 625.80)
        self.assertEqual(invoice.amount_total, 3605.80)
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.tax_21)

        licences = order.montanes_license_ids
        self.assertEqual(len(licences), 2)
        keys = licences.lot_id
        self.assertEqual(len(keys), 2, "two distinct keys")
        customer_quants = self.env["stock.quant"].search([
            ("lot_id", "in", keys.ids), ("quantity", ">", 0),
        ])
        self.assertEqual(set(customer_quants.location_id.mapped("usage")), {"customer"})
        # The salesperson confirmed in Madrid time: near midnight UTC that is already the next day.
        today = fields.Date.context_today(licences[0].with_context(tz="Europe/Madrid"))
        for licence in licences:
            self.assertEqual(licence.partner_id, order.partner_id)
            self.assertEqual(licence.product_id, self.product)
            self.assertEqual(licence.date_start, today)
            self.assertEqual(licence.date_end, today + relativedelta(months=12))

        activities = self.env["mail.activity"].search([
            ("res_model", "=", "sale.order"), ("res_id", "=", order_id),
            ("user_id", "=", self.service_user.id),
        ])
        self.assertEqual(len(activities), 1, "the service team gets one activity")

    def _step_shortage(self):
        partner_id = self.call("res.partner", "create", {
            "name": "Talleres Puerto S.L.", "is_company": True,
        })
        # Another customer takes every key still in stock.
        remaining = self._keys_in_stock()
        if remaining:
            bulk_id = self.call("sale.order", "create", {
                "partner_id": partner_id,
                "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": remaining})],
            })
            self.call("sale.order", "action_confirm", [bulk_id])
        self.assertEqual(self._keys_in_stock(), 0)

        order_id = self.call("sale.order", "create", {
            "partner_id": partner_id,
            "order_line": [(0, 0, {"product_id": self.product.id, "product_uom_qty": 1})],
        })
        moves_before = self.env["stock.move"].search_count([])
        invoices_before = self.env["account.move"].search_count([])
        licences_before = self.env["montanes.license"].search_count([])
        with self.assertRaises(JsonRpcError) as caught:
            self.call("sale.order", "action_confirm", [order_id])
        message = caught.exception.message
        self.assertEqual(caught.exception.name, "odoo.exceptions.UserError")
        self.assertIn("MS-ERP-PRO-1Y", message)
        self.assertIn("faltan 1", message)

        self.env.invalidate_all()
        order = self.env["sale.order"].browse(order_id)
        self.assertEqual(order.state, "draft")
        self.assertFalse(order.invoice_ids)
        self.assertEqual(self.env["stock.move"].search_count([]), moves_before)
        self.assertEqual(self.env["account.move"].search_count([]), invoices_before)
        self.assertEqual(self.env["montanes.license"].search_count([]), licences_before)
