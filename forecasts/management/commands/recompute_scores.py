"""`python manage.py recompute_scores`: rebuild stored scores from forecasts and resolutions."""

from django.core.management.base import BaseCommand, CommandError

from forecasts.services import (
    RECOMPUTE_BATCH_SIZE,
    questions_missing_scores,
    questions_scores_recompute,
    scores_recompute_all,
)


class Command(BaseCommand):
    help = (
        "Recompute stored scores: every question's (default), only the stale ones (--stale), "
        "or the given questions (--question ID, repeatable). Safe to run at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--question", type=int, action="append", dest="question_ids", metavar="ID")
        parser.add_argument(
            "--stale", action="store_true", help="Only questions whose scores disagree with their resolution."
        )
        parser.add_argument("--batch-size", type=int, default=RECOMPUTE_BATCH_SIZE)

    def handle(self, *args, question_ids=None, stale=False, batch_size=RECOMPUTE_BATCH_SIZE, **options):
        if question_ids and stale:
            raise CommandError("Give --question or --stale, not both.")
        if question_ids:
            questions, stored, failed = questions_scores_recompute(question_ids)
        elif stale:
            questions, stored, failed = questions_scores_recompute(
                list(questions_missing_scores().values_list("pk", flat=True))
            )
        else:
            questions, stored, failed = scores_recompute_all(batch_size=batch_size)
        self.stdout.write(f"Recomputed {questions} questions: {stored} scores stored.")
        if failed:
            raise CommandError(f"{len(failed)} questions failed (see the log): {failed[:20]}")
