from . import test_key_import
from . import test_sale_confirm
from . import test_concurrency
from . import test_key_display
from . import test_license_lifecycle
from . import test_reverse_charge
from . import test_portal
from . import test_performance
