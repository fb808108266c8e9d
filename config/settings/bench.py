"""`manage.py bench` and the gunicorn workers it starts: local settings plus the baseline views."""

import warnings

from .local import *  # noqa: F403

# The bench serves no static files; whitenoise would warn that nothing was collected.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DEBUG = False  # DEBUG keeps every query in memory: not what production measures
ROOT_URLCONF = "forecasts.bench.urls"
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
