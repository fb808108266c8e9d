"""The workbench's pages at bench scale: each page's p50 through the test client, beside the plain values() view.

Every page is read by the heaviest forecaster (the most forecasts and scores), signed in to the admin
with a session or calling the API with a token, on the busiest question they forecast on and on a
group filed for the bench. The baseline (the plain question list of 50 rows as values() JSON) is
measured in the same run, between the pages, so a busy machine slows both alike.
"""

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db.models import Count
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench.data import BenchData
from bench.measure import Figure, api_client, get_ok
from forecasts.models import Forecast, Question, QuestionGroup

PAGE_TARGET_SECONDS = 0.100
GROUP_OPTIONS = 8
GROUP_FORECASTERS = 30
BASELINE_PATH = "/bench/questions/"
# Kept in the cache under a version key: the p50 reads the cache, the first request draws or computes.
CACHED = {"question chart (chart.svg)", "crowd aggregates (/api/stats/aggregates/)"}


def busiest_question_id(data: BenchData) -> int:
    """The resolved question with the most forecasts among those the heavy forecaster forecast on."""
    mine = Forecast.objects.filter(forecaster_id=data.heavy_id).values("question_id")
    question = (
        Question.objects.filter(pk__in=mine, status=Question.Status.RESOLVED)
        .annotate(total=Count("forecasts"))
        .order_by("-total", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if question is None:
        raise RuntimeError("the heavy forecaster forecast on no resolved question")
    return question


def bench_group(data: BenchData) -> QuestionGroup:
    """A `which` group of eight options, forecast on by thirty forecasters and the heavy one, filed through the services."""
    from forecasts.services import group_create, group_forecast_submit

    users = get_user_model().objects.in_bulk([data.owner_ids[0], data.heavy_id, *map(int, data.forecaster_ids[1:])])
    group = group_create(
        owner=users[data.owner_ids[0]],
        kind=QuestionGroup.Kind.WHICH,
        title="Which front sees the first crossing?",
        resolution_criteria="The front where two independent outlets first report a crossing.",
        window_end=timezone.now() + timedelta(days=60),
        options=[f"Front {number}" for number in range(1, GROUP_OPTIONS + 1)],
    )
    authors = [
        users[data.heavy_id],
        *[users[int(user_id)] for user_id in data.forecaster_ids[1 : GROUP_FORECASTERS + 1]],
    ]
    for index, author in enumerate(authors):
        weights = [(index + option) % GROUP_OPTIONS + 1 for option in range(GROUP_OPTIONS)]
        total = sum(weights)
        inputs = [{"probability": weight / total} for weight in weights]
        group_forecast_submit(group=group, recorded_by=author, inputs=inputs, normalize=True)
    return group


def timed_get(client: Client, path: str) -> float:
    """Seconds to GET `path` (200 required) and read the whole body."""
    began = time.perf_counter()
    response = get_ok(client, path)
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return time.perf_counter() - began


def p50_seconds(client: Client, path: str, *, runs: int) -> tuple[float, float]:
    """The median time of GET `path` over `runs` runs after a first one, and that first one's time
    (what a page kept in the cache costs when it is drawn or computed)."""
    first = timed_get(client, path)
    return statistics.median(timed_get(client, path) for _ in range(runs)), first


def page_figures(data: BenchData, *, runs: int) -> tuple[list[Figure], dict]:
    """The home page, a question page and its chart, a track record, the aggregates and a group's pages."""
    viewer = get_user_model().objects.get(pk=data.heavy_id)
    admin = Client(HTTP_HOST="127.0.0.1")
    admin.force_login(viewer)
    api = api_client(data, data.heavy_id)
    question_id = busiest_question_id(data)
    group = bench_group(data)
    pages = [
        ("home page (admin index)", admin, reverse("admin:index")),
        ("question page (admin)", admin, reverse("admin:forecasts_question_change", args=[question_id])),
        ("question chart (chart.svg)", api, reverse("api:question-chart", args=[question_id])),
        (
            "track record, heavy forecaster (admin)",
            admin,
            reverse("admin:forecasts_score_track_record", args=["forecaster", data.heavy_id]),
        ),
        ("crowd aggregates (/api/stats/aggregates/)", api, reverse("api:stats-aggregates")),
        ("group page (admin)", admin, reverse("admin:forecasts_questiongroup_change", args=[group.pk])),
        ("group (/api/groups/{id}/)", api, reverse("api:group-detail", args=[group.pk])),
    ]
    forecasts_on_question = Forecast.objects.filter(question_id=question_id).count()
    notes = {
        "question page (admin)": f"question {question_id}, {forecasts_on_question:,} forecasts",
        "question chart (chart.svg)": f"question {question_id}, {forecasts_on_question:,} forecasts",
        "group page (admin)": f"{GROUP_OPTIONS} members, {GROUP_FORECASTERS + 1} forecasters",
        "group (/api/groups/{id}/)": f"{GROUP_OPTIONS} members, {GROUP_FORECASTERS + 1} forecasters",
    }
    figures, seconds = [], {}
    for name, client, path in pages:
        page, first = p50_seconds(client, path, runs=runs)
        baseline, _ = p50_seconds(api, f"{BASELINE_PATH}?page_size=50", runs=runs)
        seconds[name] = {"path": path, "p50_ms": page * 1000, "first_ms": first * 1000, "baseline_ms": baseline * 1000}
        if name in CACHED:
            notes[name] = f"{notes.get(name, '')}; first request (drawn or computed) {first * 1000:.0f} ms".lstrip("; ")
        figures.append(
            Figure(
                f"{name}, p50",
                page * 1000,
                "ms",
                "plain values() question list of 50, same run",
                baseline * 1000,
                "p50 <= 100 ms",
                page <= PAGE_TARGET_SECONDS,
                notes.get(name, ""),
            )
        )
    return figures, {"question_id": question_id, "group_id": group.pk, "pages": seconds}
