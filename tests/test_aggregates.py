"""Crowd aggregates (DESIGN section 12): the pure functions against independent oracles, the SQL a
submission runs against the pure functions, the at-close aggregates without look-ahead, the
question API and the comparison endpoint."""

import random
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.utils import timezone

from forecasts import aggregation, services
from forecasts.models import AuthorAccuracy, ClosingAggregate, ExtremizingFactor, LatestForecast, Question, Score
from forecasts.services import crowd
from forecasts.services import forecasts as forecast_services
from forecasts.services import scores as scores_services
from forecasts.services.scores import question_scores_recompute
from tests import factories, oracles
from tests.api_support import client_for

CLOSE = 1e-9

# Pure functions -------------------------------------------------------------------------------

SPECIAL_CASES = {
    "one forecaster": [0.3],
    "two forecasters": [0.2, 0.9],
    "all equal": [0.4] * 7,
    "ties": [0.3, 0.7, 0.3, 0.7, 0.5, 0.3],
    "lower bound": [0.001] * 3,
    "upper bound": [0.999, 0.999],
    "both bounds": [0.001, 0.999, 0.001, 0.999],
}


def random_crowds(seed: int, count: int):
    rng = random.Random(seed)
    for _ in range(count):
        size = rng.randint(1, 40)
        # Few distinct values, so ties are common; the bounds are among them.
        values = [0.001, 0.999] + [rng.randint(1, 999) / 1000 for _ in range(rng.randint(1, 8))]
        probabilities = [rng.choice(values) for _ in range(size)]
        weights = [rng.choice([aggregation.DEFAULT_WEIGHT, 1 / (0.05 + rng.random())]) for _ in range(size)]
        yield probabilities, weights, rng.uniform(0.5, 4)


@pytest.mark.parametrize("name", SPECIAL_CASES)
def test_each_aggregate_matches_the_oracle_on_special_cases(name):
    probabilities = SPECIAL_CASES[name]
    weights = [1 / (0.05 + 0.1 * k) for k in range(len(probabilities))]
    found = aggregation.aggregates(probabilities, weights, 2.5)
    expected = oracles.crowd_aggregates_oracle(probabilities, weights, 2.5)
    for method in aggregation.METHODS:
        assert found[method] == pytest.approx(expected[method], abs=CLOSE), method


def test_each_aggregate_matches_the_oracle_on_random_crowds():
    for probabilities, weights, factor in random_crowds(seed=14, count=500):
        found = aggregation.aggregates(probabilities, weights, factor)
        expected = oracles.crowd_aggregates_oracle(probabilities, weights, factor)
        for method in aggregation.METHODS:
            assert found[method] == pytest.approx(expected[method], abs=CLOSE), (method, probabilities)


def test_one_forecaster_and_all_equal_crowds_are_that_forecast():
    for probabilities in ([0.37], [0.62] * 9):
        values = aggregation.aggregates(probabilities, [1.0] * len(probabilities), 1.0)
        assert all(value == pytest.approx(probabilities[0], abs=1e-12) for value in values.values())


def test_recency_weighted_median_favours_the_latest_and_splits_an_exact_half():
    # Weights grow with recency: the newest of three outweighs the two older ones together.
    assert aggregation.recency_weighted_median([0.1, 0.2, 0.9]) == 0.2
    assert aggregation.recency_weights(3)[-1] == pytest.approx(1.0)
    # Two forecasts with weights exp(1 - sqrt 2) and 1: the newer one carries the median.
    assert aggregation.recency_weighted_median([0.8, 0.3]) == 0.3
    assert aggregation.recency_weighted_median([0.3, 0.8]) == 0.8


def test_exactly_half_takes_the_mean_of_that_forecast_and_the_next():
    # The oracle and the function share the rule; force an exact half through equal weights.
    assert oracles.recency_weighted_median_oracle([0.2, 0.6]) == 0.6
    ordered = np.array([0.2, 0.6])
    cumulative = np.cumsum([1.0, 1.0])
    assert abs(cumulative[0] - cumulative[-1] / 2) <= aggregation.HALF_TOLERANCE * cumulative[-1]
    assert (ordered[0] + ordered[1]) / 2 == pytest.approx(0.4)


