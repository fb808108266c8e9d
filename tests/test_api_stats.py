"""The statistics API and the admin's Calibration page, against scikit-learn and hand-made cases."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from forecasts import scoring
from forecasts.api import stats as api_stats
from forecasts.models import Forecast, Question, Score, Source
from forecasts.selectors import uniform_bin_expression
from forecasts.services import question_resolve, question_unresolve
from forecasts.services.scores import question_scores_recompute, scoring_cutoff
from tests import factories, oracles
from tests.api_support import client_for, error_fields
from tests.design_vectors import MURPHY_VECTORS

User = get_user_model()
# The admin tests' URLconf, built after the Calibration admin registered itself above: the
# project's URLconf may have been loaded (by another test module) before this import.
urlpatterns = [path("admin/", admin.site.urls)]
EXACT = 1e-12
CLOSE = 1e-9  # sums of a few thousand floats in the database, in another order than numpy's
CALIBRATION_KEYS = {
    "n",
    "questions",
    "base_rate",
    "brier",
    "log_loss",
    "mean_time_averaged_brier",
    "mean_relative_brier",
    "mean_coverage",
    "murphy",
    "bins",
}


def calibration(user, **params) -> dict:
    response = client_for(user).get("/api/stats/calibration/", params)
    assert response.status_code == 200, response.content
    return response.json()


# A generated world of scored forecasts -------------------------------------------------------


@dataclass
class World:
    """Questions and forecasts built in bulk, and the pairs that should count, worked out here."""

    now: datetime
    owner: object
    questions: list = field(default_factory=list)
    counted_pairs: list = field(default_factory=list)  # (question, author key, p, y)
    timed: dict = field(default_factory=dict)  # question id -> author key -> [(made_at, p)]


def build_world(*, seed: int, questions: int, forecasters: int, sources: int, authors_per_question: int) -> World:
    """Resolved questions with 1-4 forecasts per author, some after the close or after the event."""
    rng = np.random.default_rng(seed)
    now = timezone.now()
    owner = factories.UserFactory(username=f"world-owner-{seed}")
    users = User.objects.bulk_create([User(username=f"world-{seed}-user-{n}") for n in range(forecasters)])
    publishers = Source.objects.bulk_create([Source(name=f"World {seed} source {n}") for n in range(sources)])
    world = World(now=now, owner=owner)
    rows = []
    for number in range(questions):
        window_end = now - timedelta(days=int(rng.integers(2, 400)), minutes=int(rng.integers(0, 1440)))
        outcome = "yes" if rng.random() < 0.45 else "no"
        early_event = outcome == "yes" and rng.random() < 0.3
        rows.append(
            Question(
                title=f"World {seed} question {number}",
                resolution_criteria="Generated.",
                kind=Question.Kind.values[number % len(Question.Kind.values)],
                owner=owner,
                opened_at=window_end - timedelta(days=20),
                window_end=window_end,
                resolve_by=window_end + timedelta(days=3),
                closed_at=window_end,
                status=Question.Status.RESOLVED,
                outcome=outcome,
                occurred_at=window_end - timedelta(days=6) if early_event else None,
                resolved_at=window_end + timedelta(days=1),
            )
        )
    world.questions = Question.objects.bulk_create(rows)
    forecasts = []
    authors = [("forecaster", user) for user in users] + [("source", source) for source in publishers]
    for question in world.questions:
        chosen = rng.choice(len(authors), size=authors_per_question, replace=False)
        for index in chosen:
            kind, author = authors[index]
            for _ in range(int(rng.integers(1, 5))):
                # From two days before opening to two days after the close.
                made_at = question.opened_at + timedelta(minutes=int(rng.integers(-2 * 1440, 24 * 1440)))
                forecasts.append(
                    Forecast(
                        question=question,
                        forecaster=author if kind == "forecaster" else None,
                        source=author if kind == "source" else None,
                        recorded_by=owner,
                        made_at=made_at,
                        recorded_at=now,
                        probability=int(rng.integers(1, 1000)) / 1000,
                        quote="Generated." if kind == "source" else "",
                        url="https://example.org/generated" if kind == "source" else "",
                    )
                )
    Forecast.objects.bulk_create(forecasts)
    for question in world.questions:
        question_scores_recompute(question_id=question.pk)

    outcome_value = {"yes": 1, "no": 0}
    by_question: dict[int, dict] = {}
    for forecast in sorted(forecasts, key=lambda forecast: (forecast.made_at, forecast.pk)):
        question = forecast.question
        if forecast.made_at >= scoring_cutoff(question):
            continue
        key = ("source", forecast.source_id) if forecast.source_id else ("forecaster", forecast.forecaster_id)
        by_question.setdefault(question.pk, {}).setdefault(key, []).append((forecast.made_at, forecast.probability))
    world.timed = by_question
    for question in world.questions:
        for key, timed in by_question.get(question.pk, {}).items():
            world.counted_pairs.append((question, key, timed[-1][1], outcome_value[question.outcome]))
    return world


def test_calibration_equals_scikit_learn_on_thousands_of_forecasts(db):
    # Imported here: scikit-learn takes seconds to load, and only this test needs it.
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss
    from sklearn.metrics import log_loss as sklearn_log_loss

    world = build_world(seed=2022, questions=70, forecasters=40, sources=6, authors_per_question=18)
    assert Forecast.objects.count() > 3000
    probabilities = np.array([pair[2] for pair in world.counted_pairs])
    outcomes = np.array([pair[3] for pair in world.counted_pairs])
    moderator = factories.EditorFactory()

    found = calibration(moderator, bins=10)

    assert set(found) == CALIBRATION_KEYS
    assert found["n"] == len(world.counted_pairs) == Score.objects.count()
    assert found["questions"] == len({pair[0].pk for pair in world.counted_pairs})
    assert found["base_rate"] == pytest.approx(outcomes.mean(), abs=EXACT)
    assert found["brier"] == pytest.approx(brier_score_loss(outcomes, probabilities), abs=CLOSE)
    assert found["log_loss"] == pytest.approx(sklearn_log_loss(outcomes, probabilities), abs=CLOSE)
    observed, predicted = calibration_curve(outcomes, probabilities, n_bins=10, strategy="uniform")
    assert [row["observed_frequency"] for row in found["bins"]] == pytest.approx(list(observed), abs=CLOSE)
    assert [row["mean_forecast"] for row in found["bins"]] == pytest.approx(list(predicted), abs=CLOSE)
    counts = np.bincount(scoring.uniform_bin_indices(probabilities, 10), minlength=10)
    assert [row["count"] for row in found["bins"]] == [int(count) for count in counts if count]
    for row in found["bins"]:
        successes = round(row["observed_frequency"] * row["count"])
        assert (row["ci_low"], row["ci_high"]) == pytest.approx(scoring.wilson_interval(successes, row["count"]))
    murphy = oracles.murphy_decomposition(probabilities, outcomes, bins=10)
    for name, value in found["murphy"].items():
        assert value == pytest.approx(getattr(murphy, name), abs=CLOSE), name
    parts = found["murphy"]
    assert parts["reliability"] - parts["resolution"] + parts["uncertainty"] + parts["within_bin_variance"] - parts[
        "within_bin_covariance"
    ] == pytest.approx(found["brier"], abs=CLOSE)

    time_averaged, relative = [], []
    for question in world.questions:
        timed = world.timed.get(question.pk, {})
        outcome, cutoff = (1 if question.outcome == "yes" else 0), scoring_cutoff(question)
        opened_at = question.opened_at
        time_averaged += [
            scoring.time_averaged_brier(path, outcome, cutoff, opened_at).score for path in timed.values()
        ]
        relative_by_author = scoring.crowd_relative_brier(timed, outcome, cutoff, opened_at)
        relative += [value for value in relative_by_author.values() if value is not None]
    assert found["mean_time_averaged_brier"] == pytest.approx(np.mean(time_averaged), abs=CLOSE)
    assert found["mean_relative_brier"] == pytest.approx(np.mean(relative), abs=CLOSE)

    quantile = calibration(moderator, bins=7, strategy="quantile")
    observed, predicted = calibration_curve(outcomes, probabilities, n_bins=7, strategy="quantile")
    assert [row["observed_frequency"] for row in quantile["bins"]] == pytest.approx(list(observed), abs=CLOSE)
    assert [row["mean_forecast"] for row in quantile["bins"]] == pytest.approx(list(predicted), abs=CLOSE)
    expected_bins = oracles.calibration_bins(probabilities, outcomes, bins=7, strategy="quantile")
    assert [(row["lower"], row["upper"], row["count"]) for row in quantile["bins"]] == [
        (expected.lower, expected.upper, expected.count) for expected in expected_bins
    ]
    murphy = oracles.murphy_decomposition(probabilities, outcomes, bins=7, strategy="quantile")
    for name, value in quantile["murphy"].items():
        assert value == pytest.approx(getattr(murphy, name), abs=CLOSE), name


@pytest.fixture
def past_window(owner):
    """A question whose window ended a week ago, awaiting its outcome."""

    def make(**fields):
        window_end = timezone.now() - timedelta(days=7)
        defaults = {
            "owner": owner,
            "opened_at": window_end - timedelta(days=20),
            "window_end": window_end,
            "closed_at": window_end,
            "status": Question.Status.AWAITING_RESOLUTION,
        }
        return factories.QuestionFactory(**{**defaults, **fields})

    return make


def forecast_on(question, author, probability, *, days_before_close=3, **fields):
    made_at = question.window_end - timedelta(days=days_before_close)
    return factories.ForecastFactory(
        question=question, forecaster=author, made_at=made_at, recorded_at=made_at, probability=probability, **fields
    )


def resolve(question, actor, outcome="yes", **details):
    """Resolve, then recompute as the on-commit task does once the hook is wired into the service."""
    question = question_resolve(question=question, actor=actor, outcome=outcome, **details)
    question_scores_recompute(question_id=question.pk)
    return question


def test_annulled_unresolved_and_unended_windows_are_left_out(owner, forecaster, past_window):
    counted = past_window()
    forecast_on(counted, forecaster, 0.8)
    resolve(counted, owner)
    annulled = past_window()
    forecast_on(annulled, forecaster, 0.01)
    question_resolve(question=annulled, actor=owner, outcome="annulled")
    question_scores_recompute(question_id=annulled.pk)
    awaiting = past_window()
    forecast_on(awaiting, forecaster, 0.01)
    question_scores_recompute(question_id=awaiting.pk)
    early_yes = factories.QuestionFactory(
        owner=owner, opened_at=timezone.now() - timedelta(days=5), window_end=timezone.now() + timedelta(days=30)
    )
    forecast_on(early_yes, forecaster, 0.99, days_before_close=33)
    resolve(early_yes, owner, occurred_at=timezone.now() - timedelta(hours=1))
    assert Score.objects.filter(question=early_yes).exists()  # stored, but waits for window_end

    found = calibration(forecaster, forecaster="me")

    assert (found["n"], found["questions"]) == (1, 1)
    assert found["brier"] == pytest.approx(0.04, abs=EXACT)
    assert [(row["count"], row["lower"], row["upper"]) for row in found["bins"]] == [(1, 0.7, 0.8)]


DESIGN_VECTORS = [
    # DESIGN section 5, computed with scikit-learn; one question per forecast.
    pytest.param(
        [0.9, 0.7, 0.2, 0.6], [1, 1, 0, 0], 10, {"brier": 0.125, "log_loss": 0.4003674357}, id="brier-and-log-loss"
    ),
    *MURPHY_VECTORS,
]


@pytest.mark.parametrize(("probabilities", "outcomes", "bins", "expected"), DESIGN_VECTORS)
def test_design_vectors_through_the_endpoint(owner, forecaster, past_window, probabilities, outcomes, bins, expected):
    for probability, outcome in zip(probabilities, outcomes, strict=False):
        question = past_window()
        forecast_on(question, forecaster, probability)
        resolve(question, owner, outcome="yes" if outcome else "no")

    found = calibration(forecaster, forecaster="me", bins=bins)
    numbers = {**found, **found["murphy"]}

    assert found["n"] == len(probabilities)
    for name, value in expected.items():
        assert numbers[name] == pytest.approx(value, abs=1e-10), name


def test_design_calibration_bins_vector_through_the_endpoint(owner, forecaster, past_window):
    """p = 0.1 ... 1.0 with 5 bins; 1.0 is stored as 0.999, the largest probability allowed."""
    outcomes = [0, 0, 0, 1, 0, 1, 1, 1, 1, 1]
    for tenth, outcome in zip(range(1, 11), outcomes, strict=False):
        question = past_window()
        forecast_on(question, forecaster, min(tenth / 10, 0.999))
        resolve(question, owner, outcome="yes" if outcome else "no")

    bins = calibration(forecaster, bins=5)["bins"]

    assert [row["count"] for row in bins] == [2, 2, 2, 2, 2]
    assert [row["observed_frequency"] for row in bins] == pytest.approx([0, 0.5, 0.5, 1, 1])
    assert [row["mean_forecast"] for row in bins] == pytest.approx([0.15, 0.35, 0.55, 0.75, 0.9495])
    assert (bins[1]["ci_low"], bins[1]["ci_high"]) == pytest.approx((0.094531, 0.905469), abs=1e-6)


EDGE_CASES = [
    # (probability, lower edge with 10 bins, lower edge with 20 bins)
    (0.1, 0.0, 0.05),
    (0.15, 0.1, 0.1),
    (0.35, 0.3, 0.3),
    (0.5, 0.4, 0.45),
    (0.999, 0.9, 0.95),
    (0.1 + 0.2, 0.2, 0.25),  # 0.30000000000000004: on the edge 0.3, lower bin
    (0.7 - 0.4, 0.2, 0.25),  # 0.29999999999999993: on the edge 0.3 as well
]


@pytest.mark.parametrize(("bins", "column"), [(10, 1), (20, 2)])
def test_forecasts_on_edges_land_in_the_documented_bins(owner, past_window, bins, column):
    question = past_window()
    for probability, *_ in EDGE_CASES:
        forecast_on(question, factories.UserFactory(), probability)
    resolve(question, owner)

    found = calibration(owner, bins=bins)

    members_by_lower_edge: dict[float, list[float]] = {}
    for case in EDGE_CASES:
        members_by_lower_edge.setdefault(case[column], []).append(case[0])
    expected = [
        (pytest.approx(lower), len(members), pytest.approx(np.mean(members)))
        for lower, members in sorted(members_by_lower_edge.items())
    ]
    assert [(row["lower"], row["count"], row["mean_forecast"]) for row in found["bins"]] == expected


def test_sql_bins_agree_with_uniform_bin_indices_on_every_four_decimal_value(owner):
    """0, 0.0001, ..., 1: many exactly on edges, many a float hair off them."""
    values = [number / 10_000 for number in range(10_001)]
    window_end = timezone.now()
    Question.objects.bulk_create(
        Question(
            title=f"edge {value}",
            resolution_criteria="-",
            owner=owner,
            window_end=window_end,
            resolve_by=window_end,
            crowd_probability=value,  # any float column will do
        )
        for value in values
    )
    rows = Question.objects.filter(title__startswith="edge ")

    for bins in (1, 3, 7, 10, 20, 25, 40, 100):
        binned = rows.annotate(bin=uniform_bin_expression(F("crowd_probability"), bins))
        found = dict(binned.values_list("crowd_probability", "bin"))

        assert [found[value] for value in values] == scoring.uniform_bin_indices(values, bins).tolist(), bins


def test_unresolve_removes_and_re_resolve_restores_the_numbers(owner, forecaster, past_window):
    question = past_window()
    forecast_on(question, forecaster, 0.8)
    question = resolve(question, owner)
    assert calibration(forecaster)["n"] == 1

    question_unresolve(question=question, actor=owner)
    question_scores_recompute(question_id=question.pk)
    assert calibration(forecaster)["n"] == 0

    resolve(question, owner, outcome="no")
    found = calibration(forecaster)
    assert (found["n"], found["brier"], found["base_rate"]) == (1, pytest.approx(0.64), 0.0)


def test_empty_calibration_has_the_same_shape(forecaster):
    found = calibration(forecaster)

    assert set(found) == CALIBRATION_KEYS
    assert (found["n"], found["brier"], found["bins"]) == (0, None, [])
    assert set(found["murphy"]) == {
        "reliability",
        "resolution",
        "uncertainty",
        "within_bin_variance",
        "within_bin_covariance",
    }


# Filters and validation -----------------------------------------------------------------------


def test_filters_narrow_the_scores(owner, forecaster, past_window):
    source = factories.SourceFactory()
    tagged = past_window(kind=Question.Kind.SANCTIONS)
    tagged.tags.add(factories.TagFactory(name="ukraine"))
    forecast_on(tagged, forecaster, 0.8)
    factories.ForecastFactory(
        question=tagged,
        forecaster=None,
        source=source,
        recorded_by=owner,
        made_at=tagged.window_end - timedelta(days=9),
        recorded_at=tagged.window_end - timedelta(days=9),
        probability=0.6,
        quote="q",
        url="https://example.org/s",
    )
    resolve(tagged, owner)
    other = past_window(kind=Question.Kind.DIPLOMATIC)
    forecast_on(other, forecaster, 0.3)
    resolve(other, owner, outcome="no")
    today = timezone.now().date()

    assert calibration(forecaster)["n"] == 3
    assert calibration(forecaster, forecaster="me")["n"] == 2
    assert calibration(forecaster, forecaster=forecaster.pk, kind="sanctions")["n"] == 1
    assert calibration(forecaster, source=source.pk)["brier"] == pytest.approx(0.16)
    assert calibration(forecaster, tag="ukraine")["n"] == 2
    assert calibration(forecaster, resolved_after=today.isoformat())["n"] == 3
    assert calibration(forecaster, resolved_before=today.isoformat())["n"] == 0
    assert calibration(forecaster, resolved_after=f"{today.isoformat()}T00:00:00+00:00")["n"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bins": 0}, "bins"),
        ({"bins": 101}, "bins"),
        ({"bins": "ten"}, "bins"),
        ({"strategy": "kmeans"}, "strategy"),
        ({"forecaster": "someone"}, "forecaster"),
        ({"source": "x"}, "source"),
        ({"kind": "war"}, "kind"),
        ({"resolved_after": "last tuesday"}, "resolved_after"),
        ({"resolved_after": "2022-03-01", "resolved_before": "2022-02-01"}, "resolved_before"),
    ],
)
def test_bad_query_parameters_are_a_400_naming_the_field(forecaster, params, field):
    for url in ("/api/stats/calibration/", "/api/stats/calibration.svg"):
        response = client_for(forecaster).get(url, params)

        assert response.status_code == 400
        assert field in response.json()


def test_leaderboard_and_chart_validate_their_own_parameters(forecaster):
    response = client_for(forecaster).get("/api/stats/leaderboard/", {"min_n": 0})
    assert (response.status_code, error_fields(response)) == (400, {"min_n"})
    response = client_for(forecaster).get("/api/stats/brier-over-time.svg", {"team": "ours"})
    assert (response.status_code, error_fields(response)) == (400, {"team"})


@pytest.mark.parametrize(
    "path",
    [
        "/api/stats/calibration/",
        "/api/stats/leaderboard/",
        "/api/stats/phrases/",
        "/api/stats/calibration.svg",
        "/api/stats/brier-over-time.svg",
    ],
)
def test_statistics_need_a_signed_in_caller(db, path):
    assert APIClient().get(path).status_code == 401


# Leaderboard and phrases ----------------------------------------------------------------------


def test_leaderboard_ranks_by_relative_brier_then_brier(owner, past_window):
    sharp, steady, late = (factories.UserFactory(username=name) for name in ("sharp", "steady", "late"))
    loud = factories.SourceFactory(name="Loud source")
    for outcome, sharp_p in (("yes", 0.9), ("no", 0.2)):
        question = past_window()
        forecast_on(question, sharp, sharp_p)
        forecast_on(question, steady, 0.5)
        factories.ForecastFactory(
            question=question,
            forecaster=None,
            source=loud,
            recorded_by=owner,
            made_at=question.window_end - timedelta(days=3),
            recorded_at=question.window_end - timedelta(days=3),
            probability=0.5 if outcome == "yes" else 0.6,
            quote="q",
            url="https://example.org/s",
        )
        resolve(question, owner, outcome=outcome)
    alone = past_window()
    forecast_on(alone, late, 0.99)
    resolve(alone, owner)

    response = client_for(owner).get("/api/stats/leaderboard/")
    body = response.json()

    assert response.status_code == 200
    assert [(row["rank"], row["name"], row["author_type"]) for row in body["results"]] == [
        (1, "sharp", "forecaster"),
        (2, "steady", "forecaster"),
        (3, "Loud source", "source"),
        (4, "late", "forecaster"),  # alone on its question: no relative Brier, ranked last
    ]
    first = body["results"][0]
    assert (first["n"], first["mean_brier"]) == (2, pytest.approx((0.01 + 0.04) / 2))
    assert body["results"][3]["mean_relative_brier"] is None
    assert body["count"] == 4

    at_least_two = client_for(owner).get("/api/stats/leaderboard/", {"min_n": 2}).json()["results"]
    assert [row["name"] for row in at_least_two] == ["sharp", "steady", "Loud source"]
    sources_only = client_for(owner).get("/api/stats/leaderboard/", {"authors": "sources"}).json()["results"]
    assert [row["name"] for row in sources_only] == ["Loud source"]
    second_page = client_for(owner).get("/api/stats/leaderboard/", {"page_size": 3, "page": 2}).json()
    assert [(row["rank"], row["name"]) for row in second_page["results"]] == [(4, "late")]


def test_phrases_report_observed_frequency_with_wilson_interval(owner, past_window):
    source = factories.SourceFactory()
    for _index, outcome in enumerate(["yes"] * 7 + ["no"] * 3):
        question = past_window()
        factories.ForecastFactory(
            question=question,
            forecaster=None,
            source=source,
            recorded_by=owner,
            made_at=question.window_end - timedelta(days=4),
            recorded_at=question.window_end - timedelta(days=4),
            probability=0.875,
            phrase="very likely",
            yardstick="icd203",
            quote="q",
            url="https://example.org/s",
        )
        forecast_on(question, owner, 0.5, phrase="roughly even chance", yardstick="icd203")
        resolve(question, owner, outcome=outcome)

    response = client_for(owner).get("/api/stats/phrases/", {"source": source.pk})
    rows = {(row["yardstick"], row["phrase"]): row for row in response.json()}

    assert response.status_code == 200
    very_likely = rows[("icd203", "very likely")]
    assert (very_likely["statements"], very_likely["occurred"], very_likely["low"], very_likely["high"]) == (
        10,
        7,
        0.8,
        0.95,
    )
    assert very_likely["observed_frequency"] == pytest.approx(0.7)
    assert (very_likely["ci_low"], very_likely["ci_high"]) == pytest.approx((0.396778, 0.892209), abs=1e-6)
    unused = rows[("kent", "probable")]
    assert (unused["statements"], unused["observed_frequency"], unused["ci_low"]) == (0, None, None)
    assert len(rows) == 12  # every phrase of both yardsticks
    everyone = {(row["yardstick"], row["phrase"]): row for row in client_for(owner).get("/api/stats/phrases/").json()}
    assert everyone[("icd203", "roughly even chance")]["statements"] == 10


# Visibility -----------------------------------------------------------------------------------


def test_no_statistic_shows_another_teams_forecasts(owner, forecaster, past_window, monkeypatch):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    insider = factories.UserFactory(username="insider")
    factories.TeamMembershipFactory(team=team, user=insider)
    secret_source = factories.SourceFactory(name="Secret source")
    secret = past_window(team=team)
    forecast_on(secret, insider, 0.9)
    factories.ForecastFactory(
        question=secret,
        forecaster=None,
        source=secret_source,
        recorded_by=owner,
        made_at=secret.window_end - timedelta(days=3),
        recorded_at=secret.window_end - timedelta(days=3),
        probability=0.875,
        phrase="very likely",
        yardstick="icd203",
        quote="q",
        url="https://example.org/s",
    )
    resolve(secret, owner)
    public = past_window()
    forecast_on(public, forecaster, 0.3)
    resolve(public, owner, outcome="no")
    drawn = []
    for name in ("calibration_chart_svg", "brier_over_time_chart_svg"):
        draw = getattr(api_stats.charts, name)
        monkeypatch.setattr(
            api_stats.charts, name, lambda data, draw=draw, **kw: drawn.append(data) or draw(data, **kw)
        )
    outsider = client_for(forecaster)

    assert calibration(insider)["n"] == 3
    assert calibration(forecaster)["n"] == 1
    for params in ({"team": team.pk}, {"forecaster": insider.pk}, {"source": secret_source.pk}):
        assert calibration(forecaster, **params)["n"] == 0
    names = [row["name"] for row in outsider.get("/api/stats/leaderboard/").json()["results"]]
    assert names == [forecaster.username]
    phrases = {row["phrase"]: row["statements"] for row in outsider.get("/api/stats/phrases/").json()}
    assert phrases["very likely"] == 0
    assert outsider.get("/api/stats/calibration.svg", {"team": team.pk}).status_code == 200
    assert outsider.get("/api/stats/brier-over-time.svg").status_code == 200
    assert drawn[0]["n"] == 0
    assert sum(month["n"] for month in drawn[1]) == 1


@pytest.fixture
def team_secret(owner, past_window):
    """A team question resolved with a forecast by `insider`, a team member nobody else can see."""
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    insider = factories.UserFactory(username="insider")
    factories.TeamMembershipFactory(team=team, user=insider)
    secret = past_window(team=team)
    forecast_on(secret, insider, 0.9)
    resolve(secret, owner)
    return insider


STATISTICS = [
    "/api/stats/calibration/",
    "/api/stats/leaderboard/",
    "/api/stats/phrases/",
    "/api/stats/calibration.svg",
    "/api/stats/brier-over-time.svg",
]


def missing_user_id() -> int:
    return User.objects.order_by("-pk").first().pk + 1000


@pytest.mark.parametrize("path", STATISTICS[:3])
def test_a_forecaster_the_caller_may_not_see_answers_as_a_missing_one(team_secret, forecaster, path):
    for caller in (forecaster, factories.UserFactory(username="no-group")):
        client = client_for(caller)
        hidden = client.get(path, {"forecaster": team_secret.pk})
        missing = client.get(path, {"forecaster": missing_user_id()})
        assert (hidden.status_code, hidden.json()) == (missing.status_code, missing.json())
        assert hidden.status_code == 200 and b"insider" not in hidden.content


@pytest.mark.parametrize("path", STATISTICS[3:])
def test_a_chart_names_only_forecasters_the_caller_may_see(team_secret, owner, forecaster, path):
    insider_chart = client_for(owner).get(path, {"forecaster": team_secret.pk})
    assert insider_chart.status_code == 200 and b"forecaster insider" in insider_chart.content
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    retired = factories.UserFactory(username="retired", is_active=False)
    no_group = factories.UserFactory(username="no-group")
    for caller, hidden in ((forecaster, team_secret), (no_group, team_secret), (no_group, root), (no_group, retired)):
        chart = client_for(caller).get(path, {"forecaster": hidden.pk})
        assert chart.status_code == 200 and chart["Content-Type"] == "image/svg+xml"
        assert hidden.username.encode() not in chart.content
        assert f"forecaster {hidden.pk}".encode() in chart.content  # as for an id that does not exist
    assert b"forecaster no-group" in client_for(no_group).get(path, {"forecaster": "me"}).content


def test_the_leaderboard_names_no_author_of_a_hidden_question(team_secret, forecaster):
    for caller in (forecaster, factories.UserFactory(username="no-group")):
        body = client_for(caller).get("/api/stats/leaderboard/").json()
        assert body["count"] == 0 and body["results"] == []


# Charts ---------------------------------------------------------------------------------------


def test_charts_are_svg(owner, forecaster, past_window):
    question = past_window()
    forecast_on(question, forecaster, 0.8)
    resolve(question, owner)

    for url, params in (
        ("/api/stats/calibration.svg", {"forecaster": "me", "bins": 5}),
        ("/api/stats/brier-over-time.svg", {}),
        ("/api/stats/calibration.svg", {"strategy": "quantile"}),
    ):
        response = client_for(forecaster).get(url, params, HTTP_ACCEPT="image/svg+xml")

        assert response.status_code == 200
        assert response["Content-Type"] == "image/svg+xml"
        assert b"<svg" in response.content and b"</svg>" in response.content


# Query counts ---------------------------------------------------------------------------------


def queries_for(user, path, params=None) -> int:
    client = client_for(user)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path, params or {})
    assert response.status_code == 200, response.content
    return len(captured)


def test_statistics_run_a_constant_number_of_queries(db):
    caller = factories.ForecasterFactory(username="caller")
    build_world(seed=1, questions=3, forecasters=4, sources=1, authors_per_question=3)
    endpoints = [
        ("/api/stats/calibration/", {}),
        ("/api/stats/calibration/", {"strategy": "quantile"}),
        ("/api/stats/leaderboard/", {}),
        ("/api/stats/phrases/", {}),
        ("/api/stats/calibration.svg", {}),
        ("/api/stats/brier-over-time.svg", {}),
    ]
    small = [queries_for(caller, path, params) for path, params in endpoints]

    build_world(seed=2, questions=30, forecasters=30, sources=3, authors_per_question=20)
    large = [queries_for(caller, path, params) for path, params in endpoints]

    assert large == small
    # On PostgreSQL, the token with its user and permissions (1), then the statistic's own queries:
    # the default calibration (and its chart) one query of the rollup, quantile bins three of the
    # scores. Elsewhere the permissions cost two more and the rollup is not kept: constant is enough.
    if connection.vendor == "postgresql":
        assert small == [2, 4, 3, 2, 2, 2]


# Schema ---------------------------------------------------------------------------------------


def test_the_schema_documents_the_statistics(forecaster):
    response = client_for(forecaster).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = response.json()
    paths = schema["paths"]

    calibration_parameters = {parameter["name"] for parameter in paths["/api/stats/calibration/"]["get"]["parameters"]}
    assert {"forecaster", "source", "kind", "tag", "team", "resolved_after", "resolved_before", "bins", "strategy"} <= (
        calibration_parameters
    )
    assert "image/svg+xml" in paths["/api/stats/calibration.svg"]["get"]["responses"]["200"]["content"]
    assert "min_n" in {parameter["name"] for parameter in paths["/api/stats/leaderboard/"]["get"]["parameters"]}
    assert "/api/stats/phrases/" in paths and "/api/stats/brier-over-time.svg" in paths


# Admin ----------------------------------------------------------------------------------------


@pytest.mark.urls(__name__)
def test_admin_calibration_page_shows_numbers_and_chart(client, owner, forecaster, past_window):
    question = past_window()
    forecast_on(question, forecaster, 0.8)
    resolve(question, owner)
    client.force_login(forecaster)

    page = client.get(reverse("admin:forecasts_calibrationreport_changelist"), {"forecaster": forecaster.pk, "bins": 5})
    chart = client.get(reverse("admin:forecasts_calibrationreport_chart"), {"forecaster": forecaster.pk})
    over_time = client.get(reverse("admin:forecasts_calibrationreport_brier_over_time"))
    invalid = client.get(reverse("admin:forecasts_calibrationreport_changelist"), {"bins": 0})
    scores = client.get(reverse("admin:forecasts_score_changelist"))

    assert page.status_code == 200
    assert page.context["calibration"]["n"] == 1
    assert b"0.040" in page.content  # the Brier score, to three decimals
    assert b"chart.svg?forecaster=" in page.content
    assert (chart.status_code, chart["Content-Type"]) == (200, "image/svg+xml")
    assert (over_time.status_code, over_time["Content-Type"]) == (200, "image/svg+xml")
    assert invalid.status_code == 200
    assert "calibration" not in invalid.context
    assert invalid.context["form"].errors["bins"]
    assert scores.status_code == 200 and question.title.encode() in scores.content


@pytest.mark.urls(__name__)
def test_admin_user_page_shows_the_calibration_chart(client, forecaster):
    superuser = User.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(superuser)

    page = client.get(reverse("admin:auth_user_change", args=[forecaster.pk]))

    assert page.status_code == 200
    assert f"chart.svg?forecaster={forecaster.pk}".encode() in page.content
