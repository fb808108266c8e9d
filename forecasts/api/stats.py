"""The statistics API: calibration, leaderboard, phrases, and their charts as SVG.

Thin views: validate the query string, call a reader in forecasts/selectors/calibration.py,
serialize. Every number comes from the stored scores of questions the caller can see whose window
has ended, and every name is one the caller may see: a forecaster id the caller may not see
answers exactly as an id that does not exist.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts import charts, selectors
from forecasts.api.pagination import PagePagination
from forecasts.charts import svg_response
from forecasts.models import Confidence, CrowdMethod, QuestionKind, Score

DATE_INPUT_FORMATS = ["iso-8601", "%Y-%m-%d"]
SVG_RESPONSE = OpenApiResponse(
    OpenApiTypes.BINARY,
    description="An SVG image (`image/svg+xml`, UTF-8 text); errors are the API's JSON. A client generator "
    "that knows only JSON and binary bodies can read it as `application/octet-stream`.",
)
STATS_TAGS = ["stats"]


# Query strings --------------------------------------------------------------------------------


class StatsQuerySerializer(serializers.Serializer):
    forecaster = serializers.CharField(required=False, help_text="A user id, or `me` for yourself.")
    source = serializers.IntegerField(required=False, min_value=1, help_text="A source id.")
    kind = serializers.ChoiceField(choices=QuestionKind.choices, required=False)
    tag = serializers.SlugField(required=False, max_length=60)
    team = serializers.IntegerField(required=False, min_value=1, help_text="A team id (of a team you belong to).")
    group = serializers.IntegerField(required=False, min_value=1, help_text="A question group id: its members only.")
    resolved_after = serializers.DateTimeField(
        required=False,
        input_formats=DATE_INPUT_FORMATS,
        help_text="Resolved at or after this moment (ISO 8601 date or datetime; UTC unless an offset is given).",
    )
    resolved_before = serializers.DateTimeField(
        required=False, input_formats=DATE_INPUT_FORMATS, help_text="Resolved before this moment."
    )
    confidence = serializers.ChoiceField(
        choices=[*Confidence.values, "none"],
        required=False,
        help_text="Only counted forecasts given at this analytic confidence (`none`: not given).",
    )

    def validate_forecaster(self, value: str) -> int:
        if value.strip().lower() == "me":
            return self.context["request"].user.pk
        try:
            forecaster_id = int(value)
        except ValueError as error:
            raise serializers.ValidationError("Give a user id or `me`.") from error
        if forecaster_id < 1:
            raise serializers.ValidationError("Give a user id or `me`.")
        return forecaster_id

    def validate(self, attrs):
        after, before = attrs.get("resolved_after"), attrs.get("resolved_before")
        if after and before and before <= after:
            raise serializers.ValidationError({"resolved_before": "Must be later than resolved_after."})
        return attrs

    def score_filters(self) -> selectors.ScoreFilters:
        data = self.validated_data
        return selectors.ScoreFilters(
            forecaster_id=data.get("forecaster"),
            source_id=data.get("source"),
            kind=data.get("kind"),
            tag=data.get("tag"),
            team_id=data.get("team"),
            group_id=data.get("group"),
            resolved_after=data.get("resolved_after"),
            resolved_before=data.get("resolved_before"),
            confidence=data.get("confidence"),
        )


class CalibrationQuerySerializer(StatsQuerySerializer):
    bins = serializers.IntegerField(
        required=False, default=selectors.DEFAULT_BINS, min_value=1, max_value=selectors.MAX_BINS
    )
    strategy = serializers.ChoiceField(
        choices=selectors.STRATEGIES,
        required=False,
        default="uniform",
        help_text="`uniform`: equal-width bins, an inner edge in the lower bin. `quantile`: equally full bins.",
    )


class LeaderboardQuerySerializer(StatsQuerySerializer):
    min_n = serializers.IntegerField(
        required=False, default=1, min_value=1, help_text="Only authors with at least this many scored questions."
    )
    authors = serializers.ChoiceField(choices=selectors.AUTHOR_KINDS, required=False, default="all")


def validated_query(serializer_class, request) -> StatsQuerySerializer:
    query = serializer_class(data=request.query_params, context={"request": request})
    query.is_valid(raise_exception=True)
    return query


# Responses ------------------------------------------------------------------------------------


class CalibrationBinSerializer(serializers.Serializer):
    lower = serializers.FloatField()
    upper = serializers.FloatField()
    count = serializers.IntegerField()
    mean_forecast = serializers.FloatField()
    observed_frequency = serializers.FloatField()
    ci_low = serializers.FloatField(help_text="Wilson 95% interval of the observed frequency.")
    ci_high = serializers.FloatField()


class MurphySerializer(serializers.Serializer):
    reliability = serializers.FloatField(allow_null=True)
    resolution = serializers.FloatField(allow_null=True)
    uncertainty = serializers.FloatField(allow_null=True)
    within_bin_variance = serializers.FloatField(allow_null=True)
    within_bin_covariance = serializers.FloatField(allow_null=True)


class CalibrationSerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Scored (author, question) pairs: one final forecast each.")
    questions = serializers.IntegerField()
    base_rate = serializers.FloatField(allow_null=True)
    brier = serializers.FloatField(allow_null=True, help_text="On the 0-1 scale (double it for the 0-2 scale).")
    log_loss = serializers.FloatField(allow_null=True)
    mean_time_averaged_brier = serializers.FloatField(allow_null=True)
    mean_relative_brier = serializers.FloatField(allow_null=True, help_text="Negative is better than the crowd.")
    mean_coverage = serializers.FloatField(
        allow_null=True,
        help_text="Mean share of each question's open span the author's forecasts covered (see docs/scoring.md).",
    )
    murphy = MurphySerializer(
        help_text="Brier = reliability - resolution + uncertainty + within_bin_variance - within_bin_covariance."
    )
    bins = CalibrationBinSerializer(many=True, help_text="Non-empty bins only.")


class LeaderboardEntrySerializer(serializers.Serializer):
    rank = serializers.IntegerField()
    author_type = serializers.ChoiceField(choices=["forecaster", "source"])
    id = serializers.IntegerField()
    name = serializers.CharField()
    n = serializers.IntegerField()
    mean_brier = serializers.FloatField(help_text="On the 0-1 scale (double it for the 0-2 scale).")
    mean_log_loss = serializers.FloatField()
    mean_time_averaged_brier = serializers.FloatField()
    mean_relative_brier = serializers.FloatField(allow_null=True)
    relative_n = serializers.IntegerField(help_text="Questions with a relative Brier (two or more authors).")
    mean_coverage = serializers.FloatField(
        allow_null=True, help_text="Mean share of each question's open span the author's forecasts covered."
    )


class PhraseCalibrationSerializer(serializers.Serializer):
    yardstick = serializers.CharField()
    phrase = serializers.CharField()
    low = serializers.FloatField(allow_null=True, help_text="The phrase's probability range.")
    high = serializers.FloatField(allow_null=True)
    probability = serializers.FloatField(allow_null=True, help_text="What Forewarn stores for the phrase.")
    statements = serializers.IntegerField()
    occurred = serializers.IntegerField(help_text="Statements whose question resolved YES.")
    observed_frequency = serializers.FloatField(allow_null=True)
    ci_low = serializers.FloatField(allow_null=True)
    ci_high = serializers.FloatField(allow_null=True)
    mean_brier = serializers.FloatField(allow_null=True)


class LossSummarySerializer(serializers.Serializer):
    n = serializers.IntegerField(help_text="Questions scored.")
    brier = serializers.FloatField(allow_null=True, help_text="Mean Brier, 0-1 scale (double it for the 0-2 scale).")
    brier_ci = serializers.ListField(
        child=serializers.FloatField(), allow_null=True, help_text="95% bootstrap interval over questions."
    )
    log_loss = serializers.FloatField(allow_null=True)
    log_loss_ci = serializers.ListField(child=serializers.FloatField(), allow_null=True)


class MethodLossSerializer(LossSummarySerializer):
    method = serializers.ChoiceField(choices=CrowdMethod.choices)
    label = serializers.CharField()


class BestForecasterSerializer(LossSummarySerializer):
    author_type = serializers.ChoiceField(choices=["forecaster", "source"])
    id = serializers.IntegerField()
    name = serializers.CharField()


class AggregateComparisonSerializer(serializers.Serializer):
    questions = serializers.IntegerField(help_text="Resolved questions with a crowd at the close.")
    methods = MethodLossSerializer(many=True)
    best_forecaster = BestForecasterSerializer(allow_null=True)
    best_forecaster_rule = serializers.CharField()
    extremizing_factor = serializers.FloatField(help_text="The factor open questions use now.")
    factor_questions = serializers.IntegerField(help_text="Resolved questions the factor was fitted on.")
    factor_fitted_at = serializers.DateTimeField(allow_null=True)


class SvgApiView(APIView):
    """An endpoint whose success is an SVG image and whose errors are the API's JSON."""

    def perform_content_negotiation(self, request, force=False):
        # `Accept: image/svg+xml` must not be a 406: the image bypasses the renderers anyway.
        return super().perform_content_negotiation(request, force=True)


