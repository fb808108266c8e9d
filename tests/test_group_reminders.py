"""One reminder ladder per question group, not one per member: the first member awaiting
resolution speaks for the group, with the dedupe keys and escalation rules of a lone question,
also when two sweeps run at once."""

import threading
from datetime import timedelta

import pytest
from django.db import connection

from forecasts import services
from forecasts.models import Notification, Question
from tests import factories
from tests.support.lifecycle import T0, at

pytestmark = pytest.mark.django_db


def group_due(owner, *, members: int, window_ends=None, **fields):
    group = factories.QuestionGroupFactory(owner=owner, **fields)
    ends = window_ends or [T0] * members
    for position, end in enumerate(ends):
        factories.QuestionFactory(
            owner=owner, group=group, group_position=position, window_end=end, resolve_by=end + timedelta(days=3)
        )
    return group


def sweep(moment):
    with at(moment):
        return services.lifecycle_sweep()


def test_a_group_gets_one_ready_notice_and_one_reminder_per_round(owner):
    group = group_due(owner, members=4, kind="which")
    lone = factories.QuestionFactory(owner=owner, window_end=T0, resolve_by=T0 + timedelta(days=3))
    first = Question.objects.get(group=group, group_position=0)
    sent = []
    for days in (0, 1, 3, 7):
        sent += [(n.question_id, n.kind, n.round) for n in sweep(T0 + timedelta(days=days, minutes=1)).notifications]
    reminders = [row for row in sent if row[1] in ("ready_to_resolve", "reminder")]
    assert [row for row in reminders if row[0] == first.pk] == [
        (first.pk, "ready_to_resolve", 0),
        (first.pk, "reminder", 1),
        (first.pk, "reminder", 2),
        (first.pk, "reminder", 3),
    ]
    assert {row[0] for row in reminders} == {first.pk, lone.pk}  # the other members stay silent
    key = Notification.objects.get(question=first, round=0).dedupe_key
    assert key.startswith(f"resolve:{first.pk}:")  # the key a lone question has


def test_the_sweep_closing_a_groups_members_moves_the_group_to_awaiting_resolution(owner):
    group = group_due(owner, members=3, kind="when", window_ends=[T0, T0 + timedelta(days=2), T0 + timedelta(days=4)])
    group.status = Question.Status.OPEN
    group.save(update_fields=["status"])
    sweep(T0 + timedelta(days=1))
    group.refresh_from_db()
    assert group.status == Question.Status.OPEN  # the later rungs still take forecasts
    sweep(T0 + timedelta(days=5))
    group.refresh_from_db()
    assert group.status == Question.Status.AWAITING_RESOLUTION


def test_a_group_past_resolve_by_escalates_once_a_week_not_once_per_member(owner, editor):
    group = group_due(owner, members=3)
    escalations = []
    for days in (4, 5, 11):
        report = sweep(T0 + timedelta(days=days))
        escalations += [(n.question_id, n.round) for n in report.notifications if n.kind == "escalation"]
    first = Question.objects.get(group=group, group_position=0)
    assert escalations == [(first.pk, 0), (first.pk, 1)]


def test_a_ladder_whose_first_rung_is_resolved_hands_the_ladder_to_the_next(owner):
    ends = [T0, T0 + timedelta(days=2), T0 + timedelta(days=4)]
    group = group_due(owner, members=3, window_ends=ends)
    rungs = list(Question.objects.filter(group=group).order_by("group_position"))
    first_sweep = sweep(T0 + timedelta(minutes=1))
    assert [(n.question_id, n.kind) for n in first_sweep.notifications] == [(rungs[0].pk, "ready_to_resolve")]
    with at(T0 + timedelta(hours=1)):
        services.question_resolve(question=rungs[0], actor=owner, outcome="no")
    later = sweep(T0 + timedelta(days=2, minutes=1)).notifications
    assert [(n.question_id, n.kind) for n in later if n.kind != "resolved"] == [(rungs[1].pk, "ready_to_resolve")]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_sweeps_send_one_reminder_per_group_per_round(owner):
    groups = [group_due(owner, members=8) for _ in range(3)]
    barrier = threading.Barrier(2)
    created: list[list[Notification]] = [[], []]
    errors = []

    def run(slot):
        try:
            barrier.wait(timeout=10)
            # One row per batch: the two sweeps interleave, each closing different members and
            # sending the first round with the close.
            services.questions_close_due(now=T0 + timedelta(minutes=1), batch_size=1, notifications=created[slot])
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(slot,)) for slot in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    firsts = {Question.objects.get(group=group, group_position=0).pk for group in groups}
    notices = list(Notification.objects.values_list("question_id", "round"))
    assert sorted(notices) == sorted((pk, 0) for pk in firsts)
    assert len(created[0]) + len(created[1]) == 3
    # Every member's schedule moved on: a rerun sends nothing.
    assert services.resolver_reminders_send(now=T0 + timedelta(minutes=2), batch_size=1) == []
