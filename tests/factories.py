"""One factory per model; tests build rows through these, never by hand."""

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from forecasts import models, services


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct-horse-battery")


class ForecasterFactory(UserFactory):
    """A user of the admin workbench, in the Forecasters group."""

    is_staff = True

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name="Forecasters"))


class EditorFactory(UserFactory):
    """A moderator: may resolve and edit any question."""

    is_staff = True

    @factory.post_generation
    def groups(self, create, extracted, **kwargs):
        if create:
            self.groups.add(Group.objects.get(name="Editors"))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.TeamMembership

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory)


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Source

    name = factory.Sequence(lambda n: f"Source {n}")
    url = "https://example.org/source"


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag-{n}")


class QuestionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Question

    title = factory.Sequence(lambda n: f"Will event {n} happen?")
    resolution_criteria = "YES if credible reporting confirms the event inside the window."
    kind = models.Question.Kind.ESCALATION
    owner = factory.SubFactory(UserFactory)
    window_end = factory.LazyFunction(lambda: timezone.now() + timedelta(days=30))
    resolve_by = factory.LazyAttribute(lambda question: question.window_end + timedelta(days=3))
    status = models.Question.Status.OPEN
    opened_at = factory.LazyFunction(timezone.now)


class ForecastFactory(factory.django.DjangoModelFactory):
    """A raw forecast row (bypasses forecast_submit: use the service to test its rules)."""

    class Meta:
        model = models.Forecast

    question = factory.SubFactory(QuestionFactory)
    forecaster = factory.SubFactory(UserFactory)
    recorded_by = factory.LazyAttribute(lambda forecast: forecast.forecaster)
    made_at = factory.LazyFunction(timezone.now)
    recorded_at = factory.LazyAttribute(lambda forecast: forecast.made_at)
    probability = 0.6


class ResolutionEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.ResolutionEvent

    question = factory.SubFactory(QuestionFactory)
    action = models.ResolutionEvent.Action.RESOLVE
    outcome = models.Question.Outcome.YES
    previous_status = models.Question.Status.AWAITING_RESOLUTION
    actor = factory.SubFactory(UserFactory)


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Notification

    user = factory.SubFactory(UserFactory)
    question = factory.SubFactory(QuestionFactory)
    kind = models.Notification.Kind.READY_TO_RESOLVE
    dedupe_key = factory.Sequence(lambda n: f"test:{n}")
    message = "A window has closed."


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Profile
        django_get_or_create = ("user",)

    user = factory.SubFactory(UserFactory)


class SuperuserFactory(UserFactory):
    """A superuser: a moderator by account, in no group."""

    is_staff = True
    is_superuser = True


class ScoreFactory(factory.django.DjangoModelFactory):
    """A stored score with the question's fields copied, as question_scores_recompute writes it."""

    class Meta:
        model = models.Score

    question = factory.SubFactory(QuestionFactory)
    forecaster = factory.SubFactory(UserFactory)
    forecast = factory.SubFactory(
        ForecastFactory, question=factory.SelfAttribute("..question"), forecaster=factory.SelfAttribute("..forecaster")
    )
    probability = 0.6
    outcome = 1
    brier = 0.16
    log_loss = 0.51
    time_averaged_brier = 0.16
    forecast_count = 1
    scored_until = factory.LazyAttribute(lambda score: score.question.window_end)
    question_kind = factory.LazyAttribute(lambda score: score.question.kind)
    team = factory.LazyAttribute(lambda score: score.question.team)
    resolved_at = factory.LazyFunction(timezone.now)
    window_end = factory.LazyAttribute(lambda score: score.question.window_end)
    made_at = factory.LazyAttribute(lambda score: score.forecast.made_at)


class StandingForecastFactory(ForecastFactory):
    """A user's forecast as forecast_submit leaves it: the Forecast and its standing LatestForecast."""

    class Meta:
        skip_postgeneration_save = True

    @factory.post_generation
    def standing(self, create, extracted, **kwargs):
        if not create:
            return
        services.question_crowd_refresh(question=self.question, forecast=self)


class WebhookDeliveryFactory(factory.django.DjangoModelFactory):
    """A pending webhook delivery of a notification, due now."""

    class Meta:
        model = models.WebhookDelivery

    notification = factory.SubFactory(NotificationFactory)
    url = "http://127.0.0.1:9/hook"
    next_attempt_at = factory.LazyFunction(timezone.now)


def users_in_every_role(prefix: str) -> dict:
    """One account per role the visibility rules tell apart; the caller puts them in teams."""
    return {
        "no_group": UserFactory(username=f"{prefix}no-group"),
        "outsider": ForecasterFactory(username=f"{prefix}outsider"),
        "member_a": ForecasterFactory(username=f"{prefix}member-a"),
        "member_b": ForecasterFactory(username=f"{prefix}member-b"),
        "removed": ForecasterFactory(username=f"{prefix}removed"),
        "owner": ForecasterFactory(username=f"{prefix}owner"),
        "editor": EditorFactory(username=f"{prefix}editor"),
        "superuser": SuperuserFactory(username=f"{prefix}superuser"),
    }


def source_statement(question, source, recorder, made_at, probability, **fields):
    """A source's public statement on a question, recorded by `recorder` and dated `made_at`."""
    return ForecastFactory(
        question=question,
        forecaster=None,
        source=source,
        recorded_by=recorder,
        made_at=made_at,
        recorded_at=made_at,
        probability=probability,
        quote="Officials said so.",
        url="https://example.org/statement",
        **fields,
    )


class QuestionGroupFactory(factory.django.DjangoModelFactory):
    """A raw group row (bypasses group_create: add members with QuestionFactory(group=..., group_position=...))."""

    class Meta:
        model = models.QuestionGroup

    kind = models.QuestionGroup.Kind.WHEN
    title = factory.Sequence(lambda n: f"When will event {n} happen?")
    resolution_criteria = "YES for each member once credible reporting confirms the event by its end."
    owner = factory.SubFactory(UserFactory)
