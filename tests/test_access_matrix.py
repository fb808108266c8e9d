"""The visibility matrix: every endpoint, admin page, feed, link and delivery, against every role
and every kind of row.

The expected answers come from `VISIBILITY_TABLE` below, written from the rule in the docstring of
forecasts/access.py and never computed by access.py, so that a wrong implementation fails here:

- a question is visible to a signed-in user when it has no team or the user belongs to its team;
- a draft only to its owner;
- moderators (Editors and superusers) see every question;
- a forecast, score, notification or tag is visible when its question is, and a statistic names
  only the authors whose forecasts the caller can already see;
- blind forecasting (the last section, `BLIND_TABLE`) hides a question's crowd and other people's
  forecasts, never sources' statements, from whoever has not forecast (`until_forecast`) or until
  the window closes (`until_close`); moderators always see it.

A hidden row answers exactly like a missing one (same status, same body), a write to it changes
nothing, lists neither show nor count it, and its title, tag and author names appear in no page,
feed, chart, email or webhook.

Each test is one endpoint (or list, or statistic) and one role, and tries every row kind in its
own savepoint; a failure lists each failing row kind with what the endpoint answered. One world
is built per module, inside a transaction rolled back at its end, and each test runs in a
savepoint inside it.
"""

import csv
import io
import json
import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.core.cache import cache
from django.db import transaction
from django.test import Client, override_settings
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from forecasts import services, tasks
from forecasts.access import crowd_visible_to, questions_with_crowd_visibility
from forecasts.models import (
    ActionTokenUse,
    Forecast,
    Notification,
    Question,
    ResolutionEvent,
    Score,
    TeamMembership,
)
from tests import factories
from tests.support.roles import roles_restore

ROLES = ("anonymous", "no_group", "outsider", "member_a", "member_b", "removed", "owner", "editor", "superuser")
KINDS = (
    "public",
    "team_a",
    "public_draft",
    "team_a_draft",
    "resolved_public",
    "resolved_team_a",
    "annulled_public",
    "annulled_team_a",
)

# Who may see which row: the rule of forecasts/access.py, written out by hand. "removed" was a
# member of team A (and forecast there) until the world was built; "owner" is a member of team A
# who owns every row.
VISIBILITY_TABLE = """
          public  team_a  public_draft  team_a_draft  resolved_public  resolved_team_a  annulled_public  annulled_team_a
anonymous -       -       -             -             -                -                -                -
no_group  y       -       -             -             y                -                y                -
outsider  y       -       -             -             y                -                y                -
member_a  y       y       -             -             y                y                y                y
member_b  y       -       -             -             y                -                y                -
removed   y       -       -             -             y                -                y                -
owner     y       y       y             y             y                y                y                y
editor    y       y       y             y             y                y                y                y
superuser y       y       y             y             y                y                y                y
"""


def table_parse(text: str, kinds=KINDS, roles=ROLES) -> dict[str, dict[str, bool]]:
    header, *rows = (line.split() for line in text.strip().splitlines())
    assert tuple(header) == kinds
    table = {role: dict(zip(header, (mark == "y" for mark in marks), strict=True)) for role, *marks in rows}
    assert tuple(table) == roles
    return table


VISIBLE = table_parse(VISIBILITY_TABLE)
SIGNED_IN = ROLES[1:]
STAFF = tuple(role for role in ROLES if role not in ("anonymous", "no_group"))  # the admin's users
MODERATORS = ("editor", "superuser")
TEAM_A_KINDS = tuple(kind for kind in KINDS if "team_a" in kind)
DRAFTS = ("public_draft", "team_a_draft")
WITH_FORECASTS = tuple(kind for kind in KINDS if kind not in DRAFTS)  # a draft takes no forecasts
RESOLVED = ("resolved_public", "resolved_team_a")
FINAL = (*RESOLVED, "annulled_public", "annulled_team_a")
STATUS = {
    "public": "open",
    "team_a": "open",
    "public_draft": "draft",
    "team_a_draft": "draft",
    "resolved_public": "resolved",
    "resolved_team_a": "resolved",
    "annulled_public": "annulled",
    "annulled_team_a": "annulled",
}
# One author per kind of row with forecasts, who forecast on that row alone, and one who never
# forecast: a statistic may name the first to whoever sees their row, the second to moderators only.
AUTHORS = (*WITH_FORECASTS, "silent")
# Markers never contained in one another ("zz" on both sides), so finding one in a body finds
# its row: the title, the tag and the author's username all carry it.
MARKER = {subject: f"zz{subject.replace('_', '')}zz" for subject in (*KINDS, "silent")}
TEAM_MARKER = {"team_a": "zzdeskazz", "team_b": "zzdeskbzz"}
MISSING_ID = 7_399_999  # like the authors' ids below, so a page naming either is the same length
AUTHOR_ID_BASE = 7_300_000


def visible(role: str, kind: str) -> bool:
    return VISIBLE[role][kind]


def visible_in_admin(role: str, kind: str) -> bool:
    """The admin is for staff: to anyone else every row there is as hidden as a missing one."""
    return role in STAFF and visible(role, kind)


def author_visible(role: str, author: str) -> bool:
    """Each author forecast on one row only: named to whoever sees that row; one who never
    forecast is named to moderators alone."""
    if author == "silent":
        return role in MODERATORS
    return visible(role, author)


# The world ----------------------------------------------------------------------------------


@dataclass
class World:
    """Everyone and everything the matrix asks about, by role, row kind or author."""

    now: datetime
    users: dict = field(default_factory=dict)  # role -> user (no "anonymous")
    tokens: dict = field(default_factory=dict)  # role -> API token key
    sessions: dict = field(default_factory=dict)  # role -> admin session key
    teams: dict = field(default_factory=dict)  # "team_a", "team_b" -> Team
    questions: dict = field(default_factory=dict)  # kind -> Question
    groups: dict = field(default_factory=dict)  # kind -> the QuestionGroup its question is the member of
    tags: dict = field(default_factory=dict)  # kind -> Tag
    authors: dict = field(default_factory=dict)  # author -> user
    forecasts: dict = field(default_factory=dict)  # kind -> the author's Forecast
    events: dict = field(default_factory=dict)  # kind -> its ResolutionEvent
    scores: dict = field(default_factory=dict)  # kind -> the author's Score
    scored_pairs: dict = field(default_factory=dict)  # kind -> number of scores on the row
    notifications: dict = field(default_factory=dict)  # (role, kind) -> Notification
    calendar_tokens: dict = field(default_factory=dict)  # role -> token
    webhooks: object = None

    def kind_of_group(self, group_id) -> str | None:
        return next((kind for kind, group in self.groups.items() if group.pk == group_id), None)

    def kind_of_question(self, question_id) -> str | None:
        return next((kind for kind, question in self.questions.items() if question.pk == question_id), None)

    def author_of_name(self, name) -> str | None:
        return next((author for author, user in self.authors.items() if user.username == name), None)


def question_build(world: World, kind: str, owner) -> Question:
    marker = MARKER[kind]
    closed = kind in FINAL
    window_end = world.now - timedelta(days=5) if closed else world.now + timedelta(days=30)
    if kind in DRAFTS:
        status = Question.Status.DRAFT
    else:
        status = Question.Status.AWAITING_RESOLUTION if closed else Question.Status.OPEN  # final ones: resolved below
    question = factories.QuestionFactory(
        owner=owner,
        team=world.teams["team_a"] if kind in TEAM_A_KINDS else None,
        title=f"Will {marker} happen?",
        details=f"Details of {marker}.",
        status=status,
        opened_at=None if kind in DRAFTS else world.now - timedelta(days=20),
        window_end=window_end,
        resolve_by=world.now + timedelta(days=33),
        closed_at=window_end if closed else None,
    )
    world.tags[kind] = factories.TagFactory(name=marker)
    question.tags.add(world.tags[kind])
    # Every row is also the one member of a question group with the row's team, owner and status:
    # the group endpoints then answer for each kind of row, and the question endpoints for members.
    world.groups[kind] = factories.QuestionGroupFactory(
        owner=owner, team=question.team, status=STATUS[kind], title=f"When will {marker} happen"
    )
    question.group, question.group_position = world.groups[kind], 0
    question.save(update_fields=["group", "group_position"])
    return question


