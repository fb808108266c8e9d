"""The digest email: one message listing a user's pending notifications, with one-click links."""

from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from forecasts.models import DigestDelivery, Notification, Profile, Question
from forecasts.access import user_can_resolve_question
from forecasts.services.action_links import ACTIONS, action_link_url
from forecasts.services.notifications import format_moment, question_admin_url

RESOLVER_KINDS = (Notification.Kind.READY_TO_RESOLVE, Notification.Kind.REMINDER, Notification.Kind.ESCALATION)


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
                "actions": actions,
            }
        )
    return items


def digest_email_build(*, delivery: DigestDelivery, notifications: list[Notification], now: datetime) -> EmailMultiAlternatives:
    """The digest for one delivery, ready to send."""
    user = delivery.user
    items = digest_items(user=user, notifications=notifications)
    to_resolve = sum(1 for item in items if item["actions"])
    subject = f"Forewarn: {len(items)} notification{'s' if len(items) != 1 else ''}"
    if to_resolve:
        subject += f", {to_resolve} question{'s' if to_resolve != 1 else ''} to resolve"
    calendar_token = Profile.objects.filter(user=user).values_list("calendar_token", flat=True).first()
    context = {
        "user": user,
        "items": items,
        "has_actions": bool(to_resolve),
        "site_url": settings.SITE_URL,
        "notifications_url": f"{settings.SITE_URL}/admin/forecasts/notification/",
        "calendar_url": settings.SITE_URL + reverse("calendar-feed", args=[calendar_token]) if calendar_token else "",
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
