"""Forewarn's periodic work, declared in one place.

Beat runs on django-celery-beat's DatabaseScheduler: these defaults become PeriodicTask rows
(migration 0003 and `manage.py sweep --sync-beat`), and from then on operators pause or retime
an entry in the admin. Syncing only creates missing rows; it never overwrites an edited one.
"""

from django.conf import settings
from django.utils import timezone


def beat_schedule() -> dict[str, dict]:
    """The default beat entries: name -> task, interval in seconds, description."""
    lifecycle = settings.FOREWARN
    return {
        # Every minute: close ended windows, remind resolvers (at close, +1, +3, +7 days, then
        # weekly), escalate past resolve-by, nudge forecasters a day before a window closes,
        # nudge them about forecasts older than their setting (14 days by default) and crowds
        # that moved by their threshold (10 points) since they last forecast (services/nudges.py),
        # tell forecasters about resolutions the broker missed, queue pending webhooks.
        "forewarn-sweep": {
            "task": "forecasts.tasks.lifecycle_sweep",
            "every_seconds": lifecycle["SWEEP_INTERVAL_SECONDS"],
            "description": "Close ended windows and send reminders, escalations and nudges.",
        },
        # Every two minutes: email digests. The task itself keeps each user to one email per
        # digest period (Profile.digest_period), so ticking often only shortens the first wait.
        "forewarn-digests": {
            "task": "forecasts.tasks.digests_dispatch",
            "every_seconds": lifecycle["DIGEST_INTERVAL_SECONDS"],
            "description": "Email each user a digest of unsent notifications, once per digest period.",
        },
    }


def beat_schedule_sync(*, apps=None) -> list[str]:
    """Create the beat entries that are missing and return their names; existing rows are left alone.

    `apps` is a migration's app registry; the live one by default.
    """
    if apps is None:
        from django.apps import apps
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    created = []
    for name, entry in beat_schedule().items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=entry["every_seconds"], period="seconds")
        PeriodicTask.objects.create(
            name=name,
            task=entry["task"],
            interval=interval,
            description=entry["description"],
            # A tick still queued after one interval is stale: the next tick does the same work.
            expire_seconds=entry["every_seconds"],
        )
        created.append(name)
    if created:
        # What PeriodicTasks.update_changed() does: tells a running beat to reload its schedule.
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})
    return created