def test_performance_weights_follow_the_design():
    assert aggregation.performance_weight(0.10, 5) == pytest.approx(1 / 0.15)
    assert aggregation.performance_weight(0.10, 4) == pytest.approx(1 / 0.30)
    assert aggregation.performance_weight(None, 0) == pytest.approx(1 / 0.30)


def test_the_factor_is_one_below_twenty_questions_and_the_maximum_likelihood_after():
    rng = np.random.default_rng(3)
    assert aggregation.extremizing_factor_fit([1.0] * 19, [1] * 19) == 1.0
    for true_factor in (0.7, 1.8, 3.0):
        x = rng.normal(0, 1.2, 400)
        y = (rng.random(400) < 1 / (1 + np.exp(-true_factor * x))).astype(int)
        fitted = aggregation.extremizing_factor_fit(x, y)
        assert fitted == pytest.approx(oracles.extremizing_factor_oracle(x, y), abs=1e-5)
    # Outcomes that always go the crowd's way push the factor to the upper bound; the opposite to the lower.
    x = rng.normal(0, 1, 50)
    assert aggregation.extremizing_factor_fit(x, (x > 0).astype(int)) == aggregation.FACTOR_MAX
    assert aggregation.extremizing_factor_fit(x, (x < 0).astype(int)) == aggregation.FACTOR_MIN


def test_bootstrap_interval_is_fixed_by_its_seed_and_brackets_the_mean():
    losses = np.random.default_rng(1).random(60)
    first, second = aggregation.bootstrap_interval(losses), aggregation.bootstrap_interval(losses)
    assert first == second
    assert first[0] < losses.mean() < first[1]
    assert aggregation.bootstrap_interval([0.2]) == (0.2, 0.2)


def test_brier_is_shown_on_both_scales():
    assert aggregation.brier_on_both_scales(0.125) == "0.125 (0.250 on the 0-2 scale)"


# The SQL a submission runs --------------------------------------------------------------------


def saved_then(refresh):
    """A stand-in for the submission's insert: `save()`, then `refresh` the crowd."""

    def insert(*, question, forecast):
        forecast.save()
        refresh(question=question, forecast=forecast)

    return insert


def implementations_here() -> dict:
    implementations = {"two steps": saved_then(crowd.crowd_refresh_in_two_steps)}
    if connection.vendor == "postgresql":
        implementations["one statement"] = crowd.forecast_insert_in_one_statement
        implementations["saved, then one statement"] = saved_then(crowd.crowd_refresh_in_one_statement)
    return implementations


def expected_aggregates(question: Question) -> dict:
    """The pure functions over the question's standing forecasts, with the maintained weights and factor."""
    standing = list(LatestForecast.objects.filter(question=question).order_by("made_at", "forecast_id"))
    weights = {("f", row.forecaster_id): row.weight for row in AuthorAccuracy.objects.filter(forecaster__isnull=False)}
    weights |= {("s", row.source_id): row.weight for row in AuthorAccuracy.objects.filter(source__isnull=False)}
    factor = ExtremizingFactor.objects.filter(pk=1).values_list("factor", flat=True).first() or 1.0
    return aggregation.aggregates(
        [row.probability for row in standing],
        [
            weights.get(("s", row.source_id) if row.source_id else ("f", row.forecaster_id), aggregation.DEFAULT_WEIGHT)
            for row in standing
        ],
        factor,
    )


def maintained(question: Question) -> dict:
    question.refresh_from_db()
    return {method: getattr(question, f"crowd_{method}") for method in aggregation.METHODS}


