"""Request rates for anonymous and signed-in callers, read from settings on every request; sign-in attempts.

DRF's own classes copy the rates when they are imported, so a changed setting (a test, a
reloaded configuration) would never reach them; these look the rate up each time.
"""

from collections.abc import Mapping

from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, UserRateThrottle

from forecasts.services import client_address, login_attempt_check


class CurrentRateMixin:
    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class AnonymousRateThrottle(CurrentRateMixin, AnonRateThrottle):
    """Per client address, for callers without credentials (token requests, schema, docs)."""


class SignedInRateThrottle(CurrentRateMixin, UserRateThrottle):
    """Per user, for every authenticated call."""


class LoginThrottle(BaseThrottle):
    """Sign-in attempts per address and username, and the username's lockout, whoever is calling.

    The counts are the admin login's too (forecasts/services/logins.py), so a token or a session
    buys no extra guesses.
    """

    refusal = None

    def allow_request(self, request, view):
        if request.method != "POST":
            return True
        data = request.data if isinstance(request.data, Mapping) else {}
        self.refusal = login_attempt_check(username=str(data.get("username", "")), address=client_address(request))
        request.login_refusal = self.refusal  # the view's 429 says why
        return self.refusal is None

    def wait(self):
        return self.refusal.wait_seconds


class WebhookTestThrottle(UserRateThrottle):
    """Each webhook test is an outgoing request made at once: a few a minute are plenty (API and settings page)."""

    scope = "webhook_test"
    rate = "10/minute"
