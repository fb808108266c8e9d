"""Thin views: check who is calling, validate the input, call a service or a selector, serialize."""

import csv
import functools
import json
from collections.abc import Mapping
from datetime import UTC, datetime

from django.core.cache import cache
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.settings import api_settings

from forecasts import selectors
from forecasts.access import crowd_visible_to, group_or_404, question_or_404
from forecasts.api import serializers
from forecasts.api.exceptions import Conflict
from forecasts.api.filters import (
    FilterBackend,
    ForecastFilter,
    NotificationFilter,
    QuestionFilter,
    SourceFilter,
    StableOrderingFilter,
)
from forecasts.api.pagination import ForecastCursorPagination, PagePagination
from forecasts.api.permissions import CreateNeedsModelPermission
from forecasts.api.stats import SVG_RESPONSE, SvgApiView
from forecasts.api.throttling import LoginThrottle, WebhookTestThrottle
from forecasts.charts import question_chart_svg, svg_response
from forecasts.forecast_input import UnreadableForecast, forecast_read
from forecasts.models import Forecast, Notification, Profile, Question, QuestionGroup, ResolutionEvent, Score, Source
from forecasts.services import (
    api_token_issue,
    api_token_revoke,
    calendar_feed_url,
    calendar_token_rotate,
    client_address,
    forecast_submit,
    group_annul,
    group_create,
    group_forecast_submit,
    group_open,
    group_resolve,
    group_unresolve,
    login_failure_record,
    login_success_record,
    notifications_mark_read,
    profile_update,
    question_create,
    question_delete,
    question_open,
    question_resolve,
    question_unresolve,
    question_update,
    source_create,
    webhook_test_send,
)

EXPORT_CHUNK_SIZE = 2000
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


# A drawn chart is kept under a key that changes with every forecast, edit or resolution (the
# question's forecast count and last change) and with the viewer: drawing one takes matplotlib
# 100-300 ms. A running question's chart ends "now", so it is kept a few minutes only.
CHART_CACHE_SECONDS_RUNNING = 300
CHART_CACHE_SECONDS_FINAL = 24 * 3600


def question_chart_cache_key(user, question: Question, *, narrow: bool, crowd_visible: bool) -> str:
    """The cache key of a question's chart as `user` sees it: its version, the viewer and the size."""
    version = f"{question.forecast_count}-{question.updated_at.timestamp():.6f}"
    size = "narrow" if narrow else "wide"
    return f"question-chart:{question.pk}:{version}:{user.pk}:{size}:{int(crowd_visible)}"


def question_chart(user, question: Question, *, narrow: bool = False) -> bytes:
    """The question's chart as the user may see it: their own forecasts, the crowd (unless blind
    forecasting hides it from them), the sources; drawn once per version and viewer."""
    crowd_visible = crowd_visible_to(user, question)
    key = question_chart_cache_key(user, question, narrow=narrow, crowd_visible=crowd_visible)
    cached = cache.get(key)
    if cached is not None:
        return cached
    data = selectors.question_chart_data_for(user, question)
    if question.occurred_at is not None:
        closed_at, closed_label = question.occurred_at, "event happened"
    else:
        closed_at, closed_label = question.closed_at, "closed"
    svg = question_chart_svg(
        mine=data.mine,
        crowd=data.crowd if crowd_visible else [],
        statements=data.statements,
        window_start=question.window_start,
        window_end=question.window_end,
        end=data.end,
        closed_at=closed_at,
        closed_label=closed_label,
        narrow=narrow,
        crowd_hidden=data.crowd_hidden,
    )
    timeout = CHART_CACHE_SECONDS_FINAL if question.is_final else CHART_CACHE_SECONDS_RUNNING
    cache.set(key, svg, timeout)
    return svg


def question_response(user, question_id: int, code=status.HTTP_200_OK) -> Response:
    """The question as the list shows it (with the caller's standing forecast), re-read after a write."""
    question = selectors.question_get_for(user, question_id=question_id)
    return Response(serializers.QuestionSerializer(question).data, status=code)


