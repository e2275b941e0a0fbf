from . import crm_lead
from . import website_visitor
from . import website_track
