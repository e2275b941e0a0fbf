from . import montanes_campaign
from . import montanes_campaign_step
from . import montanes_campaign_participant
from . import crm_lead
