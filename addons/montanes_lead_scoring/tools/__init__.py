from . import lead_import_normalize
