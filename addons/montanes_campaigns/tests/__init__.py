from . import test_campaign_engine
from . import test_campaign_flow
from . import test_campaign_http
from . import test_campaign_segment
from . import test_campaign_tour
from . import test_campaign_report