class TokenView(generics.GenericAPIView):
    """Exchange a username and password for an API token (POST), or revoke your token (DELETE)."""

    serializer_class = serializers.TokenRequestSerializer
    # The request rates apply as everywhere; the sign-in throttle whether or not the caller is signed in.
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, LoginThrottle]

    def throttled(self, request, wait):
        refusal = getattr(request, "login_refusal", None)
        raise Throttled(wait=wait, detail=refusal.message if refusal else None)

    def get_permissions(self):
        if self.request is not None and self.request.method == "DELETE":
            return [IsAuthenticated()]
        return [AllowAny()]

    @extend_schema(
        request=serializers.TokenRequestSerializer, responses={200: serializers.TokenSerializer}, tags=["auth"]
    )
    def post(self, request):
        """Get your API token; send it as `Authorization: Token <key>`. The same key until revoked or expired."""
        credentials = serializers.TokenRequestSerializer(data=request.data, context={"request": request})
        if not credentials.is_valid():
            given = request.data if isinstance(request.data, Mapping) else {}
            if set(credentials.errors) == {"non_field_errors"} and "username" in given:  # the pair is wrong
                login_failure_record(username=str(given["username"]), address=client_address(request))
            raise ValidationError(credentials.errors)
        user = credentials.validated_data["user"]
        login_success_record(username=user.get_username())
        token = api_token_issue(user=user)
        return Response({"token": token.key})

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def delete(self, request):
        """Revoke your API token; the next POST issues a new one (so DELETE then POST rotates it)."""
        api_token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionListView(generics.ListAPIView):
    """Questions you can see, filtered and ordered; POST files a new one."""

    serializer_class = serializers.QuestionSerializer
    pagination_class = PagePagination
    filter_backends = [FilterBackend, StableOrderingFilter]
    filterset_class = QuestionFilter
    ordering_fields = [
        "window_end", "resolve_by", "created_at", "updated_at", "crowd_probability", "forecast_count", "title", "id"
    ]  # fmt: skip
    # A blind question sorts as if it had no crowd, so the order cannot leak its median.
    ordering_aliases = {"crowd_probability": "listed_crowd_probability"}
    ordering = ["window_end", "id"]
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_question"

    def get_queryset(self):
        return selectors.question_page_for(self.request.user)

    def list(self, request, *args, **kwargs):
        """The page as row dicts serialized by hand: the same JSON as QuestionSerializer, without a model per row."""
        questions = self.filter_queryset(self.get_queryset())  # a bad filter is a 400 before anything is counted
        tally = selectors.tally_filters_of(request.query_params, QuestionFilter.base_filters)
        counted = None if tally is None else functools.partial(selectors.question_count_from_tally, request.user, tally)
        rows = self.paginate_queryset(selectors.QuestionRowPages(questions, counted=counted))
        return self.get_paginated_response([serializers.question_row_data(row) for row in rows])

    @extend_schema(request=serializers.QuestionWriteSerializer, responses={201: serializers.QuestionSerializer})
    def post(self, request):
        """File a question: open for forecasts at once, or a draft with `"draft": true`."""
        question_input = serializers.QuestionWriteSerializer(data=request.data)
        question_input.is_valid(raise_exception=True)
        arguments = question_input.service_arguments()
        question = question_create(owner=request.user, **arguments)
        return question_response(request.user, question.pk, status.HTTP_201_CREATED)


