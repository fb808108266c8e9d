"""Shapes in and out of the API. Input serializers check types and sizes; services check the rules."""

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.utils.dateparse import parse_duration
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ErrorDetail

from forecasts import aggregation
from forecasts.access import crowd_fields_hide, crowd_visible_to, user_is_moderator
from forecasts.forecast_input import MAX_INPUT_LENGTH
from forecasts.models import (
    CROWD_MOVE_POINTS_DEFAULT,
    MAX_TAGS,
    PROBABILITY_MAX,
    PROBABILITY_MIN,
    STALE_FORECAST_DAYS_DEFAULT,
    YEAR_BOUNDS_MESSAGE,
    Confidence,
    CrowdMethod,
    Forecast,
    Notification,
    Question,
    QuestionGroup,
    ResolutionEvent,
    Score,
    Source,
    Team,
    within_year_bounds,
)
from forecasts.selectors import group_distribution, question_aggregates
from forecasts.services import notification_update_url

READ_ONLY_MESSAGE = "This field is read-only."
UNKNOWN_FIELD_MESSAGE = "Unknown field."


class RejectUnknownFieldsMixin:
    """Input that names a field the serializer does not take is a 400 naming it, never silently dropped.

    `read_only_names`: the resource's fields that a client reads but cannot write (`status`).
    """

    read_only_names: frozenset[str] = frozenset()

    def refused_fields(self, data) -> dict[str, list[ErrorDetail]]:
        if not isinstance(data, Mapping):
            return {}
        refused = {}
        for name in data:
            field = self.fields.get(name)
            if field is not None and not field.read_only:
                continue
            if field is not None or name in self.read_only_names:
                refused[name] = [ErrorDetail(READ_ONLY_MESSAGE, code="read_only")]
            else:
                refused[name] = [ErrorDetail(UNKNOWN_FIELD_MESSAGE, code="unknown_field")]
        return refused

    def to_internal_value(self, data):
        refused = self.refused_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if refused and isinstance(error.detail, dict):
                raise serializers.ValidationError({**refused, **error.detail}) from error
            raise
        if refused:
            raise serializers.ValidationError(refused)
        return value


class BoundedDateTimeField(serializers.DateTimeField):
    """An ISO 8601 datetime within the years the models allow (calendar arithmetic on it can never overflow)."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not within_year_bounds(parsed):
            raise serializers.ValidationError(YEAR_BOUNDS_MESSAGE)
        return parsed


class BoundedDateField(serializers.DateField):
    """An ISO 8601 date within the years the models allow."""

    def to_internal_value(self, value):
        parsed = super().to_internal_value(value)
        if not within_year_bounds(parsed):
            raise serializers.ValidationError(YEAR_BOUNDS_MESSAGE)
        return parsed


ID_MAX = 2**63 - 1


class IntegerPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """A row by its id, which must be an integer: 1.9, true or "1e0" is an error, not row 1."""

    default_error_messages = {"not_integer": "Give an integer id."}

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, (int, float, str)):
            self.fail("not_integer")
        if isinstance(data, float):
            if not data.is_integer():
                self.fail("not_integer")
            data = int(data)
        elif isinstance(data, str):
            if not data.strip().isdigit():
                self.fail("not_integer")
            data = int(data.strip())
        if not 1 <= data <= ID_MAX:
            self.fail("does_not_exist", pk_value=data)
        return super().to_internal_value(data)


def iso_duration(period: timedelta) -> str:
    """A timedelta as a compact ISO 8601 duration: 1 day 2 hours -> 'P1DT2H'."""
    seconds = int(period.total_seconds())
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    time = "".join(f"{value}{unit}" for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if value)
    text = f"P{days}D" if days else "P"
    return f"{text}T{time}" if time else (text if days else "PT0S")


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "description": "minutes"},
            {"type": "string", "description": "ISO 8601 duration, e.g. PT2H or P1D"},
        ]
    }
)
class DigestPeriodField(serializers.Field):
    """A period given as whole minutes (120) or an ISO 8601 duration ('PT2H'); shown as ISO 8601."""

    default_error_messages = {
        "invalid": "Give whole minutes (e.g. 120) or an ISO 8601 duration (e.g. PT2H, P1D).",
    }

    def to_internal_value(self, value):
        if isinstance(value, bool):
            self.fail("invalid")
        try:
            if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
                return timedelta(minutes=int(value))
            if isinstance(value, str) and len(value) <= 64:
                period = parse_duration(value.strip())
                if period is not None:
                    return period
        except (OverflowError, ValueError):
            pass
        self.fail("invalid")

    def to_representation(self, value):
        return iso_duration(value)


class UserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class SourceRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()


class StatementSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The source's statement a question was drawn from."""

    quote = serializers.CharField(allow_blank=True, required=False)
    date = BoundedDateField(allow_null=True, required=False)
    url = serializers.URLField(allow_blank=True, max_length=500, required=False)


