"""A user's own settings and API tokens."""

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from forecasts.exceptions import WebhookDeliveryFailed
from forecasts.models import Profile
from forecasts.services.webhook_targets import WebhookTargetRefused, webhook_target_check

PROFILE_FIELDS = {"digest_period", "closing_soon_opt_in", "webhook_url"}
DIGEST_PERIOD_MIN = timedelta(minutes=1)
DIGEST_PERIOD_MAX = timedelta(days=31)


@transaction.atomic
def profile_update(*, user, **changes) -> Profile:
    """Change the user's reminder settings: digest period, closing-soon nudges, webhook URL."""
    unknown = set(changes) - PROFILE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This setting does not exist."))
    period = changes.get("digest_period")
    if period is not None and not DIGEST_PERIOD_MIN <= period <= DIGEST_PERIOD_MAX:
        raise ValidationError({"digest_period": "Must be between one minute and 31 days."})
    if changes.get("webhook_url"):
        webhook_url_validate(changes["webhook_url"])
    profile = Profile.objects.for_user(user)
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    for name, value in changes.items():
        setattr(profile, name, value)
    if changes:
        profile.full_clean()
        profile.save(update_fields=sorted(changes))
    return profile


def webhook_url_validate(url: str) -> None:
    """Refuse a webhook URL Forewarn would not send to (the send-time checks, run at save time)."""
    try:
        webhook_target_check(url)
    except (WebhookTargetRefused, WebhookDeliveryFailed) as error:
        raise ValidationError({"webhook_url": str(error)}) from error


@transaction.atomic
def api_token_issue(*, user) -> Token:
    """The user's API token, created on first request; the same key until it is revoked."""
    return Token.objects.get_or_create(user=user)[0]


@transaction.atomic
def api_token_revoke(*, user) -> bool:
    """Delete the user's API token; True if there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
