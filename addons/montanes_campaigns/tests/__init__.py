from . import test_campaign_flow
