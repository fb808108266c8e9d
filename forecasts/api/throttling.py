"""Request rates for anonymous and signed-in callers, read from settings on every request.

DRF's own classes copy the rates when they are imported, so a changed setting (a test, a
reloaded configuration) would never reach them; these look the rate up each time.
"""

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class CurrentRateMixin:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonymousRateThrottle(CurrentRateMixin, AnonRateThrottle):
    """Per client address, for callers without credentials (token requests, schema, docs)."""


class SignedInRateThrottle(CurrentRateMixin, UserRateThrottle):
    """Per user, for every authenticated call."""