class QuestionDetailView(generics.GenericAPIView):
    """One question; PATCH edits it (owner or moderator, while draft or open); DELETE discards a draft."""

    serializer_class = serializers.QuestionSerializer
    http_method_names = ["get", "patch", "delete", "head", "options"]

    def get_object(self):
        return selectors.question_get_for(self.request.user, question_id=self.kwargs["pk"])

    def get(self, request, pk):
        """A question with its statement, counts, crowd and your standing forecast."""
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        request=serializers.QuestionWriteSerializer(partial=True), responses={200: serializers.QuestionSerializer}
    )
    def patch(self, request, pk):
        """Edit a draft or open question; moving window_end or resolve_by re-arms its reminders."""
        question = self.get_object()
        changes = serializers.QuestionWriteSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        arguments = changes.service_arguments()
        publish = arguments.pop("draft", None)
        tags = arguments.pop("tags", None)
        if publish is True and question.status != Question.Status.DRAFT:
            raise ValidationError({"draft": "A question that has been opened cannot become a draft again."})
        question = question_update(question=question, actor=request.user, tags=tags, **arguments)
        if publish is False and question.status == Question.Status.DRAFT:
            question = question_open(question=question, actor=request.user)
        return question_response(request.user, question.pk)

    @extend_schema(responses={204: None})
    def delete(self, request, pk):
        """Delete a draft; an opened question can only be annulled."""
        question_delete(question=self.get_object(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QuestionForecastsView(generics.ListAPIView):
    """A question's forecasts, oldest first; POST adds yours, or a source's past statement."""

    serializer_class = serializers.ForecastSerializer
    queryset = Forecast.objects.none()  # the model, for the schema; rows come from get_queryset
    pagination_class = PagePagination
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_forecast"

    def get_queryset(self):
        question = question_or_404(self.request.user, self.kwargs["pk"])
        return selectors.question_forecasts_for(self.request.user, question)

    @extend_schema(request=serializers.ForecastWriteSerializer, responses={201: serializers.ForecastSerializer})
    def post(self, request, pk):
        """Forecast with a probability, a percent or an estimative phrase; sources need made_at, quote and url."""
        forecast_input = serializers.forecast_write_data(request.data)
        # The service's locked fetch of the question is the visibility check (the same 404).
        forecast = forecast_submit(question_id=pk, recorded_by=request.user, **forecast_input)
        return Response(serializers.forecast_data(forecast), status=status.HTTP_201_CREATED)


class ForecastInputView(generics.GenericAPIView):
    """What a typed forecast means, before it is saved: the one box's preview."""

    serializer_class = serializers.ForecastReadingSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("forecast", str, required=True, description="As typed: `70%`, `0.7`, `3:1`, `likely`."),
            OpenApiParameter("yardstick", str, description="`icd203` or `kent`, for a phrase of both."),
        ],
        responses={200: serializers.ForecastReadingSerializer},
        tags=["forecasts"],
    )
    def get(self, request):
        """Read `?forecast=` as Forewarn would on submission: the probability, phrase and yardstick, or a 400 saying why not."""
        try:
            reading = forecast_read(
                request.query_params.get("forecast", ""), yardstick=request.query_params.get("yardstick") or None
            )
        except UnreadableForecast as error:
            raise ValidationError({"forecast": [str(error)]}) from error
        data = {
            "probability": reading.probability,
            "phrase": reading.phrase,
            "yardstick": reading.yardstick,
            "description": reading.description,
        }
        return Response(serializers.ForecastReadingSerializer(data).data)


class QuestionChartView(SvgApiView):
    """The question's probability over time, as SVG: the same visibility as the question."""

    @extend_schema(
        operation_id="questions_chart",
        responses={(200, "image/svg+xml"): SVG_RESPONSE},
        parameters=[
            OpenApiParameter("format", exclude=True),
            OpenApiParameter("size", str, enum=["wide", "narrow"], description="`narrow` for a phone's width."),
        ],
        tags=["questions"],
    )
    def get(self, request, pk):
        """Your forecasts, the crowd median over time and each source's statements, with the window and the close."""
        question = question_or_404(request.user, pk)
        return svg_response(question_chart(request.user, question, narrow=request.query_params.get("size") == "narrow"))


class QuestionScoresView(generics.GenericAPIView):
    """Every author's score on a resolved question (empty before resolution), best Brier first."""

    serializer_class = serializers.QuestionScoreSerializer
    queryset = Score.objects.none()  # the model, for the schema; rows come from the selector

    @extend_schema(responses={200: serializers.QuestionScoreSerializer(many=True)})
    def get(self, request, pk):
        """Final forecast, Brier, log loss, time-averaged and relative Brier and coverage per author; yours is marked."""
        question = question_or_404(request.user, pk)
        scores = selectors.question_scores_for(request.user, question)
        context = {"user": request.user}
        return Response(serializers.QuestionScoreSerializer(scores, many=True, context=context).data)


class QuestionResolveView(generics.GenericAPIView):
    """Score a question yes or no, or annul it (owner or moderator)."""

    serializer_class = serializers.ResolveSerializer

    @extend_schema(request=serializers.ResolveSerializer, responses={200: serializers.QuestionSerializer})
    def post(self, request, pk):
        """Resolve: NO once the window has closed, YES at any time with the event inside the window."""
        question = question_or_404(request.user, pk)
        resolution = serializers.ResolveSerializer(data=request.data)
        resolution.is_valid(raise_exception=True)
        question_resolve(question=question, actor=request.user, **resolution.validated_data)
        return question_response(request.user, question.pk)