TIMESTAMP = serializers.DateTimeField(read_only=True)


def timestamp_text(value: datetime | None) -> str | None:
    """What TIMESTAMP gives for a stored (aware) datetime, for hot paths: ISO 8601 in UTC, `Z` for
    the offset. DRF looks the current time zone up on every call; Forewarn's is always UTC."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


def optional_float(value) -> float | None:
    return None if value is None else float(value)


def statement_data(quote: str, date, url: str) -> dict | None:
    """The statement a question was drawn from, or None when it has none."""
    if not (quote or date or url):
        return None
    return {"quote": quote, "date": date.isoformat() if date else None, "url": url}


class AggregatesSerializer(serializers.Serializer):
    """The crowd's standing forecasts aggregated five ways (docs/scoring.md); all null with no forecast."""

    method = serializers.ChoiceField(choices=CrowdMethod.choices, help_text="The team's method: `crowd_probability`.")
    median = serializers.FloatField(allow_null=True)
    recency_weighted_median = serializers.FloatField(allow_null=True)
    mean_log_odds = serializers.FloatField(allow_null=True)
    extremized = serializers.FloatField(allow_null=True)
    performance_weighted = serializers.FloatField(allow_null=True)
    extremizing_factor = serializers.FloatField(
        allow_null=True, help_text="The fitted factor the extremized aggregate used (1 until 20 questions resolved)."
    )


def statement_of(row) -> dict | None:
    """The source's statement a question or a group was drawn from, or None."""
    return statement_data(row.source_quote, row.source_statement_date, row.source_url)


class GroupMembershipSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The question group's id.")
    kind = serializers.ChoiceField(choices=QuestionGroup.Kind.choices)
    position = serializers.IntegerField(help_text="The member's place: 0 for the first window end or option.")
    option_label = serializers.CharField(help_text="The option this member stands for (`which` groups).")