@pytest.mark.django_db
@pytest.mark.parametrize("implementation", ["two steps", "one statement", "saved, then one statement"])
def test_the_submission_maintains_every_aggregate(implementation, monkeypatch):
    if implementation not in implementations_here():
        pytest.skip("PostgreSQL only")
    monkeypatch.setattr(forecast_services, "forecast_insert", implementations_here()[implementation])
    rng = random.Random(7)
    users = [factories.ForecasterFactory() for _ in range(6)]
    sources = [factories.SourceFactory() for _ in range(2)]
    # Some authors with a track record, one of them too short to earn a weight of their own.
    for user, (questions, brier) in zip(users, [(9, 0.05), (6, 0.3), (2, 0.01)], strict=False):
        AuthorAccuracy.objects.create(
            forecaster=user,
            scored_questions=questions,
            mean_brier=brier,
            weight=aggregation.performance_weight(brier, questions),
        )
    ExtremizingFactor.objects.create(pk=1, factor=1.7, questions=25)
    question = factories.QuestionFactory()
    now = timezone.now()
    for step in range(40):
        probability = rng.choice([0.001, 0.999, 0.5, rng.randint(1, 999) / 1000])
        if rng.random() < 0.3:
            source = rng.choice(sources)
            services.forecast_submit(
                question=question,
                recorded_by=users[0],
                source=source,
                probability=probability,
                made_at=now - timedelta(days=rng.randint(1, 9), seconds=step),
                quote="Said so.",
                url="https://example.org/s",
            )
        else:
            services.forecast_submit(question=question, recorded_by=rng.choice(users), probability=probability)
        expected = expected_aggregates(question)
        found = maintained(question)
        for method in aggregation.METHODS:
            assert found[method] == pytest.approx(expected[method], abs=CLOSE), (step, method)
        assert question.crowd_extremizing_factor == 1.7
        assert question.crowd_probability == found["median"]


@pytest.mark.django_db
def test_the_bulk_rebuild_and_the_open_refresh_agree_with_the_submission():
    users = [factories.ForecasterFactory() for _ in range(5)]
    questions = [factories.QuestionFactory() for _ in range(3)]
    rng = random.Random(5)
    for _ in range(30):
        services.forecast_submit(
            question=rng.choice(questions), recorded_by=rng.choice(users), probability=rng.randint(1, 999) / 1000
        )
    submitted = [maintained(question) for question in questions]
    crowd.crowd_rebuild()
    for question, before in zip(questions, submitted, strict=True):
        assert maintained(question) == pytest.approx(before, abs=CLOSE)
    ExtremizingFactor.objects.create(pk=1, factor=2.0, questions=30)
    assert services.open_questions_crowd_refresh() == 3
    for question in questions:
        assert maintained(question)["extremized"] == pytest.approx(expected_aggregates(question)["extremized"])


@pytest.mark.django_db
def test_the_team_method_chooses_crowd_probability():
    team = factories.TeamFactory()
    user = factories.ForecasterFactory()
    factories.TeamMembershipFactory(team=team, user=user)
    question = factories.QuestionFactory(team=team, owner=user)
    for probability in (0.2, 0.3, 0.9):
        services.forecast_submit(question=question, recorded_by=user, probability=probability)
    question.refresh_from_db()
    assert question.crowd_probability == question.crowd_median
    team.crowd_method = "mean_log_odds"
    team.save()
    assert services.team_crowd_method_apply(team_id=team.pk) == 1
    question.refresh_from_db()
    assert question.crowd_probability == question.crowd_mean_log_odds
    services.forecast_submit(question=question, recorded_by=factories.SuperuserFactory(), probability=0.5)
    question.refresh_from_db()
    assert question.crowd_probability == question.crowd_mean_log_odds


# At the close, without look-ahead ---------------------------------------------------------------


