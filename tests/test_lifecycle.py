"""The lifecycle against the real database with the clock under control: sweep, reminders,
escalation, closing-soon nudges, resolution notices, digests, one-click links, webhooks, ICS."""

import gc
import re
import smtplib
from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail, signing
from django.core.exceptions import PermissionDenied
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar
from kombu.exceptions import OperationalError as BrokerError

from forecasts import services
from forecasts.exceptions import StateConflict
from forecasts.models import (
    ActionTokenUse,
    DigestDelivery,
    Notification,
    Profile,
    Question,
    ResolutionEvent,
    TeamMembership,
    WebhookDelivery,
)
from forecasts.services import (
    SALT,
    WebhookDeliveryFailed,
    action_link_url,
    lifecycle,
    reminder_offset,
    reminder_round_due,
)
from tests import factories
from tests.support.lifecycle import (
    T0,
    Endpoint,
    FlakySmtpBackend,
    at,
    due_question,
    snapshot,
    standing_forecast,
    unused_port,
    webhook_loopback_allowed,
    webhook_users,
)

pytestmark = pytest.mark.django_db


def notifications_of(user, **filters) -> list[Notification]:
    return list(Notification.objects.filter(user=user, **filters).order_by("created_at", "id"))


def sweep(moment: datetime):
    with at(moment):
        return services.lifecycle_sweep()


# --- reminder schedule -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "elapsed_days, expected_round",
    [(0, 0), (0.5, 0), (1, 1), (2.9, 1), (3, 2), (7, 3), (13.9, 3), (14, 4), (20, 4), (21, 5), (70, 12)],
)
def test_reminder_round_due_counts_at_close_then_1_3_7_days_then_weekly(elapsed_days, expected_round):
    assert reminder_round_due(timedelta(days=elapsed_days)) == expected_round


def test_reminder_offsets_are_the_inverse_of_rounds():
    assert [reminder_offset(r).days for r in range(7)] == [0, 1, 3, 7, 14, 21, 28]
    for round_number in range(12):
        assert reminder_round_due(reminder_offset(round_number)) == round_number


# --- closing ---------------------------------------------------------------------------------


def test_sweep_closes_exactly_the_due_questions(owner):
    due = due_question(owner)
    on_the_second = due_question(owner, window_end=T0)
    later = due_question(owner, window_end=T0 + timedelta(seconds=1))
    draft = due_question(owner, status=Question.Status.DRAFT, opened_at=None)
    report = sweep(T0)
    assert sorted(report.closed) == sorted([due.pk, on_the_second.pk])
    for question in (due, on_the_second):
        question.refresh_from_db()
        assert question.status == Question.Status.AWAITING_RESOLUTION
        assert question.closed_at == question.window_end
    later.refresh_from_db()
    draft.refresh_from_db()
    assert (later.status, later.closed_at) == (Question.Status.OPEN, None)
    assert draft.status == Question.Status.DRAFT
    ready = notifications_of(owner, kind=Notification.Kind.READY_TO_RESOLVE)
    assert sorted(n.question_id for n in ready) == sorted([due.pk, on_the_second.pk])
    assert all(n.created_at == T0 and n.round == 0 for n in ready)


def test_sweep_query_count_does_not_grow_with_the_number_of_due_questions(owner, django_assert_num_queries):
    with at(T0):
        due_question(owner)
        with CaptureQueriesContext(connection) as one_question:
            assert len(services.lifecycle_sweep().closed) == 1
    with at(T0 + timedelta(hours=1)):
        for _ in range(50):
            due_question(owner, window_end=T0 + timedelta(minutes=30))
        with django_assert_num_queries(len(one_question.captured_queries)):
            report = services.lifecycle_sweep()
    assert len(report.closed) == 50
    assert len(report.notifications) == 50
    assert Notification.objects.filter(kind=Notification.Kind.READY_TO_RESOLVE).count() == 51


def test_the_close_and_the_first_reminder_write_each_row_once(owner):
    """A late sweep closes windows that ended at different times: one UPDATE of the batch sets the
    close, the round after the one sent and its time; the owner hears the latest round due only,
    and an owner removed from the team hears nothing while the schedule still moves on."""
    recent = due_question(owner, window_end=T0 - timedelta(hours=12))
    late = due_question(owner, window_end=T0 - timedelta(days=2))
    hidden = due_question(owner, window_end=T0 - timedelta(hours=1), team=factories.TeamFactory())
    with CaptureQueriesContext(connection) as queries:
        report = sweep(T0)
    assert sorted(report.closed) == sorted([recent.pk, late.pk, hidden.pk])
    # PostgreSQL locks and writes the batch in one statement (WITH due AS (...) UPDATE ...).
    updates = [q["sql"] for q in queries.captured_queries if re.search(r'UPDATE "?forecasts_question\b', q["sql"])]
    assert len(updates) == 1, updates
    rounds = {n.question_id: n.round for n in notifications_of(owner, kind=Notification.Kind.READY_TO_RESOLVE)}
    assert rounds == {recent.pk: 0, late.pk: 1}
    for question, next_round in ((recent, 1), (late, 2), (hidden, 1)):
        question.refresh_from_db()
        assert question.status == Question.Status.AWAITING_RESOLUTION
        assert question.reminder_round == next_round
        assert question.next_reminder_at == question.window_end + reminder_offset(next_round)
    assert sweep(T0).notifications == []