# Views ----------------------------------------------------------------------------------------


class CalibrationApi(APIView):
    """Calibration of the final forecasts you can see, with the Murphy decomposition."""

    @extend_schema(parameters=[CalibrationQuerySerializer], responses={200: CalibrationSerializer}, tags=STATS_TAGS)
    def get(self, request):
        """One point per (forecaster or source, question): the last forecast before the close.

        Only questions resolved YES or NO whose window has ended count; annulled ones never do.
        """
        query = validated_query(CalibrationQuerySerializer, request)
        calibration = selectors.calibration_for(
            request.user,
            filters=query.score_filters(),
            bins=query.validated_data["bins"],
            strategy=query.validated_data["strategy"],
        )
        return Response(CalibrationSerializer(calibration).data)


class LeaderboardApi(generics.ListAPIView):
    """Forecasters and sources ranked by mean relative Brier (against the crowd), then mean Brier."""

    serializer_class = LeaderboardEntrySerializer
    pagination_class = PagePagination
    filter_backends = []

    def get_queryset(self):
        return Score.objects.none()  # the rows come from selectors.leaderboard_for

    @extend_schema(parameters=[LeaderboardQuerySerializer], tags=STATS_TAGS)
    def get(self, request, *args, **kwargs):
        """Ranked authors with n, mean Brier, log loss, time-averaged and relative Brier."""
        query = validated_query(LeaderboardQuerySerializer, request)
        rows = selectors.leaderboard_for(
            request.user,
            filters=query.score_filters(),
            min_n=query.validated_data["min_n"],
            authors=query.validated_data["authors"],
        )
        page = self.paginate_queryset(rows)
        first_rank = self.paginator.page.start_index()
        entries = [selectors.leaderboard_entry(row, rank=rank) for rank, row in enumerate(page, start=first_rank)]
        return self.get_paginated_response(LeaderboardEntrySerializer(entries, many=True).data)


