"""Views reached from outside the admin: one-click email links, the calendar feed and the favicon."""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods
from icalendar import Calendar, Event

from forecasts.access import questions_visible_to
from forecasts.models import LatestForecast, Profile, Question
from forecasts.services import ActionLinkError, action_link_read, action_link_use, question_admin_url

EVENT_LENGTH = timedelta(minutes=30)


def link_page(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    response = render(request, template, context, status=status)
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response


# The signed, single-use token in the URL is the credential: a forged cross-site POST would have
# to know it, so CSRF cookies (which a mail client's browser may not have) add nothing here.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def question_action(request, token: str):
    """GET shows what a one-click link will do; POST does it (mail scanners prefetch GET links)."""
    try:
        if request.method == "POST":
            question = action_link_use(token=token)
            return link_page(
                request,
                "forecasts/action_done.html",
                {"question": question, "question_url": question_admin_url(question.pk)},
            )
        link = action_link_read(token=token)
    except ActionLinkError as error:
        return link_page(request, "forecasts/action_error.html", {"error": error}, status=error.status)
    return link_page(
        request,
        "forecasts/action_confirm.html",
        {"link": link, "question": link.question, "question_url": question_admin_url(link.question.pk)},
    )


def event_end(moment):
    """Half an hour after the deadline, or the deadline itself at the calendar's very end."""
    try:
        return moment + EVENT_LENGTH
    except OverflowError:
        return moment


def calendar_for_user(user) -> Calendar:
    """Window ends and resolve-by dates of the questions the user owns or forecasts on and may see."""
    mine = Q(owner=user) | Q(pk__in=LatestForecast.objects.filter(forecaster=user).values("question_id"))
    questions = (
        questions_visible_to(user)
        .filter(mine)
        # Not a visibility rule: a draft's dates are not deadlines until it opens.
        .exclude(status=Question.Status.DRAFT)
        .order_by("window_end", "id")
        .only("pk", "title", "status", "window_end", "resolve_by")
    )
    calendar = Calendar()
    calendar.add("prodid", "-//Forewarn//Forecast deadlines//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"Forewarn: {user.get_username()}")
    stamp = timezone.now()
    for question in questions:
        url = question_admin_url(question.pk)
        status = question.get_status_display().lower()
        for kind, moment, summary in (
            ("window-end", question.window_end, f"Window closes: {question.title}"),
            ("resolve-by", question.resolve_by, f"Resolve by: {question.title}"),
        ):
            event = Event()
            event.add("uid", f"{kind}-{question.pk}@forewarn")
            event.add("dtstamp", stamp)
            event.add("dtstart", moment)
            event.add("dtend", event_end(moment))
            event.add("summary", summary)
            event.add("description", f"Question {question.pk} is {status}. {url}")
            event.add("url", url)
            calendar.add_component(event)
    return calendar


@require_GET
def calendar_feed(request, token: str):
    """A user's secret ICS feed; an unknown token is a 404."""
    profile = Profile.objects.filter(calendar_token=token).select_related("user").first()
    if profile is None or not profile.user.is_active:
        raise Http404("No such calendar.")
    response = HttpResponse(calendar_for_user(profile.user).to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="forewarn.ics"'
    response["Cache-Control"] = f"private, max-age={settings.FOREWARN['SWEEP_INTERVAL_SECONDS']}"
    return response


FAVICON = Path(__file__).resolve().parent / "static" / "forecasts" / "favicon.ico"


@require_GET
def favicon(request):
    """The site's icon at the address browsers ask for on their own."""
    response = HttpResponse(FAVICON.read_bytes(), content_type="image/x-icon")
    response["Cache-Control"] = "public, max-age=86400"
    return response