def test_notices_are_stored_exactly_as_written(owner):
    """The close's notices reach the table character for character (quotes, accents, a backslash,
    an emoji in the title); a notice about no question stores no question."""
    title = 'Will «Zürich» say "no" \\ to ☕ before 2027?'
    question = due_question(owner, title=title)
    report = sweep(T0)
    stored = Notification.objects.get(question=question, kind=Notification.Kind.READY_TO_RESOLVE)
    assert stored.message == services.ready_to_resolve_message(question)
    assert f"“{title}”" in stored.message
    assert [notice.message for notice in report.notifications] == [stored.message]
    general = Notification(
        user_id=owner.pk, question_id=None, kind=Notification.Kind.REMINDER, dedupe_key="k", message="é"
    )
    assert services.notifications_create(notifications=[general], now=T0) == [general]
    assert Notification.objects.filter(dedupe_key="k").values_list("question_id", "message").get() == (None, "é")


def test_the_close_reads_its_moments_back_to_the_microsecond(owner):
    """A window ending a microsecond before the minute keeps its minute in the text and its second
    in the key; a resolve-by likewise."""
    window_end = datetime(2026, 3, 2, 11, 58, 59, 999999, tzinfo=UTC)
    question = due_question(owner, window_end=window_end, resolve_by=window_end + timedelta(days=3))
    [notice] = sweep(T0).notifications
    assert "closed on 2026-03-02 11:58 UTC" in notice.message
    assert "by 2026-03-05 11:58 UTC" in notice.message
    assert notice.dedupe_key == f"resolve:{question.pk}:20260302T115859:0"


def test_the_sweep_pauses_the_garbage_collector_and_restores_it(owner, monkeypatch):
    seen = []
    monkeypatch.setattr(
        lifecycle, "closing_soon_notify", lambda **kwargs: seen.append(gc.isenabled()) or [], raising=True
    )
    assert gc.isenabled()
    sweep(T0)
    assert seen == [False]
    assert gc.isenabled()
    gc.disable()
    try:
        with lifecycle.garbage_collection_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


@pytest.mark.parametrize("batch_size", [2, 500])
def test_the_close_stores_the_round_due_for_windows_of_any_age(owner, settings, batch_size):
    """The close computes each row's round in the locking statement on PostgreSQL: the same round
    and next reminder as reminder_round_due gives, for windows from minutes to a year old."""
    settings.FOREWARN = {**settings.FOREWARN, "SWEEP_BATCH_SIZE": batch_size}
    ages = [timedelta(minutes=5), timedelta(hours=30), timedelta(days=3, hours=1), timedelta(days=8)]
    ages += [timedelta(days=40), timedelta(days=400)]
    questions = [due_question(owner, window_end=T0 - age) for age in ages]
    report = sweep(T0)
    assert sorted(report.closed) == sorted(question.pk for question in questions)
    for question, age in zip(questions, ages, strict=True):
        question.refresh_from_db()
        assert question.reminder_round == reminder_round_due(age) + 1
        assert question.next_reminder_at == question.window_end + reminder_offset(question.reminder_round)
        assert question.closed_at == question.window_end
    ready = notifications_of(owner, kind=Notification.Kind.READY_TO_RESOLVE)
    assert {n.question_id: n.round for n in ready} == {
        question.pk: reminder_round_due(age) for question, age in zip(questions, ages, strict=True)
    }
    told = sorted(
        (n.question_id, n.round) for n in report.notifications if n.kind == Notification.Kind.READY_TO_RESOLVE
    )
    assert told == sorted((n.question_id, n.round) for n in ready)


def test_sweep_twice_changes_nothing_more(owner, forecaster):
    for _ in range(3):
        question = due_question(owner)
        standing_forecast(question, forecaster)
    closing = due_question(owner, window_end=T0 + timedelta(hours=2))
    standing_forecast(closing, forecaster)
    first = sweep(T0)
    state = snapshot()
    second = sweep(T0)
    assert len(first.closed) == 3 and len(first.notifications) == 4
    assert second.closed == [] and second.notifications == []
    assert snapshot() == state


# --- reminders -------------------------------------------------------------------------------


def test_resolver_is_reminded_at_close_then_after_1_3_7_and_14_days(owner):
    question = due_question(owner, window_end=T0)
    sent_rounds = []
    moments = [T0 + timedelta(days=d, minutes=1) for d in (0, 0.5, 1, 2, 3, 5, 7, 10, 14, 15)]
    for moment in moments:
        for notification in sweep(moment).notifications:
            sent_rounds.append((round((moment - T0).days), notification.kind, notification.round))
    assert sent_rounds == [
        (0, "ready_to_resolve", 0),
        (1, "reminder", 1),
        (3, "reminder", 2),
        (7, "reminder", 3),
        (14, "reminder", 4),
    ]
    question.refresh_from_db()
    assert question.next_reminder_at == T0 + timedelta(days=21)


def test_after_twenty_days_of_downtime_only_the_latest_round_is_sent(owner):
    question = due_question(owner, window_end=T0)
    sweep(T0 + timedelta(minutes=1))
    report = sweep(T0 + timedelta(days=20))
    assert [(n.kind, n.round) for n in report.notifications] == [("reminder", 4)]
    question.refresh_from_db()
    assert question.next_reminder_at == T0 + timedelta(days=21)
    assert sweep(T0 + timedelta(days=20, hours=12)).notifications == []
    assert [n.round for n in sweep(T0 + timedelta(days=21)).notifications] == [5]


