"""`manage.py sweep`: the beat's periodic work, once, for cron users and operators."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from forecasts import services
from forecasts.models import DigestDelivery, Notification
from forecasts.schedules import beat_schedule_sync


class Command(BaseCommand):
    help = (
        "Close ended windows, send due reminders, escalations, nudges and resolution notices, "
        "then send due digests and webhooks: what Celery beat does, once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would happen; write and send nothing.")
        parser.add_argument(
            "--no-deliver",
            action="store_true",
            help="Create notifications only; leave emails and webhooks to the workers.",
        )
        parser.add_argument(
            "--sync-beat", action="store_true", help="Also create any missing beat entries (edited ones are kept)."
        )

    def handle(self, *args, dry_run=False, no_deliver=False, sync_beat=False, **options):
        if sync_beat and not dry_run:
            created = beat_schedule_sync()
            self.stdout.write(f"beat entries created: {', '.join(created) or 'none (all present)'}")
        if dry_run:
            self.dry_run()
            return
        if no_deliver:
            self.describe(services.lifecycle_sweep(), digests=[])
            return
        run = services.lifecycle_run(
            digests_deliver=services.digests_deliver_inline, webhooks_deliver=services.webhooks_deliver_inline
        )
        self.describe(run.report, digests=[])
        for error in run.digests.errors + run.webhooks.errors:
            self.stderr.write(error)
        self.stdout.write(
            f"digests sent: {run.digests.sent}, failed: {run.digests.failed}; "
            f"webhooks delivered: {run.webhooks.sent}, failed: {run.webhooks.failed}"
        )

    def dry_run(self):
        with transaction.atomic():
            report = services.lifecycle_sweep(now=timezone.now())
            digest_ids = services.digests_prepare(now=report.now)
            digests = list(DigestDelivery.objects.filter(pk__in=digest_ids).select_related("user"))
            counts = {delivery.pk: Notification.objects.filter(digest=delivery).count() for delivery in digests}
            self.describe(report, digests=[(delivery, counts[delivery.pk]) for delivery in digests], prefix="would ")
            transaction.set_rollback(True)
        self.stdout.write(self.style.WARNING("dry run: nothing was written or sent"))

    def describe(self, report, *, digests, prefix=""):
        self.stdout.write(f"{prefix}close {len(report.closed)} question(s): {report.closed[:50]}")
        for notification in report.notifications:
            self.stdout.write(
                f"{prefix}notify user {notification.user_id} [{notification.kind} round {notification.round}] "
                f"question {notification.question_id}: {notification.message}"
            )
        for delivery, count in digests:
            self.stdout.write(f"{prefix}email a digest of {count} notification(s) to {delivery.user.email}")
        if report.webhook_deliveries:
            self.stdout.write(f"{prefix}post {len(report.webhook_deliveries)} webhook(s)")
        if report.failed_steps:
            self.stderr.write(f"failed steps: {', '.join(report.failed_steps)}")