def resolved_question(owner, authors, probabilities, *, outcome, window_end, resolved_at, refresh_crowd=False):
    question = factories.QuestionFactory(
        owner=owner,
        opened_at=window_end - timedelta(days=30),
        window_end=window_end,
        closed_at=window_end,
        resolve_by=window_end + timedelta(days=3),
        status=Question.Status.RESOLVED,
        outcome=outcome,
        resolved_at=resolved_at,
    )
    for author, probability in zip(authors, probabilities, strict=True):
        made_at = window_end - timedelta(days=2)
        factories.ForecastFactory(question=question, forecaster=author, probability=probability, made_at=made_at)
    question_scores_recompute(question_id=question.pk, refresh_crowd=refresh_crowd)
    return question


@pytest.mark.django_db
def test_a_later_resolution_never_changes_an_earlier_questions_aggregate(owner):
    rng = random.Random(11)
    authors = [factories.ForecasterFactory() for _ in range(4)]
    start = timezone.now() - timedelta(days=400)
    # 24 questions resolved one after another, each the day after its window ended.
    history = []
    for day in range(24):
        end = start + timedelta(days=day * 5)
        probabilities = [rng.randint(50, 950) / 1000 for _ in authors]
        outcome = "yes" if rng.random() < np.mean(probabilities) else "no"
        history.append(
            resolved_question(
                owner, authors, probabilities, outcome=outcome, window_end=end, resolved_at=end + timedelta(days=1)
            )
        )
    target = history[-1]
    before = ClosingAggregate.objects.get(question=target)
    # The factor was fitted on the 23 earlier questions only, each at its own close.
    earlier = ClosingAggregate.objects.exclude(question=target).order_by("question_id")
    assert before.factor_questions == 23
    assert before.extremizing_factor == pytest.approx(
        oracles.extremizing_factor_oracle(
            list(earlier.values_list("mean_logit", flat=True)), list(earlier.values_list("outcome", flat=True))
        ),
        abs=1e-5,
    )
    # Authors have 23 earlier scores each: weights from those alone.
    standing = [f.probability for f in target.forecasts.order_by("made_at", "id")]
    weights = []
    for author in authors:
        briers = Score.objects.filter(forecaster=author).exclude(question=target).values_list("brier", flat=True)
        weights.append(aggregation.performance_weight(float(np.mean(list(briers))), len(briers)))
    assert before.performance_weighted == pytest.approx(aggregation.performance_weighted(standing, weights))

    # Later questions resolve, some with outcomes that pull the factor and the weights elsewhere.
    for day in range(10):
        end = timezone.now() - timedelta(days=20 - day)
        resolved_question(owner, authors, [0.95, 0.95, 0.05, 0.05], outcome="no", window_end=end, resolved_at=end)
    question_scores_recompute(question_id=target.pk)
    after = ClosingAggregate.objects.get(question=target)
    for field in ("extremized", "extremizing_factor", "factor_questions", "performance_weighted", *aggregation.METHODS):
        assert getattr(after, field) == getattr(before, field), field
    # The instance's live factor does see them all.
    assert ExtremizingFactor.objects.get(pk=1).questions == 34

    # The bulk rebuild (for data loaded without the services) gives the same rows.
    one_by_one = {row["question_id"]: row for row in ClosingAggregate.objects.values()}
    assert services.closing_aggregates_rebuild() == 34
    for row in ClosingAggregate.objects.values():
        expected = one_by_one[row["question_id"]]
        for field in ("factor_questions", "forecasters", "outcome"):
            assert row[field] == expected[field], field
        for field in ("extremizing_factor", "mean_logit", *aggregation.METHODS):
            assert row[field] == pytest.approx(expected[field], abs=1e-9), field


AGGREGATE_FIELDS = ["crowd_probability", *crowd.AGGREGATE_COLUMNS.values(), *crowd.EXTRA_COLUMNS]


def stored_aggregates(questions) -> dict:
    return {
        question.pk: Question.objects.filter(pk=question.pk).values(*AGGREGATE_FIELDS).get() for question in questions
    }


