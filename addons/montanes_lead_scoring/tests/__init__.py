from . import test_scoring_rules
from . import test_mailing_events
from . import test_lead_import_normalize
from . import test_lead_import
from . import test_scoring_rule_checks
from . import test_score_bands
from . import test_score_ledger_invariants
from . import test_engagement_rules