class QuestionSerializer(serializers.ModelSerializer):
    tags = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    owner = UserRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True, allow_null=True)
    statement = serializers.SerializerMethodField()
    outcome = serializers.SerializerMethodField()
    my_probability = serializers.FloatField(
        read_only=True, allow_null=True, help_text="Your standing forecast on this question, if any."
    )
    crowd_probability = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="The crowd forecast by the team's chosen method (`aggregates.method`; the median by default); null while the crowd is hidden from you.",
    )
    crowd_hidden = serializers.ChoiceField(
        choices=Question.CrowdHidden.choices,
        read_only=True,
        help_text="Blind forecasting: `never`, `until_forecast` (your first forecast) or `until_close`.",
    )
    crowd_visible = serializers.SerializerMethodField(
        help_text="Whether you see the crowd now; when false every crowd field is null and other "
        "people's forecasts are left out of the forecast lists."
    )
    aggregates = serializers.SerializerMethodField()
    group = serializers.SerializerMethodField()

    class Meta:
        model = Question
        fields = [
            "id",
            "title",
            "details",
            "resolution_criteria",
            "kind",
            "tags",
            "status",
            "window_start",
            "window_end",
            "resolve_by",
            "outcome",
            "occurred_at",
            "resolved_at",
            "owner",
            "team",
            "source",
            "statement",
            "forecast_count",
            "forecaster_count",
            "crowd_probability",
            "crowd_hidden",
            "crowd_visible",
            "aggregates",
            "my_probability",
            "group",
            "created_at",
            "opened_at",
            "closed_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_crowd_visible(self, question) -> bool:
        return crowd_visible_to(self.context.get("request") and self.context["request"].user, question)

    def to_representation(self, question):
        data = super().to_representation(question)
        return crowd_fields_hide(data, visible=data["crowd_visible"])

    @extend_schema_field(GroupMembershipSerializer(allow_null=True))
    def get_group(self, question):
        if question.group_id is None:
            return None
        return {
            "id": question.group_id,
            "kind": question.group.kind,
            "position": question.group_position,
            "option_label": question.option_label,
        }

    @extend_schema_field(StatementSerializer(allow_null=True))
    def get_statement(self, question):
        return statement_of(question)

    @extend_schema_field(serializers.ChoiceField(choices=Question.Outcome.choices, allow_null=True))
    def get_outcome(self, question):
        return question.outcome or None

    @extend_schema_field(AggregatesSerializer)
    def get_aggregates(self, question):
        return question_aggregates(question)


def question_row_data(row: dict) -> dict:
    """What QuestionSerializer gives for a question, built by hand from the list's row dict (a hot path),
    with the crowd emptied where the viewer may not see it."""
    return crowd_fields_hide(question_row_fields(row), visible=bool(row["crowd_visible"]))


def question_row_fields(row: dict) -> dict:
    return {
        "id": row["id"],
        "title": row["title"],
        "details": row["details"],
        "resolution_criteria": row["resolution_criteria"],
        "kind": row["kind"],
        "tags": row["tag_names"],
        "status": row["status"],
        "window_start": timestamp_text(row["window_start"]),
        "window_end": timestamp_text(row["window_end"]),
        "resolve_by": timestamp_text(row["resolve_by"]),
        "outcome": row["outcome"] or None,
        "occurred_at": timestamp_text(row["occurred_at"]),
        "resolved_at": timestamp_text(row["resolved_at"]),
        "owner": {"id": row["owner__id"], "username": row["owner__username"]},
        "team": None if row["team__id"] is None else {"id": row["team__id"], "name": row["team__name"]},
        "source": (
            None
            if row["source__id"] is None
            else {"id": row["source__id"], "name": row["source__name"], "url": row["source__url"]}
        ),
        "statement": statement_data(row["source_quote"], row["source_statement_date"], row["source_url"]),
        "forecast_count": row["forecast_count"],
        "forecaster_count": row["forecaster_count"],
        "crowd_probability": optional_float(row["crowd_probability"]),
        "crowd_hidden": row["crowd_hidden"],
        "crowd_visible": bool(row["crowd_visible"]),
        "aggregates": {
            "method": row["team__crowd_method"] or CrowdMethod.MEDIAN,
            **{method: optional_float(row[f"crowd_{method}"]) for method in aggregation.METHODS},
            "extremizing_factor": optional_float(row["crowd_extremizing_factor"]),
        },
        "my_probability": optional_float(row["my_probability"]),
        "group": (
            None
            if row["group__id"] is None
            else {
                "id": row["group__id"],
                "kind": row["group__kind"],
                "position": row["group_position"],
                "option_label": row["option_label"],
            }
        ),
        "created_at": timestamp_text(row["created_at"]),
        "opened_at": timestamp_text(row["opened_at"]),
        "closed_at": timestamp_text(row["closed_at"]),
        "updated_at": timestamp_text(row["updated_at"]),
    }


class QuestionWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Fields a question is filed or edited with; the service checks windows, teams and status."""

    read_only_names = frozenset(QuestionSerializer.Meta.fields)

    title = serializers.CharField(max_length=300)
    details = serializers.CharField(allow_blank=True, required=False)
    resolution_criteria = serializers.CharField()
    kind = serializers.ChoiceField(choices=Question.Kind.choices, required=False)
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=60), max_length=MAX_TAGS, required=False, help_text="Tag names (slugs)."
    )
    team = IntegerPrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    source = IntegerPrimaryKeyRelatedField(queryset=Source.objects.all(), allow_null=True, required=False)
    statement = StatementSerializer(required=False, allow_null=True)
    window_start = BoundedDateTimeField(allow_null=True, required=False)
    window_end = BoundedDateTimeField()
    resolve_by = BoundedDateTimeField(
        allow_null=True, required=False, help_text="Defaults to the window end plus the grace period."
    )
    crowd_hidden = serializers.ChoiceField(
        choices=Question.CrowdHidden.choices,
        required=False,
        help_text="Blind forecasting; when filed without it, the team's default (`never` without a team).",
    )
    draft = serializers.BooleanField(
        required=False, help_text="Create as a draft (no forecasts until opened); on PATCH, false opens a draft."
    )

    def service_arguments(self) -> dict:
        """validated_data in the services' vocabulary (the statement spread into source_* fields)."""
        data = dict(self.validated_data)
        statement = data.pop("statement", None)
        if "statement" in self.validated_data:
            statement = statement or {}
            for key, field in (("quote", "source_quote"), ("date", "source_statement_date"), ("url", "source_url")):
                if key in statement or not self.partial:
                    data[field] = statement.get(key) or ("" if key != "date" else None)
        if data.get("resolve_by") is None:
            data.pop("resolve_by", None)
        return data


class ForecastSerializer(serializers.ModelSerializer):
    forecaster = UserRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True, allow_null=True)
    recorded_by = UserRefSerializer(read_only=True)
    yardstick = serializers.CharField(read_only=True, help_text="`icd203` or `kent` with a phrase; empty otherwise.")
    url = serializers.CharField(read_only=True, help_text="Where a source's statement was published.")
    confidence = serializers.CharField(
        read_only=True, help_text="Analytic confidence: `low`, `moderate` or `high`; empty when not given."
    )

    class Meta:
        model = Forecast
        fields = [
            "id",
            "question",
            "forecaster",
            "source",
            "recorded_by",
            "probability",
            "phrase",
            "yardstick",
            "rationale",
            "confidence",
            "quote",
            "url",
            "made_at",
            "recorded_at",
        ]
        read_only_fields = fields


