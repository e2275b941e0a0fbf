from . import montanes_campaign_step_preview