class QuestionUnresolveView(generics.GenericAPIView):
    """Undo a resolution or an annulment (owner or moderator); the history keeps both."""

    serializer_class = serializers.UnresolveSerializer

    @extend_schema(request=serializers.UnresolveSerializer, responses={200: serializers.QuestionSerializer})
    def post(self, request, pk):
        """Undo the resolution: the question awaits resolution again (or reopens if its window runs)."""
        question = question_or_404(request.user, pk)
        undo = serializers.UnresolveSerializer(data=request.data)
        undo.is_valid(raise_exception=True)
        question_unresolve(question=question, actor=request.user, **undo.validated_data)
        return question_response(request.user, question.pk)


class QuestionHistoryView(generics.ListAPIView):
    """Every resolve, annul and undo on a question, oldest first."""

    serializer_class = serializers.ResolutionEventSerializer
    queryset = ResolutionEvent.objects.none()  # the model, for the schema; rows come from get_queryset
    pagination_class = PagePagination

    def get_queryset(self):
        question = question_or_404(self.request.user, self.kwargs["pk"])
        return selectors.resolution_history_for(question)


class ForecastListView(generics.ListAPIView):
    """Every forecast you may see, oldest first, in cursor pages (follow `next`)."""

    serializer_class = serializers.ForecastSerializer
    pagination_class = ForecastCursorPagination
    filterset_class = ForecastFilter

    def get_queryset(self):
        return selectors.forecast_list_for(self.request.user)


