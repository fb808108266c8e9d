"""The admin's statistics: a Calibration page with filters and charts, stored scores, and a chart
on each user's page.

Every number is read through forecasts/selectors/calibration.py with the signed-in user's visibility,
and every choice list offers only what forecasts/access.py lets the user see.
"""

from datetime import UTC, date, datetime, time

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.http import urlencode

from forecasts import charts, selectors
from forecasts.access import authors_visible_to, scores_visible_to, sources_visible_to, teams_visible_to
from forecasts.admin.support import ReadOnlyAdminMixin, as_percent, short_date, three_decimals, track_record_url
from forecasts.charts import svg_response
from forecasts.models import Confidence, QuestionKind, Source, Team

CALIBRATION_TEMPLATE = "admin/calibration.html"
LEADERBOARD_ROWS = 20


def staff_may_view(request) -> bool:
    """Statistics are read-only and filtered by visibility: every workbench user may look."""
    return bool(request.user.is_active and request.user.is_staff)


class CalibrationFilterForm(forms.Form):
    """The Calibration page's filters; the same meaning as the API's query parameters."""

    forecaster = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    source = forms.ModelChoiceField(queryset=Source.objects.none(), required=False)
    kind = forms.ChoiceField(choices=[("", "any kind"), *QuestionKind.choices], required=False)
    team = forms.ModelChoiceField(queryset=Team.objects.none(), required=False)
    tag = forms.SlugField(required=False, max_length=60)
    resolved_after = forms.DateField(required=False, help_text="YYYY-MM-DD, inclusive")
    resolved_before = forms.DateField(required=False, help_text="YYYY-MM-DD, exclusive")
    confidence = forms.ChoiceField(
        choices=[("", "any confidence"), *Confidence.choices, ("none", "not given")], required=False
    )
    made_after = forms.DateField(required=False, label="Made from", help_text="YYYY-MM-DD, inclusive")
    made_before = forms.DateField(required=False, label="Made before", help_text="YYYY-MM-DD, exclusive")
    bins = forms.IntegerField(min_value=1, max_value=selectors.MAX_BINS, initial=selectors.DEFAULT_BINS, required=False)
    strategy = forms.ChoiceField(choices=[(name, name) for name in selectors.STRATEGIES], required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        # A forecaster the user may not see is refused like an unknown id: "Select a valid choice".
        self.fields["forecaster"].queryset = authors_visible_to(user).order_by("username")
        self.fields["source"].queryset = sources_visible_to(user).order_by("name")
        self.fields["team"].queryset = teams_visible_to(user).order_by("name")

    def clean(self):
        cleaned = super().clean()
        after, before = cleaned.get("resolved_after"), cleaned.get("resolved_before")
        if after and before and before <= after:
            self.add_error("resolved_before", "Must be later than resolved after.")
        made_after, made_before = cleaned.get("made_after"), cleaned.get("made_before")
        if made_after and made_before and made_before <= made_after:
            self.add_error("made_before", "Must be later than made from.")
        return cleaned

    def score_filters(self) -> selectors.ScoreFilters:
        data = self.cleaned_data
        return selectors.ScoreFilters(
            forecaster_id=data["forecaster"].pk if data.get("forecaster") else None,
            source_id=data["source"].pk if data.get("source") else None,
            kind=data.get("kind") or None,
            tag=data.get("tag") or None,
            team_id=data["team"].pk if data.get("team") else None,
            resolved_after=midnight(data.get("resolved_after")),
            resolved_before=midnight(data.get("resolved_before")),
            confidence=data.get("confidence") or None,
            made_after=midnight(data.get("made_after")),
            made_before=midnight(data.get("made_before")),
        )

    def chosen_bins(self) -> int:
        return self.cleaned_data.get("bins") or selectors.DEFAULT_BINS

    def chosen_strategy(self) -> str:
        return self.cleaned_data.get("strategy") or "uniform"


def midnight(day: date | None) -> datetime | None:
    """A date as the aware UTC datetime at its start."""
    return datetime.combine(day, time.min, tzinfo=UTC) if day else None


def chosen_settings(form: CalibrationFilterForm) -> tuple[selectors.ScoreFilters, int, str] | None:
    """(filters, bins, strategy) from the page's form; everything when unfiltered, None when invalid."""
    if not form.is_bound:
        return selectors.ScoreFilters(), selectors.DEFAULT_BINS, "uniform"
    if not form.is_valid():
        return None
    return form.score_filters(), form.chosen_bins(), form.chosen_strategy()


def calibration_page_url(**params) -> str:
    url = reverse("admin:forecasts_calibrationreport_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def calibration_panel(*, forecaster=None, source=None) -> str:
    """The calibration chart of one user or one source, with a link to its numbers (for change pages)."""
    if forecaster is not None and forecaster.pk:
        params = {"forecaster": forecaster.pk}
        record_url = track_record_url(forecaster_id=forecaster.pk)
    elif source is not None and source.pk:
        params = {"source": source.pk}
        record_url = track_record_url(source_id=source.pk)
    else:
        return "–"
    chart_url = reverse("admin:forecasts_calibrationreport_chart") + "?" + urlencode(params)
    return format_html(
        '<img src="{}" alt="Calibration chart" width="420" loading="lazy"><br>'
        '<a href="{}">Track record: every scored forecast</a> · '
        '<a href="{}">Numbers, bins and filters on the Calibration page</a>',
        chart_url,
        record_url,
        calibration_page_url(**params),
    )


class CalibrationReportAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Calibration: the numbers, the bins, the chart and the leaderboard, with filters."""

    def has_view_permission(self, request, obj=None):
        return staff_may_view(request)

    def has_module_permission(self, request):
        return staff_may_view(request)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("chart.svg", self.admin_site.admin_view(self.chart_view), name="{}_{}_chart".format(*info)),
            path(
                "aggregates.svg",
                self.admin_site.admin_view(self.aggregates_chart_view),
                name="{}_{}_aggregates_chart".format(*info),
            ),
            path(
                "brier-over-time.svg",
                self.admin_site.admin_view(self.brier_over_time_view),
                name="{}_{}_brier_over_time".format(*info),
            ),
            *super().get_urls(),
        ]

    def filter_form(self, request) -> CalibrationFilterForm:
        if not staff_may_view(request):
            raise PermissionDenied
        return CalibrationFilterForm(request.GET or None, user=request.user)

    def changelist_view(self, request, extra_context=None):
        form = self.filter_form(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Calibration",
            "form": form,
            "my_calibration_url": calibration_page_url(forecaster=request.user.pk),
            "my_record_url": track_record_url(forecaster_id=request.user.pk),
        }
        chosen = chosen_settings(form)
        if chosen is None:
            return TemplateResponse(request, CALIBRATION_TEMPLATE, context)
        filters, bins, strategy = chosen
        query = f"?{request.GET.urlencode()}" if request.GET else ""
        leaderboard = selectors.leaderboard_for(request.user, filters=filters)[:LEADERBOARD_ROWS]
        context.update(
            calibration=selectors.calibration_for(request.user, filters=filters, bins=bins, strategy=strategy),
            subject=selectors.filters_description(request.user, filters),
            leaderboard=[
                {
                    **entry,
                    "record_url": track_record_url(
                        forecaster_id=entry["id"] if entry["author_type"] == "forecaster" else None,
                        source_id=entry["id"] if entry["author_type"] == "source" else None,
                    ),
                }
                for entry in (
                    selectors.leaderboard_entry(row, rank=rank) for rank, row in enumerate(leaderboard, start=1)
                )
            ],
            phrases=[
                row for row in selectors.phrase_calibration_for(request.user, filters=filters) if row["statements"]
            ],
            aggregates=selectors.aggregate_comparison_for(request.user, filters=filters),
            aggregates_chart_url=reverse("admin:forecasts_calibrationreport_aggregates_chart") + query,
            by_confidence=selectors.calibration_by_confidence_for(request.user, filters=filters),
            chart_url=reverse("admin:forecasts_calibrationreport_chart") + query,
            brier_chart_url=reverse("admin:forecasts_calibrationreport_brier_over_time") + query,
        )
        return TemplateResponse(request, CALIBRATION_TEMPLATE, context)

    def chart_view(self, request):
        chosen = chosen_settings(self.filter_form(request))
        if chosen is None:
            return svg_response(charts.calibration_chart_svg(selectors.empty_calibration(), subject="invalid filters"))
        filters, bins, strategy = chosen
        calibration = selectors.calibration_for(request.user, filters=filters, bins=bins, strategy=strategy)
        subject = selectors.filters_description(request.user, filters)
        return svg_response(charts.calibration_chart_svg(calibration, subject=subject))

    def aggregates_chart_view(self, request):
        chosen = chosen_settings(self.filter_form(request))
        filters = chosen[0] if chosen else selectors.ScoreFilters()
        comparison = selectors.aggregate_comparison_for(request.user, filters=filters)
        subject = selectors.filters_description(request.user, filters) if chosen else "invalid filters"
        return svg_response(charts.aggregate_comparison_chart_svg(comparison, subject=subject))

    def brier_over_time_view(self, request):
        chosen = chosen_settings(self.filter_form(request))
        if chosen is None:
            return svg_response(charts.brier_over_time_chart_svg([], subject="invalid filters"))
        filters = chosen[0]
        months = selectors.brier_over_time_for(request.user, filters=filters)
        subject = selectors.filters_description(request.user, filters)
        return svg_response(charts.brier_over_time_chart_svg(months, subject=subject))


class OutcomeFilter(admin.SimpleListFilter):
    """A score's outcome by name: Yes or No, not the 1 or 0 it is stored as."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request, model_admin):
        return [("1", "Yes"), ("0", "No")]

    def queryset(self, request, queryset):
        return queryset.filter(outcome=int(self.value())) if self.value() in ("0", "1") else queryset


class ScoreAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Stored scores, one row per (author, question): read-only, rebuilt on every resolution change."""

    list_display = [
        "question",
        "author",
        "probability_percent",
        "outcome_label",
        "brier_both_scales",
        "log_loss_3",
        "time_averaged_brier_3",
        "relative_brier_3",
        "resolved_at_short",
    ]
    list_filter = ["question_kind", OutcomeFilter, "yardstick"]
    # The page of one score shows the same rounded numbers as the list.
    fields = [
        "question",
        "author",
        "probability_percent",
        "phrase",
        "yardstick",
        "outcome_label",
        "brier_3",
        "log_loss_3",
        "time_averaged_brier_3",
        "relative_brier_3",
        "coverage_percent",
        "forecast_count",
        "scored_until",
        "resolved_at",
        "computed_at",
    ]
    readonly_fields = fields
    list_select_related = ["question", "forecaster", "source"]
    search_fields = ["question__title", "forecaster__username", "source__name"]
    date_hierarchy = "resolved_at"

    def get_queryset(self, request):
        return scores_visible_to(request.user, super().get_queryset(request))

    def has_view_permission(self, request, obj=None):
        return staff_may_view(request)

    def has_module_permission(self, request):
        return staff_may_view(request)

    @admin.display(description="author")
    def author(self, score):
        return f"{score.source} (source)" if score.source_id else str(score.forecaster)

    @admin.display(description="forecast", ordering="probability")
    def probability_percent(self, score):
        return as_percent(score.probability)

    @admin.display(description="Brier 0-1 (0-2)", ordering="brier")
    def brier_both_scales(self, score):
        """'0.125 (0.250)': the header names the scales, so the list's column stays narrow."""
        return f"{three_decimals(score.brier)} ({three_decimals(2 * score.brier)})"

    @admin.display(description="outcome", ordering="outcome")
    def outcome_label(self, score):
        return "Yes" if score.outcome else "No"

    @admin.display(description="coverage")
    def coverage_percent(self, score):
        return as_percent(score.coverage)

    @admin.display(description="Brier", ordering="brier")
    def brier_3(self, score):
        return three_decimals(score.brier)

    @admin.display(description="log loss", ordering="log_loss")
    def log_loss_3(self, score):
        return three_decimals(score.log_loss)

    @admin.display(description="resolved", ordering="resolved_at")
    def resolved_at_short(self, score):
        return short_date(score.resolved_at)

    @admin.display(description="time-avg. Brier", ordering="time_averaged_brier")
    def time_averaged_brier_3(self, score):
        return three_decimals(score.time_averaged_brier)

    @admin.display(description="relative Brier", ordering="relative_brier")
    def relative_brier_3(self, score):
        return three_decimals(score.relative_brier, signed=True)


class UserCalibrationAdmin(UserAdmin):
    """Django's user admin, plus the user's calibration chart on their change page.

    The chart shows only when the viewer may see the user named in statistics.
    """

    def shows_calibration(self, request, user) -> bool:
        return user is not None and authors_visible_to(request.user).filter(pk=user.pk).exists()

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if not self.shows_calibration(request, obj):
            return fieldsets
        return [*fieldsets, ("Calibration", {"fields": ["calibration"]})]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "calibration"] if self.shows_calibration(request, obj) else readonly

    @admin.display(description="calibration")
    def calibration(self, user):
        return calibration_panel(forecaster=user)
