"""Shapes in and out of the API. Input serializers check types and sizes; services check the rules."""

from collections.abc import Mapping
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.validators import URLValidator
from django.utils.dateparse import parse_duration
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.exceptions import ErrorDetail

from forecasts.access import user_is_moderator
from forecasts.forecast_input import MAX_INPUT_LENGTH
from forecasts.models import (
    MAX_TAGS,
    PROBABILITY_MAX,
    PROBABILITY_MIN,
    YEAR_BOUNDS_MESSAGE,
    Forecast,
    Notification,
    Question,
    ResolutionEvent,
    Score,
    Source,
    Team,
    within_year_bounds,
)

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
        read_only=True, allow_null=True, help_text="Median of every forecaster's latest forecast."
    )

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
            "my_probability",
            "created_at",
            "opened_at",
            "closed_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(StatementSerializer(allow_null=True))
    def get_statement(self, question):
        if not (question.source_quote or question.source_statement_date or question.source_url):
            return None
        return {
            "quote": question.source_quote,
            "date": question.source_statement_date.isoformat() if question.source_statement_date else None,
            "url": question.source_url,
        }

    @extend_schema_field(serializers.ChoiceField(choices=Question.Outcome.choices, allow_null=True))
    def get_outcome(self, question):
        return question.outcome or None


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
            "quote",
            "url",
            "made_at",
            "recorded_at",
        ]
        read_only_fields = fields


class ForecastWriteSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """Exactly one of forecast, probability, percent or phrase; a source's statement adds source, made_at, quote, url."""

    read_only_names = frozenset(ForecastSerializer.Meta.fields)

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
    rationale = serializers.CharField(required=False, allow_blank=True, max_length=10000)
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
    made_at = serializers.DateTimeField(
        source="forecast.made_at", read_only=True, help_text="When the counted forecast was made."
    )
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

    class Meta:
        model = Notification
        fields = ["id", "kind", "channel", "message", "question", "created_at", "sent_at", "read_at"]
        read_only_fields = fields


class ReadAllResultSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="How many notifications were unread and are now read.")


class SettingsSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    digest_period = DigestPeriodField(
        required=False,
        help_text="At most one reminder email per period: whole minutes (120) or ISO 8601 (PT2H); shown as ISO 8601.",
    )
    digest_period_minutes = serializers.SerializerMethodField()
    closing_soon_opt_in = serializers.BooleanField(required=False)
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
