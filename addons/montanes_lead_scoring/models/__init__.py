from . import montanes_scoring_rule_group
from . import montanes_scoring_rule
from . import montanes_score_band
from . import montanes_lead_band_crossing
from . import montanes_lead_score_line
from . import crm_lead
from . import mailing_trace
from . import crm_lead_import
