"""One-click Yes / No / Annul links in digest emails: signed, expiring and single-use.

The link carries a TimestampSigner token naming the user, the question, the action and the
question's resolution state when it was issued (its latest resolve, annul or undo event): any
change of that state afterwards retires the link. The server keeps nothing until it is used, when the token's hash goes into ActionTokenUse (unique),
in the same transaction as the resolution. The user is re-checked at that moment: a link is
no stronger than the user who received it.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from forecasts.access import questions_visible_to, user_can_resolve_question
from forecasts.models import ActionTokenUse, Question, ResolutionEvent
from forecasts.services.resolutions import question_resolve

SALT = "forewarn.question-action"
ACTIONS = {"yes": "Resolve YES", "no": "Resolve NO", "annul": "Annul"}
OUTCOME_OF_ACTION = {"yes": Question.Outcome.YES, "no": Question.Outcome.NO, "annul": Question.Outcome.ANNULLED}


class ActionLinkError(Exception):
    """A link that cannot be used, with the page to show: status, title, explanation."""

    status = 400
    title = "This link is not valid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ActionLinkInvalid(ActionLinkError):
    """Tampered, malformed or unknown: the base class's 400 page."""


class ActionLinkExpired(ActionLinkError):
    status = 410
    title = "This link has expired"


class ActionLinkUsed(ActionLinkError):
    status = 410
    title = "This link has already been used"


class ActionLinkForbidden(ActionLinkError):
    status = 403
    title = "You can no longer do this"


class ActionLinkConflict(ActionLinkError):
    status = 409
    title = "The question has moved on"


@dataclass
class ActionLink:
    user: object
    question: Question
    action: str
    token_hash: str
    resolution_state: int

    @property
    def label(self) -> str:
        return ACTIONS[self.action]


def max_age() -> timedelta:
    return timedelta(days=settings.FOREWARN["ACTION_LINK_MAX_AGE_DAYS"])


def resolution_state(question_id: int) -> int:
    """The id of the question's latest resolve, annul or undo event (0 if none): it changes with every one."""
    latest = ResolutionEvent.objects.filter(question_id=question_id).order_by("-pk").values_list("pk", flat=True)
    return latest.first() or 0


def action_token_make(*, user_id: int, question_id: int, action: str) -> str:
    """A fresh signed token for one action; the nonce makes every email's links distinct."""
    if action not in ACTIONS:
        raise ValueError(f"Unknown action {action!r}")
    payload = {
        "u": user_id,
        "q": question_id,
        "a": action,
        "r": resolution_state(question_id),
        "n": secrets.token_urlsafe(6),
    }
    return signing.TimestampSigner(salt=SALT).sign_object(payload)


def action_link_url(*, user_id: int, question_id: int, action: str) -> str:
    token = action_token_make(user_id=user_id, question_id=question_id, action=action)
    return settings.SITE_URL + reverse("question-action", args=[token])


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def state_changed_error(question: Question) -> ActionLinkExpired:
    return ActionLinkExpired(
        f"“{question.title}” has been resolved, annulled or reopened since this link was sent. "
        "Use the links in a newer email, or resolve the question from its page in the admin."
    )


def action_link_read(*, token: str) -> ActionLink:
    """Check a link's signature, age, first use and the user's right to act; raise ActionLinkError if any fails."""
    try:
        payload = signing.TimestampSigner(salt=SALT).unsign_object(token, max_age=max_age())
    except signing.SignatureExpired as error:
        raise ActionLinkExpired(
            f"One-click links work for {settings.FOREWARN['ACTION_LINK_MAX_AGE_DAYS']} days. "
            "Resolve the question from its page in the admin instead."
        ) from error
    except (signing.BadSignature, ValueError, TypeError) as error:
        raise ActionLinkInvalid(
            "The link is damaged or was not issued by Forewarn. Copy the whole link from the email."
        ) from error
    if not isinstance(payload, dict) or payload.get("a") not in ACTIONS:
        raise ActionLinkInvalid("The link does not name an action Forewarn knows.")
    hashed = token_hash(token)
    if ActionTokenUse.objects.filter(token_hash=hashed).exists():
        raise ActionLinkUsed("Each one-click link works once, and this one has been used. Nothing was changed now.")
    user = get_user_model().objects.filter(pk=payload.get("u"), is_active=True).first()
    # A question the user may no longer see is, for the link, one that no longer exists.
    question = questions_visible_to(user, Question.objects.filter(pk=payload.get("q")).select_related("owner")).first()
    if user is None or question is None:
        raise ActionLinkForbidden("The question or the account this link was made for no longer exists.")
    if not user_can_resolve_question(user, question):
        raise ActionLinkForbidden("Only the question's owner or a moderator can resolve it.")
    if question.is_final:
        raise ActionLinkConflict(
            f"“{question.title}” is already {question.get_status_display().lower()}"
            f"{'' if question.status == Question.Status.ANNULLED else ' ' + question.get_outcome_display().upper()}. "
            "To change that, undo the resolution from the question's page in the admin."
        )
    if payload.get("r") != resolution_state(question.pk):
        raise state_changed_error(question)
    return ActionLink(
        user=user, question=question, action=payload["a"], token_hash=hashed, resolution_state=payload["r"]
    )


@transaction.atomic
def action_link_use(*, token: str) -> Question:
    """Resolve or annul the link's question as the link's user, once; a refused action leaves the link unused."""
    link = action_link_read(token=token)
    # Checked again under the question's lock: an undo committed since the read retires the link too.
    Question.objects.select_for_update().filter(pk=link.question.pk).first()
    if resolution_state(link.question.pk) != link.resolution_state:
        raise state_changed_error(link.question)
    try:
        with transaction.atomic():
            ActionTokenUse.objects.create(
                token_hash=link.token_hash, user=link.user, question=link.question, action=link.action
            )
    except IntegrityError as error:
        raise ActionLinkUsed(
            "Each one-click link works once, and this one has been used. Nothing was changed now."
        ) from error
    note = "Resolved with a one-click link from a Forewarn email."
    try:
        return question_resolve(
            question=link.question, actor=link.user, outcome=OUTCOME_OF_ACTION[link.action], note=note
        )
    except PermissionDenied as error:
        raise ActionLinkForbidden(str(error)) from error
    except ValidationError as error:
        raise ActionLinkConflict(" ".join(error.messages)) from error