def test_a_question_first_swept_long_after_its_window_gets_one_ready_notice(owner):
    question = due_question(owner, window_end=T0 - timedelta(days=9))
    report = sweep(T0)
    assert [(n.kind, n.round) for n in report.notifications] == [("ready_to_resolve", 3)]
    question.refresh_from_db()
    assert question.closed_at == T0 - timedelta(days=9)
    assert question.next_reminder_at == T0 - timedelta(days=9) + timedelta(days=14)


def test_resolving_or_annulling_stops_the_reminders(owner):
    resolved = due_question(owner, window_end=T0)
    annulled = due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0 + timedelta(hours=2)):
        services.question_resolve(question=resolved, actor=owner, outcome="no")
        services.question_annul(question=annulled, actor=owner)
    for days in (1, 3, 7, 30):
        assert not [n for n in sweep(T0 + timedelta(days=days)).notifications if n.kind != "resolved"]
    assert Notification.objects.filter(kind__in=["reminder", "escalation"]).count() == 0


def test_undoing_a_resolution_resumes_the_reminders_without_repeating_a_round(owner):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0 + timedelta(hours=1)):
        services.question_resolve(question=question, actor=owner, outcome="no")
    with at(T0 + timedelta(hours=2)):
        services.question_unresolve(question=question, actor=owner)
    assert sweep(T0 + timedelta(hours=3)).notifications == []
    assert [n.round for n in sweep(T0 + timedelta(days=1)).notifications] == [1]


def test_moving_the_window_end_re_arms_nudge_and_close(owner, forecaster):
    question = factories.QuestionFactory(
        owner=owner, window_end=T0 + timedelta(hours=12), opened_at=T0 - timedelta(days=5)
    )
    standing_forecast(question, forecaster)
    assert [n.kind for n in sweep(T0).notifications] == ["closing_soon"]
    with at(T0 + timedelta(hours=1)):
        services.question_update(question=question, actor=owner, window_end=T0 + timedelta(days=10))
    assert sweep(T0 + timedelta(hours=13)).closed == []
    nudges = sweep(T0 + timedelta(days=9, hours=1)).notifications
    assert [(n.kind, n.user_id) for n in nudges] == [("closing_soon", forecaster.pk)]
    closing = sweep(T0 + timedelta(days=10))
    assert closing.closed == [question.pk]
    assert [n.kind for n in closing.notifications] == ["ready_to_resolve"]


# --- escalation ------------------------------------------------------------------------------


def test_moderators_are_told_once_resolve_by_has_passed_then_weekly(owner, editor):
    superuser = factories.UserFactory(username="root", is_superuser=True, is_staff=True)
    factories.UserFactory(username="retired", is_superuser=True, is_active=False)
    question = due_question(owner, window_end=T0, resolve_by=T0 + timedelta(days=2))
    sweep(T0)
    assert not Notification.objects.filter(kind="escalation").exists()
    first = [n for n in sweep(T0 + timedelta(days=2, minutes=1)).notifications if n.kind == "escalation"]
    assert sorted(n.user_id for n in first) == sorted([editor.pk, superuser.pk])
    assert all(n.question_id == question.pk for n in first)
    assert not [n for n in sweep(T0 + timedelta(days=5)).notifications if n.kind == "escalation"]
    again = [n for n in sweep(T0 + timedelta(days=9, minutes=1)).notifications if n.kind == "escalation"]
    assert sorted(n.user_id for n in again) == sorted([editor.pk, superuser.pk])
    assert not Notification.objects.filter(kind="escalation", user=owner).exists()


def test_moving_resolve_by_re_arms_the_escalation(owner, editor):
    question = factories.QuestionFactory(owner=owner, window_end=T0, resolve_by=T0 + timedelta(days=1))
    with at(T0 - timedelta(hours=1)):
        services.question_update(question=question, actor=owner, resolve_by=T0 + timedelta(days=4))
    question.refresh_from_db()
    assert (question.next_escalation_at, question.reminder_round) == (None, 0)
    sweep(T0)
    assert not [n for n in sweep(T0 + timedelta(days=1, minutes=1)).notifications if n.kind == "escalation"]
    late = [n for n in sweep(T0 + timedelta(days=4, minutes=1)).notifications if n.kind == "escalation"]
    assert [n.user_id for n in late] == [editor.pk]


def test_resolve_by_of_a_closed_question_can_be_extended_and_re_arms_the_escalation(owner, editor, forecaster):
    question = factories.QuestionFactory(owner=owner, window_end=T0, resolve_by=T0 + timedelta(days=1))
    sweep(T0 + timedelta(minutes=1))
    escalated = [n for n in sweep(T0 + timedelta(days=1, minutes=1)).notifications if n.kind == "escalation"]
    assert [n.user_id for n in escalated] == [editor.pk]
    with pytest.raises(PermissionDenied):
        services.question_update(question=question, actor=forecaster, resolve_by=T0 + timedelta(days=10))
    with pytest.raises(StateConflict):
        services.question_update(question=question, actor=owner, title="Renamed after the close")
    with at(T0 + timedelta(days=1, hours=1)):
        services.question_update(question=question, actor=owner, resolve_by=T0 + timedelta(days=10))
    question.refresh_from_db()
    assert (question.status, question.resolve_by) == ("awaiting_resolution", T0 + timedelta(days=10))
    assert not [n for n in sweep(T0 + timedelta(days=8)).notifications if n.kind == "escalation"]
    late = [n for n in sweep(T0 + timedelta(days=10, minutes=1)).notifications if n.kind == "escalation"]
    assert [n.user_id for n in late] == [editor.pk]


