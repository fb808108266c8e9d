"""A user's own settings and secrets: the API token and the calendar feed's token.

Both secrets can be rotated by their user, and both are rotated whenever the password changes:
`user_secrets_rotate` runs on the user model's post_save after `set_password` (the admin's
password forms, `manage.py changepassword`, any other caller); the app's `ready()` connects it.
An API token also expires FOREWARN_API_TOKEN_MAX_AGE_DAYS after it was issued.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from forecasts.exceptions import WebhookDeliveryFailed
from forecasts.models import Profile, new_calendar_token
from forecasts.services.webhook_targets import WebhookTargetRefused, webhook_target_check

PROFILE_FIELDS = {"digest_period", "closing_soon_opt_in", "webhook_url", "stale_forecast_days", "crowd_move_points"}
DIGEST_PERIOD_MIN = timedelta(minutes=1)
DIGEST_PERIOD_MAX = timedelta(days=31)


@transaction.atomic
def profile_update(*, user, **changes) -> Profile:
    """Change the user's reminder settings: digest period, closing-soon, stale and crowd-move nudges, webhook URL."""
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


def api_token_max_age() -> timedelta:
    """How long an API token works after it was issued (FOREWARN_API_TOKEN_MAX_AGE_DAYS)."""
    return timedelta(days=settings.FOREWARN["API_TOKEN_MAX_AGE_DAYS"])


def api_token_expired(token: Token) -> bool:
    """True once the token is older than the site's maximum age."""
    return timezone.now() - token.created >= api_token_max_age()


@transaction.atomic
def api_token_issue(*, user) -> Token:
    """The user's API token, created on first request; the same key until it is revoked, rotated or expires."""
    token = Token.objects.select_for_update().filter(user=user).first()
    if token is not None and not api_token_expired(token):
        return token
    return api_token_rotate(user=user)


@transaction.atomic
def api_token_rotate(*, user) -> Token:
    """Replace the user's API token with a new key: the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


@transaction.atomic
def api_token_revoke(*, user) -> bool:
    """Delete the user's API token; True if there was one."""
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)


def calendar_feed_url(*, profile: Profile) -> str:
    """The secret address of the user's calendar feed: whoever has it reads the feed, so show it only to its user."""
    return settings.SITE_URL + reverse("calendar-feed", args=[profile.calendar_token])


@transaction.atomic
def calendar_token_rotate(*, user) -> Profile:
    """Give the user's calendar feed a new secret address: the old one answers 404 from now on."""
    profile = Profile.objects.for_user(user)
    profile = Profile.objects.select_for_update().get(pk=profile.pk)
    profile.calendar_token = new_calendar_token()
    profile.save(update_fields=["calendar_token"])
    return profile


@transaction.atomic
def user_secrets_rotate(*, user) -> None:
    """After a password change: revoke the API token (a new one needs the new password) and move the calendar feed."""
    api_token_revoke(user=user)
    calendar_token_rotate(user=user)


def secrets_rotate_on_password_change(sender, instance, created, **kwargs):
    """A new password revokes the API token and moves the calendar feed, whoever changed it and how."""
    # `set_password` keeps the new raw password in `_password` until the save that stores its hash;
    # a hash upgrade at login clears it first, so only a real change of password rotates the secrets.
    if not created and getattr(instance, "_password", None) is not None:
        user_secrets_rotate(user=instance)