def forecast_standing(question: Question, user, *, rationale: str):
    made_at = min(question.window_end, timezone.now()) - timedelta(days=2)
    return factories.StandingForecastFactory(
        question=question,
        forecaster=user,
        made_at=made_at,
        probability=0.675,
        phrase="likely",  # so that the phrase statistics count it too
        yardstick="icd203",
        rationale=rationale,
    )


def world_build(webhook_url: str) -> World:
    if Group.objects.filter(name__in=["Forecasters", "Editors"]).count() != 2:
        roles_restore()  # a transactional test of another module flushed them
    world = World(now=timezone.now())
    world.teams = {
        "team_a": factories.TeamFactory(name=f"Desk {TEAM_MARKER['team_a']}"),
        "team_b": factories.TeamFactory(name=f"Desk {TEAM_MARKER['team_b']}"),
    }
    world.users = factories.users_in_every_role(prefix="matrix-")
    for role, team in (("member_a", "team_a"), ("member_b", "team_b"), ("removed", "team_a"), ("owner", "team_a")):
        factories.TeamMembershipFactory(team=world.teams[team], user=world.users[role])
    for offset, author in enumerate(AUTHORS):
        world.authors[author] = factories.UserFactory(id=AUTHOR_ID_BASE + offset, username=f"author-{MARKER[author]}")
        if author in TEAM_A_KINDS:
            factories.TeamMembershipFactory(team=world.teams["team_a"], user=world.authors[author])

    owner = world.users["owner"]
    for kind in KINDS:
        question = world.questions[kind] = question_build(world, kind, owner)
        if kind in WITH_FORECASTS:
            world.forecasts[kind] = forecast_standing(
                question, world.authors[kind], rationale=f"Why {world.authors[kind].username} thinks so."
            )
        if kind in WITH_FORECASTS and kind in TEAM_A_KINDS:
            forecast_standing(question, world.users["removed"], rationale="Forecast while still in team A.")
    for kind in FINAL:
        question = world.questions[kind]
        if kind in RESOLVED:
            services.question_resolve(question=question, actor=owner, outcome="yes", note=f"Resolved: {MARKER[kind]}.")
            services.question_scores_recompute(question_id=question.pk)
            world.scored_pairs[kind] = Score.objects.filter(question=question).count()
            world.scores[kind] = Score.objects.get(question=question, forecaster=world.authors[kind])
        else:
            services.question_annul(question=question, actor=owner, note=f"Annulled: {MARKER[kind]}.")
        world.questions[kind].refresh_from_db()
        world.events[kind] = ResolutionEvent.objects.get(question=question)
    # Everyone who forecast was told already: the tests below make their own resolutions.
    ResolutionEvent.objects.update(notified_at=world.now)

    for role, user in world.users.items():
        profile = factories.ProfileFactory(user=user)
        profile.webhook_url = f"{webhook_url}/hook/{role}"
        profile.save(update_fields=["webhook_url"])
        world.calendar_tokens[role] = profile.calendar_token
        world.tokens[role] = Token.objects.create(user=user).key
        client = Client()
        client.force_login(user)
        world.sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
        for kind in KINDS:
            notification = world.notifications[(role, kind)] = factories.NotificationFactory(
                user=user,
                question=world.questions[kind],
                kind=Notification.Kind.RESOLVED if kind in FINAL else Notification.Kind.CLOSING_SOON,
                dedupe_key=f"matrix:{role}:{kind}",
                message=f"About “{world.questions[kind].title}”.",
                created_at=world.now - timedelta(hours=1),
            )
            factories.WebhookDeliveryFactory(
                notification=notification, url=profile.webhook_url, next_attempt_at=world.now - timedelta(minutes=1)
            )

    # The removal: everything above was made while "removed" was still in team A.
    TeamMembership.objects.filter(user=world.users["removed"], team=world.teams["team_a"]).delete()
    return world


@pytest.fixture(scope="module")
def webhook_receiver():
    """A local HTTP endpoint that records every webhook POST as (path, JSON body)."""
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append((self.path, json.loads(self.rfile.read(int(self.headers["Content-Length"])))))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # The receiver is on this machine: allowed the way an operator allows an internal chat server.
    with override_settings(FOREWARN={**settings.FOREWARN, "WEBHOOK_ALLOWED_HOSTS": ["127.0.0.1"]}):
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", received=received)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, webhook_receiver):
    """The rows and the people, built once for the module; each test's savepoint keeps it intact."""
    with django_db_blocker.unblock(), transaction.atomic():
        built = world_build(webhook_receiver.url)
        built.webhooks = webhook_receiver
        yield built
        transaction.set_rollback(True)


# Callers and answers -----------------------------------------------------------------------


def api_as(world: World, role: str) -> APIClient:
    cache.clear()  # the request throttles count in the cache
    client = APIClient()
    if role != "anonymous":
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    return client


def browser_as(world: World, role: str) -> Client:
    """A fresh session client: no messages or cookies carried over from another request."""
    client = Client()
    if role != "anonymous":
        client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return client


def client_as(world: World, role: str, *, admin: bool):
    return browser_as(world, role) if admin else api_as(world, role)


def request(client, method: str, path: str, data=None):
    if isinstance(client, APIClient) and method != "get":
        return getattr(client, method)(path, data, format="json")
    return getattr(client, method)(path, data) if data is not None else getattr(client, method)(path)


def body_of(response) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode(errors="replace")


CSRF_TOKEN = re.compile(r'(name="csrfmiddlewaretoken" value=")[^"]*')


@dataclass(frozen=True)
class Answer:
    """What a caller learns from a response; ids in it are masked so two ids can be compared."""

    status: int
    content_type: str
    location: str
    body: str

    @classmethod
    def of(cls, response, *ids) -> "Answer":
        body = CSRF_TOKEN.sub(r"\1<token>", body_of(response))  # masked afresh on every page
        answer = cls(
            response.status_code, response.get("Content-Type", "").split(";")[0], response.get("Location", ""), body
        )
        return answer.masked(*ids)

    def masked(self, *ids) -> "Answer":
        """The answer with each of `ids` written <id>: compare two answers masked with the same ids,
        so a number of the page that happens to equal one id is masked in both."""
        body, location = self.body, self.location
        for masked in ids:
            pattern = rf"(?<!\d){masked}(?!\d)"
            body, location = re.sub(pattern, "<id>", body), re.sub(pattern, "<id>", location)
        return Answer(self.status, self.content_type, location, body)

    def short(self) -> str:
        return f"{self.status} {self.content_type} {self.location} {self.body[:400]!r}"


def database_state():
    """What a write on a question or a notification changes: every save of a question (resolve,
    annul, undo, edit, publish, delete) shows in its row, a forecast adds a row, a read sets read_at."""
    return (
        list(Question.objects.order_by("pk").values_list("pk", "status", "outcome", "title", "details", "updated_at")),
        Forecast.objects.count(),
        Notification.objects.filter(read_at__isnull=False).count(),
    )


