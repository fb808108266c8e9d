"""`python manage.py bench`: a crisis-scale data set on PostgreSQL, and each figure beside its baseline.

Exists only under DJANGO_SETTINGS_MODULE=config.settings.bench (`make bench`), which installs this
app and mounts its baseline views, with DATABASE_URL pointing to PostgreSQL. The bench never
touches that database's tables: it creates its own databases next to it (`--database`, by default
`forewarn_bench_<pid>`, and the same name with `_10k`), migrates, loads, measures and drops them.
"""

import socket
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from bench import database, intake, measure, report
from bench.data import dataset_load
from bench.imports import import_figures
from bench.load import submission_figures
from bench.pages import page_figures
from bench.sweep import sweep_figures
from forecasts.models import Question
from forecasts.services import question_scores_recompute


def free_port() -> int:
    """A TCP port nobody listens on now, for the bench's gunicorn."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


GROWTH_SCALE = 0.01  # 10,000 forecasts: the small data set the one-forecaster endpoint is compared at
RECOMPUTE_SAMPLE = 20


class Command(BaseCommand):
    help = (
        "Build a synthetic data set on PostgreSQL (1.0 = 20,000 questions, 2,000 forecasters, 1,000,000 "
        "forecasts) in a database of its own, and print each figure beside its baseline as a ratio."
    )

    def add_arguments(self, parser):
        parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 forecasts; 0.01 is tiny.")
        parser.add_argument("--runs", type=int, default=5, help="Each figure is the median of this many runs.")
        parser.add_argument("--json", type=Path, default=None, help="Results file (default var/bench/results.json).")
        parser.add_argument("--seed", type=int, default=20220224)
        parser.add_argument("--keep", action="store_true", help="Keep the bench database for a look afterwards.")
        parser.add_argument(
            "--database",
            default=None,
            help="Name of the bench database (containing 'bench'; a second one gets '_10k' appended). "
            "Default: forewarn_bench_<process id>, so two runs on one server never collide.",
        )
        parser.add_argument(
            "--port", type=int, default=0, help="Port of the gunicorn the bench starts (0: a free one)."
        )
        parser.add_argument(
            "--doc",
            type=Path,
            default=Path(settings.BASE_DIR) / "docs" / "performance.md",
            help="Write the results table into this file's results section (default docs/performance.md).",
        )
        parser.add_argument("--no-doc", action="store_true", help="Do not write the results into a document.")
        parser.add_argument("--requests", type=int, default=None, help="Submissions per run (default scales).")
        parser.add_argument("--duration", type=float, default=10.0, help="At most this many seconds per load run.")
        parser.add_argument("--concurrency", type=int, default=4, help="Load generator threads.")

    def handle(self, *args, **options):
        try:
            database.require_postgresql()
        except database.NotPostgreSQL as error:
            raise CommandError(str(error)) from error
        if options["scale"] <= 0 or options["runs"] < 1:
            raise CommandError("--scale must be positive and --runs at least 1.")
        options["database"] = options["database"] or database.default_database_name()
        try:
            database.database_name_check(options["database"])
        except database.BadDatabaseName as error:
            raise CommandError(str(error)) from error
        options["port"] = options["port"] or free_port()
        json_path = options["json"] or Path(settings.VAR_DIR) / "bench" / "results.json"
        began = time.perf_counter()
        results, figures = self.bench(options)
        results["bench_seconds"] = time.perf_counter() - began
        results["finished_at"] = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
        report.results_write(json_path, results)
        self.stdout.write("\n" + report.figures_table(figures))
        if not options["no_doc"]:
            report.document_write(options["doc"], results, figures)
            self.stdout.write(f"\nwrote the results section of {options['doc']}")
        self.stdout.write(f"\nresults: {json_path}; the whole bench took {results['bench_seconds']:.0f} s")

    def bench(self, options) -> tuple[dict, list[measure.Figure]]:
        scale, runs, seed = options["scale"], options["runs"], options["seed"]
        log = self.stdout.write
        log(f"PostgreSQL bench at scale {scale:g}, median of {runs} runs")
        with database.bench_database(f"{options['database']}_10k"):
            log("loading the 10,000-forecast data set for the growth figure...")
            small = dataset_load(scale=GROWTH_SCALE, seed=seed, now=timezone.now(), log=log)
            small_seconds = measure.one_forecaster_seconds(small, runs=runs)
        with database.bench_database(options["database"], keep=options["keep"]):
            log("loading the data set...")
            data = dataset_load(scale=scale, seed=seed, now=timezone.now(), log=log)
            results = {
                "scale": scale,
                "runs": runs,
                "seed": seed,
                "machine": report.machine_description(),
                "data": {
                    "questions": data.sizes.questions,
                    "resolved": data.sizes.resolved,
                    "forecasters": data.sizes.forecasters,
                    "forecasts": data.forecast_total,
                    "author_question_pairs": data.pair_total,
                    "scores": data.score_total,
                    "heavy_forecaster_resolved_pairs": data.heavy_resolved_pairs,
                    "load_seconds": data.timings,
                    "scores_one_query_per_question": self.recompute_sample(data),
                },
            }
            log(f"scores through question_scores_recompute: {results['data']['scores_one_query_per_question']}")
            figures = []
            log("calibration...")
            calibration, results["calibration_agreement"] = measure.calibration_figures(data, runs=runs)
            figures += calibration
            figures += measure.rollup_figures(data, runs=runs)
            main_seconds = measure.one_forecaster_seconds(data, runs=runs)
            figures.append(
                measure.Figure(
                    f"calibration, one forecaster at {data.forecast_total:,} forecasts",
                    main_seconds * 1000,
                    "ms",
                    f"the same at {small.forecast_total:,} forecasts",
                    small_seconds * 1000,
                    "<= 1.5x",
                    main_seconds <= 1.5 * small_seconds,
                    f"{data.heavy_resolved_pairs:,} vs {small.heavy_resolved_pairs:,} pairs",
                )
            )
            log("question list...")
            question_list, results["question_list_queries"] = measure.question_list_figures(data, runs=runs)
            figures += question_list
            log("the workbench's pages...")
            pages, results["pages"] = page_figures(data, runs=runs)
            figures += pages
            log("calibration over HTTP and forecast submission through gunicorn...")
            submission, results["submission"] = submission_figures(
                data,
                database_url=database.database_url(options["database"]),
                port=options["port"],
                runs=runs,
                count=options["requests"] or max(100, round(2_000 * min(scale, 1.0))),
                duration=options["duration"],
                concurrency=options["concurrency"],
                log_path=Path(settings.VAR_DIR) / "bench" / f"gunicorn-{options['database']}.log",
                calibration_floors=results["calibration_agreement"],
            )
            figures += submission
            log("sweep...")
            windows = max(100, round(10_000 * scale))
            sweep, results["sweep"] = sweep_figures(data, runs=runs, count=windows, seed=seed)
            figures += sweep
            figures += import_figures(scale=scale, seed=seed)[0]
            figures += intake.intake_figures(runs=runs)
            results["machine"]["load_average_after"] = report.machine_description()["load_average"]
        results["figures"] = [figure.as_dict() for figure in figures]
        return results, figures

    def recompute_sample(self, data) -> dict:
        """What filling the scores one question at a time would cost: the service on a sample."""
        sample = list(
            Question.objects.filter(status=Question.Status.RESOLVED)
            .order_by("pk")
            .values_list("pk", flat=True)[:RECOMPUTE_SAMPLE]
        )
        times = []
        for question_id in sample:
            began = time.perf_counter()
            question_scores_recompute(question_id=question_id)
            times.append(time.perf_counter() - began)
        per_question = statistics.median(times) if times else 0.0
        return {
            "median_ms_per_question": round(per_question * 1000, 2),
            "estimated_seconds_for_all": round(per_question * data.sizes.resolved, 1),
            "bulk_seconds": round(data.timings["scores"], 1),
        }
