"""The wording of every notice and email Forewarn sends: what people read, apart from how it is sent.

A notification's text is written once, when the notice is created (`reminders.py` decides who is
told and when); a webhook carries that text and a link; the digest email lists a user's pending
notices with one-click links to resolve. Delivering them is `deliveries.py`'s business.
"""

from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from forecasts.access import user_can_resolve_question
from forecasts.models import DigestDelivery, Forecast, Notification, Question, ResolutionEvent, Score
from forecasts.services.action_links import ACTIONS, action_link_url

RESOLVER_KINDS = (Notification.Kind.READY_TO_RESOLVE, Notification.Kind.REMINDER, Notification.Kind.ESCALATION)
# Notices asking a forecaster to look at their forecast again: they carry an "update" link.
NUDGE_KINDS = (Notification.Kind.CLOSING_SOON, Notification.Kind.STALE_FORECAST, Notification.Kind.CROWD_MOVED)


def question_admin_url(question_id: int) -> str:
    """The question's page in the admin, as an absolute link for emails and webhooks."""
    return f"{settings.SITE_URL}/admin/forecasts/question/{question_id}/change/"


def question_forecast_url(question_id: int) -> str:
    """The question's forecast box in the admin (its "Add forecast" form), as an absolute link."""
    return f"{settings.SITE_URL}{reverse('admin:forecasts_question_forecast', args=[question_id])}"


def notification_update_url(notification: Notification) -> str:
    """The one-click "update your forecast" link of a nudge; "" for every other notice."""
    if notification.kind in NUDGE_KINDS and notification.question_id is not None:
        return question_forecast_url(notification.question_id)
    return ""


def settings_page_url() -> str:
    """The user's settings page, as an absolute link for the "change this in your settings" lines."""
    return f"{settings.SITE_URL}/admin/settings/"


def format_moment(moment: datetime) -> str:
    """A datetime as people read it in a message: minutes, in UTC."""
    utc = moment.astimezone(UTC)  # fields, not strftime: twice as fast, and a close formats thousands
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d} {utc.hour:02d}:{utc.minute:02d} UTC"


# Notices ------------------------------------------------------------------------------------------


def ready_to_resolve_message(question: Question) -> str:
    """The owner's first notice once the window has closed."""
    return (
        f"The window of “{question.title}” closed on {format_moment(question.window_end)}. "
        f"Score the outcome (yes, no or annulled) by {format_moment(question.resolve_by)}."
    )


def reminder_message(question: Question, *, closed_at: datetime, now: datetime) -> str:
    """A later reminder to the owner of a question still awaiting its outcome."""
    days = (now - closed_at).days
    waited = "today" if days == 0 else f"{days} day{'s' if days != 1 else ''} ago"
    return (
        f"Reminder: “{question.title}” closed {waited} and still awaits its outcome. "
        f"Resolve by {format_moment(question.resolve_by)}."
    )


def escalation_message(question: Question) -> str:
    """What the moderators are told about a question past its resolve-by date."""
    return (
        f"“{question.title}” (owner {question.owner}) passed its resolve-by date "
        f"{format_moment(question.resolve_by)} without an outcome. Please resolve it or chase the owner."
    )


def closing_soon_message(question: Question) -> str:
    """The nudge to a forecaster of a question whose window closes soon."""
    return (
        f"“{question.title}” closes on {format_moment(question.window_end)}. "
        "Update your forecast if your view has changed."
    )


def stale_forecast_message(question: Question, *, forecast: Forecast, now: datetime) -> str:
    """The nudge to a forecaster whose standing forecast on an open question has grown old."""
    days = (now - forecast.made_at).days
    return (
        f"Your forecast of {forecast.probability:.0%} on “{question.title}” is {days} day{'s' if days != 1 else ''} "
        f"old. Is it still your view? The window closes on {format_moment(question.window_end)}."
    )


def crowd_moved_message(question: Question, *, forecast: Forecast, crowd_before: float) -> str:
    """The nudge to a forecaster when the crowd has moved since their last forecast (never sent blind)."""
    return (
        f"The crowd median on “{question.title}” moved from {crowd_before:.0%} to {question.crowd_median:.0%} "
        f"since your forecast of {forecast.probability:.0%}. Update yours if your view has changed."
    )


