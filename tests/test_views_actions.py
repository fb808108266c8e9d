"""One-click links and the calendar feed ask forecasts/access.py: a question the user can no longer
see behaves exactly as one that does not exist."""

from datetime import timedelta

import pytest
from django.utils import timezone

from forecasts.models import Profile, Question, TeamMembership
from forecasts.services.action_links import action_link_url
from tests import factories

pytestmark = pytest.mark.django_db


def link_path(user, question_id: int, action: str = "no") -> str:
    return (
        "/"
        + action_link_url(user_id=user.pk, question_id=question_id, action=action).split("://", 1)[1].split("/", 1)[1]
    )


def awaiting_team_question(owner, team):
    window_end = timezone.now() - timedelta(days=1)
    return factories.QuestionFactory(
        owner=owner, team=team, status=Question.Status.AWAITING_RESOLUTION, window_end=window_end, closed_at=window_end
    )


def test_a_link_to_a_question_its_user_can_no_longer_see_is_a_link_to_a_missing_one(client, owner):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    question = awaiting_team_question(owner, team)
    link = link_path(owner, question.pk)
    assert client.get(link).status_code == 200
    TeamMembership.objects.filter(team=team, user=owner).delete()
    missing = link_path(owner, question.pk + 1000)

    for method in ("get", "post"):
        hidden_page, missing_page = getattr(client, method)(link), getattr(client, method)(missing)
        assert hidden_page.status_code == missing_page.status_code == 403
        assert hidden_page.content == missing_page.content
        assert question.title.encode() not in hidden_page.content
    question.refresh_from_db()
    assert question.status == Question.Status.AWAITING_RESOLUTION


def test_the_calendar_leaves_out_what_its_user_can_no_longer_see(client, owner):
    team = factories.TeamFactory()
    factories.TeamMembershipFactory(team=team, user=owner)
    question = awaiting_team_question(owner, team)
    feed = f"/calendar/{Profile.objects.for_user(owner).calendar_token}.ics"
    assert f"window-end-{question.pk}@forewarn".encode() in client.get(feed).content
    TeamMembership.objects.filter(team=team, user=owner).delete()
    assert b"VEVENT" not in client.get(feed).content
