"""Development on a laptop: `make run` uses these (SQLite and the filesystem broker by default)."""

from .base import *
from .base import STORAGES, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
