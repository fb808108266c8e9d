"""Pieces the admin modules share: a read-only mixin and how numbers and times are shown."""

from functools import wraps

from django.db.models import URLField
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

NOT_FOUND_TEMPLATE = "admin/forecasts/question/not_found.html"

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


def not_found_as_page(model_admin, view, *, title: str):
    """`view`, with a hidden or missing row answered by the admin's own 404 page, not a bare error page."""

    @wraps(view)
    def view_or_not_found(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except Http404:
            context = {**model_admin.admin_site.each_context(request), "opts": model_admin.opts, "title": title}
            return TemplateResponse(request, NOT_FOUND_TEMPLATE, context, status=404)

    return view_or_not_found


def short_date(moment) -> str:
    """The day alone, for a deadline whose hour the question's page shows."""
    return timezone.localtime(moment).strftime("%Y-%m-%d")


def safe_next(request, default: str) -> str:
    """Where a form on another page asked to go back to, if that is a page of this site."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=False):
        return target
    return default


def track_record_url(*, forecaster_id: int | None = None, source_id: int | None = None) -> str:
    """The track record page of a forecaster or a source (forecasts/admin/records.py)."""
    if source_id is not None:
        return reverse("admin:forecasts_score_track_record", args=["source", source_id])
    return reverse("admin:forecasts_score_track_record", args=["forecaster", forecaster_id])