def user_ref(user) -> dict | None:
    return None if user is None else {"id": user.pk, "username": user.username}


def forecast_data(forecast: Forecast) -> dict:
    """What ForecastSerializer gives for `forecast`, built by hand for the submission's answer (a hot path)."""
    source = forecast.source
    return {
        "id": forecast.pk,
        "question": forecast.question_id,
        "forecaster": user_ref(forecast.forecaster),
        "source": None if source is None else {"id": source.pk, "name": source.name, "url": source.url},
        "recorded_by": user_ref(forecast.recorded_by),
        "probability": float(forecast.probability),
        "phrase": forecast.phrase,
        "yardstick": forecast.yardstick,
        "rationale": forecast.rationale,
        "confidence": forecast.confidence,
        "quote": forecast.quote,
        "url": forecast.url,
        "made_at": timestamp_text(forecast.made_at),
        "recorded_at": timestamp_text(forecast.recorded_at),
    }


class ForecastInputSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Exactly one of forecast (the text as typed), probability, percent or phrase (with its yardstick)."""

    forecast = serializers.CharField(
        max_length=MAX_INPUT_LENGTH,
        required=False,
        allow_blank=True,
        help_text="The forecast as typed: `70%`, `70`, `0.7`, `.7`, odds `3:1`, `1 in 4`, or a phrase such as `likely`.",
    )

    probability = serializers.FloatField(
        min_value=PROBABILITY_MIN, max_value=PROBABILITY_MAX, required=False, allow_null=True
    )
    percent = serializers.FloatField(
        min_value=PROBABILITY_MIN * 100, max_value=PROBABILITY_MAX * 100, required=False, allow_null=True
    )
    phrase = serializers.CharField(
        max_length=60, required=False, allow_blank=True, help_text="An estimative phrase, e.g. `very likely`."
    )
    yardstick = serializers.CharField(
        max_length=20, required=False, allow_blank=True, help_text="`icd203` (default) or `kent`."
    )


class StatementInputSerializer(serializers.Serializer):
    """A forecast's rationale, and for a source's statement its source, date, quote and link."""

    rationale = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    confidence = serializers.ChoiceField(
        choices=Confidence.choices,
        required=False,
        allow_blank=True,
        help_text="Analytic confidence in the judgement (`low`, `moderate`, `high`), apart from its likelihood.",
    )
    source = IntegerPrimaryKeyRelatedField(
        queryset=Source.objects.all(),
        required=False,
        allow_null=True,
        help_text="Record this source's statement instead of your own forecast.",
    )
    made_at = BoundedDateTimeField(
        required=False, allow_null=True, help_text="When the source made the statement (sources only)."
    )
    quote = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    url = serializers.URLField(required=False, allow_blank=True, max_length=500)


class ForecastWriteSerializer(ForecastInputSerializer, StatementInputSerializer):
    """Exactly one of forecast, probability, percent or phrase; a source's statement adds source, made_at, quote, url."""

    read_only_names = frozenset(ForecastSerializer.Meta.fields)


