"""The bench's output: the machine it ran on, a table for people and JSON for later comparison."""

import json
import os
import platform
from pathlib import Path

import django
from django.db import connection

from bench.measure import Figure


def machine_description() -> dict:
    """Cores, memory, CPU model, PostgreSQL and Python versions, and the load while measuring."""
    memory_kib = 0
    cpu_model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgresql = cursor.fetchone()[0]
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "cpu": cpu_model,
        "postgresql": postgresql,
        "python": platform.python_version(),
        "django": django.get_version(),
        "load_average": os.getloadavg(),
    }


def number(value: float, unit: str) -> str:
    if unit == "queries":
        return f"{value:.0f}"
    return f"{value:,.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"


def figures_table(figures: list[Figure]) -> str:
    """A Markdown table: figure, Forewarn, baseline, ratio, target, met."""
    lines = [
        "| Figure | Forewarn | Baseline | Ratio | Target | Met |",
        "|---|---:|---|---:|---|:-:|",
    ]
    for figure in figures:
        ratio = f"{figure.ratio:.2f}x" if figure.ratio is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[figure.met]
        note = f" ({figure.note})" if figure.note else ""
        lines.append(
            f"| {figure.name}{note} | {number(figure.value, figure.unit)} | {figure.baseline_name}: "
            f"{number(figure.baseline, figure.unit)} | {ratio} | {figure.target} | {met} |"
        )
    return "\n".join(lines)


def results_write(path: Path, results: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")


RESULTS_START = "<!-- bench results: start (written by manage.py bench) -->"
RESULTS_END = "<!-- bench results: end -->"


def results_section(results: dict, figures: list[Figure]) -> str:
    """The latest run in words and tables: when, on what, which data, every figure and the sweep's batch sizes."""
    machine, data = results["machine"], results["data"]
    load_before = ", ".join(f"{value:.1f}" for value in machine["load_average"])
    load_after = ", ".join(f"{value:.1f}" for value in machine.get("load_average_after", machine["load_average"]))
    lines = [
        f"Latest run: {results['finished_at']}, `--scale {results['scale']:g} --runs {results['runs']}` "
        f"(each figure the median of {results['runs']} runs; the whole bench took {results['bench_seconds']:.0f} s).",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory_gib']} GiB, PostgreSQL "
        f"{machine['postgresql']}, Python {machine['python']}, Django {machine['django']}; load average "
        f"{load_before} at the start and {load_after} at the end.",
        "",
        f"Data: {data['questions']:,} questions ({data['resolved']:,} resolved), {data['forecasters']:,} forecasters, "
        f"{data['forecasts']:,} forecasts over {data['author_question_pairs']:,} (author, question) pairs, "
        f"{data['scores']:,} scores; the heavy forecaster has {data['heavy_forecaster_resolved_pairs']:,} scored pairs.",
        "",
        figures_table(figures),
    ]
    by_batch_size = results.get("sweep", {}).get("median_ms_by_batch_size")
    if by_batch_size:
        lines += [
            "",
            "The sweep at each `FOREWARN_SWEEP_BATCH_SIZE` (configured: "
            f"{results['sweep']['batch_size']}), same windows, median of {results['runs']} runs:",
            "",
            "| batch size | " + " | ".join(str(size) for size in by_batch_size) + " |",
            "|---|" + "---:|" * len(by_batch_size),
            "| sweep | " + " | ".join(f"{value:,.0f} ms" for value in by_batch_size.values()) + " |",
        ]
    return "\n".join(lines)


def document_write(path: Path, results: dict, figures: list[Figure]) -> None:
    """Replace the results section of `path` (between the markers; appended when it has none)."""
    text = path.read_text() if path.exists() else ""
    section = f"{RESULTS_START}\n{results_section(results, figures)}\n{RESULTS_END}"
    if RESULTS_START in text and RESULTS_END in text:
        before, rest = text.split(RESULTS_START, 1)
        _, after = rest.split(RESULTS_END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + section + "\n"
    path.write_text(text)
