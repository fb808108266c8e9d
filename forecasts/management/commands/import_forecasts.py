"""`python manage.py import_forecasts FILE --format ...`: forecasts from another tracker or another Forewarn."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from forecasts.import_formats import FORMAT_LABELS, FORMATS
from forecasts.models import Team
from forecasts.services import ImportFailed, forecasts_import

MAX_ERRORS_SHOWN = 200


class Command(BaseCommand):
    help = (
        "Import forecasts (with their questions, authors, times and resolutions) from a file: "
        + "; ".join(f"{name}: {label}" for name, label in FORMAT_LABELS.items())
        + ". A file with a bad row writes nothing unless --partial. Importing a file twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt")
        parser.add_argument(
            "--owner", help="Username owning the imported questions (default: the only superuser, if there is one)."
        )
        parser.add_argument("--team", help="Name of the team the imported questions belong to (default: none).")
        parser.add_argument("--dry-run", action="store_true", help="Check and count everything, write nothing.")
        parser.add_argument("--partial", action="store_true", help="Keep the good rows of a file with bad ones.")

    def handle(self, *args, file, fmt, owner=None, team=None, dry_run=False, partial=False, **options):
        try:
            text = file.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"Cannot read {file}: {error}") from error
        try:
            report = forecasts_import(
                text=text, fmt=fmt, owner=self.owner(owner), team=self.team(team), dry_run=dry_run, partial=partial
            )
        except ImportFailed as failure:
            self.errors_write(failure.report.errors)
            raise CommandError(f"{len(failure.report.errors)} bad rows in {file}: nothing imported.") from failure
        self.errors_write(report.errors)
        self.stdout.write(report.summary())

    def errors_write(self, errors):
        for error in errors[:MAX_ERRORS_SHOWN]:
            self.stderr.write(str(error))
        if len(errors) > MAX_ERRORS_SHOWN:
            self.stderr.write(f"... and {len(errors) - MAX_ERRORS_SHOWN} more")

    def owner(self, username):
        users = get_user_model().objects.filter(is_active=True)
        if username:
            user = users.filter(username=username).first()
            if user is None:
                raise CommandError(f"No active user {username!r}.")
            return user
        superusers = list(users.filter(is_superuser=True)[:2])
        if len(superusers) != 1:
            raise CommandError("Give --owner USER: the questions need an owner.")
        return superusers[0]

    def team(self, name):
        if not name:
            return None
        team = Team.objects.filter(name=name).first()
        if team is None:
            raise CommandError(f"No team {name!r}.")
        return team