class PhraseCalibrationApi(APIView):
    """What each estimative phrase turned out to mean: how often it happened, per yardstick."""

    @extend_schema(
        parameters=[StatsQuerySerializer], responses={200: PhraseCalibrationSerializer(many=True)}, tags=STATS_TAGS
    )
    def get(self, request):
        """Every phrase of every yardstick, with its range and the observed frequency (Wilson 95%)."""
        query = validated_query(StatsQuerySerializer, request)
        rows = selectors.phrase_calibration_for(request.user, filters=query.score_filters())
        return Response(PhraseCalibrationSerializer(rows, many=True).data)


class AggregateComparisonApi(APIView):
    """Which crowd aggregate works here: each method's Brier and log loss at the close, with intervals."""

    @extend_schema(parameters=[StatsQuerySerializer], responses={200: AggregateComparisonSerializer}, tags=STATS_TAGS)
    def get(self, request):
        """Over the resolved questions you can see (the calibration filters), each aggregate as it stood
        at the close, and the best single forecaster; 95% bootstrap intervals over questions (fixed seed)."""
        query = validated_query(StatsQuerySerializer, request)
        comparison = selectors.aggregate_comparison_for(request.user, filters=query.score_filters())
        return Response(AggregateComparisonSerializer(comparison).data)


class AggregateComparisonChartApi(SvgApiView):
    """The aggregate comparison drawn: mean Brier per method with its 95% interval."""

    @extend_schema(
        operation_id="stats_aggregates_chart",
        parameters=[StatsQuerySerializer],
        responses={(200, "image/svg+xml"): SVG_RESPONSE},
        tags=STATS_TAGS,
    )
    def get(self, request):
        """The same filters and numbers as /api/stats/aggregates/, drawn as SVG."""
        query = validated_query(StatsQuerySerializer, request)
        filters = query.score_filters()
        comparison = selectors.aggregate_comparison_for(request.user, filters=filters)
        subject = selectors.filters_description(request.user, filters)
        return svg_response(charts.aggregate_comparison_chart_svg(comparison, subject=subject))


class CalibrationChartApi(SvgApiView):
    """The calibration chart: points with Wilson 95% bars, the diagonal and the count per bin."""

    @extend_schema(
        operation_id="stats_calibration_chart",
        parameters=[CalibrationQuerySerializer],
        responses={(200, "image/svg+xml"): SVG_RESPONSE},
        tags=STATS_TAGS,
    )
    def get(self, request):
        """The same filters and numbers as /api/stats/calibration/, drawn as SVG."""
        query = validated_query(CalibrationQuerySerializer, request)
        filters = query.score_filters()
        calibration = selectors.calibration_for(
            request.user,
            filters=filters,
            bins=query.validated_data["bins"],
            strategy=query.validated_data["strategy"],
        )
        subject = selectors.filters_description(request.user, filters)
        return svg_response(charts.calibration_chart_svg(calibration, subject=subject))


class BrierOverTimeChartApi(SvgApiView):
    """Mean Brier per month in which the window ended, with the number of scored forecasts."""

    @extend_schema(
        operation_id="stats_brier_over_time_chart",
        parameters=[StatsQuerySerializer],
        responses={(200, "image/svg+xml"): SVG_RESPONSE},
        tags=STATS_TAGS,
    )
    def get(self, request):
        """The same filters as /api/stats/calibration/ (without bins), drawn as SVG."""
        query = validated_query(StatsQuerySerializer, request)
        filters = query.score_filters()
        months = selectors.brier_over_time_for(request.user, filters=filters)
        subject = selectors.filters_description(request.user, filters)
        return svg_response(charts.brier_over_time_chart_svg(months, subject=subject))
