import csv
import os
import unittest
from pathlib import Path

from odoo.fields import Command
from odoo.addons.mail.tests.common import MailCase
from odoo.tests import new_test_user

# Rows of the sales spreadsheet used as the campaign segment. The first 40
# rows contain two leads entered twice with other spellings of the same
# e-mail address, and rows 135 to 145 contain five unusable e-mail cells.
SEGMENT_ROW_SLICES = (slice(0, 40), slice(135, 146))
# Rows loaded in another stage, outside the segment.
OTHER_STAGE_ROW_SLICE = slice(40, 50)


def get_shared_data_dir():
    """Return the folder of the shared input files: MONTANES_SHARED_DATA, or
    shared/data next to the repository clone."""
    if os.environ.get("MONTANES_SHARED_DATA"):
        return Path(os.environ["MONTANES_SHARED_DATA"])
    repo_root = Path(__file__).resolve().parents[3]
    return repo_root.parent / "shared" / "data"


def read_spreadsheet_rows():
    """Return the non-blank rows of the sales spreadsheet as dicts keyed by
    the Spanish headers (Windows-1252, semicolon separated)."""
    path = get_shared_data_dir() / "hoja_comercial_leads.csv"
    if not path.is_file():
        raise unittest.SkipTest(f"Shared input file not found: {path}")
    with path.open(encoding="cp1252", newline="") as csv_file:
        rows = list(csv.DictReader(csv_file, delimiter=";"))
    return [row for row in rows if any((value or "").strip() for value in row.values())]


class MontanesCampaignsCommon(MailCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env = cls.env(context=dict(cls.env.context, tracking_disable=True))
        rows = read_spreadsheet_rows()

        cls.user_marketing = new_test_user(
            cls.env,
            login="hb_marketing",
            name="Lucía Marketing",
            email="lucia.marketing@montanessoluciones.example",
            groups="base.group_user,mass_mailing.group_mass_mailing_user",
        )
        cls.user_salesman = new_test_user(
            cls.env,
            login="hb_salesman",
            name="Jorge Comercial",
            email="jorge.comercial@montanessoluciones.example",
            signature="Jorge Comercial - MontañésSoluciones",
            groups="base.group_user,sales_team.group_sale_salesman",
        )

        # Own stages and tag, so that demo leads never match the segment.
        cls.stage_new = cls.env["crm.stage"].create({"name": "Nuevo (pruebas)", "sequence": 0})
        cls.stage_other = cls.env["crm.stage"].create({"name": "Contactado (pruebas)", "sequence": 1})
        cls.tag = cls.env["crm.tag"].create({"name": "Hoja comercial (pruebas)"})

        segment_rows = [row for row_slice in SEGMENT_ROW_SLICES for row in rows[row_slice]]
        cls.segment_leads = cls._create_leads(segment_rows, cls.stage_new)
        cls.other_leads = cls._create_leads(rows[OTHER_STAGE_ROW_SLICE], cls.stage_other)

        cls.campaign = cls.env["montanes.campaign"].create({
            "name": "Bienvenida (pruebas)",
            "user_id": cls.user_marketing.id,
            "segment_domain": repr([
                ("tag_ids", "in", [cls.tag.id]),
                ("stage_id", "=", cls.stage_new.id),
            ]),
            "step_ids": [
                Command.create({
                    "sequence": 1,
                    "name": "Gracias por tu interés",
                    "subject": "Gracias por tu interés, {{ object.contact_name }}",
                    "body_html": '<p>Hola <t t-out="object.contact_name"/>, gracias por escribirnos.</p>',
                    "delay_value": 0,
                    "delay_unit": "days",
                }),
                Command.create({
                    "sequence": 2,
                    "name": "¿Hablamos?",
                    "subject": "¿Hablamos?",
                    "body_html": "<p>Hola {{ object.contact_name }}, ¿te llamamos esta semana?</p>"
                                 '<p><a href="https://montanessoluciones.example/{{ object.id }}">Demo</a></p>',
                    "delay_value": 3,
                    "delay_unit": "days",
                }),
            ],
        })
        cls.step_first, cls.step_second = cls.campaign.step_ids
        cls.step_second.parent_id = cls.step_first

    @classmethod
    def _create_leads(cls, rows, stage):
        return cls.env["crm.lead"].create([
            {
                "name": row["Empresa"],
                "partner_name": row["Empresa"],
                "contact_name": row["Contacto"],
                "email_from": row["Email"],
                "type": "lead",
                "stage_id": stage.id,
                "tag_ids": [cls.tag.id],
                "user_id": cls.user_salesman.id,
            }
            for row in rows
        ])