@contextmanager
def rolled_back():
    """A savepoint undone afterwards: each row is tried on the world as it was built."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


class Findings:
    """The failing cells of one test, gathered so that one run names every row kind that leaks."""

    def __init__(self, what: str):
        self.what, self.failures = what, []

    def expect(self, condition: bool, subject: str, message: str) -> None:
        if not condition:
            self.failures.append(f"{subject}: {message}")

    def report(self) -> None:
        # The sentences alone: a diff of two pages would bury which row leaked.
        if self.failures:
            pytest.fail(f"{self.what}\n  " + "\n  ".join(self.failures), pytrace=False)


# Endpoints on one question ----------------------------------------------------------------

# The owner sees every row: its answers show that each endpoint works on a row one may see (the
# lists below check every other role's visible rows). Every other row tried is a hidden one.
CONTROL_ROLE = "owner"


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str  # "{id}" stands for the question's id
    data: dict | None = None
    admin: bool = False
    kinds: tuple = KINDS  # rows on which the control role's answer differs from a missing one's
    writes: bool | None = None  # whether it may change the database (by default: not a GET)
    control: str = CONTROL_ROLE

    def __str__(self):
        return self.name

    @property
    def may_write(self) -> bool:
        return self.method != "get" if self.writes is None else self.writes


QUESTION_CALLS = (
    Call("api.detail", "get", "/api/questions/{id}/"),
    Call("api.forecasts", "get", "/api/questions/{id}/forecasts/"),
    Call("api.history", "get", "/api/questions/{id}/history/"),
    Call("api.forecast-submit", "post", "/api/questions/{id}/forecasts/", {"percent": 40}),
    Call("api.resolve", "post", "/api/questions/{id}/resolve/", {"outcome": "yes", "note": "Seen."}),
    Call("api.annul", "post", "/api/questions/{id}/resolve/", {"outcome": "annulled"}),
    Call("api.unresolve", "post", "/api/questions/{id}/unresolve/", {"note": "Undo."}),
    Call("api.patch", "patch", "/api/questions/{id}/", {"details": "Changed."}),
    Call("api.publish", "patch", "/api/questions/{id}/", {"draft": False}),
    Call("api.delete", "delete", "/api/questions/{id}/"),
    Call("api.forecast-stream-filter", "get", "/api/forecasts/?question={id}", kinds=WITH_FORECASTS),
    Call("api.export-filter", "get", "/api/forecasts/export.csv?question={id}", kinds=WITH_FORECASTS),
    Call("admin.change", "get", "/admin/forecasts/question/{id}/change/", admin=True),
    Call("admin.change-post", "post", "/admin/forecasts/question/{id}/change/", {"title": "Changed"}, admin=True),
    Call("admin.history", "get", "/admin/forecasts/question/{id}/history/", admin=True),
    # Only drafts can be deleted; deleting one with notices takes their delete permission too.
    Call("admin.delete", "get", "/admin/forecasts/question/{id}/delete/", admin=True, kinds=DRAFTS),
    Call(
        "admin.delete-post",
        "post",
        "/admin/forecasts/question/{id}/delete/",
        {"post": "yes"},
        admin=True,
        kinds=DRAFTS,
        control="superuser",
    ),
    Call("admin.forecast", "get", "/admin/forecasts/question/{id}/forecast/", admin=True),
    Call("admin.forecast-post", "post", "/admin/forecasts/question/{id}/forecast/", {"percent": "40"}, admin=True),
    Call("admin.resolve", "get", "/admin/forecasts/question/{id}/resolve/", admin=True),
    Call("admin.resolve-post", "post", "/admin/forecasts/question/{id}/resolve/", {"outcome": "yes"}, admin=True),
    Call("admin.unresolve", "get", "/admin/forecasts/question/{id}/unresolve/", admin=True),
    Call("admin.unresolve-post", "post", "/admin/forecasts/question/{id}/unresolve/", {"note": "Undo."}, admin=True),
)


GROUP_CALLS = (
    Call("api.group-detail", "get", "/api/groups/{id}/"),
    Call("api.group-scores", "get", "/api/groups/{id}/scores/"),
    Call("api.group-publish", "patch", "/api/groups/{id}/", {"draft": False}),
    Call("api.group-forecast", "post", "/api/groups/{id}/forecasts/", {"probabilities": [0.4]}),
    Call("api.group-resolve", "post", "/api/groups/{id}/resolve/", {"not_by": True, "note": "Seen."}),
    Call("api.group-annul", "post", "/api/groups/{id}/resolve/", {"annul": True}),
    Call("api.group-unresolve", "post", "/api/groups/{id}/unresolve/", {"note": "Undo."}),
    Call("api.group-leaderboard", "get", "/api/stats/leaderboard/?group={id}", kinds=RESOLVED),
    Call("admin.group-change", "get", "/admin/forecasts/questiongroup/{id}/change/", admin=True),
    Call("admin.group-chart", "get", "/admin/forecasts/questiongroup/{id}/chart.svg", admin=True),
    Call("admin.group-forecast", "get", "/admin/forecasts/questiongroup/{id}/forecast/", admin=True),
    Call(
        "admin.group-forecast-post",
        "post",
        "/admin/forecasts/questiongroup/{id}/forecast/",
        {"member_0": "40%"},
        admin=True,
    ),
    Call("admin.group-resolve", "get", "/admin/forecasts/questiongroup/{id}/resolve/", admin=True),
    Call(
        "admin.group-resolve-post",
        "post",
        "/admin/forecasts/questiongroup/{id}/resolve/",
        {"not_by": "on", "note": "Seen."},
        admin=True,
    ),
    Call("admin.group-unresolve", "get", "/admin/forecasts/questiongroup/{id}/unresolve/", admin=True),
)


def may_see(call, role: str, kind: str) -> bool:
    return visible_in_admin(role, kind) if call.admin else visible(role, kind)


def tried(call, role: str, kind: str) -> bool:
    return not may_see(call, role, kind) or (role == call.control and kind in call.kinds)


def cases(calls, roles, subjects, tried=lambda call, role, subject: True):
    """One test per endpoint and role that tries at least one subject (row kind or author)."""
    return [
        pytest.param(call, role, id=f"{call}-{role}")
        for call in calls
        for role in roles
        if any(tried(call, role, subject) for subject in subjects)
    ]


def rows_check(world, call, role, rows: dict[str, int], noun: str) -> None:
    """Each row the role may not see answers exactly like a missing id and is left as it was;
    the control role's rows answer otherwise."""

    def answer(row_id):
        client = client_as(world, role, admin=call.admin)  # fresh: no message carried over
        return Answer.of(request(client, call.method, call.path.format(id=row_id), call.data))

    with rolled_back():
        missing = answer(MISSING_ID)
    findings = Findings(f"{call} as {role}; for a missing id it answers {missing.masked(MISSING_ID).short()}")
    for kind, row_id in rows.items():
        if not tried(call, role, kind):
            continue
        expected = missing.masked(row_id, MISSING_ID)
        with rolled_back():
            if may_see(call, role, kind):
                found = answer(row_id).masked(row_id, MISSING_ID)
                findings.expect(found != expected, kind, f"{noun} is visible, yet answers as missing: {found.short()}")
                continue
            before = database_state() if call.may_write else None
            found = answer(row_id).masked(row_id, MISSING_ID)
            findings.expect(found == expected, kind, f"the hidden {noun} answers {found.short()}")
            if before is not None:
                findings.expect(database_state() == before, kind, f"the hidden {noun} was changed")
    findings.report()


@pytest.mark.django_db
@pytest.mark.parametrize("call, role", cases(QUESTION_CALLS, ROLES, KINDS, tried))
def test_question_endpoint_answers_a_hidden_question_like_a_missing_one(world, call, role):
    rows_check(world, call, role, {kind: question.pk for kind, question in world.questions.items()}, "question")


@pytest.mark.django_db
@pytest.mark.parametrize("call, role", cases(GROUP_CALLS, ROLES, KINDS, tried))
def test_group_endpoint_answers_a_hidden_group_like_a_missing_one(world, call, role):
    rows_check(world, call, role, {kind: group.pk for kind, group in world.groups.items()}, "group")


# Endpoints on rows that hang off a question -------------------------------------------------


@dataclass(frozen=True)
class ChildCall(Call):
    child: str = ""  # forecasts, events, scores, tags or notifications (the caller's own)

    @property
    def roles(self) -> tuple:
        return SIGNED_IN if self.child == "notifications" else ROLES  # anonymous callers have none