# --- closing soon ----------------------------------------------------------------------------


def test_closing_soon_nudges_each_opted_in_forecaster_once(owner, forecaster):
    opted_out = factories.ForecasterFactory(username="quiet")
    Profile.objects.create(user=opted_out, closing_soon_opt_in=False)
    question = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(days=1, hours=2))
    standing_forecast(question, forecaster)
    standing_forecast(question, opted_out)
    assert sweep(T0).notifications == []
    nudges = sweep(T0 + timedelta(hours=3)).notifications
    assert [(n.kind, n.user_id, n.question_id) for n in nudges] == [("closing_soon", forecaster.pk, question.pk)]
    assert sweep(T0 + timedelta(hours=20)).notifications == []
    assert Notification.objects.filter(kind="closing_soon").count() == 1
    assert not Notification.objects.filter(user=owner, kind="closing_soon").exists()


# --- resolution notices ----------------------------------------------------------------------


def test_resolving_tells_every_forecaster_after_commit(
    owner, forecaster, eager_tasks, django_capture_on_commit_callbacks
):
    other = factories.ForecasterFactory(username="other")
    question = due_question(owner, window_end=T0)
    standing_forecast(question, forecaster)
    standing_forecast(question, other)
    with at(T0 + timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.question_resolve(question=question, actor=owner, outcome="yes", note="Confirmed by Reuters.")
    assert len(callbacks) == 1
    told = Notification.objects.filter(kind=Notification.Kind.RESOLVED)
    assert sorted(told.values_list("user_id", flat=True)) == sorted([forecaster.pk, other.pk])
    assert "resolved YES" in told.first().message and "Reuters" in told.first().message
    assert ResolutionEvent.objects.get().notified_at is not None
    assert sweep(T0 + timedelta(hours=2)).notifications == []


def test_broker_down_on_resolution_the_request_succeeds_and_the_sweep_catches_up(
    owner, forecaster, monkeypatch, django_capture_on_commit_callbacks
):
    from forecasts.tasks import resolution_notify_task

    def broker_down(*args, **kwargs):
        raise BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(resolution_notify_task, "delay", broker_down)
    question = due_question(owner, window_end=T0)
    standing_forecast(question, forecaster)
    with at(T0 + timedelta(hours=1)), django_capture_on_commit_callbacks(execute=True):
        services.question_annul(question=question, actor=owner, note="Criteria unclear.")
    question.refresh_from_db()
    assert question.status == Question.Status.ANNULLED
    assert not Notification.objects.filter(kind="resolved").exists()
    caught_up = [n for n in sweep(T0 + timedelta(hours=1, minutes=1)).notifications if n.kind == "resolved"]
    assert [(n.user_id, n.question_id) for n in caught_up] == [(forecaster.pk, question.pk)]
    assert "annulled" in caught_up[0].message


def test_a_resolution_undone_before_anyone_was_told_is_not_announced(owner, forecaster):
    question = due_question(owner, window_end=T0)
    standing_forecast(question, forecaster)
    with at(T0 + timedelta(hours=1)):
        services.question_resolve(question=question, actor=owner, outcome="yes")
        services.question_unresolve(question=question, actor=owner)
    assert not [n for n in sweep(T0 + timedelta(hours=2)).notifications if n.kind == "resolved"]
    assert not ResolutionEvent.objects.filter(notified_at__isnull=True).exists()


def test_only_the_current_resolution_is_announced_after_a_question_is_resolved_again(owner, forecaster):
    question = due_question(owner, window_end=T0)
    standing_forecast(question, forecaster)
    with at(T0 + timedelta(hours=1)):
        services.question_resolve(question=question, actor=owner, outcome="no")
        services.question_unresolve(question=question, actor=owner)
        services.question_resolve(question=question, actor=owner, outcome="yes")
    told = [n for n in sweep(T0 + timedelta(hours=2)).notifications if n.kind == "resolved"]
    current = Question.objects.get(pk=question.pk).current_resolution
    assert [(n.user_id, n.dedupe_key) for n in told] == [(forecaster.pk, f"resolved:{question.pk}:{current.pk}")]
    assert "resolved YES" in told[0].message
    assert not ResolutionEvent.objects.filter(notified_at__isnull=True).exists()


# --- digests ---------------------------------------------------------------------------------


def send_digests(moment: datetime) -> int:
    with at(moment):
        return sum(services.digest_deliver(delivery_id=pk) for pk in services.digests_prepare())


def test_one_digest_per_user_per_period_listing_every_pending_notification(owner, forecaster, mailoutbox):
    for _ in range(3):
        due_question(owner, window_end=T0)
    closing = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(hours=5))
    standing_forecast(closing, forecaster)
    sweep(T0)
    assert send_digests(T0 + timedelta(minutes=1)) == 2
    by_recipient = {message.to[0]: message for message in mailoutbox}
    assert set(by_recipient) == {owner.email, forecaster.email}
    owners_mail = by_recipient[owner.email]
    assert owners_mail.body.count("Ready to resolve") == 3
    assert "3 questions to resolve" in owners_mail.subject
    assert Notification.objects.filter(sent_at__isnull=True).count() == 0

    # A new notification inside the period waits for the period to pass, then comes alone.
    due_question(owner, window_end=T0 + timedelta(minutes=10))
    sweep(T0 + timedelta(minutes=11))
    assert send_digests(T0 + timedelta(minutes=30)) == 0
    assert send_digests(T0 + timedelta(minutes=61)) == 1
    assert len(mailoutbox) == 3
    assert mailoutbox[-1].body.count("Ready to resolve") == 1