class CSVRenderer(BaseRenderer):
    """Lets `Accept: text/csv` through content negotiation; the export streams its own body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data).encode()


class Echo:
    """A file-like object whose write() hands the line back, for csv.writer in a stream."""

    def write(self, value):
        return value


def spreadsheet_safe(value):
    """Text that a spreadsheet would run as a formula gets a leading quote."""
    if isinstance(value, str) and value.startswith(CSV_FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        # One precision for every timestamp (microseconds, UTC), so a parser infers one format.
        return value.astimezone(UTC).strftime(CSV_TIMESTAMP_FORMAT)
    return spreadsheet_safe(value)


class ForecastExportView(generics.GenericAPIView):
    """The forecast list as CSV, streamed; the same filters and visibility as /api/forecasts/."""

    filterset_class = ForecastFilter
    renderer_classes = [JSONRenderer, CSVRenderer]
    columns = [
        "question_id",
        "question",
        "forecaster",
        "source",
        "probability",
        "phrase",
        "yardstick",
        "made_at",
        "recorded_at",
        "outcome",
        "forecast_id",
        "forecaster_id",
        "source_id",
        "window_start",
        "window_end",
        "occurred_at",
        "opened_at",
        "closed_at",
        "resolved_at",
        "quote",
        "url",
        "kind",
    ]

    def get_queryset(self):
        return selectors.forecast_list_for(self.request.user)

    def handle_exception(self, exc):
        """Errors stay JSON in the one error shape, even for a caller that asked for CSV."""
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response

    @extend_schema(
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="One row per forecast.")},
        tags=["forecasts"],
        operation_id="forecasts_export_csv",
        filters=True,
        # The body is CSV whatever `?format=` says: the parameter would only mislead.
        parameters=[OpenApiParameter("format", exclude=True)],
    )
    def get(self, request):
        """Download every forecast you may see as CSV (question, forecaster or source, probability, made_at, outcome)."""
        rows = selectors.forecast_export_rows(self.filter_queryset(self.get_queryset()))
        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow(self.columns)
            for row in rows.iterator(chunk_size=EXPORT_CHUNK_SIZE):
                yield writer.writerow([csv_cell(value) for value in row])

        filename = f"forewarn-forecasts-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


class SourceListView(generics.ListAPIView):
    """Sources of public statements; POST adds one (Forecasters and Editors)."""

    serializer_class = serializers.SourceSerializer
    pagination_class = PagePagination
    filterset_class = SourceFilter
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_source"

    def get_queryset(self):
        return selectors.source_list_for(self.request.user)

    @extend_schema(request=serializers.SourceSerializer, responses={201: serializers.SourceSerializer})
    def post(self, request):
        """Add a source: an organisation or a person whose statements you will record."""
        source_input = serializers.SourceSerializer(data=request.data)
        source_input.is_valid(raise_exception=True)
        source = source_create(created_by=request.user, **source_input.validated_data)
        return Response(serializers.SourceSerializer(source).data, status=status.HTTP_201_CREATED)


class SourceDetailView(generics.RetrieveAPIView):
    """One source."""

    serializer_class = serializers.SourceSerializer
    queryset = Source.objects.none()  # the model, for the schema; rows come from get_queryset

    def get_queryset(self):
        return selectors.source_list_for(self.request.user)


class NotificationListView(generics.ListAPIView):
    """Your notifications, newest first; `?unread=true` for the unread ones."""

    serializer_class = serializers.NotificationSerializer
    pagination_class = PagePagination
    filterset_class = NotificationFilter

    def get_queryset(self):
        return selectors.notification_list_for(self.request.user)


class NotificationReadView(generics.GenericAPIView):
    """Mark one of your notifications read."""

    serializer_class = serializers.NotificationSerializer

    @extend_schema(request=None, responses={200: serializers.NotificationSerializer})
    def post(self, request, pk):
        """Mark the notification read (again is harmless: the first read time stays)."""
        try:
            notification = selectors.notification_list_for(request.user).get(pk=pk)
        except Notification.DoesNotExist as error:
            raise Http404("No such notification.") from error
        notifications_mark_read(user=request.user, notification_ids=[notification.pk])
        notification.refresh_from_db(fields=["read_at"])
        return Response(serializers.NotificationSerializer(notification).data)


class NotificationReadAllView(generics.GenericAPIView):
    """Mark all your notifications read."""

    serializer_class = serializers.ReadAllResultSerializer

    @extend_schema(request=None, responses={200: serializers.ReadAllResultSerializer})
    def post(self, request):
        """Mark every unread notification read; returns how many there were."""
        unread = selectors.unread_notification_ids_for(request.user)
        return Response({"marked": notifications_mark_read(user=request.user, notification_ids=unread)})


class MeView(generics.GenericAPIView):
    """You: your account, your teams and your reminder settings; PATCH changes the settings."""

    serializer_class = serializers.MeSerializer
    http_method_names = ["get", "patch", "head", "options"]

    def me(self):
        user = self.request.user
        user.forewarn_profile = Profile.objects.for_user(user)
        return serializers.MeSerializer(user).data

    def get(self, request):
        """Your account, teams and settings (digest period as ISO 8601 and in minutes)."""
        return Response(self.me())

    @extend_schema(request=serializers.MeSerializer(partial=True), responses={200: serializers.MeSerializer})
    def patch(self, request):
        """Change your settings: `{"settings": {"digest_period": 120, "closing_soon_opt_in": false}}`."""
        changes = serializers.MeSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        settings = dict(changes.validated_data.get("forewarn_profile", {}))
        try:
            profile_update(user=request.user, **settings)
        except DjangoValidationError as error:
            raise ValidationError({"settings": as_serializer_error(error)}) from error
        return Response(self.me())


class MeWebhookTestView(generics.GenericAPIView):
    """Send a test message to your webhook now, through the same checks as every notice."""

    serializer_class = serializers.WebhookTestSerializer
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, WebhookTestThrottle]

    @extend_schema(request=None, responses={200: serializers.WebhookTestSerializer})
    def post(self, request):
        """Whether the test message was delivered, refused (not sent) or failed, and why; creates no notification."""
        outcome = webhook_test_send(user=request.user)
        return Response(serializers.WebhookTestSerializer(outcome).data)


class CalendarTokenView(generics.GenericAPIView):
    """Your calendar feed's secret address: POST moves it to a new one, and the old one stops working."""

    serializer_class = serializers.CalendarFeedSerializer

    @extend_schema(request=None, responses={200: serializers.CalendarFeedSerializer})
    def post(self, request):
        """Rotate your calendar token; returns the feed's new address (subscribe to it again)."""
        profile = calendar_token_rotate(user=request.user)
        return Response({"calendar_url": calendar_feed_url(profile=profile)})


# Question groups ---------------------------------------------------------------------------------


def group_response(user, group_id: int, code=status.HTTP_200_OK) -> Response:
    """The group with its members and implied distribution, re-read after a write."""
    group = selectors.group_get_for(user, group_id=group_id)
    return Response(serializers.GroupSerializer(group).data, status=code)


class GroupListView(generics.ListAPIView):
    """Question groups you can see, newest first; POST files a `when` ladder or a `which` set."""

    serializer_class = serializers.GroupSerializer
    pagination_class = PagePagination
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_question"  # a group is filed as questions

    def get_queryset(self):
        return selectors.group_list_for(self.request.user)

    @extend_schema(request=serializers.GroupWriteSerializer, responses={201: serializers.GroupSerializer})
    def post(self, request):
        """File a group and its member questions in one transaction."""
        group_input = serializers.GroupWriteSerializer(data=request.data)
        group_input.is_valid(raise_exception=True)
        group = group_create(owner=request.user, **group_input.service_arguments())
        return group_response(request.user, group.pk, status.HTTP_201_CREATED)


