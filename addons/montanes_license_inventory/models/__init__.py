from . import product_template
from . import stock_lot
from . import stock_quant
from . import montanes_license
from . import res_company
from . import res_config_settings
from . import res_partner
from . import sale_order
