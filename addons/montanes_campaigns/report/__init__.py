from . import montanes_campaign_report
