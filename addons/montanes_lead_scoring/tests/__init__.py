from . import test_scoring_rules
from . import test_mailing_events
