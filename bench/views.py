"""Baselines for the bench: the plainest Django views that serve the same rows, and nothing else.

They authenticate the way the API does (one token lookup) so that a ratio measures what the API
adds on top: DRF, serializers, pagination, validation and the maintained aggregates.
"""

import json

from django.http import HttpResponseForbidden, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from rest_framework.authtoken.models import Token

from forecasts import selectors
from forecasts.access import questions_visible_to
from forecasts.models import Forecast

QUESTION_COLUMNS = [
    "id", "title", "details", "resolution_criteria", "kind", "status", "window_start", "window_end",
    "resolve_by", "outcome", "occurred_at", "resolved_at", "owner_id", "team_id", "source_id",
    "forecast_count", "forecaster_count", "crowd_probability", "my_probability", "created_at",
    "opened_at", "closed_at",
]  # fmt: skip


def token_user(request):
    """The user of `Authorization: Token <key>`, or None."""
    _, _, key = request.headers.get("Authorization", "").partition(" ")
    token = Token.objects.select_related("user").filter(key=key).first()
    return token.user if token else None


def plain_question_list(request):
    """The question list's rows (visible, ordered, the caller's standing forecast) as values() JSON."""
    user = token_user(request)
    if user is None:
        return HttpResponseForbidden()
    page_size = min(int(request.GET.get("page_size", 50)), 200)
    rows = (
        questions_visible_to(user)
        .annotate(my_probability=selectors.standing_probability_for(user))
        .order_by("window_end", "id")
        .values(*QUESTION_COLUMNS)[:page_size]
    )
    return JsonResponse({"results": list(rows)})


@csrf_exempt
def plain_forecast_insert(request, pk: int):
    """Insert the row a forecast submission inserts; no validation, no aggregates."""
    user = token_user(request)
    if user is None:
        return HttpResponseForbidden()
    body = json.loads(request.body)
    now = timezone.now()
    forecast = Forecast.objects.create(
        question_id=pk,
        forecaster=user,
        recorded_by=user,
        made_at=now,
        recorded_at=now,
        probability=float(body["probability"]),
    )
    return JsonResponse({"id": forecast.pk}, status=201)
