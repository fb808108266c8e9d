"""Track records: every scored forecast of one forecaster, or every scored statement of one source,
with its question, window, outcome, probability, phrase and scores, a summary line, the calibration
chart and a CSV download, filtered by when the forecasts were made.

The pages hang off the stored scores' admin (`/admin/forecasts/score/track-record/<kind>/<id>/`).
Everything is read through `forecasts.selectors`, so a viewer sees only the scores
`forecasts.access` lets them see, and a forecaster they may not see is a 404 like a missing one.
"""

import csv

from django import forms
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import slugify

from forecasts import selectors
from forecasts.access import authors_visible_to, sources_visible_to
from forecasts.admin.calibration import ScoreAdmin, calibration_page_url, midnight, staff_may_view
from forecasts.api.views import Echo, csv_cell

TRACK_RECORD_TEMPLATE = "admin/track_record.html"
NOT_FOUND_TEMPLATE = "admin/track_record_not_found.html"
ROWS_PER_PAGE = 100
KINDS = ("forecaster", "source")
# What a row of the table reads (track_record_row): the question's other columns stay in the database.
PAGE_COLUMNS = (
    "id", "question_id", "forecast_id", "window_end", "outcome", "probability", "phrase", "yardstick", "brier",
    "relative_brier", "log_loss", "made_at", "question__id", "question__title", "question__window_start",
)  # fmt: skip
# The table's columns: (label, ordering key or None, numeric).
COLUMNS = [
    ("Question", "question", False),
    ("Window", "window_end", False),
    ("Outcome", "outcome", False),
    ("Made", "made_at", False),
    ("Forecast", "probability", True),
    ("Brier", "brier", True),
    ("Relative Brier", "relative_brier", True),
    ("Log loss", "log_loss", True),
]


class TrackRecordForm(forms.Form):
    """When the forecasts or statements were made: "January 2022" is from 2022-01-01 to before 2022-02-01."""

    made_after = forms.DateField(
        required=False, label="Made from", widget=forms.DateInput(attrs={"type": "date"}), help_text="inclusive"
    )
    made_before = forms.DateField(
        required=False, label="Made before", widget=forms.DateInput(attrs={"type": "date"}), help_text="exclusive"
    )

    def clean(self):
        data = super().clean()
        after, before = data.get("made_after"), data.get("made_before")
        if after and before and before <= after:
            self.add_error("made_before", "Must be later than made from.")
        return data


class TrackRecordAdmin(ScoreAdmin):
    """The stored scores' admin with a track record page per forecaster and per source."""

    def get_urls(self):
        return [
            path(
                "track-record/<str:kind>/<int:pk>/",
                self.admin_site.admin_view(self.track_record_view),
                name="forecasts_score_track_record",
            ),
            path(
                "track-record/<str:kind>/<int:pk>/records.csv",
                self.admin_site.admin_view(self.track_record_csv_view),
                name="forecasts_score_track_record_csv",
            ),
            *super().get_urls(),
        ]

    def author_or_none(self, request, kind: str, pk: int):
        """The forecaster or source the viewer may see, or None (hidden and missing alike)."""
        if kind == "forecaster":
            return authors_visible_to(request.user).filter(pk=pk).first()
        if kind == "source":
            return sources_visible_to(request.user).filter(pk=pk).first()
        return None

    def not_found(self, request, kind: str):
        context = {**self.admin_site.each_context(request), "title": f"No such {kind}", "kind": kind}
        return TemplateResponse(request, NOT_FOUND_TEMPLATE, context, status=404)

    def record_scores(self, request, kind: str, author, form: TrackRecordForm):
        data = form.cleaned_data if form.is_valid() else {}
        filters = selectors.ScoreFilters(
            forecaster_id=author.pk if kind == "forecaster" else None,
            source_id=author.pk if kind == "source" else None,
            made_after=midnight(data.get("made_after")),
            made_before=midnight(data.get("made_before")),
        )
        ordering = request.GET.get("o", selectors.DEFAULT_TRACK_RECORD_ORDERING)
        return selectors.track_record_for(request.user, filters, ordering=ordering), ordering

    def track_record_view(self, request, kind, pk):
        """One author's scored forecasts, newest first by default, a page at a time."""
        if not staff_may_view(request):
            return self.not_found(request, kind)
        author = self.author_or_none(request, kind, pk)
        if author is None:
            return self.not_found(request, kind)
        form = TrackRecordForm(request.GET or None)
        scores, ordering = self.record_scores(request, kind, author, form)
        page = Paginator(scores.only(*PAGE_COLUMNS), ROWS_PER_PAGE).get_page(request.GET.get("p"))
        dates = {
            name: value.isoformat() for name, value in (form.cleaned_data if form.is_valid() else {}).items() if value
        }
        author_param = {"forecaster" if kind == "forecaster" else "source": author.pk}
        query = {key: value for key, value in request.GET.items() if key != "p"}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Track record: {author}",
            "author": author,
            "kind": kind,
            "is_me": kind == "forecaster" and author.pk == request.user.pk,
            "form": form,
            "summary": selectors.track_record_summary(scores),
            "page": page,
            "rows": [track_record_row(score) for score in page.object_list],
            "headers": sort_headers(query, ordering),
            "chart_url": reverse("admin:forecasts_calibrationreport_chart")
            + "?"
            + urlencode({**author_param, **dates}),
            "calibration_url": calibration_page_url(**author_param, **dates),
            "csv_url": reverse("admin:forecasts_score_track_record_csv", args=[kind, author.pk])
            + ("?" + urlencode(query) if query else ""),
            "page_query": urlencode(query),
        }
        return TemplateResponse(request, TRACK_RECORD_TEMPLATE, context)

    def track_record_csv_view(self, request, kind, pk):
        """The whole record, as filtered and ordered on the page, as CSV."""
        author = self.author_or_none(request, kind, pk) if staff_may_view(request) else None
        if author is None:
            return self.not_found(request, kind)
        scores, _ = self.record_scores(request, kind, author, TrackRecordForm(request.GET or None))
        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(selectors.TRACK_RECORD_CSV_COLUMNS)
            for row in selectors.track_record_rows(scores).iterator(chunk_size=2000):
                yield writer.writerow([csv_cell(value) for value in row])

        filename = f"forewarn-track-record-{slugify(str(author))[:40]}-{timezone.now():%Y%m%d}.csv"
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def track_record_row(score) -> dict:
    """One scored forecast as the table shows it."""
    return {
        "question_url": reverse("admin:forecasts_question_change", args=[score.question_id]),
        "question": score.question.title,
        "window_start": score.question.window_start,
        "window_end": score.window_end,
        "outcome": "Yes" if score.outcome else "No",
        "made_at": score.made_at,
        "probability": score.probability,
        "phrase": score.phrase,
        "yardstick": score.get_yardstick_display() if score.yardstick else "",
        "brier": score.brier,
        "relative_brier": score.relative_brier,
        "log_loss": score.log_loss,
    }


def sort_headers(query: dict, ordering: str) -> list[dict]:
    """The table's headers, each a link that sorts by it (again: the other way round)."""
    current = ordering.removeprefix("-")
    headers = []
    for label, key, numeric in COLUMNS:
        descending = ordering.startswith("-")
        if key == current:
            next_order = key if descending else f"-{key}"
            arrow = " ▼" if descending else " ▲"
        else:
            next_order, arrow = key, ""
        headers.append(
            {
                "label": label,
                "url": "?" + urlencode({**query, "o": next_order}),
                "arrow": arrow,
                "numeric": numeric,
                "sorted": key == current,
            }
        )
    return headers
