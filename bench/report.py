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