@pytest.mark.django_db
def test_a_resolution_refreshes_only_the_open_questions_it_changes(owner, monkeypatch):
    rng = random.Random(16)
    a, b, c = (factories.ForecasterFactory() for _ in range(3))
    start = timezone.now() - timedelta(days=300)
    for day in range(21):
        end = start + timedelta(days=day * 5)
        probabilities = [rng.choice([0.1, 0.3, 0.7, 0.9]) for _ in range(2)]
        outcome = "yes" if rng.random() < np.mean(probabilities) else "no"
        resolved_question(owner, [a, b], probabilities, outcome=outcome, window_end=end, resolved_at=end)
    services.crowd_calibration_refresh()
    factor_before = ExtremizingFactor.objects.get(pk=1).factor
    # Open questions: a stands on the first, b alone on the second, c alone on the third.
    stands_on = [[a, c], [b], [c]]
    open_questions = [factories.QuestionFactory() for _ in stands_on]
    for question, authors in zip(open_questions, stands_on, strict=True):
        for author in authors:
            services.forecast_submit(question=question, recorded_by=author, probability=rng.randint(1, 999) / 1000)
    # A marker in the performance-weighted column shows which questions the refresh rewrites.
    Question.objects.filter(pk__in=[question.pk for question in open_questions[1:]]).update(
        crowd_performance_weighted=0.5
    )
    written = []
    update = scores_services.open_questions_crowd_update
    monkeypatch.setattr(scores_services, "open_questions_crowd_update", lambda **kw: written.append(update(**kw)))

    # Only a forecast on the question that now resolves: a's weight moves, and so does the factor.
    end = timezone.now() - timedelta(days=2)
    resolved_question(owner, [a], [0.97], outcome="no", window_end=end, resolved_at=end, refresh_crowd=True)
    assert ExtremizingFactor.objects.get(pk=1).factor != factor_before
    assert written == [3]  # every open question re-extremized, each written once
    targeted = stored_aggregates(open_questions)
    # Only the question where a stands had its performance-weighted aggregate recomputed.
    assert [targeted[question.pk]["crowd_performance_weighted"] == 0.5 for question in open_questions] == [
        False,
        True,
        True,
    ]

    # A full recompute from the standing forecasts gives the same values everywhere else.
    assert services.open_questions_crowd_refresh() == 3
    full = stored_aggregates(open_questions)
    for question in open_questions:
        for field in AGGREGATE_FIELDS:
            if targeted[question.pk][field] != 0.5 or field != "crowd_performance_weighted":
                assert targeted[question.pk][field] == pytest.approx(full[question.pk][field], rel=1e-12), field
        assert maintained(question) == pytest.approx(expected_aggregates(question), abs=CLOSE)
    # With the factor where it was, only the questions a reweighted author stands on are written.
    assert services.open_questions_crowd_update() == 0
    AuthorAccuracy.objects.filter(forecaster=b).update(weight=7.0)
    assert services.open_questions_crowd_update(authors=[(b.pk, None)]) == 1
    assert maintained(open_questions[1]) == pytest.approx(expected_aggregates(open_questions[1]), abs=CLOSE)


@pytest.mark.django_db
def test_the_factor_is_one_until_twenty_earlier_questions(owner):
    authors = [factories.ForecasterFactory() for _ in range(2)]
    start = timezone.now() - timedelta(days=100)
    for day in range(3):
        end = start + timedelta(days=day)
        question = resolved_question(owner, authors, [0.9, 0.8], outcome="yes", window_end=end, resolved_at=end)
    closing = ClosingAggregate.objects.get(question=question)
    assert (closing.extremizing_factor, closing.factor_questions) == (1.0, 2)
    assert closing.extremized == pytest.approx(closing.mean_log_odds)
    assert closing.performance_weighted == pytest.approx(closing.mean_log_odds)  # everyone on the default weight


