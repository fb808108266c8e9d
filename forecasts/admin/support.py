"""Pieces the admin modules share: a read-only mixin and how numbers and times are shown."""

from django.db.models import URLField
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

# Links typed without a scheme are taken as https.
URL_INPUT = {URLField: {"assume_scheme": "https"}}


class ReadOnlyAdminMixin:
    """Records nobody adds, changes or deletes through the admin: history, scores, deliveries."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def as_percent(probability: float | None) -> str | None:
    """0.625 -> '62.5%'; None stays None so the admin shows its empty marker."""
    if probability is None:
        return None
    return f"{probability * 100:.1f}".rstrip("0").rstrip(".") + "%"


def three_decimals(value: float | None, *, signed: bool = False) -> str | None:
    """0.10562499999999997 -> '0.106' (with signed, '+0.106'); None stays None."""
    if value is None:
        return None
    return f"{value:+.3f}" if signed else f"{value:.3f}"


def short_datetime(moment) -> str:
    """Compact UTC timestamps keep the question list readable beside the filters."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def short_date(moment) -> str:
    """The day alone, for a deadline whose hour the question's page shows."""
    return timezone.localtime(moment).strftime("%Y-%m-%d")


def safe_next(request, default: str) -> str:
    """Where a form on another page asked to go back to, if that is a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default