CHILD_CALLS = (
    ChildCall("api.notification-read", "post", "/api/notifications/{id}/read/", child="notifications"),
    # Opening a notification's page marks it read.
    ChildCall(
        "admin.notification",
        "get",
        "/admin/forecasts/notification/{id}/change/",
        admin=True,
        writes=True,
        child="notifications",
    ),
    ChildCall("admin.forecast-page", "get", "/admin/forecasts/forecast/{id}/change/", admin=True, child="forecasts"),
    ChildCall("admin.event-page", "get", "/admin/forecasts/resolutionevent/{id}/change/", admin=True, child="events"),
    ChildCall("admin.score-page", "get", "/admin/forecasts/score/{id}/change/", admin=True, child="scores"),
    ChildCall("admin.tag-page", "get", "/admin/forecasts/tag/{id}/change/", admin=True, child="tags"),
)
CHILD_KINDS = {"notifications": KINDS, "forecasts": WITH_FORECASTS, "events": FINAL, "scores": RESOLVED, "tags": KINDS}


def child_of(world: World, child: str, role: str, kind: str):
    if child == "notifications":
        return world.notifications[(role, kind)]
    return getattr(world, child)[kind]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "call, role",
    [case for call in CHILD_CALLS for case in cases([call], call.roles, CHILD_KINDS[call.child], tried)],
)
def test_rows_of_a_hidden_question_answer_like_missing_ones(world, call, role):
    rows = {kind: child_of(world, call.child, role, kind).pk for kind in CHILD_KINDS[call.child]}
    rows_check(world, call, role, rows, call.child[:-1])


# Lists, filters, feeds ------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    present: frozenset  # the subjects (row kinds or authors) the response shows
    body: str  # the whole response, searched for the markers of hidden rows


def api_json(world, role, path) -> tuple[dict | None, str]:
    response = api_as(world, role).get(path)
    return (response.json() if response.status_code == 200 else None), body_of(response)


def question_kinds(world, ids) -> frozenset:
    return frozenset(kind for kind in (world.kind_of_question(pk) for pk in ids) if kind)


def observe_api_questions(world, role):
    data, body = api_json(world, role, "/api/questions/?page_size=200")
    return Observation(question_kinds(world, [row["id"] for row in data["results"]] if data else []), body)


def observe_api_questions_by_status(world, role):
    present, bodies = set(), []
    for status in sorted(set(STATUS.values())):
        data, body = api_json(world, role, f"/api/questions/?status={status}&page_size=200")
        bodies.append(body)
        ids = [row["id"] for row in data["results"]] if data else []
        present |= {kind for kind in question_kinds(world, ids) if STATUS[kind] == status}
    return Observation(frozenset(present), "\n".join(bodies))


def observe_api_questions_by_tag(world, role):
    present, bodies = set(), []
    for kind in KINDS:
        data, body = api_json(world, role, f"/api/questions/?tag={MARKER[kind]}")
        bodies.append(body)
        if data and world.questions[kind].pk in [row["id"] for row in data["results"]]:
            present.add(kind)
    return Observation(frozenset(present), "\n".join(bodies))


def observe_api_questions_by_search(world, role):
    data, body = api_json(world, role, "/api/questions/?search=zz&page_size=200")  # every marker has "zz"
    return Observation(question_kinds(world, [row["id"] for row in data["results"]] if data else []), body)


def observe_api_forecasts(world, role):
    data, body = api_json(world, role, "/api/forecasts/?page_size=1000")
    return Observation(question_kinds(world, [row["question"] for row in data["results"]] if data else []), body)


def observe_api_export(world, role):
    response = api_as(world, role).get("/api/forecasts/export.csv")
    body = body_of(response)
    ids = [int(row["question_id"]) for row in csv.DictReader(io.StringIO(body))] if response.status_code == 200 else []
    return Observation(question_kinds(world, ids), body)


def observe_api_groups(world, role):
    data, body = api_json(world, role, "/api/groups/?page_size=200")
    ids = [row["id"] for row in data["results"]] if data else []
    return Observation(frozenset(filter(None, map(world.kind_of_group, ids))), body)


def observe_api_notifications(world, role):
    data, body = api_json(world, role, "/api/notifications/?page_size=200")
    ids = [row["question"]["id"] for row in data["results"] if row["question"]] if data else []
    return Observation(question_kinds(world, ids), body)


def observe_api_leaderboard(world, role):
    data, body = api_json(world, role, "/api/stats/leaderboard/?page_size=200")
    names = [row["name"] for row in data["results"]] if data else []
    return Observation(frozenset(filter(None, map(world.author_of_name, names))), body)


def admin_rows(world, role, path):
    response = browser_as(world, role).get(path)
    rows = list(response.context["cl"].result_list) if response.status_code == 200 else []
    return rows, body_of(response)


def observe_admin(path, *, row_question=lambda row: row.question_id):
    def observe(world, role):
        rows, body = admin_rows(world, role, path)
        return Observation(question_kinds(world, map(row_question, rows)), body)

    return observe


def observe_admin_questions_by_status(world, role):
    present, bodies = set(), []
    for status in sorted(set(STATUS.values())):
        rows, body = admin_rows(world, role, f"/admin/forecasts/question/?status__exact={status}")
        bodies.append(body)
        present |= {kind for kind in question_kinds(world, [row.pk for row in rows]) if STATUS[kind] == status}
    return Observation(frozenset(present), "\n".join(bodies))


def observe_admin_tags(world, role):
    rows, body = admin_rows(world, role, "/admin/forecasts/tag/")
    return Observation(frozenset(kind for kind in KINDS if world.tags[kind] in rows), body)


def observe_tag_autocomplete(world, role):
    response = browser_as(world, role).get(
        "/admin/autocomplete/", {"app_label": "forecasts", "model_name": "question", "field_name": "tags", "term": "zz"}
    )
    names = [row["text"] for row in response.json()["results"]] if response.status_code == 200 else []
    return Observation(frozenset(kind for kind in KINDS if MARKER[kind] in names), body_of(response))


def observe_calendar(world, role):
    response = Client().get(f"/calendar/{world.calendar_tokens[role]}.ics")
    body = body_of(response)
    ids = [int(pk) for pk in re.findall(r"UID:(?:window-end|resolve-by)-(\d+)@forewarn", body)]
    return Observation(question_kinds(world, ids), body)


def observe_calibration_choices(world, role):
    response = browser_as(world, role).get("/admin/forecasts/calibrationreport/")
    users = list(response.context["form"].fields["forecaster"].queryset) if response.status_code == 200 else []
    return Observation(
        frozenset(filter(None, (world.author_of_name(user.username) for user in users))), body_of(response)
    )


def observe_admin_groups(world, role):
    rows, body = admin_rows(world, role, "/admin/forecasts/questiongroup/")
    return Observation(frozenset(filter(None, (world.kind_of_group(row.pk) for row in rows))), body)


def always(role, subject) -> bool:
    return True


@dataclass(frozen=True)
class Listing:
    name: str
    observe: object
    shows: object = always  # whether it shows a visible row of this kind (or author) at all
    admin: bool = False
    roles: tuple = ROLES
    subjects: tuple = KINDS

    def __str__(self):
        return self.name

    def expected(self, role: str, subject: str) -> bool:
        if self.subjects is AUTHORS:
            return author_visible(role, subject) and (not self.admin or role in STAFF) and self.shows(role, subject)
        seen = visible_in_admin(role, subject) if self.admin else visible(role, subject)
        return seen and self.shows(role, subject)

    def hidden(self, role: str, subject: str) -> bool:
        return not (author_visible(role, subject) if self.subjects is AUTHORS else visible(role, subject))


def has_forecasts(role, kind):
    return kind in WITH_FORECASTS


