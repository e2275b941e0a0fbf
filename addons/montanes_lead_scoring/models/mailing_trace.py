from odoo import models


class MailingTrace(models.Model):
    _inherit = 'mailing.trace'

    def set_opened(self, domain=None):
        traces = super().set_opened(domain=domain)
        if self.env.context.get('montanes_unsigned_click'):
            # Odoo opens the trace on every click, forged unsigned clicks included.
            return traces
        traces._montanes_register_lead_event('email_open', 'open')
        return traces

    def set_clicked(self, domain=None):
        traces = super().set_clicked(domain=domain)
        if self.env.context.get('montanes_unsigned_click'):
            # Set by the link redirect for a link without our signature, which anyone can forge.
            return traces
        traces._montanes_register_lead_event('email_click', 'click')
        for trace in traces.sudo().filtered(lambda trace: trace.model == 'crm.lead' and trace.res_id):
            lead = self.env['crm.lead'].sudo().browse(trace.res_id).exists()
            lead._montanes_set_last_interest(self.env._(
                "Clicked a link in \"%(mailing)s\"",
                mailing=trace.mass_mailing_id.subject or trace.mass_mailing_id.name,
            ))
        return traces

    def set_replied(self, domain=None):
        traces = super().set_replied(domain=domain)
        traces._montanes_register_lead_event('email_reply', 'reply')
        # The gateway posts the same reply on the lead's thread next; it must not score twice.
        replied = self.env.cr.cache.setdefault('montanes_replied_lead_ids', set())
        replied.update(trace.res_id for trace in traces if trace.model == 'crm.lead')
        return traces

    def set_bounced(self, domain=None, bounce_message=False):
        traces = super().set_bounced(domain=domain, bounce_message=bounce_message)
        traces._montanes_register_lead_event('email_bounce', 'bounce')
        return traces

    def _montanes_register_lead_event(self, event_type, action):
        """Score ``event_type`` on the leads these traces were sent to.

        The source_ref 'mailing.trace,<id>,<action>' lets each trace score each
        kind of event once, however often the contact opens or clicks.
        """
        lead_traces = self.filtered(lambda trace: trace.model == 'crm.lead' and trace.res_id)
        if not lead_traces:
            return
        rules = self.env['crm.lead']._montanes_get_behaviour_rules(event_type)
        if not rules:
            return
        ScoreLine = self.env['montanes.lead.score.line'].sudo()
        if ScoreLine._are_uniform_event_rules(rules):
            ScoreLine._insert_trace_lines(lead_traces.sudo(), rules, event_type, action)
            return
        # sudo: the open pixel and the link redirect run as the public user.
        # One query drops the ids of deleted leads and reads the only lead field
        # scoring needs; crm.lead has about a hundred columns.
        leads = self.env['crm.lead'].sudo().with_context(active_test=False).search_fetch(
            [('id', 'in', lead_traces.mapped('res_id'))], ['company_id'], order='id')
        lead_by_id = {lead.id: lead for lead in leads}
        # Fetch only the subject, because a mailing row also contains its whole HTML body.
        lead_traces.sudo().mass_mailing_id.fetch(['subject'])
        vals_list = []
        for trace in lead_traces.sudo():
            lead = lead_by_id.get(trace.res_id)
            if lead:
                vals_list += lead._montanes_prepare_event_vals(
                    rules,
                    event_type,
                    f'mailing.trace,{trace.id},{action}',
                    description=trace.mass_mailing_id.subject or trace.mass_mailing_id.name,
                )
        ScoreLine._insert_lines(vals_list)
