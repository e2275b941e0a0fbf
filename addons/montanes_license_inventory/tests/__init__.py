from . import test_key_import
from . import test_sale_confirm
from . import test_concurrency
from . import test_key_display
from . import test_license_lifecycle