def test_digest_period_follows_the_users_profile(owner, mailoutbox):
    Profile.objects.create(user=owner, digest_period=timedelta(hours=6))
    due_question(owner, window_end=T0)
    sweep(T0)
    send_digests(T0)
    due_question(owner, window_end=T0 + timedelta(hours=1))
    sweep(T0 + timedelta(hours=1))
    assert send_digests(T0 + timedelta(hours=2)) == 0
    assert send_digests(T0 + timedelta(hours=6)) == 1


def test_digest_links_are_signed_and_point_at_the_question(owner, mailoutbox, settings):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    send_digests(T0)
    body = mailoutbox[0].body
    assert f"{settings.SITE_URL}/admin/forecasts/question/{question.pk}/change/" in body
    tokens = [line.split("/actions/")[1].rstrip("/") for line in body.splitlines() if "/actions/" in line]
    assert len(tokens) == 3
    payloads = [signing.TimestampSigner(salt=SALT).unsign_object(token) for token in tokens]
    assert sorted(p["a"] for p in payloads) == ["annul", "no", "yes"]
    assert {(p["u"], p["q"]) for p in payloads} == {(owner.pk, question.pk)}
    html = mailoutbox[0].alternatives[0][0]
    assert all(token in html for token in tokens)
    assert mailoutbox[0].extra_headers["Message-ID"].startswith("<forewarn.digest.")


def test_forecasters_get_no_resolve_links(owner, forecaster, mailoutbox):
    question = factories.QuestionFactory(owner=owner, window_end=T0 + timedelta(hours=5))
    standing_forecast(question, forecaster)
    sweep(T0)
    send_digests(T0)
    assert "/actions/" not in mailoutbox[0].body


def test_a_digest_is_sent_once_even_if_two_workers_get_it(owner, mailoutbox):
    due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0):
        (delivery_id,) = services.digests_prepare()
        assert services.digests_prepare() == []
        assert services.digest_deliver(delivery_id=delivery_id) is True
        assert services.digest_deliver(delivery_id=delivery_id) is False
    assert len(mailoutbox) == 1


def test_a_failed_digest_keeps_its_claim_and_is_sent_by_the_next_attempt(owner, settings):
    settings.EMAIL_BACKEND = "tests.support.lifecycle.FlakySmtpBackend"
    FlakySmtpBackend.failures_left = 1
    due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0):
        (delivery_id,) = services.digests_prepare()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            services.digest_deliver(delivery_id=delivery_id)
    delivery = DigestDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.attempts, delivery.lease_until) == ("pending", 1, None)
    assert "SMTPServerDisconnected" in delivery.last_error
    assert Notification.objects.filter(sent_at__isnull=True, digest=delivery).count() == 1
    # Nothing new for the user: the period guard holds, the same digest goes out on retry.
    with at(T0 + timedelta(seconds=30)):
        assert services.digests_prepare() == []
        assert services.digest_deliver(delivery_id=delivery_id) is True
    assert len(mail.outbox) == 1
    assert DigestDelivery.objects.get(pk=delivery_id).status == "sent"


class RefusingSmtpBackend(LocmemBackend):
    def send_messages(self, messages):
        raise smtplib.SMTPRecipientsRefused({messages[0].to[0]: (550, b"No such user")})


def test_a_refused_address_fails_the_digest_for_good(owner, settings):
    settings.EMAIL_BACKEND = "tests.test_lifecycle.RefusingSmtpBackend"
    due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0):
        (delivery_id,) = services.digests_prepare()
        assert services.digest_deliver(delivery_id=delivery_id) is False
    delivery = DigestDelivery.objects.get(pk=delivery_id)
    assert (delivery.status, delivery.next_attempt_at) == ("failed", None)
    assert "No such user" in delivery.last_error
    with at(T0 + timedelta(hours=2)):
        assert services.digests_prepare() == []


def test_a_digest_whose_worker_died_is_queued_again_after_the_redispatch_delay(owner, mailoutbox):
    due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0):
        (delivery_id,) = services.digests_prepare()
        # The worker takes the lease and dies before sending.
        DigestDelivery.objects.filter(pk=delivery_id).update(lease_until=T0 + timedelta(minutes=5), attempts=1)
    with at(T0 + timedelta(minutes=6)):
        assert services.digests_prepare() == []
    with at(T0 + timedelta(minutes=11)):
        assert services.digests_prepare() == [delivery_id]
        assert services.digest_deliver(delivery_id=delivery_id)
    assert len(mailoutbox) == 1


# --- one-click links -------------------------------------------------------------------------


def action_path(user, question, action: str) -> str:
    return action_link_url(user_id=user.pk, question_id=question.pk, action=action).split("://", 1)[1].split("/", 1)[1]


def test_action_link_confirms_on_get_and_resolves_once_on_post(client, owner):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    path = "/" + action_path(owner, question, "no")
    confirm = client.get(path)
    assert confirm.status_code == 200 and b"Resolve NO" in confirm.content
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION
    done = client.post(path)
    assert done.status_code == 200
    question.refresh_from_db()
    assert (question.status, question.outcome, question.resolved_by) == ("resolved", "no", owner)
    assert question.history.get().note.startswith("Resolved with a one-click link")
    again = client.post(path)
    assert again.status_code == 410 and b"already been used" in again.content
    assert client.get(path).status_code == 410
    assert ActionTokenUse.objects.count() == 1


