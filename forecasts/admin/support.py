"""Pieces the admin modules share: a read-only mixin and how numbers and times are shown."""

from django.db.models import URLField
from django.urls import reverse
from django.utils import timezone

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


def short_datetime(moment) -> str:
    """Compact UTC timestamps keep the question list readable beside the filters."""
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M")


def track_record_url(*, forecaster_id: int | None = None, source_id: int | None = None) -> str:
    """The track record page of a forecaster or a source (forecasts/admin/records.py)."""
    if source_id is not None:
        return reverse("admin:forecasts_score_track_record", args=["source", source_id])
    return reverse("admin:forecasts_score_track_record", args=["forecaster", forecaster_id])