def forecast_write_data(data) -> dict:
    """What ForecastWriteSerializer validates `data` to; raises its ValidationError.

    The commonest submission, `{"probability": p}` with p a number in range, comes out as the
    serializer would give it without building the serializer's fields; anything else, valid or
    not, goes through the serializer.
    """
    if isinstance(data, Mapping) and len(data) == 1:
        probability = data.get("probability")
        if type(probability) in (float, int) and PROBABILITY_MIN <= probability <= PROBABILITY_MAX:
            return {"probability": float(probability)}
    forecast_input = ForecastWriteSerializer(data=data)
    forecast_input.is_valid(raise_exception=True)
    return forecast_input.validated_data


class ForecastReadingSerializer(serializers.Serializer):
    probability = serializers.FloatField()
    phrase = serializers.CharField(help_text="The estimative phrase, empty for a number.")
    yardstick = serializers.CharField(help_text="`icd203` or `kent` with a phrase; empty otherwise.")
    description = serializers.CharField(help_text="What was understood, e.g. `70% - ICD 203: likely`.")


class QuestionScoreSerializer(serializers.ModelSerializer):
    """One author's score on a resolved question."""

    author_type = serializers.SerializerMethodField()
    forecaster = UserRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True, allow_null=True)
    made_at = serializers.DateTimeField(read_only=True, help_text="When the counted forecast was made.")
    is_mine = serializers.SerializerMethodField()

    class Meta:
        model = Score
        fields = [
            "author_type",
            "forecaster",
            "source",
            "is_mine",
            "probability",
            "phrase",
            "yardstick",
            "made_at",
            "outcome",
            "brier",
            "log_loss",
            "time_averaged_brier",
            "relative_brier",
            "coverage",
            "forecast_count",
            "scored_until",
        ]
        read_only_fields = fields

    def get_author_type(self, score) -> str:
        return "source" if score.source_id else "forecaster"

    def get_is_mine(self, score) -> bool:
        return score.forecaster_id is not None and score.forecaster_id == self.context["user"].pk


class ResolveSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Question.Outcome.choices)
    evidence_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    occurred_at = BoundedDateTimeField(
        required=False, allow_null=True, help_text="When the event happened (for an early YES)."
    )


class UnresolveSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class ResolutionEventSerializer(serializers.ModelSerializer):
    actor = UserRefSerializer(read_only=True)
    outcome = serializers.SerializerMethodField()
    evidence_url = serializers.CharField(read_only=True)

    class Meta:
        model = ResolutionEvent
        fields = [
            "id",
            "action",
            "outcome",
            "previous_status",
            "previous_outcome",
            "actor",
            "created_at",
            "evidence_url",
            "note",
            "occurred_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=Question.Outcome.choices, allow_null=True))
    def get_outcome(self, event):
        return event.outcome or None


class SourceSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "name", "kind", "url", "description", "created_at"]
        read_only_fields = ["id", "created_at"]


class QuestionRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()


class NotificationSerializer(serializers.ModelSerializer):
    question = QuestionRefSerializer(read_only=True, allow_null=True)
    update_url = serializers.SerializerMethodField(
        help_text="For a nudge (closing soon, stale forecast, crowd moved): the question's forecast box; else empty."
    )

    class Meta:
        model = Notification
        fields = ["id", "kind", "channel", "message", "question", "update_url", "created_at", "sent_at", "read_at"]
        read_only_fields = fields

    def get_update_url(self, notification) -> str:
        return notification_update_url(notification)


class ReadAllResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


class SettingsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    digest_period = DigestPeriodField(
        required=False,
        help_text="At most one reminder email per period: whole minutes (120) or ISO 8601 (PT2H); shown as ISO 8601.",
    )
    digest_period_minutes = serializers.SerializerMethodField()
    closing_soon_opt_in = serializers.BooleanField(required=False)
    stale_forecast_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        help_text=f"Nudge when your forecast on an open question is this many days old; 0 is off "
        f"(default {STALE_FORECAST_DAYS_DEFAULT}).",
    )
    crowd_move_points = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=99,
        help_text=f"Nudge when the crowd moved this many percentage points since your last forecast; 0 is off "
        f"(default {CROWD_MOVE_POINTS_DEFAULT}).",
    )
    webhook_url = serializers.URLField(
        required=False,
        allow_blank=True,
        max_length=200,
        validators=[URLValidator(schemes=["http", "https"], message="Use an http or https URL.")],
        help_text="A Slack-compatible incoming webhook (http or https, no credentials, a public address).",
    )

    def get_digest_period_minutes(self, profile) -> int:
        return int(profile.digest_period.total_seconds() // 60)


class CalendarFeedSerializer(serializers.Serializer):
    calendar_url = serializers.URLField(help_text="The feed's new secret address: subscribe to it again.")


class WebhookTestSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=["delivered", "refused", "failed"],
        help_text="delivered: the endpoint accepted it; refused: not sent (why in detail); failed: sent, not accepted.",
    )
    detail = serializers.CharField()


class MeSerializer(RejectUnknownFieldsMixin, serializers.ModelSerializer):
    is_moderator = serializers.SerializerMethodField()
    teams = TeamRefSerializer(many=True, read_only=True)
    settings = SettingsSerializer(source="forewarn_profile", required=False)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "first_name", "last_name", "is_moderator", "teams", "settings"]
        read_only_fields = ["id", "username", "email", "first_name", "last_name"]

    def get_is_moderator(self, user) -> bool:
        return user_is_moderator(user)


class TokenRequestSerializer(RejectUnknownFieldsMixin, AuthTokenSerializer):
    """A username and password, checked against Django's authentication backends."""

    username = serializers.CharField(max_length=150, write_only=True)
    password = serializers.CharField(
        max_length=4096, trim_whitespace=False, write_only=True, style={"input_type": "password"}
    )


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()


class HealthCheckSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    milliseconds = serializers.FloatField()
    detail = serializers.CharField(required=False)


HEALTH_STATUSES = ["ok", "degraded", "down"]


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=HEALTH_STATUSES)
    database = HealthCheckSerializer()
    broker = HealthCheckSerializer()


# Question groups -------------------------------------------------------------------------------