def test_tampered_and_expired_links_show_a_clear_page(client, owner):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    with at(T0):
        path = "/" + action_path(owner, question, "yes")
    tampered = path.replace("/actions/", "/actions/x")
    response = client.post(tampered)
    assert response.status_code == 400 and b"not valid" in response.content
    forged = signing.TimestampSigner(salt="something-else").sign_object({"u": owner.pk, "q": question.pk, "a": "yes"})
    assert client.post(f"/actions/{forged}/").status_code == 400
    with at(T0 + timedelta(days=8)):
        expired = client.post(path)
    assert expired.status_code == 410 and b"expired" in expired.content
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION


def test_a_link_is_no_stronger_than_its_user(client, owner, forecaster):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    stranger_link = "/" + action_path(forecaster, question, "yes")
    assert client.get(stranger_link).status_code == 403
    owner_link = "/" + action_path(owner, question, "yes")
    owner.is_active = False
    owner.save()
    assert client.post(owner_link).status_code == 403
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION


def test_a_refused_action_leaves_the_link_unused(client, owner, editor):
    question = due_question(owner, window_end=T0)
    sweep(T0)
    path = "/" + action_path(owner, question, "no")
    services.question_resolve(question=question, actor=editor, outcome="yes")
    assert client.get(path).status_code == 409
    conflict = client.post(path)
    assert conflict.status_code == 409 and "is already resolved YES" in conflict.content.decode()
    assert not ActionTokenUse.objects.exists()
    services.question_unresolve(question=question, actor=editor)
    # The resolution state moved since the link was sent: it stays refused, a newer link works.
    assert client.post(path).status_code == 410
    assert client.post("/" + action_path(owner, question, "no")).status_code == 200


# --- webhooks --------------------------------------------------------------------------------


def test_a_failing_webhook_is_recorded_and_retried_without_holding_up_others(endpoint):
    users = webhook_users(endpoint, healthy="/ok", broken="/down")
    Endpoint.statuses["/down"] = 503
    for user in users.values():
        due_question(user, window_end=T0)
    report = sweep(T0)
    assert len(report.webhook_deliveries) == 2
    outcomes = {}
    with at(T0):
        for delivery_id in report.webhook_deliveries:
            try:
                outcomes[delivery_id] = services.webhook_deliver(delivery_id=delivery_id)
            except WebhookDeliveryFailed as error:
                outcomes[delivery_id] = str(error)
    healthy = WebhookDelivery.objects.get(notification__user=users["healthy"])
    broken = WebhookDelivery.objects.get(notification__user=users["broken"])
    assert outcomes[healthy.pk] is True and outcomes[broken.pk] == "HTTP 503 Service Unavailable"
    assert (healthy.status, healthy.attempts) == ("sent", 1)
    assert (broken.status, broken.attempts, broken.last_error) == ("pending", 1, "HTTP 503 Service Unavailable")
    _path, body = next(item for item in Endpoint.received if item[0] == "/ok")
    assert "closed on" in body["text"] and "/admin/forecasts/question/" in body["text"]

    Endpoint.statuses["/down"] = 200
    with at(T0 + timedelta(seconds=4)):
        assert services.webhook_deliver(delivery_id=broken.pk) is True
    broken.refresh_from_db()
    assert (broken.status, broken.attempts, broken.last_error) == ("sent", 2, "")
    assert [p for p, _ in Endpoint.received].count("/ok") == 1


def test_a_webhook_gives_up_on_client_errors_and_after_the_last_attempt(endpoint, settings):
    settings.FOREWARN = {**settings.FOREWARN, "WEBHOOK_MAX_ATTEMPTS": 2}
    users = webhook_users(endpoint, gone="/gone", flaky="/flaky")
    Endpoint.statuses.update({"/gone": 404, "/flaky": 500})
    for user in users.values():
        due_question(user, window_end=T0)
    sweep(T0)
    gone = WebhookDelivery.objects.get(notification__user=users["gone"])
    flaky = WebhookDelivery.objects.get(notification__user=users["flaky"])
    with at(T0):
        assert services.webhook_deliver(delivery_id=gone.pk) is False
        with pytest.raises(WebhookDeliveryFailed):
            services.webhook_deliver(delivery_id=flaky.pk)
        assert services.webhook_deliver(delivery_id=flaky.pk) is False
    gone.refresh_from_db()
    flaky.refresh_from_db()
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "HTTP 404 Not Found")
    assert (flaky.status, flaky.attempts) == ("failed", 2)
    assert sweep(T0 + timedelta(hours=1)).webhook_deliveries == []


def test_an_unreachable_webhook_is_a_retryable_failure(settings):
    webhook_loopback_allowed(settings)
    user = factories.ForecasterFactory(username="offline")
    Profile.objects.create(user=user, webhook_url=f"http://127.0.0.1:{unused_port()}/nobody-listens")
    due_question(user, window_end=T0)
    (delivery_id,) = sweep(T0).webhook_deliveries
    with at(T0), pytest.raises(WebhookDeliveryFailed):
        services.webhook_deliver(delivery_id=delivery_id)
    delivery = WebhookDelivery.objects.get(pk=delivery_id)
    assert delivery.status == "pending" and "Connection refused" in delivery.last_error
    # The sweep queues it again only if the task's own retries are lost (after the redispatch delay).
    assert sweep(T0 + timedelta(minutes=5)).webhook_deliveries == []
    assert sweep(T0 + timedelta(minutes=11)).webhook_deliveries == [delivery_id]


