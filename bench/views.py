"""Baselines for the bench: the plainest Django views that serve the same rows, and nothing else.

They authenticate the way the API does (one query for the token, its user and the permissions)
so that a ratio measures what the API adds on top: DRF, serializers, pagination, validation and the maintained aggregates.
"""

import json

from django.http import HttpResponseForbidden, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from forecasts import selectors
from forecasts.access import questions_visible_to
from forecasts.api.authentication import permission_caches_fill, token_with_permissions
from forecasts.models import Forecast

QUESTION_COLUMNS = [
    "id", "title", "details", "resolution_criteria", "kind", "status", "window_start", "window_end",
    "resolve_by", "outcome", "occurred_at", "resolved_at", "owner_id", "team_id", "source_id",
    "forecast_count", "forecaster_count", "crowd_probability", "my_probability", "created_at",
    "opened_at", "closed_at",
]  # fmt: skip


def token_user(request):
    """The user of `Authorization: Token <key>`, or None: the API's one query (token, user, permissions)."""
    _, _, key = request.headers.get("Authorization", "").partition(" ")
    token = token_with_permissions(key)
    if token is None:
        return None
    permission_caches_fill(token.user, token)
    return token.user


def plain_question_list(request):
    """The question list's rows (visible, ordered, the caller's standing forecast) as values() JSON."""
    user = token_user(request)
    if user is None:
        return HttpResponseForbidden()
    page_size = min(int(request.GET.get("page_size", 50)), 200)
    start = (int(request.GET.get("page", 1)) - 1) * page_size
    rows = (
        questions_visible_to(user)
        .annotate(my_probability=selectors.standing_probability_for(user))
        .order_by("window_end", "id")
        .values(*QUESTION_COLUMNS)[start : start + page_size]
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
