from . import montanes_lead_import_line
from . import montanes_lead_import
