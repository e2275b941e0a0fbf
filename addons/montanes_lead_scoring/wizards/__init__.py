from . import montanes_lead_import_line
from . import montanes_lead_import
from . import montanes_score_adjust
from . import montanes_scoring_calibration