LISTINGS = (
    Listing("api.questions", observe_api_questions),
    Listing("api.questions-by-status", observe_api_questions_by_status),
    Listing("api.questions-by-tag", observe_api_questions_by_tag),
    Listing("api.questions-by-search", observe_api_questions_by_search),
    Listing("api.forecast-stream", observe_api_forecasts, has_forecasts),
    Listing("api.export-csv", observe_api_export, has_forecasts),
    Listing("api.notifications", observe_api_notifications),
    Listing("api.groups", observe_api_groups),
    Listing("api.leaderboard", observe_api_leaderboard, lambda role, author: author in RESOLVED, subjects=AUTHORS),
    Listing(
        "admin.questions", observe_admin("/admin/forecasts/question/", row_question=lambda row: row.pk), admin=True
    ),
    Listing("admin.questions-by-status", observe_admin_questions_by_status, admin=True),
    Listing(
        "admin.questions-by-search",
        observe_admin("/admin/forecasts/question/?q=zz", row_question=lambda row: row.pk),  # every marker has "zz"
        admin=True,
    ),
    Listing("admin.forecasts", observe_admin("/admin/forecasts/forecast/"), has_forecasts, admin=True),
    Listing(
        "admin.resolution-events",
        observe_admin("/admin/forecasts/resolutionevent/"),
        lambda role, kind: kind in FINAL,
        admin=True,
    ),
    Listing("admin.scores", observe_admin("/admin/forecasts/score/"), lambda role, kind: kind in RESOLVED, admin=True),
    Listing("admin.notifications", observe_admin("/admin/forecasts/notification/"), admin=True),
    Listing("admin.question-groups", observe_admin_groups, admin=True),
    Listing("admin.tags", observe_admin_tags, admin=True),
    Listing("admin.tag-autocomplete", observe_tag_autocomplete, admin=True),
    Listing("admin.calibration-forecaster-choices", observe_calibration_choices, admin=True, subjects=AUTHORS),
    # The feed lists the rows its user owns or forecast on (the owner: all of them).
    Listing("calendar", observe_calendar, lambda role, kind: role == "owner", roles=SIGNED_IN),
)


def listing_tried(listing, role, subject) -> bool:
    # Whether a feed shows its owner's own drafts is not a visibility question.
    return not (listing.name == "calendar" and role == "owner" and subject in DRAFTS)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "listing, role",
    [case for listing in LISTINGS for case in cases([listing], listing.roles, listing.subjects, listing_tried)],
)
def test_lists_show_exactly_the_visible_rows(world, listing, role):
    observed = listing.observe(world, role)
    findings = Findings(f"{listing} as {role}")
    for subject in listing.subjects:
        if not listing_tried(listing, role, subject):
            continue
        if listing.expected(role, subject):
            findings.expect(subject in observed.present, subject, "visible, but not shown")
        else:
            findings.expect(subject not in observed.present, subject, "shown, but it should not be")
        if listing.hidden(role, subject):
            findings.expect(
                MARKER[subject] not in observed.body, subject, f"hidden, yet {MARKER[subject]} is in the page"
            )
    findings.report()


# Counts -------------------------------------------------------------------------------------


def visible_count(role, kinds=KINDS, *, admin=False) -> int:
    return sum(1 for kind in kinds if (visible_in_admin(role, kind) if admin else visible(role, kind)))


def count_api_questions(world, role):
    return api_as(world, role).get("/api/questions/").json()["count"], visible_count(role)


def count_api_drafts(world, role):
    return api_as(world, role).get("/api/questions/?status=draft").json()["count"], visible_count(role, DRAFTS)


def count_api_notifications(world, role):
    return api_as(world, role).get("/api/notifications/").json()["count"], visible_count(role)


def count_api_read_all(world, role):
    return api_as(world, role).post("/api/notifications/read-all/").json()["marked"], visible_count(role)


def count_api_calibration(world, role):
    data = api_as(world, role).get("/api/stats/calibration/").json()
    scored = sum(world.scored_pairs[kind] for kind in RESOLVED if visible(role, kind))
    return (data["n"], data["questions"]), (scored, visible_count(role, RESOLVED))


def count_api_phrases(world, role):
    statements = sum(row["statements"] for row in api_as(world, role).get("/api/stats/phrases/").json())
    return statements, sum(world.scored_pairs[kind] for kind in RESOLVED if visible(role, kind))


def count_api_leaderboard(world, role):
    scored = sum(world.scored_pairs[kind] for kind in RESOLVED if visible(role, kind))
    return api_as(world, role).get("/api/stats/leaderboard/").json()["count"], scored


def count_api_aggregates(world, role):
    data = api_as(world, role).get("/api/stats/aggregates/").json()
    return data["questions"], visible_count(role, RESOLVED)


def count_admin(path, kinds, all_kinds=None):
    """The changelist's count of the filtered rows, and its count of all the rows it may show."""

    def count(world, role):
        changelist = browser_as(world, role).get(path).context["cl"]
        expected = visible_count(role, kinds, admin=True), visible_count(role, all_kinds or kinds, admin=True)
        return (changelist.result_count, changelist.full_result_count), expected

    return count


def count_admin_scores(world, role):
    changelist = browser_as(world, role).get("/admin/forecasts/score/").context["cl"]
    scored = sum(world.scored_pairs[kind] for kind in RESOLVED if visible(role, kind))
    return (changelist.result_count, changelist.full_result_count), (scored, scored)


def count_admin_unread(world, role):
    response = browser_as(world, role).get("/admin/forecasts/notification/")
    title = re.search(r"Your notifications: (\d+) unread", body_of(response))
    return int(title.group(1)) if title else None, visible_count(role, admin=True)


COUNTS = {
    "api.questions-count": (count_api_questions, SIGNED_IN),
    "api.drafts-count": (count_api_drafts, SIGNED_IN),
    "api.notifications-count": (count_api_notifications, SIGNED_IN),
    "api.notifications-read-all": (count_api_read_all, SIGNED_IN),
    "api.calibration-count": (count_api_calibration, SIGNED_IN),
    "api.leaderboard-count": (count_api_leaderboard, SIGNED_IN),
    "api.phrases-count": (count_api_phrases, SIGNED_IN),
    "api.aggregates-count": (count_api_aggregates, SIGNED_IN),
    "admin.questions-count": (count_admin("/admin/forecasts/question/", KINDS), STAFF),
    "admin.drafts-count": (count_admin("/admin/forecasts/question/?status__exact=draft", DRAFTS, KINDS), STAFF),
    "admin.notifications-count": (count_admin("/admin/forecasts/notification/", KINDS), STAFF),
    "admin.notifications-unread": (count_admin_unread, STAFF),
    "admin.tags-count": (count_admin("/admin/forecasts/tag/", KINDS), STAFF),
    "admin.events-count": (count_admin("/admin/forecasts/resolutionevent/", FINAL), STAFF),
    "admin.scores-count": (count_admin_scores, STAFF),
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name, role",
    [pytest.param(name, role, id=f"{name}-{role}") for name, (_, roles) in COUNTS.items() for role in roles],
)
def test_counts_leave_hidden_rows_out(world, name, role):
    actual, expected = COUNTS[name][0](world, role)
    findings = Findings(f"{name} as {role}")
    findings.expect(actual == expected, "count", f"{actual}, but only {expected} may be counted")
    findings.report()


# Statistics that name a forecaster -------------------------------------------------------------


@dataclass(frozen=True)
class StatisticCall(Call):
    chart: bool = False  # an SVG: compared by status, type and the name it must not carry


