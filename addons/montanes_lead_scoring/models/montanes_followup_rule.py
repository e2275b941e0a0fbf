import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.fields import Domain

_logger = logging.getLogger(__name__)


class MontanesFollowupRule(models.Model):
    """Reminder for the owner of a lead nobody has contacted for a number of days, then for the team leader."""
    _name = 'montanes.followup.rule'
    _description = 'Lead Follow-up Rule'
    _order = 'band_id, id'

    band_id = fields.Many2one(
        comodel_name='montanes.score.band',
        string='Band',
        required=True,
        index=True,
        ondelete='cascade',
    )
    active = fields.Boolean(string='Active', default=True)
    days_without_contact = fields.Integer(
        string='Days Without Contact',
        required=True,
        default=7,
        help='Days since the last contact (or since the lead was created) after which the owner gets an activity.',
    )
    escalate_after_days = fields.Integer(
        string='Escalate After (days)',
        default=3,
        help='Days after the reminder, still without contact, after which the team leader gets an activity. '
        '0 never escalates.',
    )
    activity_type_id = fields.Many2one(
        comodel_name='mail.activity.type',
        string='Activity Type',
        required=True,
        default=lambda self: self.env.ref('mail.mail_activity_data_todo', raise_if_not_found=False),
    )

    _check_days_positive = models.Constraint(
        'CHECK(days_without_contact > 0 AND escalate_after_days >= 0)',
        'A follow-up rule needs at least 1 day without contact, and 0 or more days before escalating.',
    )

    # ------------------------------------------------------------
    # CRON
    # ------------------------------------------------------------

    @api.model
    def _cron_followup(self):
        """Remind the owners of forgotten leads, and escalate the reminders nobody acted on."""
        now = fields.Datetime.now()
        reminded = escalated = 0
        for rule in self.search([('band_id.active', '=', True)]):
            reminded += rule._remind_owners(now)
            escalated += rule._escalate_to_leaders(now)
        _logger.info("Lead follow-up: %d reminders, %d escalations", reminded, escalated)

    def _get_forgotten_leads_domain(self, now):
        self.ensure_one()
        limit = now - timedelta(days=self.days_without_contact)
        return Domain([
            ('montanes_band_id', '=', self.band_id.id),
            ('active', '=', True),
            ('won_status', '=', 'pending'),
        ]) & (
            Domain('montanes_last_contact_date', '<', limit)
            | (Domain('montanes_last_contact_date', '=', False) & Domain('create_date', '<', limit))
        )

    def _remind_owners(self, now):
        Lead = self.env['crm.lead'].sudo()
        # False: leads created while this module was not loaded yet.
        not_reminded = Domain('montanes_followup_state', 'in', ('none', False))
        leads = Lead.search(self._get_forgotten_leads_domain(now) & not_reminded)
        for lead in leads:
            user = lead.user_id or lead.team_id.user_id
            if user:
                # Scheduled jobs run without a language, so write in the language of the recipient.
                env = self.with_context(lang=user.lang).env
                lead.activity_schedule(
                    activity_type_id=self.activity_type_id.id,
                    summary=env._("Follow up: no contact for %(days)s days", days=self.days_without_contact),
                    date_deadline=fields.Date.context_today(lead),
                    user_id=user.id,
                )
        leads.write({'montanes_followup_state': 'reminded', 'montanes_followup_date': now})
        return len(leads)

    def _escalate_to_leaders(self, now):
        if not self.escalate_after_days:
            return 0
        Lead = self.env['crm.lead'].sudo()
        leads = Lead.search(
            self._get_forgotten_leads_domain(now)
            & Domain('montanes_followup_state', '=', 'reminded')
            & Domain('montanes_followup_date', '<=', now - timedelta(days=self.escalate_after_days))
        )
        for lead in leads:
            leader = lead.team_id.user_id
            if not leader:
                continue
            env = self.with_context(lang=leader.lang).env
            lead.activity_schedule(
                activity_type_id=self.activity_type_id.id,
                summary=env._("Escalated: %(owner)s has not contacted this lead", owner=lead.user_id.name or '-'),
                date_deadline=fields.Date.context_today(lead),
                user_id=leader.id,
            )
            lead.message_post(
                body=Markup("<p>%s</p>") % env._(
                    "Follow-up escalated to %(leader)s: no contact for %(days)s days.",
                    leader=leader.name,
                    days=self.days_without_contact + self.escalate_after_days,
                ),
                subtype_xmlid='mail.mt_note',
            )
        leads.write({'montanes_followup_state': 'escalated', 'montanes_followup_date': now})
        return len(leads)
