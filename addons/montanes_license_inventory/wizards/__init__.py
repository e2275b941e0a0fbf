from . import montanes_license_key_import
from . import montanes_license_key_import_line
from . import montanes_license_order_cancel
