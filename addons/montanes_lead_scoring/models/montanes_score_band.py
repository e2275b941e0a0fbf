from odoo import api, fields, models
from odoo.addons.crm.models.crm_stage import AVAILABLE_PRIORITIES
from odoo.exceptions import ValidationError


class MontanesScoreBand(models.Model):
    """Score range a lead falls in, such as Frío, Templado or Caliente.

    A band starts at its minimum score and ends where the next band starts.
    The lowest band also takes every score below its minimum, so each lead
    is always in exactly one band.
    """
    _name = 'montanes.score.band'
    _description = 'Lead Score Band'
    _order = 'min_score, id'

    name = fields.Char(string='Name', required=True, translate=True)
    code = fields.Char(
        string='Code',
        required=True,
        help='Fixed technical name that other modules and threshold actions refer to.',
    )
    active = fields.Boolean(string='Active', default=True)
    min_score = fields.Integer(
        string='Minimum Score',
        required=True,
        help='Total score from which a lead enters this band (inclusive).',
    )
    priority = fields.Selection(
        selection=AVAILABLE_PRIORITIES,
        string='Priority',
        required=True,
        default='0',
        help='Priority stars a lead gets when it enters this band.',
    )
    color = fields.Integer(string='Color')
    action_ids = fields.One2many(
        comodel_name='montanes.band.action',
        inverse_name='band_id',
        string='Actions',
        context={'active_test': False},
    )
    followup_rule_ids = fields.One2many(
        comodel_name='montanes.followup.rule',
        inverse_name='band_id',
        string='Follow-up Rules',
    )
    lead_count = fields.Integer(string='Leads', compute='_compute_lead_count')

    _code_unique = models.UniqueIndex('(code)', 'Another score band already uses this code.')

    # ------------------------------------------------------------
    # COMPUTES
    # ------------------------------------------------------------

    def _compute_lead_count(self):
        lead_data = self.env['crm.lead']._read_group(
            [('montanes_band_id', 'in', self.ids)], ['montanes_band_id'], ['__count'],
        )
        count_by_band = {band.id: count for band, count in lead_data}
        for band in self:
            band.lead_count = count_by_band.get(band.id, 0)

    # ------------------------------------------------------------
    # CONSTRAINTS
    # ------------------------------------------------------------

    @api.constrains('min_score', 'active')
    def _check_min_score_unique(self):
        """Reject two active bands starting at the same score: their ranges would overlap."""
        bands = self.search([('active', '=', True)])
        for band in self.filtered('active'):
            twins = bands.filtered(lambda other: other.min_score == band.min_score and other != band)
            if twins:
                raise ValidationError(self.env._(
                    "The score bands \"%(band)s\" and \"%(other)s\" both start at %(score)s points, "
                    "so their ranges overlap. Give each band a different minimum score.",
                    band=band.name,
                    other=twins[0].name,
                    score=band.min_score,
                ))

    # ------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        bands = super().create(vals_list)
        self._rebuild_lead_bands()
        return bands

    def write(self, vals):
        result = super().write(vals)
        if {'min_score', 'active', 'priority'} & set(vals):
            self._rebuild_lead_bands()
        return result

    def unlink(self):
        if not self.search_count([('id', 'not in', self.ids)], limit=1):
            raise ValidationError(self.env._(
                "Leads always need a score band: keep at least one band, or create the new "
                "bands before deleting these."
            ))
        result = super().unlink()
        self._rebuild_lead_bands()
        return result

    # ------------------------------------------------------------
    # TOOLS
    # ------------------------------------------------------------

    @api.model
    def _rebuild_lead_bands(self):
        """Place every lead in the band its score falls in after the thresholds changed."""
        self.env.registry.clear_cache()  # crm.lead._montanes_get_band_thresholds
        self.env['crm.lead'].with_context(active_test=False)._montanes_refresh_bands(all_leads=True)
