from . import mailing_tracking
from . import website_tracking
