"""Question groups: binary questions bound into one `when` ladder or one `which` set (DESIGN section 13)."""

from django.conf import settings
from django.db import models
from django.db.models import Case, Exists, OuterRef, Q, Value, When
from django.utils import timezone

from forecasts.models.accounts import Team
from forecasts.models.questions import Question, QuestionStatus, Source

MIN_MEMBERS = 2
MAX_MEMBERS = 50


class QuestionGroupQuerySet(models.QuerySet):
    def statuses_sync(self) -> int:
        """Store each group's status as its members now give it, in one UPDATE: draft, resolved or
        annulled when every member is; open while any member is open; resolved once every member
        is final; else awaiting resolution. Every change of a member's status calls it."""
        members = Question.objects.filter(group_id=OuterRef("pk"))

        def every_member(*statuses):
            return ~Exists(members.exclude(status__in=statuses))

        status = Case(
            When(every_member(QuestionStatus.DRAFT), then=Value(QuestionStatus.DRAFT)),
            When(every_member(QuestionStatus.RESOLVED), then=Value(QuestionStatus.RESOLVED)),
            When(every_member(QuestionStatus.ANNULLED), then=Value(QuestionStatus.ANNULLED)),
            When(Exists(members.filter(status=QuestionStatus.OPEN)), then=Value(QuestionStatus.OPEN)),
            When(every_member(QuestionStatus.RESOLVED, QuestionStatus.ANNULLED), then=Value(QuestionStatus.RESOLVED)),
            default=Value(QuestionStatus.AWAITING_RESOLUTION),
        )
        return self.exclude(status=status).update(status=status, updated_at=timezone.now())


class QuestionGroup(models.Model):
    """One uncertain thing asked as several yes/no questions: when it happens, or which option wins.

    The members are ordinary questions (`Question.group`), at `Question.group_position` 0..M-1.
    `status` follows the members' (draft, open, awaiting resolution, resolved, annulled) and is
    what visibility reads, as for a question: a draft group is its owner's alone.
    """

    class Kind(models.TextChoices):
        WHEN = "when", "When (nested windows)"
        WHICH = "which", "Which one (exclusive options)"

    Status = QuestionStatus

    kind = models.CharField(max_length=8, choices=Kind.choices)
    title = models.CharField(max_length=300)
    external_key = models.CharField(
        max_length=100, blank=True, help_text="Stable key of an imported group (seeds, imports)."
    )
    details = models.TextField(blank=True)
    resolution_criteria = models.TextField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_groups")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.PROTECT, related_name="question_groups")
    status = models.CharField(max_length=24, choices=QuestionStatus.choices, default=QuestionStatus.OPEN)

    source = models.ForeignKey(Source, null=True, blank=True, on_delete=models.PROTECT, related_name="question_groups")
    source_quote = models.TextField(blank=True)
    source_statement_date = models.DateField(null=True, blank=True)
    source_url = models.URLField(blank=True, max_length=500)

    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = QuestionGroupQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_key"], condition=~Q(external_key=""), name="question_group_external_key_unique"
            ),
            models.CheckConstraint(condition=Q(kind__in=["when", "which"]), name="question_group_kind_known"),
            models.CheckConstraint(condition=Q(status__in=QuestionStatus.values), name="question_group_status_known"),
        ]

    def __str__(self):
        return self.title
