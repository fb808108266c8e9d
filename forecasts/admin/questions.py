"""The forecaster's workbench: questions, their forecasts and their resolution history.

Every write goes through forecasts.services; forecasts are view-only here. Every list and page
shows only what forecasts/access.py lets the user see, and a question the user may not see is
the same 404 as one that does not exist.
"""

from datetime import timedelta
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Case, DateTimeField, F, IntegerField, Value, When
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.text import Truncator

from forecasts import aggregation
from forecasts.access import (
    NO_SUCH_QUESTION,
    crowd_visible_to,
    forecasts_visible_to,
    question_or_404,
    questions_visible_to,
    questions_with_crowd_visibility,
    sources_visible_to,
    teams_visible_to,
    user_can_edit_question,
    user_can_resolve_question,
    user_is_moderator,
)
from forecasts.admin.forms import (
    ForecastAddForm,
    ForecastBoxForm,
    QuestionAdminForm,
    ResolveForm,
    UnresolveForm,
    add_service_errors,
    forecast_box_widget,
)
from forecasts.admin.imports import forecast_import_view
from forecasts.admin.intake import ReportIntakeMixin
from forecasts.admin.support import (
    URL_INPUT,
    ReadOnlyAdminMixin,
    as_percent,
    not_found_as_page,
    safe_next,
    short_date,
    short_datetime,
    track_record_url,
)
from forecasts.forecast_input import ForecastReading
from forecasts.models import (
    ClosingAggregate,
    CrowdMethod,
    Forecast,
    Question,
    ResolutionEvent,
    WindowChange,
)
from forecasts.selectors import question_scores_for, standing_probability_for
from forecasts.services import forecast_submit, question_delete, question_resolve, question_unresolve

QUESTION_ACTION_TEMPLATE = "admin/forecasts/question/question_action.html"
NOTE_PREVIEW_CHARS = 120
# The question page shows the latest forecasts only: the full history is on the Forecasts list, linked from the page.
FORECAST_HISTORY_ROWS = 50


def forecast_author(forecast: Forecast) -> str:
    return f"{forecast.source} (source)" if forecast.source_id else str(forecast.forecaster)


def forecast_reading_text(forecast: Forecast) -> str:
    """'70%', or '67.5% - ICD 203: likely' for a phrase: what the one box understood."""
    return ForecastReading(forecast.probability, forecast.phrase, forecast.yardstick).description


def forecast_estimative(forecast: Forecast) -> str:
    return f"{forecast.phrase} ({forecast.get_yardstick_display()})" if forecast.phrase else ""


def crowd_median_text(user, question: Question) -> str:
    """The crowd median as a percentage, or "hidden" while blind forecasting hides it from the user."""
    if not crowd_visible_to(user, question):
        return "hidden (blind)"
    return as_percent(question.crowd_probability)


def crowd_hidden_note(user, question: Question) -> str:
    """Why the user does not see the crowd yet, or "" when they do."""
    if crowd_visible_to(user, question):
        return ""
    if question.crowd_hidden == Question.CrowdHidden.UNTIL_FORECAST:
        return "Blind forecasting: the crowd and other people's forecasts show once you have forecast."
    return "Blind forecasting: the crowd and other people's forecasts show once the window closes."


class AwaitingResolutionFilter(admin.SimpleListFilter):
    """Questions waiting for the user's verdict: their own, or every one for moderators."""

    title = "resolution"
    parameter_name = "resolution"

    def lookups(self, request, model_admin):
        return [("mine", "Awaiting my resolution"), ("overdue", "Resolve-by passed")]

    def queryset(self, request, queryset):
        if self.value() not in ("mine", "overdue"):
            return queryset
        awaiting = queryset.filter(status=Question.Status.AWAITING_RESOLUTION)
        if not user_is_moderator(request.user):
            awaiting = awaiting.filter(owner=request.user)
        if self.value() == "overdue":
            awaiting = awaiting.filter(resolve_by__lt=timezone.now())
        return awaiting