# The API ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_question_api_shows_every_aggregate_and_the_factor(owner, forecaster, question):
    services.forecast_submit(question=question, recorded_by=forecaster, probability=0.2, confidence="high")
    services.forecast_submit(question=question, recorded_by=owner, probability=0.7)
    body = client_for(forecaster).get(f"/api/questions/{question.pk}/").json()
    assert set(body["aggregates"]) == {"method", "extremizing_factor", *aggregation.METHODS}
    assert body["aggregates"]["method"] == "median"
    assert body["aggregates"]["median"] == pytest.approx(0.45)
    assert body["aggregates"]["extremizing_factor"] == 1.0
    assert body["crowd_probability"] == body["aggregates"]["median"]
    listed = client_for(forecaster).get("/api/questions/").json()["results"]
    assert [row["aggregates"] for row in listed if row["id"] == question.pk] == [body["aggregates"]]
    forecasts = client_for(forecaster).get(f"/api/questions/{question.pk}/forecasts/").json()
    rows = forecasts["results"] if isinstance(forecasts, dict) else forecasts
    assert {row["confidence"] for row in rows} == {"high", ""}


@pytest.mark.django_db
def test_a_forecast_takes_an_analytic_confidence_through_the_api(forecaster, question):
    client = client_for(forecaster)
    accepted = client.post(
        f"/api/questions/{question.pk}/forecasts/", {"probability": 0.3, "confidence": "moderate"}, format="json"
    )
    assert accepted.status_code == 201 and accepted.json()["confidence"] == "moderate"
    refused = client.post(
        f"/api/questions/{question.pk}/forecasts/", {"probability": 0.3, "confidence": "sure"}, format="json"
    )
    assert refused.status_code == 400 and "confidence" in refused.json()


@pytest.mark.django_db
def test_the_comparison_endpoint_scores_each_aggregate_at_the_close(owner):
    authors = [factories.ForecasterFactory() for _ in range(3)]
    start = timezone.now() - timedelta(days=100)
    rng = random.Random(2)
    for day in range(12):
        end = start + timedelta(days=day)
        resolved_question(
            owner,
            authors,
            [rng.randint(1, 999) / 1000 for _ in authors],
            outcome=rng.choice(["yes", "no"]),
            window_end=end,
            resolved_at=end,
        )
    viewer = factories.ForecasterFactory()
    body = client_for(viewer).get("/api/stats/aggregates/").json()
    assert body["questions"] == 12
    rows = list(ClosingAggregate.objects.values("outcome", *aggregation.METHODS))
    outcomes = [row["outcome"] for row in rows]
    for entry in body["methods"]:
        forecasts = [row[entry["method"]] for row in rows]
        assert entry["n"] == 12
        assert entry["brier"] == pytest.approx(float(np.mean((np.array(forecasts) - outcomes) ** 2)))
        assert entry["brier_ci"][0] <= entry["brier"] <= entry["brier_ci"][1]
        assert entry["log_loss_ci"][0] <= entry["log_loss"] <= entry["log_loss_ci"][1]
    best = body["best_forecaster"]
    means = {
        a.username: np.mean(list(Score.objects.filter(forecaster=a).values_list("brier", flat=True))) for a in authors
    }
    assert best["name"] == min(means, key=means.get) and best["n"] == 12
    assert best["brier"] == pytest.approx(min(means.values()))
    assert client_for(viewer).get("/api/stats/aggregates.svg").status_code == 200
    assert client_for(viewer).get("/api/stats/aggregates/", {"kind": "diplomatic"}).json()["questions"] == 0


@pytest.mark.django_db
def test_the_comparison_needs_a_caller_and_valid_filters(forecaster):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/stats/aggregates/").status_code in (401, 403)
    refused = client_for(forecaster).get("/api/stats/aggregates/", {"confidence": "certain"})
    assert refused.status_code == 400 and "confidence" in refused.json()


