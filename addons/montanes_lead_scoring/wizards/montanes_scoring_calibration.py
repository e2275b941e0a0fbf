import math

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.fields import Domain

from ..models.montanes_scoring_rule import MAX_RULE_POINTS

# Points per unit of log-odds (weight of evidence): a criterion that makes a
# win e (2.718) times more likely than average suggests +10 points.
POINTS_PER_LOG_ODDS = 10
# Held-out share: closed leads whose id is a multiple of 5 (20 %) are kept out of the learning.
HOLDOUT_MODULO = 5
# Fewer closed leads than this matching a criterion give no suggestion: too little evidence.
MIN_SUPPORT = 5
# Share of the best-scored held-out leads whose conversion rate is reported.
TOP_SHARE = 0.2


def roc_auc(scores, outcomes):
    """Return the area under the ROC curve of ``scores`` for boolean ``outcomes``.

    Computed as the Mann-Whitney statistic: the probability that a random won
    lead scores above a random lost one, ties counting half. None when one
    class is missing.
    """
    ranked = sorted(zip(scores, outcomes), key=lambda pair: pair[0])
    positives = sum(1 for outcome in outcomes if outcome)
    negatives = len(outcomes) - positives
    if not positives or not negatives:
        return None
    rank_sum = 0.0
    index = 0
    while index < len(ranked):
        end = index
        while end + 1 < len(ranked) and ranked[end + 1][0] == ranked[index][0]:
            end += 1
        average_rank = (index + end) / 2 + 1
        rank_sum += average_rank * sum(1 for pair in ranked[index:end + 1] if pair[1])
        index = end + 1
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def top_share_conversion(scores, outcomes, share=TOP_SHARE):
    """Return the share of won leads among the ``share`` best-scored leads (ties broken by order)."""
    if not scores:
        return None
    count = max(math.ceil(len(scores) * share), 1)
    best = sorted(range(len(scores)), key=lambda i: -scores[i])[:count]
    return sum(1 for i in best if outcomes[i]) / count


