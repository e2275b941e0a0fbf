from . import test_website_events
