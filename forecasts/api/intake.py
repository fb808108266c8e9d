"""Report intake over the API: extract a report's statements (writes nothing), accept the chosen ones.

Both take the report as `text`, `published_at`, `url` and `publisher`, and need the permission to
file questions. Errors of one statement name its index and field: `statements.2.window_end`.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from forecasts import selectors
from forecasts.api.permissions import CreateNeedsModelPermission
from forecasts.api.serializers import BoundedDateField, IntegerPrimaryKeyRelatedField, RejectUnknownFieldsMixin
from forecasts.intake import MAX_TEXT_LENGTH
from forecasts.models import Question, Source
from forecasts.services import report_accept

INTAKE_TAGS = ["intake"]
MAX_STATEMENTS = 200


class IntakeReportSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A report: its text (plain, or a page's HTML), when and where it was published, and by whom."""

    text = serializers.CharField(max_length=MAX_TEXT_LENGTH, trim_whitespace=False, help_text="Plain text or HTML.")
    published_at = BoundedDateField(help_text="The report's publication date: windows are read against it.")
    url = serializers.URLField(max_length=500, required=False, allow_blank=True, default="")
    publisher = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class IntakeStatementSerializer(serializers.Serializer):
    """One predictive statement: what was said, by whom, how likely, in which window, as a draft question."""

    quote = serializers.CharField(help_text="The sentence or clause of the report that makes the statement.")
    speaker = serializers.CharField(allow_blank=True, help_text="Who made it, as the report names them.")
    source = serializers.IntegerField(
        allow_null=True, help_text="The id of the existing source it matches (names and aliases), or null."
    )
    phrase = serializers.CharField(allow_blank=True, help_text="The words of likelihood, e.g. `could`, `very likely`.")
    yardstick = serializers.CharField(
        allow_blank=True, help_text="`icd203`, `kent`, or `hedge` (words no yardstick defines: confirm the number)."
    )
    probability = serializers.FloatField(allow_null=True, help_text="The midpoint of the phrase's range.")
    window_start = serializers.DateField(allow_null=True)
    window_end = serializers.DateField(help_text="The last day of the window, inclusive.")
    window_text = serializers.CharField(allow_blank=True, help_text="The words the window was read from.")
    window_is_vague = serializers.BooleanField(help_text="A default for vague words or none: set it by hand.")
    kind = serializers.ChoiceField(choices=Question.Kind.choices)
    title = serializers.CharField(help_text="A suggested yes/no question.")
    resolution_criteria = serializers.CharField()


class IntakeExtractResultSerializer(serializers.Serializer):
    statements = IntakeStatementSerializer(many=True)


class IntakeAcceptStatementSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A statement to accept, as extract answered it or as edited; window_text and the flags are ignored."""

    read_only_names = frozenset()

    quote = serializers.CharField(max_length=5000)
    speaker = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    source = IntegerPrimaryKeyRelatedField(queryset=Source.objects.all(), allow_null=True, required=False)
    phrase = serializers.CharField(max_length=60, required=False, allow_blank=True, default="")
    yardstick = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    probability = serializers.FloatField(min_value=0.001, max_value=0.999, required=False, allow_null=True)
    window_start = BoundedDateField(required=False, allow_null=True)
    window_end = BoundedDateField()
    window_text = serializers.CharField(required=False, allow_blank=True)
    window_is_vague = serializers.BooleanField(required=False)
    kind = serializers.ChoiceField(choices=Question.Kind.choices, required=False, default=Question.Kind.OTHER)
    title = serializers.CharField(max_length=300)
    resolution_criteria = serializers.CharField()

    def validate(self, attrs):
        start, end = attrs.get("window_start"), attrs["window_end"]
        if start and end < start:
            raise serializers.ValidationError({"window_end": "The window cannot end before it starts."})
        return attrs


class IntakeAcceptSerializer(IntakeReportSerializer):
    statements = IntakeAcceptStatementSerializer(many=True, allow_empty=False, max_length=MAX_STATEMENTS)

    def validate_url(self, value):
        if not value:
            raise serializers.ValidationError("Give the report's URL: each statement is recorded with it.")
        return value


class IntakeAcceptResultSerializer(serializers.Serializer):
    questions = serializers.ListField(
        child=serializers.IntegerField(), help_text="The question of each accepted statement, in order."
    )
    created = serializers.ListField(
        child=serializers.IntegerField(), help_text="Those created now; the rest were accepted before."
    )


class IntakeView(APIView):
    permission_classes = [IsAuthenticated, CreateNeedsModelPermission]
    create_permission = "forecasts.add_question"


class IntakeExtractView(IntakeView):
    @extend_schema(request=IntakeReportSerializer, responses={200: IntakeExtractResultSerializer}, tags=INTAKE_TAGS)
    def post(self, request):
        """The report's predictive statements as candidates to review; writes nothing."""
        report = IntakeReportSerializer(data=request.data)
        report.is_valid(raise_exception=True)
        found = selectors.report_statements_for(
            request.user, text=report.validated_data["text"], published_at=report.validated_data["published_at"]
        )
        return Response(IntakeExtractResultSerializer({"statements": [item.as_dict() for item in found]}).data)


class IntakeAcceptView(IntakeView):
    @extend_schema(
        request=IntakeAcceptSerializer,
        responses={201: IntakeAcceptResultSerializer, 200: IntakeAcceptResultSerializer},
        tags=INTAKE_TAGS,
    )
    def post(self, request):
        """Create a draft question and the source's forecast for each chosen statement (201; 200 if all existed)."""
        accepted = IntakeAcceptSerializer(data=request.data)
        accepted.is_valid(raise_exception=True)
        data = accepted.validated_data
        result = report_accept(
            owner=request.user,
            text=data["text"],
            published_at=data["published_at"],
            url=data["url"],
            publisher=data["publisher"],
            statements=data["statements"],
        )
        body = IntakeAcceptResultSerializer({"questions": result.question_ids, "created": result.created_ids}).data
        return Response(body, status=status.HTTP_201_CREATED if result.created_ids else status.HTTP_200_OK)
