"""`manage.py bench` and the gunicorn workers it starts: local settings plus the benchmark app.

The only settings that install `bench` and mount its baseline views; `make bench` uses them.
"""

import warnings

from .local import *
from .local import INSTALLED_APPS, LOGGING

# The bench serves no static files; whitenoise would warn that nothing was collected.
warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)

DEBUG = False  # DEBUG keeps every query in memory: not what production measures
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]
ROOT_URLCONF = "bench.urls"
LOGGING = {**LOGGING, "root": {**LOGGING["root"], "level": "WARNING"}}
