from odoo import api, fields, models


class MailingMailing(models.Model):
    _inherit = 'mailing.mailing'

    montanes_machine_open_count = fields.Integer(
        string='Machine Opens',
        compute='_compute_montanes_machine_counts',
        help='Pixel loads by mail proxies, prefetchers and security scanners, '
        'left out of the opened ratio.',
    )
    montanes_machine_click_count = fields.Integer(
        string='Machine Clicks',
        compute='_compute_montanes_machine_counts',
        help='Link clicks by link-preview bots and security scanners, left out of the clicked ratio.',
    )

    @api.depends('mailing_trace_ids.montanes_machine_open_count', 'mailing_trace_ids.montanes_machine_click_count')
    def _compute_montanes_machine_counts(self):
        counts = {
            mailing.id: (opens, clicks)
            for mailing, opens, clicks in self.env['mailing.trace']._read_group(
                [('mass_mailing_id', 'in', self.ids)],
                ['mass_mailing_id'],
                ['montanes_machine_open_count:sum', 'montanes_machine_click_count:sum'],
            )
        }
        for mailing in self:
            mailing.montanes_machine_open_count, mailing.montanes_machine_click_count = counts.get(
                mailing.id, (0, 0),
            )

    def action_view_montanes_machine_hits(self):
        self.ensure_one()
        action = self.env['ir.actions.act_window']._for_xml_id('montanes_lead_scoring.action_montanes_tracking_hit')
        action['domain'] = [('mailing_id', '=', self.id), ('classification', '=', 'machine')]
        action['context'] = {}
        return action