def score_summary_text(score: Score) -> str:
    """One sentence with a forecaster's score, for the resolution notice."""
    text = (
        f"Your forecast of {score.probability:.0%} scored Brier {score.brier:.3f} on the 0-1 scale"
        f" ({2 * score.brier:.3f} on the 0-2 scale; log loss {score.log_loss:.3f};"
        f" time-averaged Brier {score.time_averaged_brier:.3f}"
    )
    if score.relative_brier is not None:
        text += f"; {score.relative_brier:+.3f} against the crowd"
    return text + ")."


def resolution_message(*, question: Question, event: ResolutionEvent, score_summary: str | None = None) -> str:
    """What a forecaster is told when a question they forecast on is resolved or annulled, with their score."""
    if event.action == ResolutionEvent.Action.ANNUL:
        text = f"“{question.title}” was annulled: it will not be scored."
    else:
        text = f"“{question.title}” resolved {event.outcome.upper()}."
    if score_summary:
        text += f" {score_summary}"
    if event.note:
        text += f" Note: {event.note}"
    if event.evidence_url:
        text += f" Evidence: {event.evidence_url}"
    return text


def webhook_text(notification: Notification) -> str:
    """A notification as a webhook carries it: its text and a link to its question."""
    text = notification.message
    if notification.question_id:
        text += f" {notification_update_url(notification) or question_admin_url(notification.question_id)}"
    return text


# The digest email ----------------------------------------------------------------------------------


def digest_message_id(delivery: DigestDelivery) -> str:
    """The same for every attempt at one digest, so a resend after a crash is recognisably the same email."""
    domain = urlsplit(settings.SITE_URL).hostname or "forewarn.localhost"
    return f"<forewarn.digest.{delivery.pk}.{delivery.created_at:%Y%m%d%H%M%S}@{domain}>"


def digest_items(*, user, notifications: list[Notification]) -> list[dict]:
    """Each notification with its question link and, the first time a question the user may
    resolve appears, its one-click Yes / No / Annul links."""
    items = []
    offered: set[int] = set()
    for notification in notifications:
        question = notification.question
        actions = []
        if (
            question is not None
            and notification.kind in RESOLVER_KINDS
            and question.status == Question.Status.AWAITING_RESOLUTION
            and question.pk not in offered
            and user_can_resolve_question(user, question)
        ):
            offered.add(question.pk)
            actions = [
                {"label": label, "url": action_link_url(user_id=user.pk, question_id=question.pk, action=action)}
                for action, label in ACTIONS.items()
            ]
        items.append(
            {
                "kind": notification.get_kind_display(),
                "message": notification.message,
                "created_at": format_moment(notification.created_at),
                "question_url": question_admin_url(question.pk) if question is not None else "",
                "update_url": notification_update_url(notification),
                "actions": actions,
            }
        )
    return items


def digest_email_build(
    *, delivery: DigestDelivery, notifications: list[Notification], now: datetime
) -> EmailMultiAlternatives:
    """The digest for one delivery, ready to send."""
    user = delivery.user
    items = digest_items(user=user, notifications=notifications)
    to_resolve = sum(1 for item in items if item["actions"])
    subject = f"Forewarn: {len(items)} notification{'s' if len(items) != 1 else ''}"
    if to_resolve:
        subject += f", {to_resolve} question{'s' if to_resolve != 1 else ''} to resolve"
    context = {
        "user": user,
        "items": items,
        "has_actions": bool(to_resolve),
        "site_url": settings.SITE_URL,
        "notifications_url": f"{settings.SITE_URL}/admin/forecasts/notification/",
        "settings_url": settings_page_url(),
        "link_days": settings.FOREWARN["ACTION_LINK_MAX_AGE_DAYS"],
        "sent_at": format_moment(now),
    }
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("forecasts/email/digest.txt", context),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[user.email],
        headers={"Message-ID": digest_message_id(delivery)},
    )
    message.attach_alternative(render_to_string("forecasts/email/digest.html", context), "text/html")
    return message
