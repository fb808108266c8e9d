"""The admin app with Forewarn's site: a login refused by the sign-in throttle answers 429.

The site is built before forecasts/admin/ registers its pages (which is why it lives here, apart
from them); forecasts/admin/__init__.py gives it the throttled login form (forecasts/admin/login.py).
"""

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class ForewarnAdminSite(admin.AdminSite):
    """Django's admin site; a login the form refused for throttling is a 429 with Retry-After."""

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = (getattr(response, "context_data", None) or {}).get("form")
        refusal = getattr(form, "refusal", None)
        if refusal is not None:
            response.status_code = 429
            response["Retry-After"] = str(refusal.wait_seconds)
        return response


class ForewarnAdminConfig(AdminConfig):
    default_site = "config.admin.ForewarnAdminSite"
