from odoo import models
from odoo.exceptions import UserError

from .link_tracker import LINK_TRACKER_CACHE_KEY

PARTICIPANT_MODEL = "montanes.campaign.participant"


class MailingMailing(models.Model):
    _inherit = "mailing.mailing"

    # ------------------------------------------------------------
    # MANUAL SENDING OF CAMPAIGN STEPS
    # ------------------------------------------------------------

    def action_launch(self):
        self._montanes_check_not_campaign_step()
        return super().action_launch()

    def action_schedule(self):
        self._montanes_check_not_campaign_step()
        return super().action_schedule()

    def action_put_in_queue(self):
        self._montanes_check_not_campaign_step()
        return super().action_put_in_queue()

    def action_send_mail(self, res_ids=None):
        self._montanes_check_not_campaign_step()
        return super().action_send_mail(res_ids=res_ids)

    def _montanes_check_not_campaign_step(self):
        """Raise a UserError when one of these mailings sends a campaign step.

        Sent by hand, a step mailing would reach every running participant
        that it has not traced yet, including participants whose step is
        not due. The campaign sends it to each participant when the step is
        due. The test send (mailing.mailing.test) stays allowed.
        """
        step_mailings = self.filtered(lambda mailing: mailing.mailing_model_real == PARTICIPANT_MODEL)
        if not step_mailings:
            return
        # sudo: a mailing user may not read the campaign of another company.
        step = self.env["montanes.campaign.step"].sudo().search(
            ["|", ("mailing_id", "in", step_mailings.ids), ("mailing_b_id", "in", step_mailings.ids)],
            limit=1,
        )
        raise UserError(self.env._(
            "The mailing %(mailing)s sends the step %(step)s of the automated campaign "
            "%(campaign)s, which mails each participant when the step is due. It cannot be "
            "sent, scheduled or queued by hand: launch or stop the campaign instead. Use "
            "the Test button to send it to yourself.",
            mailing=step_mailings[0].name,
            step=step.name or "-",
            campaign=step.campaign_id.name or "-",
        ))

    def _get_unsubscribe_url(self, email_to, res_id):
        """Send the recipients of campaign steps to the campaign unsubscribe
        page, which offers 'this campaign' or 'all' and asks the reason."""
        if self.mailing_model_real == PARTICIPANT_MODEL and res_id:
            participant = self.env[PARTICIPANT_MODEL].sudo().browse(res_id).exists()
            if participant:
                return participant._get_unsubscribe_url()
        return super()._get_unsubscribe_url(email_to, res_id)

    def _get_seen_list(self):
        """Skip the address-based duplicate check for campaign steps.

        A participant entering the campaign again has the address of its
        first participation, and must get the step again. Each participant
        gets the step at most once through its campaign activity, and a
        unique index on the traces of the step mailing backs that up."""
        if self.mailing_model_real == PARTICIPANT_MODEL:
            return set()
        return super()._get_seen_list()

    def _montanes_queue(self, res_ids):
        """Queue this step mailing for the participants res_ids in the
        current transaction.

        It builds the same composer as action_send_mail, but never commits:
        the caller marks the campaign activities done in the same
        transaction, so a crash loses both or neither.
        """
        self.ensure_one()
        context_user = self.user_id or self.write_uid or self.env.user
        mailing = self.with_context(**self.env["res.users"].with_user(context_user).context_get())
        odoobot = self.env.ref("base.partner_root")
        user_partner = self.env.user.partner_id
        composer_values = {
            "auto_delete": not mailing.keep_archives,
            "auto_delete_keep_log": mailing.reply_to_mode == "update",
            "author_id": mailing.user_id.partner_id.id if user_partner == odoobot else user_partner.id,
            "attachment_ids": [(4, attachment.id) for attachment in mailing.attachment_ids],
            "body": mailing._prepend_preview(mailing.body_html or "", mailing.preview),
            "composition_mode": "mass_mail",
            "email_from": mailing.email_from,
            "mail_server_id": mailing.mail_server_id.id,
            "mass_mailing_id": mailing.id,
            "model": mailing.mailing_model_real,
            "reply_to_force_new": mailing.reply_to_mode == "new",
            "subject": mailing.subject,
            "template_id": False,
            "use_exclusion_list": mailing.use_exclusion_list,
        }
        if mailing.reply_to_mode == "new":
            composer_values["reply_to"] = mailing.reply_to
        composer = self.env["mail.compose.message"].with_context(
            active_ids=res_ids,
            default_composition_mode="mass_mail",
            **mailing._get_mass_mailing_context(),
        ).create(composer_values)
        # The cache lives for this call only: a savepoint that rolls back a
        # failed call also drops the trackers that call created.
        self.env.cr.cache[LINK_TRACKER_CACHE_KEY] = {}
        try:
            composer._action_send_mail(auto_commit=False)
        finally:
            self.env.cr.cache.pop(LINK_TRACKER_CACHE_KEY, None)
        if mailing.state != "done":
            mailing.write({"state": "done", "sent_date": mailing.sent_date or self.env.cr.now()})
        return True