class GroupMemberSerializer(QuestionSerializer):
    """A member question as the question API shows it, with its place in the group."""

    position = serializers.IntegerField(source="group_position", read_only=True)
    option_label = serializers.CharField(read_only=True)

    class Meta(QuestionSerializer.Meta):
        fields = ["position", "option_label", *QuestionSerializer.Meta.fields]
        read_only_fields = fields


class ImpliedDistributionSerializer(serializers.Serializer):
    raw = serializers.ListField(
        child=serializers.FloatField(allow_null=True), help_text="The crowd median of each member, as it stands."
    )
    coherent = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="The medians made coherent: isotonic (non-decreasing) for `when`, normalised to 1 for `which`.",
    )
    largest_difference = serializers.FloatField(help_text="The largest gap between a raw and a coherent value.")
    incoherent = serializers.BooleanField(help_text="Whether some raw median is more than 5 points off coherent.")
    masses = serializers.ListField(
        child=serializers.FloatField(allow_null=True),
        help_text="`when`: P(by the first end), P(in each later step), then P(not by the last end); `which`: each option.",
    )


class GroupSerializer(serializers.ModelSerializer):
    owner = UserRefSerializer(read_only=True)
    team = TeamRefSerializer(read_only=True, allow_null=True)
    source = SourceRefSerializer(read_only=True, allow_null=True)
    statement = serializers.SerializerMethodField()
    members = GroupMemberSerializer(many=True, read_only=True, source="listed_members")
    distribution = serializers.SerializerMethodField()

    class Meta:
        model = QuestionGroup
        fields = [
            "id",
            "kind",
            "title",
            "details",
            "resolution_criteria",
            "status",
            "owner",
            "team",
            "source",
            "statement",
            "members",
            "distribution",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(StatementSerializer(allow_null=True))
    def get_statement(self, group):
        return statement_of(group)

    @extend_schema_field(ImpliedDistributionSerializer)
    def get_distribution(self, group):
        return ImpliedDistributionSerializer(group_distribution(group)).data


class GroupWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A `when` ladder (window_start, window_ends) or a `which` set (window_end, options), and the
    fields a question is filed with; the service checks order, duplicates and sizes."""

    read_only_names = frozenset(GroupSerializer.Meta.fields) - {"kind", "title", "details", "resolution_criteria"}

    kind = serializers.ChoiceField(choices=QuestionGroup.Kind.choices)
    title = serializers.CharField(max_length=250)
    details = serializers.CharField(allow_blank=True, required=False)
    resolution_criteria = serializers.CharField()
    question_kind = serializers.ChoiceField(
        choices=Question.Kind.choices, required=False, help_text="The members' question kind."
    )
    tags = serializers.ListField(
        child=serializers.SlugField(max_length=60), max_length=MAX_TAGS, required=False, help_text="Tag names (slugs)."
    )
    team = IntegerPrimaryKeyRelatedField(queryset=Team.objects.all(), allow_null=True, required=False)
    source = IntegerPrimaryKeyRelatedField(queryset=Source.objects.all(), allow_null=True, required=False)
    statement = StatementSerializer(required=False, allow_null=True)
    window_start = BoundedDateTimeField(allow_null=True, required=False)
    window_ends = serializers.ListField(
        child=BoundedDateTimeField(),
        required=False,
        max_length=500,
        help_text="`when`: the members' window ends, increasing (2 to 50).",
    )
    window_end = BoundedDateTimeField(required=False, help_text="`which`: the options' shared window end.")
    options = serializers.ListField(
        child=serializers.CharField(max_length=200, allow_blank=True, trim_whitespace=True),
        required=False,
        max_length=500,
        help_text="`which`: the mutually exclusive, exhaustive options (2 to 50, distinct).",
    )
    draft = serializers.BooleanField(required=False, help_text="Create as drafts (no forecasts until opened).")

    def service_arguments(self) -> dict:
        data = dict(self.validated_data)
        statement = data.pop("statement", None) or {}
        data["source_quote"] = statement.get("quote") or ""
        data["source_statement_date"] = statement.get("date")
        data["source_url"] = statement.get("url") or ""
        return data


class GroupPublishSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    draft = serializers.BooleanField(help_text="false opens a draft group; a group once opened stays open.")

    def validate_draft(self, value):
        if value:
            raise serializers.ValidationError("A group that has been opened cannot become a draft again.")
        return value


class GroupForecastWriteSerializer(RejectUnknownFieldsMixin, StatementInputSerializer):
    """One forecast per member, in order: `probabilities` (numbers) or `forecasts` (any input form of a question)."""

    probabilities = serializers.ListField(
        child=serializers.FloatField(), required=False, max_length=500, help_text="P(yes) of each member, in order."
    )
    forecasts = serializers.ListField(
        child=ForecastInputSerializer(),
        required=False,
        max_length=500,
        help_text="Each member's probability, percent or phrase, in order.",
    )
    normalize = serializers.BooleanField(
        required=False, default=False, help_text="`which`: scale the probabilities to sum to 1."
    )

    def validate(self, attrs):
        given = [name for name in ("probabilities", "forecasts") if name in attrs]
        if len(given) != 1:
            message = "Give exactly one of probabilities or forecasts."
            raise serializers.ValidationError(dict.fromkeys(given or ["probabilities"], message))
        return attrs

    def service_arguments(self) -> dict:
        data = dict(self.validated_data)
        if "probabilities" in data:
            data["inputs"] = [{"probability": value} for value in data.pop("probabilities")]
            data["field"] = "probabilities"
        else:
            data["inputs"] = [dict(given) for given in data.pop("forecasts")]
            data["field"] = "forecasts"
        return data


@extend_schema_field({"type": "string", "description": "A date (2022-02-24) or an ISO 8601 datetime."})
class DateOrDateTimeField(serializers.Field):
    """A date, read as 00:00 UTC that day, or a datetime, within the years the models allow."""

    default_error_messages = {"invalid": "Give a date (2022-02-24) or an ISO 8601 datetime."}

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value.strip()) == 10:
            return BoundedDateField().run_validation(value.strip())
        try:
            return BoundedDateTimeField().run_validation(value)
        except serializers.ValidationError:
            self.fail("invalid")

    def to_representation(self, value):
        return value.isoformat()


class GroupResolveSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """`when`: occurred_on or not_by; `which`: option; either kind: annul."""

    occurred_on = DateOrDateTimeField(required=False, help_text="`when`: the day (or moment) the event occurred.")
    not_by = serializers.BooleanField(required=False, help_text="`when`: the event did not occur by the last end.")
    option = serializers.IntegerField(required=False, min_value=0, help_text="`which`: the winning option's index.")
    annul = serializers.BooleanField(required=False, help_text="Annul every member instead.")
    evidence_url = serializers.URLField(required=False, allow_blank=True, max_length=500)
    note = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class GroupScoreSerializer(serializers.Serializer):
    forecaster = serializers.IntegerField(source="forecaster_id", allow_null=True)
    source = serializers.IntegerField(source="source_id", allow_null=True)
    name = serializers.CharField()
    members_scored = serializers.IntegerField(help_text="Members with a counted forecast of this author.")
    complete = serializers.BooleanField(help_text="Whether the author forecast every member.")
    ranked_probability_score = serializers.FloatField(
        allow_null=True, help_text="`when`: (1/M) Σ (F_k - O_k)², over the members scored."
    )
    mean_brier = serializers.FloatField(allow_null=True, help_text="`when`: the members' mean Brier (equals RPS).")
    multiclass_brier = serializers.FloatField(allow_null=True, help_text="`which`: Σ (p_i - o_i)², 0 to 2.")
    log_score = serializers.FloatField(allow_null=True, help_text="`which`: -ln p of the winning option.")
    probabilities = serializers.ListField(child=serializers.FloatField(allow_null=True))