class GroupDetailView(generics.GenericAPIView):
    """One group: its members with their crowd, and the crowd's implied distribution."""

    queryset = QuestionGroup.objects.none()  # the model, for the schema
    serializer_class = serializers.GroupSerializer

    http_method_names = ["get", "patch", "head", "options"]

    def get(self, request, pk):
        """A group with its members (as the question API shows them) and the implied distribution."""
        return Response(self.get_serializer(selectors.group_get_for(request.user, group_id=pk)).data)

    @extend_schema(request=serializers.GroupPublishSerializer, responses={200: serializers.GroupSerializer})
    def patch(self, request, pk):
        """`{"draft": false}` opens a draft group: every member starts taking forecasts."""
        group = group_or_404(request.user, pk)
        change = serializers.GroupPublishSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        if group.status != Question.Status.DRAFT:
            raise Conflict({"draft": ["Only a draft group can be opened."]}, code="group_not_draft")
        group_open(group=group, actor=request.user)
        return group_response(request.user, group.pk)


class GroupForecastsView(generics.GenericAPIView):
    """Forecast every member of a group at once."""

    queryset = QuestionGroup.objects.none()  # the model, for the schema
    serializer_class = serializers.GroupForecastWriteSerializer
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_forecast"

    @extend_schema(request=serializers.GroupForecastWriteSerializer, responses={201: serializers.GroupSerializer})
    def post(self, request, pk):
        """One forecast per member, all or none: `when` non-decreasing, `which` summing to 1."""
        group = group_or_404(request.user, pk)
        forecast_input = serializers.GroupForecastWriteSerializer(data=request.data)
        forecast_input.is_valid(raise_exception=True)
        group_forecast_submit(group=group, recorded_by=request.user, **forecast_input.service_arguments())
        return group_response(request.user, group.pk, status.HTTP_201_CREATED)


class GroupResolveView(generics.GenericAPIView):
    """Resolve (or annul) every member of a group in one step (owner or moderator)."""

    queryset = QuestionGroup.objects.none()  # the model, for the schema
    serializer_class = serializers.GroupResolveSerializer

    @extend_schema(request=serializers.GroupResolveSerializer, responses={200: serializers.GroupSerializer})
    def post(self, request, pk):
        """`when`: occurred_on or not_by; `which`: option; or annul: true. One history entry per member."""
        group = group_or_404(request.user, pk)
        resolution = serializers.GroupResolveSerializer(data=request.data)
        resolution.is_valid(raise_exception=True)
        arguments = dict(resolution.validated_data)
        if arguments.pop("annul", False):
            extra = sorted(set(arguments) & {"occurred_on", "not_by", "option"})
            if extra:
                raise ValidationError(dict.fromkeys(extra, "An annulment takes no outcome."))
            group_annul(group=group, actor=request.user, **arguments)
        else:
            group_resolve(group=group, actor=request.user, **arguments)
        return group_response(request.user, group.pk)


class GroupUnresolveView(generics.GenericAPIView):
    """Undo the resolution or annulment of every member (owner or moderator)."""

    queryset = QuestionGroup.objects.none()  # the model, for the schema
    serializer_class = serializers.UnresolveSerializer

    @extend_schema(request=serializers.UnresolveSerializer, responses={200: serializers.GroupSerializer})
    def post(self, request, pk):
        """Every member awaits resolution again (or reopens if its window runs); the history keeps both."""
        group = group_or_404(request.user, pk)
        undo = serializers.UnresolveSerializer(data=request.data)
        undo.is_valid(raise_exception=True)
        group_unresolve(group=group, actor=request.user, **undo.validated_data)
        return group_response(request.user, group.pk)


class GroupScoresView(generics.GenericAPIView):
    """Each author's score on the whole group: RPS for `when`, multiclass Brier and log score for `which`."""

    queryset = QuestionGroup.objects.none()  # the model, for the schema
    serializer_class = serializers.GroupScoreSerializer

    @extend_schema(responses={200: serializers.GroupScoreSerializer(many=True)})
    def get(self, request, pk):
        """Group scores from the member forecasts that count (the members' own cutoff), best first."""
        group = selectors.group_get_for(request.user, group_id=pk)
        scores = selectors.group_scores_for(request.user, group)
        return Response(serializers.GroupScoreSerializer(scores, many=True).data)
