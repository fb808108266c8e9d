"""load_seeds: the January 2022 statements as scored questions, loaded once and only once."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from forecasts.estimative import phrase_lookup
from forecasts.management.commands.load_seeds import SEEDS_USERNAME
from forecasts.models import Forecast, Question, QuestionGroup, ResolutionEvent, Score, Source

pytestmark = pytest.mark.django_db

SEEDS_DIR = Path(settings.BASE_DIR) / "seeds"
HISTORICAL_OUTCOMES = {
    "ua-2022-invasion-mid-jan-to-mid-feb": "no",
    "ua-2022-invasion-by-end-of-march": "yes",
    "ua-2022-false-flag-pretext": "yes",
    "ua-2022-disinformation-campaign": "yes",
    "ru-2022-forces-cuba-venezuela": "no",
    "nato-2022-no-expansion-pledge": "no",
    "ua-2022-war-crimes-if-invaded": "yes",
}


def load_seeds(**options) -> str:
    out = StringIO()
    call_command("load_seeds", stdout=out, **options)
    return out.getvalue()


def seed_entries() -> list[dict]:
    return [
        entry
        for path in sorted(SEEDS_DIR.glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8"))["questions"]
    ]


def seed_groups() -> list[dict]:
    return [
        entry
        for path in sorted(SEEDS_DIR.glob("*.json"))
        for entry in json.loads(path.read_text(encoding="utf-8")).get("groups", [])
    ]


def database_snapshot() -> dict:
    counts = {model._meta.label: model._default_manager.count() for model in apps.get_models()}
    questions = set(Question.objects.values_list("external_key", "status", "outcome", "window_end"))
    return {"counts": counts, "questions": questions}


def test_second_load_changes_nothing():
    first_output = load_seeds()
    first = database_snapshot()
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        second_output = load_seeds()
    assert database_snapshot() == first
    total = len(seed_entries())
    assert f"{total} questions created, 0 already present" in first_output
    assert f"0 questions created, {total} already present" in second_output
    groups = seed_groups()
    assert f"{len(groups)} question groups created, 0 already present" in first_output
    assert f"0 question groups created, {len(groups)} already present" in second_output
    members = sum(len(group.get("window_ends") or group.get("options")) for group in groups)
    assert first["counts"]["forecasts.Question"] == total + members
    assert first["counts"]["forecasts.QuestionGroup"] == len(groups)


def test_historical_questions_carry_their_outcomes():
    load_seeds()
    outcomes = dict(
        Question.objects.filter(external_key__in=HISTORICAL_OUTCOMES).values_list("external_key", "outcome")
    )
    assert outcomes == HISTORICAL_OUTCOMES
    assert set(Question.objects.filter(external_key__in=HISTORICAL_OUTCOMES).values_list("status", flat=True)) == {
        Question.Status.RESOLVED
    }


def test_invasion_window_is_mid_january_to_mid_february_and_closed_before_the_invasion():
    load_seeds()
    question = Question.objects.get(external_key="ua-2022-invasion-mid-jan-to-mid-feb")
    assert question.kind == Question.Kind.INVASION_WINDOW
    assert question.window_start == datetime(2022, 1, 14, tzinfo=UTC)
    assert question.window_end == datetime(2022, 2, 16, tzinfo=UTC)
    assert question.window_end < datetime(2022, 2, 24, tzinfo=UTC)
    assert question.source_statement_date.isoformat() == "2022-01-14"
    assert question.history.get().note.startswith("No full-scale offensive")


def test_every_source_statement_is_a_dated_quoted_source_forecast():
    load_seeds()
    statements = [statement for entry in seed_entries() + seed_groups() for statement in entry.get("statements", [])]
    forecasts = list(Forecast.objects.select_related("source", "recorded_by"))
    assert len(forecasts) == len(statements) >= 10
    for forecast in forecasts:
        assert forecast.source is not None and forecast.forecaster is None
        assert (forecast.made_at.year, forecast.made_at.month) == (2022, 1)
        assert forecast.quote and forecast.url.startswith("https://")
        assert forecast.probability == phrase_lookup(phrase=forecast.phrase, yardstick=forecast.yardstick).probability
        assert forecast.recorded_by.username == SEEDS_USERNAME
        assert forecast.made_at < forecast.question.window_end
    assert Source.objects.filter(forecasts__isnull=False).distinct().count() >= 5
    # Several questions are scored against more than one source.
    assert Question.objects.filter(forecaster_count__gte=2).count() >= 3


def test_every_resolution_has_evidence_and_a_note():
    load_seeds()
    events = ResolutionEvent.objects.all()
    members = sum(
        len(group.get("window_ends") or group.get("options")) for group in seed_groups() if "outcome" in group
    )
    assert events.count() == len(HISTORICAL_OUTCOMES) + members
    for event in events:
        assert event.action == ResolutionEvent.Action.RESOLVE
        assert event.evidence_url.startswith("https://") and len(event.note) > 40
        assert event.actor.username == SEEDS_USERNAME


def test_seed_questions_belong_to_an_inactive_system_user():
    load_seeds()
    assert set(Question.objects.values_list("owner__username", flat=True)) == {SEEDS_USERNAME}
    owner = Question.objects.first().owner
    assert not owner.is_active and not owner.has_usable_password()


def test_practice_questions_are_open_with_windows_counted_from_the_first_load():
    load_seeds()
    practice = Question.objects.filter(tags__name="practice")
    assert practice.count() >= 2
    lengths = set()
    for question in practice:
        assert question.status == Question.Status.OPEN and question.title.startswith("Practice:")
        assert question.accepts_forecasts
        lengths.add(question.window_end - question.window_start)
        assert abs(question.window_start - timezone.now()) < timedelta(minutes=1)
    assert lengths == {timedelta(days=14), timedelta(days=30)}


def test_a_broken_question_is_reported_and_leaves_nothing_half_written(tmp_path):
    seed = json.loads((SEEDS_DIR / "01-ukraine-january-2022.json").read_text(encoding="utf-8"))
    good, broken = seed["questions"][0], dict(seed["questions"][1])
    broken["statements"] = [dict(broken["statements"][0], made_at="2022-05-01T00:00:00Z")]
    broken["window"] = {"start": "2022-01-14T00:00:00Z", "end": "2022-02-16T00:00:00Z"}
    broken["resolve_by"] = "2022-02-19T00:00:00Z"
    seed["questions"] = [good, broken]
    (tmp_path / "seed.json").write_text(json.dumps(seed), encoding="utf-8")
    with pytest.raises(CommandError, match=broken["key"]):
        load_seeds(seeds_dir=tmp_path)
    assert list(Question.objects.values_list("external_key", flat=True)) == [good["key"]]
    assert not Forecast.objects.filter(question__external_key=broken["key"]).exists()


def test_the_invasion_ladder_is_seeded_resolved_on_24_february_no_yes_yes():
    load_seeds()
    group = QuestionGroup.objects.get(external_key="ua-2022-invasion-when-ladder")
    members = list(group.members.order_by("group_position"))
    assert group.kind == "when" and group.status == "resolved"
    assert [member.title.rsplit(": ", 1)[1] for member in members] == [
        "by 15 Feb 2022",
        "by 28 Feb 2022",
        "by 31 Mar 2022",
    ]
    assert [member.outcome for member in members] == ["no", "yes", "yes"]
    assert {member.window_start for member in members} == {datetime(2022, 1, 14, tzinfo=UTC)}
    assert [member.forecasts.count() for member in members] == [2, 0, 2]  # the report says nothing of 28 Feb
    assert group.source.name.startswith("US intelligence") and group.source_quote
    occurred = {member.occurred_at for member in members if member.outcome == "yes"}
    assert occurred == {datetime(2022, 2, 24, 3, tzinfo=UTC)}
    assert Score.objects.filter(question__group=group).count() == 4