STATISTIC_CALLS = (
    StatisticCall("api.calibration", "get", "/api/stats/calibration/?forecaster={id}"),
    StatisticCall("api.leaderboard", "get", "/api/stats/leaderboard/?forecaster={id}"),
    StatisticCall("api.phrases", "get", "/api/stats/phrases/?forecaster={id}"),
    StatisticCall("api.calibration-chart", "get", "/api/stats/calibration.svg?forecaster={id}", chart=True),
    StatisticCall("api.brier-chart", "get", "/api/stats/brier-over-time.svg?forecaster={id}", chart=True),
    StatisticCall("api.aggregates", "get", "/api/stats/aggregates/?forecaster={id}"),
    StatisticCall("api.aggregates-chart", "get", "/api/stats/aggregates.svg?forecaster={id}", chart=True),
    StatisticCall("admin.calibration", "get", "/admin/forecasts/calibrationreport/?forecaster={id}", admin=True),
    StatisticCall(
        "admin.calibration-chart",
        "get",
        "/admin/forecasts/calibrationreport/chart.svg?forecaster={id}",
        admin=True,
        chart=True,
    ),
    StatisticCall(
        "admin.aggregates-chart",
        "get",
        "/admin/forecasts/calibrationreport/aggregates.svg?forecaster={id}",
        admin=True,
        chart=True,
    ),
    StatisticCall(
        "admin.brier-chart",
        "get",
        "/admin/forecasts/calibrationreport/brier-over-time.svg?forecaster={id}",
        admin=True,
        chart=True,
    ),
)
# Drawing a chart takes a tenth of a second: charts are asked about a hidden team's scored
# author, one who never forecast and (the owner's control cell) a public one.
CHART_AUTHORS = ("resolved_team_a", "silent", "resolved_public")
CONTROL_AUTHOR = "resolved_public"


def statistic_tried(call, role, author) -> bool:
    if call.chart and author not in CHART_AUTHORS:
        return False
    return not named_by(call, role, author) or (role == CONTROL_ROLE and author == CONTROL_AUTHOR)


def named_by(call, role, author) -> bool:
    return author_visible(role, author) and (role in STAFF or not call.admin)


@pytest.mark.django_db
@pytest.mark.parametrize("call, role", cases(STATISTIC_CALLS, ROLES, AUTHORS, statistic_tried))
def test_statistics_name_only_visible_authors(world, call, role):
    def answer(author_id):
        client = client_as(world, role, admin=call.admin)
        return Answer.of(request(client, "get", call.path.format(id=author_id)))

    unmasked_missing = answer(MISSING_ID)
    findings = Findings(f"{call} as {role}; for a missing id it answers {unmasked_missing.masked(MISSING_ID).short()}")
    for author in AUTHORS:
        if not statistic_tried(call, role, author):
            continue
        user = world.authors[author]
        missing = unmasked_missing.masked(user.pk, MISSING_ID)
        found = answer(user.pk).masked(user.pk, MISSING_ID)
        if named_by(call, role, author):
            findings.expect(found.status == 200, author, f"{user.username} may be named, yet: {found.short()}")
            continue
        findings.expect(user.username not in found.body, author, f"names {user.username}, who is hidden")
        if call.chart:  # an image of another subject differs anyway: compare what a caller can tell apart
            same = (found.status, found.content_type) == (missing.status, missing.content_type)
        else:
            same = found == missing
        findings.expect(same, author, f"for the hidden {user.username} it answers {found.short()}")
    findings.report()


# Team names -----------------------------------------------------------------------------------


TEAM_PAGES = {  # path, in the admin, lists every team to moderators (not only their own)
    "api.me": ("/api/me/", False, False),
    "admin.teams": ("/admin/forecasts/team/", True, True),
    "admin.question-add": ("/admin/forecasts/question/add/", True, True),
    "admin.calibration-teams": ("/admin/forecasts/calibrationreport/", True, True),
}
TEAM_MEMBERS = {"team_a": ("member_a", "owner"), "team_b": ("member_b",)}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "page, role",
    [
        pytest.param(page, role, id=f"{page}-{role}")
        for page, (_, admin, _) in TEAM_PAGES.items()
        for role in (STAFF if admin else SIGNED_IN)
    ],
)
def test_teams_are_named_to_their_members_and_moderators(world, page, role):
    path, admin, all_to_moderators = TEAM_PAGES[page]
    body = body_of(client_as(world, role, admin=admin).get(path))
    findings = Findings(f"{page} as {role}")
    for team, members in TEAM_MEMBERS.items():
        expected = role in members or (all_to_moderators and role in MODERATORS)
        findings.expect((TEAM_MARKER[team] in body) == expected, team, "omitted" if expected else "named")
    findings.report()


# Deliveries: the digest email and the webhook ----------------------------------------------------


def delivered_by_role(world: World) -> dict[str, str]:
    """Everything emailed or posted to each role since the receiver was last cleared."""
    delivered = dict.fromkeys(SIGNED_IN, "")
    by_email = {user.email: role for role, user in world.users.items()}
    for message in mail.outbox:
        role = by_email.get(message.to[0])
        if role is None:
            continue
        html = "".join(content for content, _ in getattr(message, "alternatives", []))
        delivered[role] += f"\n{message.subject}\n{message.body}\n{html}"
    for path, payload in world.webhooks.received:
        role = path.rsplit("/", 1)[-1]
        delivered[role] = delivered.get(role, "") + f"\n{payload.get('text', '')}"
    return delivered


def deliveries_run(world: World) -> dict[str, dict[str, str]]:
    """Run the sweep task (it queues a webhook task per pending delivery) and the digest task,
    in process; return what reached each role by each channel."""
    world.webhooks.received.clear()
    mail.outbox.clear()
    tasks.lifecycle_sweep_task.delay()
    posted = delivered_by_role(world)
    world.webhooks.received.clear()
    tasks.digests_dispatch_task.delay()
    emailed = delivered_by_role(world)
    mail.outbox.clear()
    return {"webhook": posted, "digest": emailed}


@pytest.mark.django_db
def test_deliveries_carry_only_visible_notifications(world, eager_tasks, mailoutbox):
    """Every role has a pending notice about every row: the digest and the webhook carry the visible ones."""
    delivered = deliveries_run(world)
    findings = Findings("deliveries of notices made before the removal (channel, role: row kind)")
    for channel, by_role in delivered.items():
        for role in SIGNED_IN:
            for kind in KINDS:
                if visible(role, kind):
                    findings.expect(
                        MARKER[kind] in by_role[role], f"{channel}, {role}: {kind}", "visible, not delivered"
                    )
                else:
                    findings.expect(
                        MARKER[kind] not in by_role[role], f"{channel}, {role}: {kind}", "hidden, delivered"
                    )
    findings.report()


# A member removed from team A hears nothing more about it ------------------------------------


def told(question: Question, kind: str) -> set[str]:
    return set(Notification.objects.filter(question=question, kind=kind).values_list("user__username", flat=True))


@pytest.mark.django_db
def test_removed_member_is_not_told_of_a_team_resolution(
    world, eager_tasks, django_capture_on_commit_callbacks, mailoutbox
):
    question = world.questions["team_a"]  # the removed member forecast on it while in the team
    world.webhooks.received.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = api_as(world, "owner").post(
            f"/api/questions/{question.pk}/resolve/", {"outcome": "yes", "note": "Confirmed."}, format="json"
        )
    assert response.status_code == 200, response.content
    resolved = told(question, Notification.Kind.RESOLVED)
    assert world.authors["team_a"].username in resolved, "a forecaster still in the team is told"
    assert "matrix-removed" not in resolved, "the removed member is told how a team A question resolved"
    assert MARKER["team_a"] not in delivered_by_role(world)["removed"]


@pytest.mark.django_db
def test_removed_member_gets_no_closing_soon_nudge(world, eager_tasks, mailoutbox):
    question = factories.QuestionFactory(
        owner=world.users["owner"],
        team=world.teams["team_a"],
        title="Will zzclosingzz happen?",
        window_end=timezone.now() + timedelta(hours=2),
    )
    for user in (world.users["removed"], world.authors["team_a"]):
        forecast_standing(question, user, rationale="")
    world.webhooks.received.clear()
    tasks.lifecycle_sweep_task.delay()
    nudged = told(question, Notification.Kind.CLOSING_SOON)
    assert world.authors["team_a"].username in nudged, "a forecaster still in the team is nudged"
    assert "matrix-removed" not in nudged, "the removed member is nudged about a team A question"
    assert "zzclosingzz" not in delivered_by_role(world)["removed"]


