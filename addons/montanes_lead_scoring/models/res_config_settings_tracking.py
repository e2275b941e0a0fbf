import re

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from .montanes_tracking_hit import (
    DEFAULT_SCANNER_DELAY_SECONDS,
    DEFAULT_TOKEN_DAYS,
    MAX_SCANNER_DELAY_SECONDS,
    MAX_TOKEN_DAYS,
    ORIGIN_PATTERN,
    SCANNER_DELAY_PARAM,
    TOKEN_DAYS_PARAM,
    WEBSITE_ORIGINS_PARAM,
)


class ResConfigSettings(models.TransientModel):
    _inherit = 'res.config.settings'

    montanes_website_origins = fields.Char(
        string='Website Origins',
        config_parameter=WEBSITE_ORIGINS_PARAM,
        help='Origins of the company website allowed to report page views and forms, '
        'comma-separated, such as https://www.montanessoluciones.es.',
    )
    montanes_website_token_days = fields.Integer(
        string='Visitor Token Validity (days)',
        config_parameter=TOKEN_DAYS_PARAM,
        default=DEFAULT_TOKEN_DAYS,
        help='Days during which a click on a tracked e-mail link identifies the visitor on the website.',
    )
    montanes_machine_delay_seconds = fields.Integer(
        string='Security Scanner Delay (seconds)',
        config_parameter=SCANNER_DELAY_PARAM,
        default=DEFAULT_SCANNER_DELAY_SECONDS,
        help='Opens and clicks this many seconds or less after sending count as security scanners.',
    )

    @api.constrains('montanes_website_origins')
    def _check_montanes_website_origins(self):
        """Reject website origins that are not a bare http(s) origin."""
        for settings in self:
            for entry in re.split(r'[\s,]+', (settings.montanes_website_origins or '').strip().lower()):
                if entry and not ORIGIN_PATTERN.fullmatch(entry.rstrip('/')):
                    raise ValidationError(self.env._(
                        "“%(origin)s” is not a website origin. Write the scheme and host only, "
                        "such as https://www.montanessoluciones.es, and separate origins with commas.",
                        origin=entry,
                    ))

    @api.constrains('montanes_website_token_days', 'montanes_machine_delay_seconds')
    def _check_montanes_tracking_numbers(self):
        """Reject token validities and scanner delays outside their ranges."""
        for settings in self:
            if not 1 <= settings.montanes_website_token_days <= MAX_TOKEN_DAYS:
                raise ValidationError(self.env._(
                    "The visitor token validity must be from 1 to %(max)s days, not %(days)s.",
                    max=MAX_TOKEN_DAYS, days=settings.montanes_website_token_days,
                ))
            if not 1 <= settings.montanes_machine_delay_seconds <= MAX_SCANNER_DELAY_SECONDS:
                raise ValidationError(self.env._(
                    "The security scanner delay must be from 1 to %(max)s seconds, not %(seconds)s.",
                    max=MAX_SCANNER_DELAY_SECONDS, seconds=settings.montanes_machine_delay_seconds,
                ))
