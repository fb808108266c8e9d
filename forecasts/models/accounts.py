"""Teams, their members, and each user's reminder settings."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class CrowdHidden(models.TextChoices):
    """When a question hides its crowd (median, aggregates, other people's forecasts) from a viewer."""

    NEVER = "never", "Never: the crowd is always shown"
    UNTIL_FORECAST = "until_forecast", "Until you have forecast (or the window has closed)"
    UNTIL_CLOSE = "until_close", "Until the window closes"


# Nudge defaults, shown in the settings (API and admin): 0 turns a nudge off.
STALE_FORECAST_DAYS_DEFAULT = 14
CROWD_MOVE_POINTS_DEFAULT = 10


class Team(models.Model):
    name = models.CharField(max_length=120, unique=True)
    crowd_hidden_default = models.CharField(
        "blind forecasting default",
        max_length=20,
        choices=CrowdHidden.choices,
        default=CrowdHidden.NEVER,
        help_text="Blind forecasting for the team's new questions (each question can change it).",
    )
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="TeamMembership", related_name="teams")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_memberships")
    joined_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["team", "user"], name="team_membership_unique")]

    def __str__(self):
        return f"{self.user} in {self.team}"


def new_calendar_token() -> str:
    return secrets.token_urlsafe(24)


def default_digest_period() -> timedelta:
    """The site's digest period (FOREWARN_DIGEST_PERIOD_MINUTES) for a profile that sets none."""
    return timedelta(minutes=settings.FOREWARN.get("DIGEST_PERIOD_MINUTES", 60))


class ProfileManager(models.Manager):
    def for_user(self, user) -> "Profile":
        """The user's settings, created with defaults on first use."""
        return self.get_or_create(user=user)[0]


class Profile(models.Model):
    """Per-user settings for reminders and feeds."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forewarn_profile")
    digest_period = models.DurationField(
        default=default_digest_period,
        help_text="At most one reminder email per this period.",
    )
    closing_soon_opt_in = models.BooleanField(
        default=True, help_text="Nudge me a day before a window I forecast on closes."
    )
    stale_forecast_days = models.PositiveSmallIntegerField(
        default=STALE_FORECAST_DAYS_DEFAULT,
        help_text=(
            f"Nudge me when my forecast on an open question is this many days old "
            f"(default {STALE_FORECAST_DAYS_DEFAULT}; 0 turns it off)."
        ),
    )
    crowd_move_points = models.PositiveSmallIntegerField(
        default=CROWD_MOVE_POINTS_DEFAULT,
        help_text=(
            f"Nudge me when the crowd has moved this many percentage points since my last forecast "
            f"(default {CROWD_MOVE_POINTS_DEFAULT}; 0 turns it off)."
        ),
    )
    webhook_url = models.URLField(blank=True, help_text="Slack-compatible incoming webhook.")
    calendar_token = models.CharField(max_length=64, unique=True, default=new_calendar_token)
    last_digest_at = models.DateTimeField(null=True, blank=True)
    is_imported = models.BooleanField(
        default=False, help_text="Created by a forecast import for an author of another tracker; cannot sign in."
    )

    objects = ProfileManager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(digest_period__gte=timedelta(minutes=1)),
                name="profile_digest_period_at_least_a_minute",
            ),
            models.CheckConstraint(
                condition=Q(stale_forecast_days__lte=3650), name="profile_stale_days_at_most_ten_years"
            ),
            models.CheckConstraint(condition=Q(crowd_move_points__lte=99), name="profile_crowd_move_points_below_100"),
        ]

    def __str__(self):
        return f"settings of {self.user}"
