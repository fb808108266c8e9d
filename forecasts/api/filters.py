"""Query-string filters of the list endpoints; a malformed value is a 400, never a 500."""

from datetime import UTC

from django import forms
from django.db.models import F, Q
from django.db.models.expressions import OrderBy
from django_filters import rest_framework as filters
from django_filters.fields import IsoDateTimeField
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.filters import OrderingFilter

from forecasts.models import Forecast, Notification, Question, Source

ID_MAX = 2**63 - 1


class IdFilter(filters.Filter):
    """An integer id; decimals, text and out-of-range numbers are rejected (typed `integer` in the schema)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", ID_MAX)
        super().__init__(*args, **kwargs)


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 datetime, moved to UTC, between the years 1900 and 2999."""

    def clean(self, value):
        moment = super().clean(value)
        if moment is None:
            return None
        try:
            moment = moment.astimezone(UTC)
        except OverflowError as error:
            raise forms.ValidationError("Must be between the years 1900 and 2999.", code="invalid") from error
        if not 1900 <= moment.year <= 2999:
            raise forms.ValidationError("Must be between the years 1900 and 2999.", code="invalid")
        return moment


class MomentFilter(filters.IsoDateTimeFilter):
    """Filters on a datetime given in ISO 8601; any offset is accepted and read as UTC."""

    field_class = BoundedIsoDateTimeField


class StrictBooleanField(forms.NullBooleanField):
    """`true`/`false` (or 1/0); anything else is an error rather than silently no filter."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        if str(value).lower() in ("true", "1"):
            return True
        if str(value).lower() in ("false", "0"):
            return False
        raise forms.ValidationError("Use true or false.", code="invalid")

    def validate(self, value):
        pass


class StrictBooleanFilter(filters.BooleanFilter):
    field_class = StrictBooleanField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class FilterBackend(filters.DjangoFilterBackend):
    """django-filter's backend, which builds no filter form for a request that names none of the
    filters (a dashboard's plain page): that form would validate nothing and apply nothing."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None and not filterset_class.base_filters.keys() & request.query_params.keys():
            return queryset
        return super().filter_queryset(request, queryset, view)


def null_placed(term: str) -> OrderBy:
    """An ordering term with PostgreSQL's placement of NULL (last ascending, first descending) on
    every database, so a list sorts the same on the embedded SQLite default."""
    name = term.lstrip("-")
    return F(name).desc(nulls_first=True) if term.startswith("-") else F(name).asc(nulls_last=True)


class StableOrderingFilter(OrderingFilter):
    """`?ordering=-crowd_probability`; ties are broken by id so pages never overlap.

    An unknown field is a 400 naming `ordering`, not silently the default order.
    """

    def choices(self, view) -> list[str]:
        return [order for name in view.ordering_fields for order in (name, f"-{name}")]

    def get_ordering(self, request, queryset, view):
        given = request.query_params.get(self.ordering_param)
        if given:
            allowed = set(self.choices(view))
            unknown = [term.strip() for term in given.split(",") if term.strip() not in allowed]
            if unknown:
                message = f"Unknown ordering {', '.join(unknown)}; use one of: {', '.join(self.choices(view))}."
                raise ValidationError({self.ordering_param: [ErrorDetail(message, code="invalid_choice")]})
        ordering = super().get_ordering(request, queryset, view)
        aliases = getattr(view, "ordering_aliases", {})
        if ordering:
            ordering = [
                f"{'-' if term.startswith('-') else ''}{aliases.get(term.lstrip('-'), term.lstrip('-'))}"
                for term in ordering
            ]
        if ordering and not any(field.lstrip("-") == "id" for field in ordering):
            ordering = [*ordering, "id"]
        return [null_placed(term) for term in ordering] if ordering else ordering

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.ordering_param,
                "required": False,
                "in": "query",
                "description": "Sort by this field; `-` first for descending. Several, comma-separated, also work.",
                "schema": {"type": "string", "enum": self.choices(view)},
            }
        ]


class QuestionFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Question.Status.choices)
    kind = filters.ChoiceFilter(choices=Question.Kind.choices)
    tag = filters.CharFilter(method="filter_tag", max_length=60, help_text="A tag name, e.g. `ukraine`.")
    source = IdFilter(field_name="source_id", help_text="Id of the source the question quotes.")
    owner = IdFilter(field_name="owner_id", help_text="Id of the owner.")
    team = IdFilter(field_name="team_id", help_text="Id of the team.")
    window_end_after = MomentFilter(
        field_name="window_end", lookup_expr="gte", help_text="Window ends at or after this time."
    )
    window_end_before = MomentFilter(
        field_name="window_end", lookup_expr="lt", help_text="Window ends strictly before this time."
    )
    resolve_by_before = MomentFilter(
        field_name="resolve_by", lookup_expr="lt", help_text="Resolve-by deadline strictly before this time."
    )
    updated_after = MomentFilter(
        field_name="updated_at", lookup_expr="gte", help_text="Changed at or after this time (for a poller)."
    )
    search = filters.CharFilter(
        method="filter_search", max_length=200, help_text="Words in the title, details or resolution criteria."
    )

    class Meta:
        model = Question
        fields = []

    def filter_tag(self, queryset, name, value):
        return queryset.filter(tags__name=value.strip().lower())

    def filter_search(self, queryset, name, value):
        matches = Q()
        for word in value.split():
            matches &= Q(title__icontains=word) | Q(details__icontains=word) | Q(resolution_criteria__icontains=word)
        return queryset.filter(matches)


class ForecastFilter(filters.FilterSet):
    question = IdFilter(field_name="question_id", help_text="Id of the question.")
    forecaster = IdFilter(field_name="forecaster_id", help_text="Id of the user who forecast.")
    source = IdFilter(field_name="source_id", help_text="Id of the source whose statement was recorded.")
    made_after = MomentFilter(field_name="made_at", lookup_expr="gte", help_text="Made at or after this time.")
    made_before = MomentFilter(field_name="made_at", lookup_expr="lt", help_text="Made strictly before this time.")
    recorded_after = MomentFilter(
        field_name="recorded_at",
        lookup_expr="gte",
        help_text="Recorded at or after this time, whatever its made_at: a poller's filter (sources' statements are backdated).",
    )

    class Meta:
        model = Forecast
        fields = []


class SourceFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Source.Kind.choices)
    search = filters.CharFilter(
        field_name="name", lookup_expr="icontains", max_length=200, help_text="Part of the name."
    )

    class Meta:
        model = Source
        fields = []


class NotificationFilter(filters.FilterSet):
    unread = StrictBooleanFilter(
        field_name="read_at", lookup_expr="isnull", help_text="`true`: only unread; `false`: only read."
    )
    kind = filters.ChoiceFilter(choices=Notification.Kind.choices)

    class Meta:
        model = Notification
        fields = []