@pytest.mark.django_db
def test_removed_owner_gets_no_reminder_about_a_team_question(world, eager_tasks, mailoutbox):
    def awaiting(owner, marker):
        closed_at = timezone.now() - timedelta(hours=2)
        return factories.QuestionFactory(
            owner=owner,
            team=world.teams["team_a"],
            title=f"Will {marker} happen?",
            status=Question.Status.AWAITING_RESOLUTION,
            window_end=closed_at,
            closed_at=closed_at,
        )

    kept = awaiting(world.users["owner"], "zzkeptzz")
    left = awaiting(world.users["removed"], "zzleftzz")  # filed while the removed member was in team A
    world.webhooks.received.clear()
    tasks.lifecycle_sweep_task.delay()
    assert "matrix-owner" in told(kept, Notification.Kind.READY_TO_RESOLVE), "an owner in the team is reminded"
    assert not Notification.objects.filter(question=left, user=world.users["removed"]).exists(), (
        "the removed member is reminded to resolve a team A question they can no longer see"
    )
    assert "zzleftzz" not in delivered_by_role(world)["removed"]


# One-click links issued before the removal ---------------------------------------------------


def one_click_links(email_body: str) -> dict[int, str]:
    """Each question's "Resolve YES" link in a digest, by question id."""
    links, question_id = {}, None
    for line in email_body.splitlines():
        opened = re.search(r"/admin/forecasts/question/(\d+)/change/", line)
        if opened:
            question_id = int(opened.group(1))
        elif line.strip().startswith("Resolve YES:"):
            links[question_id] = line.split("Resolve YES:", 1)[1].strip()
    return links


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["get", "post"])
def test_link_issued_before_removal_answers_like_a_link_to_a_missing_question(world, method, mailoutbox):
    removed, team_a = world.users["removed"], world.teams["team_a"]
    membership = factories.TeamMembershipFactory(team=team_a, user=removed)  # back in the team for a while

    def awaiting(marker, team):
        closed_at = timezone.now() - timedelta(hours=2)
        question = factories.QuestionFactory(
            owner=removed,
            team=team,
            title=f"Will {marker} happen?",
            status=Question.Status.AWAITING_RESOLUTION,
            window_end=closed_at,
            closed_at=closed_at,
        )
        factories.NotificationFactory(
            user=removed, question=question, kind=Notification.Kind.READY_TO_RESOLVE, message=f"Resolve {marker}."
        )
        return question

    hidden, gone, public = awaiting("zzhiddenzz", team_a), awaiting("zzgonezz", team_a), awaiting("zzstillzz", None)
    for delivery_id in services.digests_prepare():
        services.digest_deliver(delivery_id=delivery_id)
    (email,) = [message for message in mailoutbox if message.to == [removed.email]]
    links = one_click_links(email.body)
    assert {hidden.pk, gone.pk, public.pk} <= set(links), email.body

    membership.delete()
    Question.objects.filter(pk=gone.pk).delete()
    path = {question: links[question.pk].split(settings.SITE_URL, 1)[1] for question in (hidden, gone, public)}
    before = database_state()
    answer = Answer.of(getattr(Client(), method)(path[hidden]))
    missing = Answer.of(getattr(Client(), method)(path[gone]))
    findings = Findings(f"{method.upper()} of a one-click link to a team A question, after its owner left the team")
    findings.expect(answer == missing, "link", f"answers {answer.short()}; for a deleted question {missing.short()}")
    findings.expect(database_state() == before, "link", "the hidden question was changed")
    findings.expect(not ActionTokenUse.objects.filter(question=hidden).exists(), "link", "the link was spent")
    findings.report()
    if method == "get":
        still = Client().get(path[public])
        assert still.status_code == 200 and "zzstillzz" in body_of(still), "a link to a visible question works"


# Blind forecasting ------------------------------------------------------------------------------
#
# A second, smaller world: public questions with every `crowd_hidden` setting, open and closed,
# each with two other users' forecasts, a source's statement and one by the "forecaster" role.
# The crowd (every author's standing forecast) is the same on every question: 74%. Who may see
# it, written out by hand from the docstring of forecasts/access.py: `until_forecast` once you
# have forecast, `until_close` once the window has closed, moderators always, owners like anyone.

BLIND_KINDS = (
    "never_open",
    "until_forecast_open",
    "until_close_open",
    "until_forecast_closed",
    "until_close_closed",
    "until_close_resolved",
)
BLIND_ROLES = ("blind", "forecaster", "owner", "editor", "superuser")
BLIND_TABLE = """
           never_open  until_forecast_open  until_close_open  until_forecast_closed  until_close_closed  until_close_resolved
blind      y           -                    -                 y                      y                   y
forecaster y           y                    -                 y                      y                   y
owner      y           -                    -                 y                      y                   y
editor     y           y                    y                 y                      y                   y
superuser  y           y                    y                 y                      y                   y
"""
CROWD_TEXT, CROWD_VALUE = "74%", 0.74  # median of 31% (source), 65% (forecaster), 83% and 87% (others)
OTHERS = {"other_one": 0.87, "other_two": 0.83}
BLIND_MARKER = {name: f"zzblind{name.replace('_', '')}zz" for name in (*BLIND_KINDS, *BLIND_ROLES, *OTHERS, "source")}


CROWD_SEEN = table_parse(BLIND_TABLE, BLIND_KINDS, BLIND_ROLES)


@dataclass
class BlindWorld:
    now: datetime
    users: dict = field(default_factory=dict)  # role or other author -> user
    tokens: dict = field(default_factory=dict)
    sessions: dict = field(default_factory=dict)
    questions: dict = field(default_factory=dict)  # kind -> Question
    forecasts: dict = field(default_factory=dict)  # (kind, author) -> Forecast

    def kind_of(self, question) -> str:
        return next(kind for kind, row in self.questions.items() if row.pk == question.pk)


def blind_world_build() -> BlindWorld:
    if Group.objects.filter(name__in=["Forecasters", "Editors"]).count() != 2:
        roles_restore()
    world = BlindWorld(now=timezone.now())
    make = {"editor": factories.EditorFactory, "superuser": factories.SuperuserFactory}
    for name in (*BLIND_ROLES, *OTHERS):
        world.users[name] = make.get(name, factories.ForecasterFactory)(username=f"user-{BLIND_MARKER[name]}")
    source = factories.SourceFactory(name=f"Source {BLIND_MARKER['source']}")
    for kind in BLIND_KINDS:
        closed = not kind.endswith("_open")
        window_end = world.now - timedelta(days=5) if closed else world.now + timedelta(days=30)
        question = factories.QuestionFactory(
            owner=world.users["owner"],
            title=f"Will {BLIND_MARKER[kind]} happen?",
            crowd_hidden=kind.rsplit("_", 1)[0],
            status=Question.Status.AWAITING_RESOLUTION if closed else Question.Status.OPEN,
            opened_at=world.now - timedelta(days=20),
            window_end=window_end,
            resolve_by=world.now + timedelta(days=33),
            closed_at=window_end if closed else None,
        )
        made_at = min(window_end, world.now) - timedelta(days=2)
        for author, probability in (*OTHERS.items(), ("forecaster", 0.65)):
            world.forecasts[(kind, author)] = factories.StandingForecastFactory(
                question=question, forecaster=world.users[author], made_at=made_at, probability=probability
            )
        statement = factories.source_statement(question, source, world.users["owner"], made_at, 0.31)
        services.question_crowd_refresh(question=question, forecast=statement)
        world.forecasts[(kind, "source")] = statement
        if kind.endswith("_resolved"):
            services.question_resolve(question=question, actor=world.users["owner"], outcome="yes")
        question.refresh_from_db()
        assert question.crowd_probability == pytest.approx(CROWD_VALUE)
        world.questions[kind] = question
    ResolutionEvent.objects.update(notified_at=world.now)
    for role, user in world.users.items():
        world.tokens[role] = Token.objects.create(user=user).key
        client = Client()
        client.force_login(user)
        world.sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return world


@pytest.fixture(scope="module")
def blind_world(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), transaction.atomic():
        yield blind_world_build()
        transaction.set_rollback(True)


