"""Create the demo admin and forecaster once, with random passwords; never reset them afterwards."""

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from forecasts.management.commands.load_seeds import PRACTICE_OWNER_USERNAME, practice_questions_hand_over

CREDENTIALS_FILENAME = "demo-credentials.txt"

# username -> (flags, group, what the account is for)
DEMO_USERS = {
    "admin": ({"is_staff": True, "is_superuser": True}, None, "superuser: every permission"),
    PRACTICE_OWNER_USERNAME: (
        {"is_staff": True},
        "Forecasters",
        "Forecasters group: files questions and forecasts; owns the practice questions",
    ),
}


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / CREDENTIALS_FILENAME


def demo_user_create(*, username: str, flags: dict, group_name: str | None) -> str | None:
    """Create one demo account with a random password; None (and no change) if the username exists."""
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        # An address on the reserved .localhost domain: digests print on the console under `make run`.
        defaults = {**flags, "email": f"{username}@forewarn.localhost"}
        user, created = get_user_model().objects.get_or_create(username=username, defaults=defaults)
        if not created:
            return None
        user.set_password(password)
        user.save(update_fields=["password"])
        if group_name:
            user.groups.add(Group.objects.get(name=group_name))
    return password


def credentials_append(lines: list[str]) -> Path:
    """Append to the credentials file, readable by its owner only."""
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.chmod(path, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


class Command(BaseCommand):
    help = "Create the demo accounts 'admin' and 'forecaster' with random passwords (once; never resets them)."

    def handle(self, *args, **options):
        admin_url = f"{settings.SITE_URL}/admin/"
        created = []
        for username, (flags, group_name, purpose) in DEMO_USERS.items():
            password = demo_user_create(username=username, flags=flags, group_name=group_name)
            if password is not None:
                created.append((username, password, purpose))
        # The practice questions loaded before this account existed become its own (a rerun moves none).
        practice_questions_hand_over()
        if not created:
            path = credentials_path()
            where = (
                f"their passwords are in {path}"
                if path.exists()
                else "they were not created here; set a password with `python manage.py changepassword <username>`"
            )
            self.stdout.write(f"Demo accounts already exist ({', '.join(DEMO_USERS)}): {where}.")
            self.stdout.write(f"Log in at {admin_url}")
            return
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        path = credentials_append(
            [
                f"# Forewarn demo accounts created {stamp} in database {settings.DATABASES['default']['NAME']}; log in at {admin_url}"
            ]
            + [f"{username:<12} {password}    # {purpose}" for username, password, purpose in created]
        )
        self.stdout.write(self.style.SUCCESS("Demo accounts created. The passwords are shown only this once:"))
        for username, password, purpose in created:
            self.stdout.write(f"  {username:<12} {password}    ({purpose})")
        self.stdout.write(f"They are also saved in {path} (readable only by you).")
        self.stdout.write(f"Log in at {admin_url}")