@pytest.mark.django_db
def test_calibration_filters_by_confidence(owner):
    sure, unsure = factories.ForecasterFactory(), factories.ForecasterFactory()
    end = timezone.now() - timedelta(days=10)
    question = factories.QuestionFactory(
        owner=owner,
        opened_at=end - timedelta(days=30),
        window_end=end,
        closed_at=end,
        status=Question.Status.RESOLVED,
        outcome="yes",
        resolved_at=end,
    )
    factories.ForecastFactory(
        question=question, forecaster=sure, probability=0.9, made_at=end - timedelta(days=1), confidence="high"
    )
    factories.ForecastFactory(question=question, forecaster=unsure, probability=0.4, made_at=end - timedelta(days=1))
    question_scores_recompute(question_id=question.pk)
    client = client_for(owner)
    high = client.get("/api/stats/calibration/", {"confidence": "high"}).json()
    none = client.get("/api/stats/calibration/", {"confidence": "none"}).json()
    assert (high["n"], high["brier"]) == (1, pytest.approx(0.01))
    assert (none["n"], none["brier"]) == (1, pytest.approx(0.36))
    assert client.get("/api/stats/calibration/", {"confidence": "low"}).json()["n"] == 0


@pytest.mark.django_db
def test_the_comparison_runs_a_constant_number_of_queries(owner):
    from django.test.utils import CaptureQueriesContext

    viewer = factories.ForecasterFactory()
    client = client_for(viewer)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/stats/aggregates/").status_code == 200
        return len(captured)

    authors = [factories.ForecasterFactory() for _ in range(3)]
    start = timezone.now() - timedelta(days=200)
    for day in range(2):
        end = start + timedelta(days=day)
        resolved_question(owner, authors, [0.2, 0.5, 0.8], outcome="yes", window_end=end, resolved_at=end)
    small = queries()
    for day in range(2, 25):
        end = start + timedelta(days=day)
        resolved_question(owner, authors, [0.3, 0.6, 0.9], outcome="no", window_end=end, resolved_at=end)
    assert queries() == small


def test_bootstrap_intervals_together_equal_each_alone():
    rng = np.random.default_rng(2)
    series = [rng.random(60), rng.random(60), rng.random(17), rng.random(60)]
    assert aggregation.bootstrap_intervals(series) == [aggregation.bootstrap_interval(losses) for losses in series]


def test_cached_bootstrap_equals_the_drawn_one_and_follows_the_losses():
    from forecasts.selectors.calibration import bootstrap_intervals_cached

    losses = np.random.default_rng(3).random(40)
    expected = [aggregation.bootstrap_interval(losses)]
    assert bootstrap_intervals_cached([losses]) == expected
    assert bootstrap_intervals_cached([losses.copy()]) == expected  # from the cache
    changed = losses.copy()
    changed[0] += 0.5
    assert bootstrap_intervals_cached([changed]) == [aggregation.bootstrap_interval(changed)]


@pytest.mark.django_db
def test_the_cached_comparison_equals_the_computed_one_and_follows_each_resolution(owner):
    from django.test.utils import CaptureQueriesContext

    from forecasts.selectors.calibration import aggregate_comparison_computed, aggregate_comparison_for

    viewer = factories.ForecasterFactory()
    authors = [factories.ForecasterFactory() for _ in range(3)]
    start = timezone.now() - timedelta(days=50)
    for day in range(3):
        end = start + timedelta(days=day)
        resolved_question(owner, authors, [0.2, 0.5, 0.8], outcome="yes", window_end=end, resolved_at=end)
    first = aggregate_comparison_for(viewer)
    assert first == aggregate_comparison_computed(viewer)
    with CaptureQueriesContext(connection) as captured:
        assert aggregate_comparison_for(viewer) == first
    assert len(captured) <= 3  # the viewer's teams and moderator rule, the version: nothing recomputed
    end = start + timedelta(days=5)
    resolved_question(owner, authors, [0.9, 0.6, 0.3], outcome="no", window_end=end, resolved_at=end)
    after = aggregate_comparison_for(viewer)
    assert after["questions"] == 4 and after == aggregate_comparison_computed(viewer)
