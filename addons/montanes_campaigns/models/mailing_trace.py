from odoo import models

PARTICIPANT_MODEL = "montanes.campaign.participant"
EVENT_BY_OUTCOME = {
    "opened": ("email_open", "open"),
    "clicked": ("email_click", "click"),
    "replied": ("email_reply", "reply"),
    "bounced": ("email_bounce", "bounce"),
}


class MailingTrace(models.Model):
    _inherit = "mailing.trace"

    # Opens and clicks classified as made by a machine never reach these
    # methods, so only human outcomes run a branch.

    def set_opened(self, domain=None):
        traces = super().set_opened(domain=domain)
        if self.env.context.get("montanes_unsigned_click"):
            # Odoo opens the trace on every click, forged unsigned clicks included.
            return traces
        traces._montanes_on_outcome("opened")
        return traces

    def set_clicked(self, domain=None):
        traces = super().set_clicked(domain=domain)
        if self.env.context.get("montanes_unsigned_click"):
            # Lead scoring's link redirect: a link without its signature can be forged.
            return traces
        traces._montanes_on_outcome("clicked")
        return traces

    def set_replied(self, domain=None):
        traces = super().set_replied(domain=domain)
        traces._montanes_on_outcome("replied")
        return traces

    def set_bounced(self, domain=None, bounce_message=False):
        traces = super().set_bounced(domain=domain, bounce_message=bounce_message)
        traces._montanes_on_outcome("bounced")
        return traces

    def _montanes_on_outcome(self, outcome):
        """Run the campaign branches of outcome and score it on the lead of
        each participant, as lead scoring does for e-mails sent to leads."""
        campaign_traces = self.sudo().filtered(lambda trace: trace.model == PARTICIPANT_MODEL and trace.res_id)
        if not campaign_traces:
            return
        self.env["montanes.campaign.trace"].sudo()._on_mailing_outcome(campaign_traces, outcome)
        if outcome not in EVENT_BY_OUTCOME:
            return
        event_type, action = EVENT_BY_OUTCOME[outcome]
        participants = self.env[PARTICIPANT_MODEL].sudo().browse(campaign_traces.mapped("res_id")).exists()
        lead_by_participant = {participant.id: participant.lead_id for participant in participants}
        for trace in campaign_traces:
            lead = lead_by_participant.get(trace.res_id)
            if lead:
                lead._montanes_register_event(
                    event_type,
                    f"mailing.trace,{trace.id},{action}",
                    description=trace.mass_mailing_id.subject or trace.mass_mailing_id.name,
                )

    def _montanes_get_outcome_date(self, outcome):
        """Return when this trace got outcome ('opened', 'clicked' or
        'replied'), or False. A reply counts as an open."""
        self.ensure_one()
        if outcome == "opened":
            return self.open_datetime or self.reply_datetime
        if outcome == "clicked":
            return self.links_click_datetime
        if outcome == "replied":
            return self.reply_datetime
        return False