@dataclass(frozen=True)
class BlindView:
    """What one endpoint showed one role about one question: the crowd, and whose forecasts."""

    crowd: bool
    authors: frozenset  # of "other_one", "other_two", "forecaster", "source"


def authors_in(text: str) -> frozenset:
    return frozenset(author for author in (*OTHERS, "forecaster", "source") if BLIND_MARKER[author] in text)


def blind_api(world, role, path):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[role]}")
    cache.clear()
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response


def blind_browser(world, role, path):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return body_of(response)


def crowd_in_api_row(row) -> bool:
    """The crowd as a question row of the API shows it; `crowd_visible` must agree with it."""
    shown = row["crowd_probability"] is not None
    assert row["crowd_visible"] is shown
    assert shown is False or row["crowd_probability"] == pytest.approx(CROWD_VALUE)
    return shown


def view_api_question(world, role, question):
    return BlindView(crowd_in_api_row(blind_api(world, role, f"/api/questions/{question.pk}/").json()), frozenset())


def view_api_question_list(world, role, question):
    rows = blind_api(world, role, f"/api/questions/?search={BLIND_MARKER[world.kind_of(question)]}").json()["results"]
    (row,) = rows
    return BlindView(crowd_in_api_row(row), frozenset())


def view_api_question_forecasts(world, role, question):
    rows = blind_api(world, role, f"/api/questions/{question.pk}/forecasts/").json()["results"]
    return BlindView(False, authors_in(json.dumps(rows)))


def view_api_forecasts(world, role, question):
    rows = blind_api(world, role, f"/api/forecasts/?question={question.pk}").json()["results"]
    return BlindView(False, authors_in(json.dumps(rows)))


def view_api_export(world, role, question):
    body = body_of(blind_api(world, role, f"/api/forecasts/export.csv?question={question.pk}"))
    return BlindView(False, authors_in(body))


def view_admin_question_page(world, role, question):
    body = blind_browser(world, role, f"/admin/forecasts/question/{question.pk}/change/")
    return BlindView(CROWD_TEXT in body, authors_in(body))


def view_admin_forecast_box(world, role, question):
    body = blind_browser(world, role, f"/admin/forecasts/question/{question.pk}/forecast/")
    return BlindView(CROWD_TEXT in body, authors_in(body))


def view_admin_question_list(world, role, question):
    body = blind_browser(world, role, f"/admin/forecasts/question/?q={BLIND_MARKER[world.kind_of(question)]}")
    return BlindView(CROWD_TEXT in body, frozenset())


def view_admin_forecast_list(world, role, question):
    body = blind_browser(world, role, f"/admin/forecasts/forecast/?q={BLIND_MARKER[world.kind_of(question)]}")
    return BlindView(False, authors_in(body))


# endpoint -> (view, shows the crowd, lists forecasts, kinds it applies to)
BLIND_ENDPOINTS = {
    "api.question": (view_api_question, True, False, BLIND_KINDS),
    "api.question-list": (view_api_question_list, True, False, BLIND_KINDS),
    "api.question-forecasts": (view_api_question_forecasts, False, True, BLIND_KINDS),
    "api.forecasts": (view_api_forecasts, False, True, BLIND_KINDS),
    "api.export-csv": (view_api_export, False, True, BLIND_KINDS),
    "admin.question-page": (view_admin_question_page, True, True, BLIND_KINDS),
    # The forecast box takes forecasts on open questions only (closed ones redirect to the page).
    "admin.forecast-box": (view_admin_forecast_box, True, False, tuple(k for k in BLIND_KINDS if k.endswith("_open"))),
    "admin.question-list": (view_admin_question_list, True, False, BLIND_KINDS),
    "admin.forecast-list": (view_admin_forecast_list, False, True, BLIND_KINDS),
}


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", BLIND_ENDPOINTS)
@pytest.mark.parametrize("role", BLIND_ROLES)
def test_blind_questions_hide_the_crowd_and_other_peoples_forecasts(blind_world, endpoint, role):
    view, shows_crowd, lists_forecasts, kinds = BLIND_ENDPOINTS[endpoint]
    failures = []
    for kind in kinds:
        seen = view(blind_world, role, blind_world.questions[kind])
        expected = CROWD_SEEN[role][kind]
        if shows_crowd and seen.crowd is not expected:
            failures.append(f"{kind}: crowd {'shown' if seen.crowd else 'hidden'}, expected the opposite")
        if lists_forecasts:
            own = {"forecaster"} if role == "forecaster" else set()
            others = set(OTHERS) | ({"forecaster"} if role != "forecaster" else set())
            wanted = {"source"} | own | (others if expected else set())
            if seen.authors != wanted:
                failures.append(f"{kind}: forecasts of {sorted(seen.authors)}, expected {sorted(wanted)}")
    assert not failures, f"{endpoint} as {role}:\n  " + "\n  ".join(failures)


@pytest.mark.django_db
@pytest.mark.parametrize("role", BLIND_ROLES)
def test_a_hidden_forecast_page_answers_like_a_missing_one(blind_world, role):
    client = Client()
    client.cookies[settings.SESSION_COOKIE_NAME] = blind_world.sessions[role]
    missing = client.get(f"/admin/forecasts/forecast/{MISSING_ID}/change/")
    for kind in BLIND_KINDS:
        forecast = blind_world.forecasts[(kind, "other_one")]
        response = client.get(f"/admin/forecasts/forecast/{forecast.pk}/change/")
        if CROWD_SEEN[role][kind]:
            assert response.status_code == 200, kind
        else:
            assert (response.status_code, response.get("Location")) == (missing.status_code, missing.get("Location"))


@pytest.mark.django_db
def test_blind_questions_sort_as_if_they_had_no_crowd(blind_world):
    """Ordering by the crowd must not leak it: a hidden crowd sorts like an empty one (then by id)."""
    search = "&search=zzblind"
    for role in BLIND_ROLES:
        rows = blind_api(blind_world, role, f"/api/questions/?ordering=crowd_probability{search}").json()["results"]
        order = [(row["crowd_probability"] is None, row["id"]) for row in rows]
        assert order == sorted(order), role


@pytest.mark.django_db
def test_the_crowd_moved_nudge_reaches_only_those_who_see_the_crowd(blind_world):
    with rolled_back():
        services.lifecycle_sweep()  # arms every standing forecast at 74%
        for kind in BLIND_KINDS:
            if kind.endswith("_open"):  # three more forecasts at 99%: the crowd moves to 87%
                for _ in range(3):
                    services.forecast_submit(
                        question=blind_world.questions[kind],
                        recorded_by=factories.ForecasterFactory(),
                        probability=0.99,
                    )
        told = services.lifecycle_sweep().notifications
        moved = {
            (blind_world.kind_of(Question(pk=n.question_id)), n.user_id)
            for n in told
            if n.kind == Notification.Kind.CROWD_MOVED
        }
        forecaster = blind_world.users["forecaster"].pk
        # Only "forecaster" (and the two others) forecast: told where they see the crowd, never blind.
        assert {kind for kind, user in moved if user == forecaster} == {"never_open", "until_forecast_open"}
        assert {kind for kind, _ in moved} == {"never_open", "until_forecast_open"}


@pytest.mark.django_db
def test_one_question_and_the_list_annotation_give_the_same_answer(blind_world):
    """`crowd_visible_to` on a bare question (Python) and the list's annotation (SQL) agree with the table."""
    for role in BLIND_ROLES:
        user = blind_world.users[role]
        annotated = dict(
            questions_with_crowd_visibility(user, Question.objects.filter(title__contains="zzblind")).values_list(
                "pk", "crowd_visible"
            )
        )
        for kind, question in blind_world.questions.items():
            bare = Question.objects.get(pk=question.pk)
            assert crowd_visible_to(user, bare) is CROWD_SEEN[role][kind], (role, kind)
            assert annotated[question.pk] is CROWD_SEEN[role][kind], (role, kind)
