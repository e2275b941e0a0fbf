import email
import email.policy
import socket
import threading
from contextlib import contextmanager

from aiosmtpd.controller import Controller

from odoo import api, SUPERUSER_ID
from odoo.addons.base.models.ir_mail_server import IrMail_Server
from odoo.fields import Command
from odoo.tests import TransactionCase


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

    def recipients(self):
        with self.lock:
            return [rcpt for rcpts, _message in self.messages for rcpt in rcpts]

    def html_for(self, address):
        """Return the HTML body of each message sent to address."""
        with self.lock:
            found = [message for rcpts, message in self.messages if address in rcpts]
        return [message.get_body(preferencelist=("html",)).get_content() for message in found]


class CampaignEngineCommon(TransactionCase):
    """Small campaigns built in each test, on leads of their own tag."""

    # Turn the weekly cap off in the test transaction. Classes that write the
    # company on committing cursors keep it on: the test transaction would
    # hold the company row locked.
    disable_weekly_cap = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True, mail_create_nolog=True))
        cls.tag = cls.env["crm.tag"].create({"name": "Motor de campañas (pruebas)"})
        cls.stage_new = cls.env["crm.stage"].create({"name": "Nuevo (motor)", "sequence": 0})
        cls.stage_other = cls.env["crm.stage"].create({"name": "Otro (motor)", "sequence": 1})
        cls.tag_opened = cls.env["crm.tag"].create({"name": "Abrió (pruebas)"})
        cls.tag_not_opened = cls.env["crm.tag"].create({"name": "No abrió (pruebas)"})
        if cls.disable_weekly_cap:
            cls.env.company.montanes_campaign_weekly_cap = 0

    @classmethod
    def _create_leads(cls, env, count, prefix="cliente", **extra):
        """Create count leads in the segment. With a partner_id and no
        email_from, the leads take the partner's e-mail as Odoo computes it."""
        vals_list = []
        for index in range(count):
            vals = {
                "name": f"Empresa {prefix} {index}",
                "contact_name": f"Contacto {prefix} {index}",
                "email_from": f"{prefix}{index}@motor.example",
                "type": "lead",
                "stage_id": cls.stage_new.id,
                "tag_ids": [Command.link(cls.tag.id)],
                **extra,
            }
            if "partner_id" in extra and "email_from" not in extra:
                del vals["email_from"]
            vals_list.append(vals)
        return env["crm.lead"].create(vals_list)

    @classmethod
    def _create_campaign(cls, env, steps=None, **values):
        """Create a campaign on the test tag with one e-mail root step, or
        the given step values (created in order, without parents)."""
        steps = steps or [{
            "name": "Hola",
            "subject": "Hola {{ object.contact_name }}",
            "body_html": '<p>Hola <t t-out="object.contact_name"/>, '
                         '<a href="https://montanessoluciones.example/demo">mira la demo</a>.</p>',
        }]
        return env["montanes.campaign"].create({
            "name": values.pop("name", "Motor (pruebas)"),
            "segment_domain": repr([("tag_ids", "in", [cls.tag.id]), ("stage_id", "=", cls.stage_new.id)]),
            "step_ids": [Command.create({"sequence": index, "delay_value": 0, **step})
                         for index, step in enumerate(steps)],
            **values,
        })

    def _mails_of(self, campaign):
        mailings = campaign.step_ids.mailing_id | campaign.step_ids.mailing_b_id
        return self.env["mail.mail"].search([("mailing_id", "in", mailings.ids)])

    @contextmanager
    def _real_env(self):
        """Yield a superuser environment on a new cursor that commits, for
        tests that need commits or two workers."""
        with self.registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True, "mail_create_nolog": True})

    def _start_smtp(self):
        """Start an SMTP server on loopback that receives what Odoo sends."""
        inbox = SmtpInbox()
        port = free_port()
        controller = Controller(inbox, hostname="127.0.0.1", port=port)
        controller.start()
        self.addCleanup(controller.stop)
        self.env["ir.mail_server"].create({
            "name": "SMTP de pruebas (loopback)",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_encryption": "none",
            "sequence": 0,
        })
        # Odoo never talks to SMTP while a test runs; these tests send for
        # real, on loopback.
        self.patch(IrMail_Server, "_disable_send", classmethod(lambda cls: False))
        return inbox
