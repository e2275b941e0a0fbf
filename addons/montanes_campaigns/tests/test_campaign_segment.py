from odoo.exceptions import ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import MontanesCampaignsCommon

# Filters on the login history of the salesperson: res.users.log is readable by
# administrators only, so a segment on it would reveal when colleagues log in.
FORBIDDEN_SEGMENT = "[('user_id.log_ids.create_date', '>=', '2026-01-01')]"
# res.users.password is not stored, so no query can filter on it.
UNSTORED_SEGMENT = "[('user_id.password', '=', 'secreto')]"


@tagged("post_install", "-at_install")
class TestCampaignSegment(MontanesCampaignsCommon):
    """Segments are evaluated as superuser at enrolment, so they are checked
    as their author when saved, and counted as the reader."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # A marketer who can read every lead but has no administrator rights.
        cls.user_lead_marketing = new_test_user(
            cls.env,
            login="hb_lead_marketing",
            name="Marta Segmentos",
            email="marta.segmentos@montanessoluciones.example",
            groups="base.group_user,mass_mailing.group_mass_mailing_user,"
                   "sales_team.group_sale_salesman_all_leads",
        )
        cls.segment_domain = cls.campaign.segment_domain
        cls.expected_count = len(cls.segment_leads.filtered("email_normalized"))

    def test_segment_count_as_reader(self):
        campaign = self.campaign.with_user(self.user_lead_marketing)
        self.assertEqual(campaign.segment_lead_count, self.expected_count)

    def test_segment_count_zero_without_lead_access(self):
        # user_marketing has the mailing rights but cannot read leads.
        campaign = self.campaign.with_user(self.user_marketing)
        self.assertEqual(campaign.segment_lead_count, 0)

    def test_segment_empty_text_rejected(self):
        with self.assertRaisesRegex(ValidationError, "is empty"):
            self.campaign.segment_domain = ""

    def test_segment_all_leads_rejected(self):
        with self.assertRaisesRegex(ValidationError, "is empty"):
            self.campaign.segment_domain = "[]"

    def test_segment_forbidden_path_rejected(self):
        campaign = self.campaign.with_user(self.user_lead_marketing)
        with self.assertRaisesRegex(ValidationError, r"user_id\.log_ids\.create_date") as caught:
            campaign.segment_domain = FORBIDDEN_SEGMENT
        self.assertIn("Users Log", str(caught.exception))
        self.assertEqual(self.campaign.segment_domain, self.segment_domain)

    def test_segment_forbidden_path_on_create(self):
        with self.assertRaisesRegex(ValidationError, r"user_id\.log_ids\.create_date"):
            self.env["montanes.campaign"].with_user(self.user_lead_marketing).create({
                "name": "Campaña (pruebas)",
                "segment_domain": FORBIDDEN_SEGMENT,
            })

    def test_segment_forbidden_path_saved_by_admin(self):
        self.campaign.segment_domain = FORBIDDEN_SEGMENT
        self.assertEqual(self.campaign.segment_domain, FORBIDDEN_SEGMENT)

    def test_segment_allowed_path_saved_by_marketer(self):
        campaign = self.campaign.with_user(self.user_lead_marketing)
        segment = "[('stage_id', '=', %d), ('user_id.name', '!=', 'x')]" % self.stage_new.id
        campaign.segment_domain = segment
        self.assertEqual(campaign.segment_domain, segment)
        self.assertEqual(campaign.segment_lead_count, self.expected_count)

    def test_segment_without_lead_access_rejected(self):
        campaign = self.campaign.with_user(self.user_marketing)
        with self.assertRaisesRegex(ValidationError, "stage_id"):
            campaign.segment_domain = "[('stage_id', '=', %d)]" % self.stage_new.id

    def test_segment_unstored_field_rejected(self):
        with self.assertRaisesRegex(ValidationError, r"user_id\.password") as caught:
            self.campaign.segment_domain = UNSTORED_SEGMENT
        self.assertIn("not stored", str(caught.exception))

    def test_segment_bad_value_rejected(self):
        with mute_logger("odoo.sql_db"), self.assertRaisesRegex(ValidationError, "id"):
            self.campaign.segment_domain = "[('id', '=', 'abc')]"
        # The failed query did not abort the transaction.
        self.assertEqual(self.campaign.segment_lead_count, self.expected_count)