class WindowEndFilter(admin.SimpleListFilter):
    """When the window ends: soon (to forecast before it closes) or lately (to resolve)."""

    title = "window end"
    parameter_name = "closes"
    CHOICES = {
        "7": ("Closing in the next 7 days", timedelta(0), timedelta(days=7)),
        "30": ("Closing in the next 30 days", timedelta(0), timedelta(days=30)),
        "past7": ("Closed in the past 7 days", -timedelta(days=7), timedelta(0)),
        "past30": ("Closed in the past 30 days", -timedelta(days=30), timedelta(0)),
    }

    def lookups(self, request, model_admin):
        return [(value, label) for value, (label, _, _) in self.CHOICES.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.CHOICES:
            return queryset
        _, start, end = self.CHOICES[self.value()]
        now = timezone.now()
        return queryset.filter(window_end__gte=now + start, window_end__lt=now + end)


# Open questions first, then those awaiting an outcome, drafts, and the final ones last; the
# unfinished by the soonest window end, the final ones the latest first.
STATUS_ORDER = Case(
    When(status=Question.Status.OPEN, then=Value(0)),
    When(status=Question.Status.AWAITING_RESOLUTION, then=Value(1)),
    When(status=Question.Status.DRAFT, then=Value(2)),
    default=Value(3),
    output_field=IntegerField(),
)
UNFINISHED_WINDOW_END = Case(
    When(status__in=Question.FINAL_STATUSES, then=Value(None)), default=F("window_end"), output_field=DateTimeField()
)


class ReadOnlyInline(ReadOnlyAdminMixin, admin.TabularInline):
    extra = 0
    can_delete = False


FORECAST_HISTORY_COLUMNS = (
    "id", "question_id", "made_at", "recorded_at", "probability", "phrase", "yardstick", "confidence", "rationale",
    "forecaster_id", "source_id", "recorded_by_id", "forecaster__id", "forecaster__username",
    "forecaster__first_name", "forecaster__last_name", "source__id", "source__name", "recorded_by__id",
    "recorded_by__username", "recorded_by__first_name", "recorded_by__last_name",
)  # fmt: skip


def forecast_history_for(user, question: Question) -> list[Forecast]:
    """The latest forecasts on the question the user may see, newest first: one query, a plain table's rows.

    (A read-only inline formset built a form per row: about ten milliseconds a row.)"""
    forecasts = forecasts_visible_to(
        user,
        Forecast.objects.filter(question_id=question.pk)
        .select_related("forecaster", "source", "recorded_by")
        .only(*FORECAST_HISTORY_COLUMNS),
    ).order_by("-made_at", "-id")
    rows = list(forecasts[:FORECAST_HISTORY_ROWS])
    for forecast in rows:
        forecast.author_label = forecast_author(forecast)
        forecast.percent = as_percent(forecast.probability)
        forecast.estimative = forecast_estimative(forecast)
    return rows


class ResolutionHistoryInline(ReadOnlyInline):
    model = ResolutionEvent
    verbose_name = "resolution event"
    verbose_name_plural = "Resolution history"
    fields = ["created_at", "action", "outcome", "previous_status", "actor", "evidence", "note_start", "occurred_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description="note")
    def note_start(self, event):
        # The whole note of the standing resolution is in the Resolution panel above the form;
        # here it only identifies the event, so it cannot squeeze the table into a tall column.
        return Truncator(event.note).chars(NOTE_PREVIEW_CHARS)

    @admin.display(description="evidence")
    def evidence(self, event):
        if not event.evidence_url:
            return ""
        # The site's name stands for the link: a whole URL would not wrap and widened the page.
        site = urlsplit(event.evidence_url).netloc or event.evidence_url
        return format_html(
            '<a href="{}" rel="noopener" title="{}">{}</a>', event.evidence_url, event.evidence_url, site
        )


class WindowChangeInline(ReadOnlyInline):
    model = WindowChange
    verbose_name = "window change"
    verbose_name_plural = "Window changes"
    fields = [
        "created_at",
        "actor",
        "previous_window_start",
        "previous_window_end",
        "window_start",
        "window_end",
        "forecasts_cut_off",
    ]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


class QuestionAdmin(ReportIntakeMixin, admin.ModelAdmin):
    form = QuestionAdminForm
    formfield_overrides = URL_INPUT
    change_form_template = "admin/forecasts/question/change_form.html"
    change_list_template = "admin/forecasts/question/change_list.html"
    # What fits at 1366 px: the question page shows all five aggregates; the list shows the crowd's one.
    list_display = [
        "title",
        "forecast_box",
        "my_forecast",
        "crowd",
        "forecast_total",
        "status",
        "outcome_label",
        "window_end_short",
        "resolve_by_short",
        "owner",
    ]
    list_select_related = ["owner", "team", "source"]
    list_filter = [
        AwaitingResolutionFilter,
        WindowEndFilter,
        "status",
        "kind",
        ("tags", admin.RelatedOnlyFieldListFilter),
        ("team", admin.RelatedOnlyFieldListFilter),
    ]
    ordering = [STATUS_ORDER.asc(), UNFINISHED_WINDOW_END.asc(), "-window_end", "id"]
    search_fields = ["title", "details", "source__name", "source_quote"]
    date_hierarchy = "window_end"
    list_per_page = 50
    inlines = [ResolutionHistoryInline, WindowChangeInline]
    status_fields = [
        "status",
        "outcome",
        "owner",
        "crowd",
        "forecast_count",
        "forecaster_count",
        "created_at",
        "opened_at",
        "closed_at",
        "resolved_at",
        "resolved_by",
        "occurred_at",
    ]

    def questions_with_my_forecast(self, request):
        """Every question, with the user's standing probability and whether they may see its crowd:
        visibility is applied by the callers."""
        questions = (
            super()
            .get_queryset(request)
            .select_related("owner", "team", "source")
            .annotate(my_probability=standing_probability_for(request.user))
        )
        return questions_with_crowd_visibility(request.user, questions)

    def get_queryset(self, request):
        return questions_visible_to(request.user, self.questions_with_my_forecast(request))

    def get_object(self, request, object_id, from_field=None):
        # Django's admin sends a missing object to the index with a message; a hidden question
        # must not be told apart from a missing one, so both are the access module's 404.
        # (`from_field` can only be the primary key: nothing refers to a question by another field.)
        questions = self.questions_with_my_forecast(request).select_related("current_resolution__actor")
        return question_or_404(request.user, object_id, queryset=questions)

    def get_fieldsets(self, request, obj=None):
        question_fields = ["title", "kind", "tags", "team", "crowd_hidden", "details", "resolution_criteria"]
        if obj is None:
            question_fields.append("draft")
        elif obj.status == Question.Status.DRAFT and self.has_change_permission(request, obj):
            question_fields.append("publish")
        fieldsets = [
            (None, {"fields": question_fields}),
            ("Window", {"fields": ["window_start", "window_end", "resolve_by"]}),
            (
                "Source statement",
                {
                    "fields": ["source", "source_quote", "source_statement_date", "source_url"],
                    "description": "The public statement this question comes from.",
                },
            ),
        ]
        if obj is None:
            fieldsets.insert(1, ("Your first forecast", {"fields": ["first_forecast"]}))
        else:
            if crowd_visible_to(request.user, obj):
                fieldsets.append(("Crowd aggregates", {"fields": ["aggregates_table"]}))
            fieldsets.append(("Status and crowd", {"fields": self.status_fields, "classes": ["collapse"]}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else [*self.status_fields, "aggregates_table"]

    def get_inlines(self, request, obj):
        # On POST the inlines are not rendered back, and read-only inlines have nothing to save.
        if obj is None or request.method == "POST":
            return []
        return self.inlines

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "team":
            kwargs["queryset"] = teams_visible_to(request.user)
        elif db_field.name == "source":
            kwargs["queryset"] = sources_visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_change_permission(self, request, obj=None):
        if not super().has_change_permission(request, obj):
            return False
        return obj is None or (obj.status in Question.EDITABLE_STATUSES and user_can_edit_question(request.user, obj))

    def has_delete_permission(self, request, obj=None):
        # Only drafts can be discarded; an opened question is annulled instead.
        if obj is None:
            return super().has_delete_permission(request)
        return obj.status == Question.Status.DRAFT and user_can_edit_question(request.user, obj)

    def delete_model(self, request, obj):
        question_delete(question=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for question in queryset:
            question_delete(question=question, actor=request.user)

    def save_form(self, request, form, change):
        return form.question

    def save_model(self, request, obj, form, change):
        """The form has already saved the question through the services."""

    def save_related(self, request, form, formsets, change):
        """Tags were set by the services; the inlines are read-only."""

    @admin.display(description="window end", ordering="window_end")
    def window_end_short(self, question):
        return short_datetime(question.window_end)

    @admin.display(description="resolve by", ordering="resolve_by")
    def resolve_by_short(self, question):
        return short_date(question.resolve_by)

    @admin.display(description="crowd", ordering="listed_crowd_probability")
    def crowd(self, question):
        """The team's chosen aggregate (the median unless the team chose another), unless blind."""
        # Every question the admin loads carries the viewer's `crowd_visible` annotation.
        return crowd_median_text(None, question)

    @admin.display(description="crowd aggregates")
    def aggregates_table(self, question):
        """The five aggregates now and, once resolved, as they stood at the close."""
        closing = ClosingAggregate.objects.filter(question=question).first()
        method = question.team.crowd_method if question.team_id else CrowdMethod.MEDIAN
        rows = [
            (
                aggregation.METHOD_LABELS[name] + (" (shown as the crowd)" if name == method else ""),
                as_percent(getattr(question, f"crowd_{name}")) or "–",
                as_percent(getattr(closing, name)) if closing else "–",
            )
            for name in aggregation.METHODS
        ]
        factor = question.crowd_extremizing_factor
        return format_html(
            "<table><thead><tr><th>Method</th><th>Now</th><th>At the close</th></tr></thead><tbody>{}</tbody></table>"
            "<p>Extremizing factor {} now{}.</p>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
            f"{factor:.3f}" if factor is not None else "–",
            format_html(
                ", {} at the close (fitted on {} earlier questions; 1 until 20)",
                f"{closing.extremizing_factor:.3f}",
                closing.factor_questions,
            )
            if closing
            else "",
        )

    @admin.display(description="forecasts", ordering="forecast_count")
    def forecast_total(self, question):
        """The model's count under a header short enough for the list's column."""
        return question.forecast_count

    @admin.display(description="outcome", ordering="outcome")
    def outcome_label(self, question):
        return question.get_outcome_display() if question.outcome else None

    @admin.display(description="mine")
    def my_forecast(self, question):
        return as_percent(getattr(question, "my_probability", None))

    @admin.display(description="forecast")
    def forecast_box(self, question):
        """The one box in the list: its form sits outside the list's own form (change_list.html)."""
        if question.status != Question.Status.OPEN:
            return ""
        form_id = f"forecast-box-{question.pk}"
        widget = forecast_box_widget()
        mine = as_percent(getattr(question, "my_probability", None))
        widget.attrs.update(
            form=form_id, size=9, placeholder=mine or "e.g. 70%", **{"aria-label": "Your forecast on this question"}
        )
        widget.attrs["data-preview-target"] = f"{form_id}-preview"
        return format_html(
            '<span class="forecast-box-row">{}<button type="submit" form="{}" class="button">Save</button></span>'
            '<output id="{}-preview" class="forecast-preview" aria-live="polite"></output>',
            widget.render("forecast", "", attrs={"id": f"{form_id}-input"}),
            form_id,
            form_id,
        )

    def get_list_display(self, request):
        shown = super().get_list_display(request)
        if request.user.has_perm("forecasts.add_forecast"):
            return shown
        return [column for column in shown if column != "forecast_box"]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk:
            context.update(self.question_tools(request, obj))
            context.update(self.question_story(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def question_tools(self, request, question) -> dict:
        """What the user may do with the question, for the buttons above its form."""
        may_resolve = user_can_resolve_question(request.user, question)
        can_add_forecast = question.status == Question.Status.OPEN and request.user.has_perm("forecasts.add_forecast")
        return {
            "can_add_forecast": can_add_forecast,
            "can_resolve": may_resolve and not question.is_final,
            "can_unresolve": may_resolve and question.is_final,
            # get_object loads every question with the user's standing probability annotated.
            "my_probability": as_percent(question.my_probability),
            "crowd_median": crowd_median_text(request.user, question),
            "crowd_hidden_note": crowd_hidden_note(request.user, question),
            "crowd_method": (question.team.get_crowd_method_display() if question.team_id else "Median").lower(),
        }

    def question_story(self, request, question) -> dict:
        """The question page's story: the one box, the chart, the resolution and every author's score."""
        scores = []
        if question.is_final:
            for score in question_scores_for(request.user, question):
                score.is_mine = score.forecaster_id == request.user.pk
                score.author_name = forecast_author(score)
                score.percent = as_percent(score.probability)
                score.record_url = track_record_url(forecaster_id=score.forecaster_id, source_id=score.source_id)
                scores.append(score)
        version = f"{question.forecast_count}-{question.updated_at:%s%f}"
        return {
            "forecast_box": ForecastBoxForm(auto_id="id_box_%s"),
            "forecast_box_url": reverse("admin:forecasts_question_forecast_box", args=[question.pk]),
            "chart_url": reverse("api:question-chart", args=[question.pk]) + f"?v={version}",
            "resolution": question.current_resolution if question.is_final else None,
            "scores": scores,
            "my_record_url": track_record_url(forecaster_id=request.user.pk),
            "all_forecasts_url": reverse("admin:forecasts_forecast_changelist")
            + "?"
            + urlencode({"q": question.title}),
            "history_rows": FORECAST_HISTORY_ROWS,
            "forecast_history": forecast_history_for(request.user, question),
        }

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}"
        patterns = [
            path(
                "<path:object_id>/forecast/",
                self.admin_site.admin_view(self.forecast_add_view),
                name=f"{name}_forecast",
            ),
            path(
                "<path:object_id>/forecast-box/",
                self.admin_site.admin_view(self.forecast_box_view),
                name=f"{name}_forecast_box",
            ),
            path("<path:object_id>/resolve/", self.admin_site.admin_view(self.resolve_view), name=f"{name}_resolve"),
            path(
                "<path:object_id>/unresolve/", self.admin_site.admin_view(self.unresolve_view), name=f"{name}_unresolve"
            ),
            *self.intake_urls(),
            *super().get_urls(),
        ]
        for pattern in patterns:
            pattern.callback = self.not_found_as_page(pattern.callback)
        return patterns

    def not_found_as_page(self, view):
        """A hidden or missing question answers with the admin's own 404 page, not a bare error page."""
        return not_found_as_page(self, view, title=NO_SUCH_QUESTION)

    def visible_question_or_404(self, request, object_id) -> Question:
        question = self.get_object(request, unquote(object_id))
        if not self.has_view_or_change_permission(request, question):
            raise PermissionDenied
        return question

    def redirect_to_question(self, question) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:forecasts_question_change", args=[question.pk]))

    def forecast_box_view(self, request, object_id):
        """Save the one box's forecast and go back where it was typed (the question page or the list)."""
        question = self.visible_question_or_404(request, object_id)
        if not request.user.has_perm("forecasts.add_forecast"):
            raise PermissionDenied
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(
            back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            back = reverse("admin:forecasts_question_change", args=[question.pk])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        form = ForecastBoxForm(request.POST)
        if not form.is_valid():
            errors = "; ".join(message for messages_ in form.errors.values() for message in messages_)
            self.message_user(request, f"Not saved: {errors}", messages.ERROR)
            return HttpResponseRedirect(back)
        try:
            forecast = forecast_submit(
                question=question,
                recorded_by=request.user,
                forecast=form.cleaned_data["forecast"],
                rationale=form.cleaned_data["rationale"],
            )
        except ValidationError as error:
            self.message_user(request, f"Not saved: {'; '.join(error.messages)}", messages.ERROR)
        else:
            understood = forecast_reading_text(forecast)
            self.message_user(request, f"Saved your forecast on “{question.title}”: {understood}.", messages.SUCCESS)
        return HttpResponseRedirect(back)

    def forecast_add_view(self, request, object_id):
        """Add a forecast: the user's own, stamped now, or a source's past statement."""
        question = self.visible_question_or_404(request, object_id)
        if not request.user.has_perm("forecasts.add_forecast"):
            raise PermissionDenied
        if question.status != Question.Status.OPEN:
            self.message_user(
                request,
                f"This question is {question.get_status_display().lower()}: it takes no forecasts.",
                messages.WARNING,
            )
            return self.redirect_to_question(question)
        form = ForecastAddForm(request.POST if request.method == "POST" else None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                forecast = forecast_submit(question=question, recorded_by=request.user, **form.service_arguments())
            except ValidationError as error:
                add_service_errors(form, error, aliases={"yardstick": "forecast", "phrase": "forecast"})
            else:
                self.message_user(
                    request,
                    f"Recorded {forecast_author(forecast)}'s forecast: {forecast_reading_text(forecast)}.",
                    messages.SUCCESS,
                )
                return self.redirect_to_question(question)
        return self.render_question_action(
            request, question, form, title="Add a forecast", submit_label="Record forecast"
        )

    def resolve_view(self, request, object_id):
        """Score the outcome (yes or no) or annul the question, with evidence."""
        question = self.visible_question_or_404(request, object_id)
        if not user_can_resolve_question(request.user, question):
            raise PermissionDenied
        if question.is_final:
            self.message_user(request, "This question is already final: undo its resolution first.", messages.WARNING)
            return self.redirect_to_question(question)
        form = ResolveForm(request.POST) if request.method == "POST" else ResolveForm()
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                question = question_resolve(
                    question=question,
                    actor=request.user,
                    outcome=data["outcome"],
                    evidence_url=data["evidence_url"],
                    note=data["note"],
                    occurred_at=data["occurred_at"],
                )
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(
                    request,
                    f"{question.get_status_display()}: {question.get_outcome_display()} (“{question.title}”).",
                    messages.SUCCESS,
                )
                # The home page's one-click resolve comes back to the home page.
                question_url = reverse("admin:forecasts_question_change", args=[question.pk])
                return HttpResponseRedirect(safe_next(request, question_url))
        return self.render_question_action(request, question, form, title="Resolve", submit_label="Record the outcome")

    def unresolve_view(self, request, object_id):
        """Undo a resolution or an annulment, saying why."""
        question = self.visible_question_or_404(request, object_id)
        if not user_can_resolve_question(request.user, question):
            raise PermissionDenied
        if not question.is_final:
            self.message_user(request, "This question has no resolution to undo.", messages.WARNING)
            return self.redirect_to_question(question)
        form = UnresolveForm(request.POST) if request.method == "POST" else UnresolveForm()
        if request.method == "POST" and form.is_valid():
            try:
                question = question_unresolve(question=question, actor=request.user, note=form.cleaned_data["note"])
            except ValidationError as error:
                add_service_errors(form, error)
            else:
                self.message_user(
                    request,
                    f"Resolution undone: the question is {question.get_status_display().lower()}.",
                    messages.SUCCESS,
                )
                return self.redirect_to_question(question)
        return self.render_question_action(
            request, question, form, title="Undo the resolution", submit_label="Undo the resolution"
        )

    def render_question_action(self, request, question, form, *, title, submit_label):
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": str(question),
            "opts": self.opts,
            "original": question,
            "adminform": helpers.AdminForm(form, form.fieldsets, {}),
            "errors": form.errors,
            "media": self.media + form.media,
            "submit_label": submit_label,
            "has_view_permission": True,
            **self.question_tools(request, question),
        }
        return TemplateResponse(request, QUESTION_ACTION_TEMPLATE, context)


class ForecastAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Forecasts are append-only: listed and viewed here, added from a question's page or imported."""

    change_list_template = "admin/forecasts/forecast/change_list.html"

    list_display = [
        "made_at_short",
        "question_link",
        "author",
        "probability_percent",
        "estimative",
        "recorded_by",
        "recorded_at_short",
    ]
    list_filter = ["yardstick", ("made_at", admin.DateFieldListFilter)]
    search_fields = ["question__title", "forecaster__username", "source__name", "phrase", "rationale"]
    ordering = ["-made_at", "-id"]
    readonly_fields = ["probability_percent"]
    list_per_page = 100
    show_full_result_count = False
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "question",
                    "forecaster",
                    "source",
                    "probability_percent",
                    "phrase",
                    "yardstick",
                    "confidence",
                    "rationale",
                ]
            },
        ),
        ("Source statement", {"fields": ["quote", "url"]}),
        ("Times", {"fields": ["made_at", "recorded_at", "recorded_by"]}),
    ]

    def get_queryset(self, request):
        return forecasts_visible_to(request.user, super().get_queryset(request)).select_related(
            "question", "forecaster", "source", "recorded_by"
        )

    def get_urls(self):
        name = f"{self.opts.app_label}_{self.opts.model_name}_import"
        view = self.admin_site.admin_view(self.import_view)
        return [path("import/", view, name=name), *super().get_urls()]

    def import_view(self, request):
        return forecast_import_view(self, request)

    @admin.display(description="made at", ordering="made_at")
    def made_at_short(self, forecast):
        return short_datetime(forecast.made_at)

    @admin.display(description="recorded at", ordering="recorded_at")
    def recorded_at_short(self, forecast):
        return short_datetime(forecast.recorded_at)

    @admin.display(description="question", ordering="question__title")
    def question_link(self, forecast):
        url = reverse("admin:forecasts_question_change", args=[forecast.question_id])
        return format_html('<a href="{}">{}</a>', url, forecast.question.title)

    @admin.display(description="author")
    def author(self, forecast):
        return forecast_author(forecast)

    @admin.display(description="probability", ordering="probability")
    def probability_percent(self, forecast):
        return as_percent(forecast.probability)

    @admin.display(description="phrase", ordering="phrase")
    def estimative(self, forecast):
        return forecast_estimative(forecast)


class ResolutionEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The resolution audit trail of the questions the user can see; nothing here is editable."""

    list_display = ["created_at", "question", "action", "outcome", "previous_status", "actor", "evidence_url"]
    list_filter = ["action", "outcome", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["question__title", "note", "evidence_url"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]

    def get_queryset(self, request):
        visible = questions_visible_to(request.user)
        return super().get_queryset(request).filter(question__in=visible).select_related("question", "actor")
