"""The workbench's home page (the admin index) and every user's settings page.

The home page shows what needs the user's attention (forecasts/selectors/home.py reads it, through
forecasts/access.py); the model links stay below it. The settings page changes the same reminder
settings as `PATCH /api/me/`, with the same serializer and service, and holds the user's secrets:
the calendar feed's address (behind a copy button, never in a title) and the API token.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from forecasts import selectors
from forecasts.api.serializers import SettingsSerializer, iso_duration
from forecasts.api.throttling import WebhookTestThrottle
from forecasts.models import Profile
from forecasts.services import (
    api_token_max_age,
    api_token_rotate,
    calendar_feed_url,
    calendar_token_rotate,
    profile_update,
    webhook_test_send,
)

HOME_TEMPLATE = "admin/forecasts/home.html"
SETTINGS_TEMPLATE = "admin/forecasts/settings.html"
TOKEN_TEMPLATE = "admin/forecasts/notification/api_token.html"
SETTINGS_FIELDS = ("digest_period", "closing_soon_opt_in", "webhook_url")


def home_index(admin_site):
    """The site's index view with the home page's sections added to its context (the `home` variable)."""
    index = admin_site.index

    def home_view(request, extra_context=None):
        context = {"home": selectors.home_for(request.user)}
        return index(request, extra_context={**context, **(extra_context or {})})

    return home_view


def settings_form_values(profile: Profile) -> dict:
    """The settings as the form shows them: the period in whole minutes when it is whole."""
    minutes, seconds = divmod(int(profile.digest_period.total_seconds()), 60)
    return {
        "digest_period": iso_duration(profile.digest_period) if seconds else str(minutes),
        "closing_soon_opt_in": profile.closing_soon_opt_in,
        "webhook_url": profile.webhook_url,
    }


def settings_save(request) -> dict[str, list[str]]:
    """Validate the posted settings like `PATCH /api/me/` and save them all, or nothing; the errors by field."""
    posted = {
        "digest_period": request.POST.get("digest_period", "").strip(),
        "closing_soon_opt_in": request.POST.get("closing_soon_opt_in") == "on",
        "webhook_url": request.POST.get("webhook_url", "").strip(),
    }
    serializer = SettingsSerializer(data=posted)
    if not serializer.is_valid():
        return {name: [str(message) for message in errors] for name, errors in serializer.errors.items()}
    try:
        profile_update(user=request.user, **serializer.validated_data)
    except DjangoValidationError as error:
        return {name: list(errors) for name, errors in error.message_dict.items()}
    return {}


def with_settings_page(admin_site):
    """The site's URL list with the settings page first (`admin:settings`), before the admin's catch-all."""
    admin_urls = admin_site.get_urls

    def get_urls():
        return [path("settings/", settings_view(admin_site), name="settings"), *admin_urls()]

    return get_urls


def settings_view(admin_site):
    """The settings page of the signed-in user: GET shows it; POST saves, tests the webhook or rotates a secret."""

    def view(request):
        url = reverse("admin:settings")
        errors: dict[str, list[str]] = {}
        values = None
        if request.method == "POST":
            action = request.POST.get("action", "save")
            if action == "save":
                errors = settings_save(request)
                if not errors:
                    messages.success(request, "Your settings are saved.")
                    return HttpResponseRedirect(url)
                values = {name: request.POST.get(name, "") for name in SETTINGS_FIELDS}
                values["closing_soon_opt_in"] = request.POST.get("closing_soon_opt_in") == "on"
            elif action == "send-test":
                webhook_test_report(request)
                return HttpResponseRedirect(url)
            elif action == "rotate-calendar":
                calendar_token_rotate(user=request.user)
                messages.success(
                    request, "Your calendar has a new address: subscribe to it again; the old one stops working."
                )
                return HttpResponseRedirect(url)
            elif action == "rotate-token":
                token = api_token_rotate(user=request.user)
                context = {
                    **admin_site.each_context(request),
                    "title": "Your new API token",
                    "token": token.key,
                    "max_age_days": api_token_max_age().days,
                    "back_url": url,
                    "back_label": "Back to your settings",
                }
                # admin_view's never_cache keeps the page (and the key on it) out of every cache.
                return TemplateResponse(request, TOKEN_TEMPLATE, context)
        profile = Profile.objects.for_user(request.user)
        context = {
            **admin_site.each_context(request),
            "title": "Your settings",
            "values": values or settings_form_values(profile),
            "errors": errors,
            "field_errors_count": sum(len(messages_) for messages_ in errors.values()),
            "calendar_url": calendar_feed_url(profile=profile),
            "api_token": selectors.api_token_state_for(request.user),
            "api_token_max_age_days": api_token_max_age().days,
            "has_webhook": bool(profile.webhook_url),
        }
        status = 400 if errors else 200
        return TemplateResponse(request, SETTINGS_TEMPLATE, context, status=status)

    return admin_site.admin_view(view)


def webhook_test_report(request) -> None:
    """Send the test message through the API's service and throttle, and say how it went."""
    if not WebhookTestThrottle().allow_request(request, None):
        messages.warning(request, "Too many test messages: wait a minute and try again.")
        return
    outcome = webhook_test_send(user=request.user)
    level = messages.SUCCESS if outcome.outcome == "delivered" else messages.ERROR
    messages.add_message(request, level, f"Test message {outcome.outcome}: {outcome.detail}")
