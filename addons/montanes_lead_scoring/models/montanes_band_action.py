import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError
from odoo.tools import SQL

_logger = logging.getLogger(__name__)


class MontanesBandAction(models.Model):
    """Action run on a lead when it enters or leaves a score band."""
    _name = 'montanes.band.action'
    _description = 'Score Band Action'
    _order = 'band_id, sequence, id'

    name = fields.Char(string='Name', required=True, translate=True)
    active = fields.Boolean(string='Active', default=True)
    sequence = fields.Integer(string='Sequence', default=10)
    band_id = fields.Many2one(
        comodel_name='montanes.score.band',
        string='Band',
        required=True,
        index=True,
        ondelete='cascade',
    )
    trigger = fields.Selection(
        selection=[('enter', 'Enters the band'), ('leave', 'Leaves the band')],
        string='When the lead',
        required=True,
        default='enter',
    )
    domain = fields.Char(
        string='Only for Leads',
        default='[]',
        help='Run the action only on the leads matching this condition. Empty runs it on every lead.',
    )
    action_type = fields.Selection(
        selection=[
            ('assign_user', 'Assign to a salesperson'),
            ('assign_team', 'Assign to a sales team'),
            ('activity', 'Schedule an activity'),
            ('notify', 'Notify the owner'),
            ('convert', 'Convert to opportunity'),
            ('tag', 'Add tags'),
        ],
        string='Action',
        required=True,
        default='activity',
    )
    user_ids = fields.Many2many(
        comodel_name='res.users',
        string='Salespeople',
        domain=[('share', '=', False)],
        help='Leads go to these salespeople in turn (round-robin). With one salesperson, all go to them.',
    )
    last_user_id = fields.Many2one(
        comodel_name='res.users',
        string='Last Assigned',
        readonly=True,
        help='Salesperson who got the previous lead; the next lead goes to the following one.',
    )
    team_id = fields.Many2one(comodel_name='crm.team', string='Sales Team')
    activity_type_id = fields.Many2one(comodel_name='mail.activity.type', string='Activity Type')
    activity_summary = fields.Char(string='Activity Summary', translate=True)
    activity_deadline_days = fields.Integer(
        string='Deadline (days)',
        default=1,
        help='Days between the crossing and the activity deadline.',
    )
    tag_ids = fields.Many2many(comodel_name='crm.tag', string='Tags')

    _check_deadline_positive = models.Constraint(
        'CHECK(activity_deadline_days >= 0)',
        'The activity deadline cannot be in the past: enter 0 or more days.',
    )

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains('action_type', 'user_ids', 'team_id', 'activity_type_id', 'tag_ids')
    def _check_action_settings(self):
        for action in self:
            missing = {
                'assign_user': not action.user_ids and self.env._("at least one salesperson"),
                'assign_team': not action.team_id and self.env._("a sales team"),
                'activity': not action.activity_type_id and self.env._("an activity type"),
                'tag': not action.tag_ids and self.env._("at least one tag"),
            }.get(action.action_type)
            if missing:
                raise ValidationError(self.env._(
                    "The band action \"%(action)s\" needs %(missing)s.", action=action.name, missing=missing))

    @api.constrains('domain')
    def _check_domain(self):
        for action in self:
            action._get_lead_domain()

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    def _get_lead_domain(self):
        self.ensure_one()
        return self.env['crm.lead']._montanes_parse_condition(
            self.domain, self.env._("the band action \"%(action)s\"", action=self.name))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        actions = super().create(vals_list)
        self.env.registry.clear_cache()  # _get_active_action_ids
        return actions

    def write(self, vals):
        result = super().write(vals)
        self.env.registry.clear_cache()  # _get_active_action_ids
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()  # _get_active_action_ids
        return result

    # ------------------------------------------------------------
    # BUSINESS
    # ------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _get_active_action_ids(self):
        """Return the ids of the active band actions in their run order.

        Cached in the registry because every band crossing reads them, and a
        tracked open can cross a band; action changes clear the cache.
        """
        return tuple(self.sudo().with_context(active_test=True).search([]).ids)

    @api.model
    def _run_on_crossings(self, crossings):
        """Run the actions of the bands that ``crossings`` (montanes.lead.band.crossing) leave or enter.

        Each crossing is a new record, so its actions run once; the crossing
        keeps the actions it ran.
        """
        # The actions come before the crossings are read: a full recompute can report
        # 100,000 crossings to a database without any action.
        actions = self.sudo().browse(self._get_active_action_ids())
        if not actions:
            return
        for crossing in crossings:
            lead = crossing.lead_id.sudo()
            ran = self.browse()
            for action in actions:
                if not (
                    (action.trigger == 'enter' and action.band_id == crossing.new_band_id)
                    or (action.trigger == 'leave' and action.band_id == crossing.old_band_id)
                ):
                    continue
                domain = action._get_lead_domain()
                if not domain.is_true() and not lead.filtered_domain(domain):
                    continue
                getattr(action, f'_run_{action.action_type}')(lead, crossing)
                ran |= action
            if ran:
                crossing.action_ids = ran

    def _run_assign_user(self, lead, crossing):
        # Lock the action row so that two workers assigning at once take turns.
        self.env.flush_all()
        self.env.cr.execute(SQL("SELECT id FROM montanes_band_action WHERE id = %s FOR UPDATE", self.id))
        self.invalidate_recordset(['last_user_id'])
        users = self.user_ids.sorted('id')
        next_index = (list(users).index(self.last_user_id) + 1) if self.last_user_id in users else 0
        user = users[next_index % len(users)]
        self.last_user_id = user
        lead.user_id = user

    def _run_assign_team(self, lead, crossing):
        lead.team_id = self.team_id

    def _run_activity(self, lead, crossing):
        user = lead.user_id or lead.team_id.user_id
        if not user:
            _logger.info("Band action %s: lead %s has no salesperson nor team leader, no activity scheduled",
                         self.id, lead.id)
            return
        # Crossings also come from scheduled jobs and public routes, which run without a language.
        action = self.with_context(lang=user.lang)
        lead.activity_schedule(
            activity_type_id=self.activity_type_id.id,
            summary=action.activity_summary or action.name,
            date_deadline=fields.Date.context_today(lead) + timedelta(days=self.activity_deadline_days),
            user_id=user.id,
        )

    def _run_notify(self, lead, crossing):
        """Log the crossing in the lead's chatter and e-mail it to the lead's owner.

        The note names no recipient, so Odoo sends no notification of its own
        and the owner gets one e-mail, in their language.
        """
        owner = lead.user_id
        env = self.with_context(lang=owner.lang or self.env.lang).env
        old_band = crossing.old_band_id.with_env(env)
        new_band = crossing.new_band_id.with_env(env)
        body = env._(
            "The lead moved from %(old)s to %(new)s with %(score)s points.",
            old=old_band.name or '-', new=new_band.name, score=crossing.score,
        )
        lead.message_post(
            body=Markup("<p>%s</p>") % body,
            subtype_xmlid='mail.mt_note',
        )
        if owner.email:
            self.env['mail.mail'].sudo().create({
                'subject': env._("%(lead)s: %(band)s", lead=lead.name, band=new_band.name),
                'body_html': Markup("<p>%s</p>") % body,
                'email_to': owner.email_formatted,
                'model': 'crm.lead',
                'res_id': lead.id,
                'auto_delete': True,
            })

    def _run_convert(self, lead, crossing):
        if lead.type == 'lead' and lead.active:
            lead.convert_opportunity(lead.partner_id)

    def _run_tag(self, lead, crossing):
        lead.tag_ids |= self.tag_ids