# --- calendar --------------------------------------------------------------------------------


def test_calendar_feed_lists_window_ends_and_resolve_by_of_owned_and_forecast_questions(client, owner, forecaster):
    team = factories.TeamFactory()
    owned = factories.QuestionFactory(owner=owner, title="Owned question", window_end=T0)
    forecast = factories.QuestionFactory(owner=forecaster, title="Forecast question", window_end=T0 + timedelta(days=3))
    standing_forecast(forecast, owner)
    factories.QuestionFactory(owner=forecaster, title="Someone else's question")
    hidden = factories.QuestionFactory(owner=forecaster, title="Team secret", team=team)
    standing_forecast(hidden, owner)  # forecast while a member, then left the team
    factories.QuestionFactory(owner=owner, title="Draft", status=Question.Status.DRAFT, opened_at=None)
    token = Profile.objects.for_user(owner).calendar_token
    response = client.get(f"/calendar/{token}.ics")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = {str(event["uid"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {
        f"window-end-{owned.pk}@forewarn",
        f"resolve-by-{owned.pk}@forewarn",
        f"window-end-{forecast.pk}@forewarn",
        f"resolve-by-{forecast.pk}@forewarn",
    }
    assert events[f"window-end-{owned.pk}@forewarn"].decoded("dtstart") == T0
    assert events[f"resolve-by-{forecast.pk}@forewarn"].decoded("dtstart") == forecast.resolve_by
    assert str(events[f"window-end-{owned.pk}@forewarn"]["summary"]) == "Window closes: Owned question"


def test_unknown_calendar_token_is_a_404(client, owner):
    Profile.objects.for_user(owner)
    assert client.get("/calendar/not-a-real-token.ics").status_code == 404


# --- the command and the beat entries ------------------------------------------------------


def test_sweep_command_dry_run_lists_and_writes_nothing(owner, capsys, mailoutbox):
    question = due_question(owner, window_end=T0)
    with at(T0):
        call_command("sweep", "--dry-run")
    out = capsys.readouterr().out
    assert f"would close 1 question(s): [{question.pk}]" in out
    assert "would notify user" in out and "would email a digest of 1 notification(s)" in out
    question.refresh_from_db()
    assert question.status == Question.Status.OPEN
    assert not Notification.objects.exists() and not DigestDelivery.objects.exists() and not mailoutbox


def test_sweep_command_runs_the_same_services_and_sends_the_digest(owner, capsys, mailoutbox):
    question = due_question(owner, window_end=T0)
    with at(T0):
        call_command("sweep")
        call_command("sweep")
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION
    assert Notification.objects.filter(question=question).count() == 1
    assert len(mailoutbox) == 1
    assert "digests sent: 1" in capsys.readouterr().out


def test_beat_queues_the_digest_tick_only_after_a_sweep_that_notified_someone(owner, monkeypatch):
    from forecasts.tasks import digests_dispatch_task

    queued = []
    monkeypatch.setattr(digests_dispatch_task, "delay", lambda: queued.append("digests"))
    due_question(owner, window_end=T0)
    beat = {"digests_deliver": services.digests_tick_queue, "webhooks_deliver": services.webhooks_queue}
    with at(T0):
        first = services.lifecycle_run(**beat)
        second = services.lifecycle_run(**beat)
    assert (first.digests.queued, second.digests.queued, queued) == (1, 0, ["digests"])


def test_the_command_sends_a_waiting_digest_after_a_quiet_sweep(owner, capsys, mailoutbox):
    due_question(owner, window_end=T0)
    sweep(T0)  # the notice exists; nothing has sent it
    with at(T0 + timedelta(minutes=1)):
        call_command("sweep")
    assert len(mailoutbox) == 1
    assert "digests sent: 1, failed: 0; webhooks delivered: 0, failed: 0" in capsys.readouterr().out


def test_beat_entries_exist_and_syncing_keeps_an_operators_changes():
    from django_celery_beat.models import PeriodicTask

    from forecasts.schedules import beat_schedule, beat_schedule_sync

    entries = {task.name: task for task in PeriodicTask.objects.filter(name__in=beat_schedule())}
    assert {name: task.task for name, task in entries.items()} == {
        "forewarn-sweep": "forecasts.tasks.lifecycle_sweep",
        "forewarn-digests": "forecasts.tasks.digests_dispatch",
    }
    assert entries["forewarn-sweep"].interval.every == 60
    PeriodicTask.objects.filter(name="forewarn-sweep").update(enabled=False)
    PeriodicTask.objects.filter(name="forewarn-digests").delete()
    assert beat_schedule_sync() == ["forewarn-digests"]
    assert beat_schedule_sync() == []
    assert PeriodicTask.objects.get(name="forewarn-sweep").enabled is False


# --- recipients: only those who may see the question ------------------------------------------


def team_with(*members):
    team = factories.TeamFactory()
    for member in members:
        factories.TeamMembershipFactory(team=team, user=member)
    return team


def removed_from(team, user) -> None:
    TeamMembership.objects.filter(team=team, user=user).delete()


def test_a_resolution_notice_goes_only_to_forecasters_who_may_still_see_the_question(owner, forecaster):
    removed = factories.ForecasterFactory(username="removed")
    team = team_with(owner, forecaster, removed)
    question = due_question(owner, window_end=T0, team=team)
    standing_forecast(question, forecaster)
    standing_forecast(question, removed)
    removed_from(team, removed)
    with at(T0 + timedelta(hours=1)):
        services.question_resolve(question=question, actor=owner, outcome="yes", note="Confirmed.")
    told = [n for n in sweep(T0 + timedelta(hours=1, minutes=1)).notifications if n.kind == "resolved"]
    assert [(n.user_id, n.question_id) for n in told] == [(forecaster.pk, question.pk)]
    assert not Notification.objects.filter(user=removed).exists()
    assert ResolutionEvent.objects.get().notified_at is not None


def test_a_closing_soon_nudge_skips_a_forecaster_removed_from_the_team(owner, forecaster):
    removed = factories.ForecasterFactory(username="removed")
    team = team_with(owner, forecaster, removed)
    question = factories.QuestionFactory(owner=owner, team=team, window_end=T0 + timedelta(hours=5))
    standing_forecast(question, forecaster)
    standing_forecast(question, removed)
    removed_from(team, removed)
    nudges = sweep(T0).notifications
    assert [(n.kind, n.user_id) for n in nudges] == [("closing_soon", forecaster.pk)]


def test_an_owner_removed_from_the_team_is_not_reminded_and_the_schedule_moves_on(owner, editor):
    team = team_with(owner)
    question = due_question(owner, window_end=T0, team=team)
    removed_from(team, owner)
    assert sweep(T0).notifications == []
    question.refresh_from_db()
    assert (question.status, question.reminder_round) == (Question.Status.AWAITING_RESOLUTION, 1)
    assert sweep(T0 + timedelta(days=1)).notifications == []
    # The moderators, who see every question, still hear once resolve-by has passed.
    escalated = sweep(T0 + timedelta(days=3, minutes=1)).notifications
    assert [(n.kind, n.user_id) for n in escalated] == [("escalation", editor.pk)]


def test_a_digest_after_removal_lists_only_what_the_member_may_still_see(owner, forecaster, mailoutbox):
    team = team_with(owner, forecaster)
    public = factories.QuestionFactory(owner=owner, title="Public question", window_end=T0 + timedelta(hours=5))
    hidden = factories.QuestionFactory(
        owner=owner, team=team, title="Team question", window_end=T0 + timedelta(hours=5)
    )
    standing_forecast(public, forecaster)
    standing_forecast(hidden, forecaster)
    assert len([n for n in sweep(T0).notifications if n.user_id == forecaster.pk]) == 2
    removed_from(team, forecaster)
    assert send_digests(T0 + timedelta(minutes=1)) == 1
    (email,) = mailoutbox
    assert email.to == [forecaster.email]
    assert "Public question" in email.body and "Team question" not in email.body
    assert "1 notification" in email.subject
    withheld = Notification.objects.get(user=forecaster, question=hidden)
    assert withheld.sent_at is None
    assert Notification.objects.get(user=forecaster, question=public).sent_at is not None


def test_a_digest_with_nothing_left_to_see_sends_no_email(owner, forecaster, mailoutbox):
    team = team_with(owner, forecaster)
    hidden = factories.QuestionFactory(owner=owner, team=team, window_end=T0 + timedelta(hours=5))
    standing_forecast(hidden, forecaster)
    sweep(T0)
    removed_from(team, forecaster)
    send_digests(T0 + timedelta(minutes=1))
    assert mailoutbox == []
    assert DigestDelivery.objects.get(user=forecaster).status == "sent"


def test_a_webhook_after_removal_is_not_posted_and_says_why(owner, endpoint):
    member = webhook_users(endpoint, member="/member")["member"]
    team = team_with(owner, member)
    question = factories.QuestionFactory(owner=owner, team=team, window_end=T0 + timedelta(hours=5))
    standing_forecast(question, member)
    report = sweep(T0)
    assert len(report.webhook_deliveries) == 1
    removed_from(team, member)
    with at(T0):
        assert services.webhook_deliver(delivery_id=report.webhook_deliveries[0]) is False
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.last_error) == ("failed", services.NOT_VISIBLE_ERROR)
    assert delivery.next_attempt_at is None and delivery.lease_until is None
    assert Endpoint.received == []
    assert services.webhook_deliveries_due(now=T0 + timedelta(days=1)) == []


# --- the admin inbox -------------------------------------------------------------------------


def test_admin_lists_only_my_notifications_with_the_unread_count_and_marks_read(client, owner, forecaster):
    mine = factories.NotificationFactory(user=owner, message="Mine, unread")
    factories.NotificationFactory(user=owner, message="Mine, read", read_at=T0)
    factories.NotificationFactory(user=forecaster, message="Not mine")
    client.force_login(owner)
    page = client.get("/admin/forecasts/notification/")
    assert page.status_code == 200
    assert b"Your notifications: 1 unread" in page.content
    assert b"Mine, unread" in page.content and b"Not mine" not in page.content
    response = client.post(
        "/admin/forecasts/notification/", {"action": "mark_read", "_selected_action": [mine.pk]}, follow=True
    )
    assert response.status_code == 200
    mine.refresh_from_db()
    assert mine.read_at is not None
    assert b"Your notifications: 0 unread" in response.content