class MontanesScoringCalibration(models.TransientModel):
    """Wizard learning profile rule points from won and lost leads, checked on held-out leads."""
    _name = 'montanes.scoring.calibration'
    _description = 'Lead Scoring Calibration'

    state = fields.Selection([('draft', 'Draft'), ('done', 'Learned')], default='draft', required=True)
    line_ids = fields.One2many('montanes.scoring.calibration.line', 'wizard_id', string='Suggestions')
    learn_count = fields.Integer(string='Learning Leads', readonly=True)
    learn_won_count = fields.Integer(string='Won (learning)', readonly=True)
    holdout_count = fields.Integer(string='Held-out Leads', readonly=True)
    holdout_won_count = fields.Integer(string='Won (held out)', readonly=True)
    auc_current = fields.Float(string='ROC AUC, current points', readonly=True, digits=(3, 3))
    auc_suggested = fields.Float(string='ROC AUC, suggested points', readonly=True, digits=(3, 3))
    auc_pls = fields.Float(string='ROC AUC, Odoo PLS', readonly=True, digits=(3, 3))
    top_current = fields.Float(string='Top 20 % conversion, current points', readonly=True)
    top_suggested = fields.Float(string='Top 20 % conversion, suggested points', readonly=True)
    top_pls = fields.Float(string='Top 20 % conversion, Odoo PLS', readonly=True)
    base_rate = fields.Float(string='Conversion of all held-out leads', readonly=True)

    def action_learn(self):
        """Learn the suggested points and measure them, with the current points and PLS, on held-out leads."""
        self.ensure_one()
        Lead = self.env['crm.lead'].with_context(active_test=False)
        closed = Lead.search_fetch(
            Domain('won_status', 'in', ['won', 'lost']) & Domain('company_id', 'in', self.env.companies.ids + [False]),
            ['won_status', 'automated_probability'],
        )
        outcome_by_id = {lead.id: lead.won_status == 'won' for lead in closed}
        holdout_ids = [lead_id for lead_id in outcome_by_id if lead_id % HOLDOUT_MODULO == 0]
        learn_ids = [lead_id for lead_id in outcome_by_id if lead_id % HOLDOUT_MODULO]
        learn_won = sum(outcome_by_id[lead_id] for lead_id in learn_ids)
        learn_lost = len(learn_ids) - learn_won
        if not learn_won or not learn_lost or len(holdout_ids) < 2:
            raise UserError(self.env._(
                "Calibration needs won and lost leads to learn from and at least 2 more to test on; "
                "this database has %(won)s won and %(lost)s lost leads. Close more leads and try again.",
                won=sum(outcome_by_id.values()), lost=len(outcome_by_id) - sum(outcome_by_id.values()),
            ))

        rules = self.env['montanes.scoring.rule'].search([('rule_type', '=', 'profile')])
        learn_set = set(learn_ids)
        lines = []
        matched_by_rule = {}
        for rule in rules:
            domain = rule._get_lead_domain() & Domain('id', 'in', list(outcome_by_id))
            if rule.company_id:
                domain &= Domain('company_id', '=', rule.company_id.id)
            matched = set(Lead.search(domain).ids)
            matched_by_rule[rule] = matched
            won = sum(1 for lead_id in matched & learn_set if outcome_by_id[lead_id])
            lost = len(matched & learn_set) - won
            suggested = rule.points
            if won + lost >= MIN_SUPPORT:
                weight = math.log(((won + 0.5) / (learn_won + 1)) / ((lost + 0.5) / (learn_lost + 1)))
                suggested = max(min(round(POINTS_PER_LOG_ODDS * weight), MAX_RULE_POINTS), -MAX_RULE_POINTS)
            lines.append({
                'rule_id': rule.id,
                'current_points': rule.points,
                'suggested_points': suggested,
                'won_count': won,
                'lost_count': lost,
                'enough_data': won + lost >= MIN_SUPPORT,
            })

        outcomes = [outcome_by_id[lead_id] for lead_id in holdout_ids]
        current, suggested = [], []
        suggested_by_rule = {line['rule_id']: line['suggested_points'] for line in lines}
        for lead_id in holdout_ids:
            current.append(sum(rule.points for rule, ids in matched_by_rule.items() if lead_id in ids))
            suggested.append(sum(suggested_by_rule[rule.id] for rule, ids in matched_by_rule.items() if lead_id in ids))
        probability_by_id = {lead.id: lead.automated_probability for lead in closed}
        pls = [probability_by_id[lead_id] for lead_id in holdout_ids]

        self.line_ids.unlink()
        self.write({
            'state': 'done',
            'line_ids': [fields.Command.create(vals) for vals in lines],
            'learn_count': len(learn_ids),
            'learn_won_count': learn_won,
            'holdout_count': len(holdout_ids),
            'holdout_won_count': sum(outcomes),
            'auc_current': roc_auc(current, outcomes) or 0.0,
            'auc_suggested': roc_auc(suggested, outcomes) or 0.0,
            'auc_pls': roc_auc(pls, outcomes) or 0.0,
            'top_current': top_share_conversion(current, outcomes) or 0.0,
            'top_suggested': top_share_conversion(suggested, outcomes) or 0.0,
            'top_pls': top_share_conversion(pls, outcomes) or 0.0,
            'base_rate': sum(outcomes) / len(outcomes),
        })
        return self._reopen()

    def action_apply(self):
        """Write the suggested points on the rules; a suggestion of 0 leaves its rule unchanged."""
        self.ensure_one()
        for line in self.line_ids.filtered(lambda line: line.apply and line.suggested_points
                                           and line.suggested_points != line.current_points):
            line.rule_id.points = line.suggested_points
        return {'type': 'ir.actions.act_window_close'}

    def _reopen(self):
        return {
            'type': 'ir.actions.act_window',
            'res_model': self._name,
            'res_id': self.id,
            'view_mode': 'form',
            'target': 'new',
            'name': self.env._("Calibrate profile rules"),
        }


class MontanesScoringCalibrationLine(models.TransientModel):
    _name = 'montanes.scoring.calibration.line'
    _description = 'Lead Scoring Calibration Suggestion'

    wizard_id = fields.Many2one('montanes.scoring.calibration', required=True, ondelete='cascade')
    rule_id = fields.Many2one('montanes.scoring.rule', string='Rule', required=True, ondelete='cascade')
    current_points = fields.Integer(string='Current Points')
    suggested_points = fields.Integer(string='Suggested Points')
    won_count = fields.Integer(string='Won')
    lost_count = fields.Integer(string='Lost')
    win_rate = fields.Float(string='Win Rate (%)', compute='_compute_win_rate')
    enough_data = fields.Boolean(string='Enough Data')
    apply = fields.Boolean(string='Apply', default=True)

    @api.depends('won_count', 'lost_count')
    def _compute_win_rate(self):
        for line in self:
            total = line.won_count + line.lost_count
            line.win_rate = 100.0 * line.won_count / total if total else 0.0
