"""The admin login form, throttled like the token endpoint (forecasts/services/logins.py).

A refused attempt shows the reason on the login page (config/admin.py makes it a 429 with
Retry-After); the password is not even checked then, so a locked username stays locked for the
right one too.
"""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from forecasts.services import client_address, login_attempt_check, login_failure_record, login_success_record

THROTTLED_MESSAGE = "%(reason)s Try again in %(wait)d seconds."


class AdminLoginForm(AdminAuthenticationForm):
    """Django's admin login form behind the sign-in throttle; `refusal` says why an attempt was refused."""

    refusal = None

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return super().clean()
        address = client_address(self.request)
        self.refusal = login_attempt_check(username=username, address=address)
        if self.refusal is not None:
            raise ValidationError(
                THROTTLED_MESSAGE,
                code="throttled",
                params={"reason": self.refusal.message, "wait": self.refusal.wait_seconds},
            )
        try:
            cleaned_data = super().clean()
        except ValidationError:
            if self.user_cache is None:  # a wrong password, not a right one for an account without admin access
                login_failure_record(username=username, address=address)
            raise
        login_success_record(username=self.user_cache.get_username())
        return cleaned_data
