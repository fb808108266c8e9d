"""Development on a laptop: `make run` uses these (SQLite and the filesystem broker by default)."""

from .base import *
from .base import EMAIL_BACKEND, STORAGES, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# gunicorn serves `make run` and WhiteNoise its static files straight from each app's static folder
# (the admin's CSS, Swagger UI's sidecar), looked up per request: no collectstatic step, and no
# copy that goes stale after an upgrade or an edit. Production serves the collected, hashed files.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Printed emails show their plain-text part only, so their links are easy to find and click.
if EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend":
    EMAIL_BACKEND = "config.console_email.PlainTextConsoleEmailBackend"
