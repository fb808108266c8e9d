"""Charts as SVG, drawn with matplotlib's object-oriented API (no pyplot state, safe in threads).

Text is drawn as paths (matplotlib's default for SVG), so names in titles can never become markup.
Each text also goes into the file as a comment, so a title names only what the caller passes:
the statistics pass `selectors.filters_description`, which names only authors the viewer may see.
"""

from datetime import timedelta
from io import BytesIO

import matplotlib
from django.http import HttpResponse

matplotlib.use("Agg")  # never a GUI backend, even if something imports pyplot later

import matplotlib.dates as mdates
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from forecasts.models import within_year_bounds

POINT_COLOUR = "#1f5f99"
COUNT_COLOUR = "#9bb7d4"
DIAGONAL_COLOUR = "#888888"
MID_MONTH = timedelta(days=15)
SVG_SETTINGS = {"svg.hashsalt": "forewarn", "font.size": 9}


def figure_svg(figure: Figure) -> bytes:
    """The figure as SVG bytes, without a creation date so equal data gives an equal file."""
    buffer = BytesIO()
    with matplotlib.rc_context(SVG_SETTINGS):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def svg_response(svg: bytes) -> HttpResponse:
    """A chart as an HTTP response that, opened on its own, can run nothing and load nothing."""
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Cache-Control"] = "private, max-age=60"
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    return response


def number(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def calibration_chart_svg(calibration: dict, *, subject: str = "") -> bytes:
    """Observed frequency against mean forecast per bin, with Wilson 95% bars, the diagonal and counts."""
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(6, 6.6))
        grid = figure.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.08)
        chart = figure.add_subplot(grid[0])
        counts = figure.add_subplot(grid[1], sharex=chart)
        bins = calibration["bins"]

        chart.plot([0, 1], [0, 1], linestyle="--", linewidth=1, color=DIAGONAL_COLOUR, label="perfectly calibrated")
        if bins:
            forecast = [row["mean_forecast"] for row in bins]
            observed = [row["observed_frequency"] for row in bins]
            below = [row["observed_frequency"] - row["ci_low"] for row in bins]
            above = [row["ci_high"] - row["observed_frequency"] for row in bins]
            chart.errorbar(
                forecast,
                observed,
                yerr=[below, above],
                fmt="o",
                color=POINT_COLOUR,
                ecolor=POINT_COLOUR,
                elinewidth=1,
                capsize=3,
                label="observed frequency, Wilson 95% interval",
            )
            for row in bins:
                chart.annotate(
                    f"{row['count']}",
                    (row["mean_forecast"], row["observed_frequency"]),
                    textcoords="offset points",
                    xytext=(6, -3),
                    fontsize=7,
                    color="#333333",
                )
            counts.bar(
                [row["lower"] for row in bins],
                [row["count"] for row in bins],
                width=[row["upper"] - row["lower"] for row in bins],
                align="edge",
                color=COUNT_COLOUR,
                edgecolor="white",
            )
        else:
            chart.text(0.5, 0.5, "Nothing scored yet", ha="center", va="center", color="#666666")

        chart.set_xlim(0, 1)
        chart.set_ylim(-0.02, 1.02)
        chart.set_ylabel("Observed frequency of YES")
        chart.grid(True, linewidth=0.3)
        chart.legend(loc="upper left", fontsize=7, frameon=False)
        chart.tick_params(labelbottom=False)
        heading = "Calibration" + (f": {subject}" if subject else "")
        chart.set_title(
            f"{heading}\nn = {calibration['n']} on {calibration['questions']} questions, "
            f"Brier {number(calibration['brier'])} (0-1 scale), log loss {number(calibration['log_loss'])}",
            fontsize=9,
        )
        counts.set_xlabel("Forecast probability (bin mean)")
        counts.set_ylabel("Forecasts")
        counts.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=3))
        counts.grid(True, axis="y", linewidth=0.3)
        return figure_svg(figure)


def brier_over_time_chart_svg(months: list[dict], *, subject: str = "") -> bytes:
    """Mean Brier per month in which the window ended as a line, the number of scored forecasts as bars."""
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(7, 3.6))
        counts = figure.add_subplot()
        brier = counts.twinx()
        # The line on top of the bars: draw the twin axes above and make its background clear.
        brier.set_zorder(counts.get_zorder() + 1)
        brier.patch.set_visible(False)
        # A month outside the years the models allow can only be a row written before the bounds
        # existed: the margins either side of it would overflow the calendar, so it is left out.
        months = [row for row in months if within_year_bounds(row["month"])]
        if months:
            moments = [row["month"] + MID_MONTH for row in months]
            counts.bar(moments, [row["n"] for row in months], width=24, color=COUNT_COLOUR, label="scored forecasts")
            brier.plot(
                moments, [row["mean_brier"] for row in months], marker="o", color=POINT_COLOUR, label="mean Brier"
            )
            for moment, row in zip(moments, months, strict=False):
                brier.annotate(
                    f"n={row['n']}",
                    (moment, row["mean_brier"]),
                    textcoords="offset points",
                    xytext=(0, 6),
                    ha="center",
                    fontsize=7,
                )
            # A month either side, so a single month is a bar and not the whole width.
            counts.set_xlim(months[0]["month"] - timedelta(days=31), months[-1]["month"] + timedelta(days=62))
            locator = mdates.AutoDateLocator(minticks=3, maxticks=12)
            counts.xaxis.set_major_locator(locator)
            counts.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        else:
            counts.text(
                0.5, 0.5, "Nothing scored yet", ha="center", va="center", color="#666666", transform=counts.transAxes
            )
        brier.axhline(0.25, linestyle="--", linewidth=1, color=DIAGONAL_COLOUR, label="always 50%")
        brier.set_ylim(0, max([0.5] + [row["mean_brier"] * 1.15 for row in months]))
        brier.set_ylabel("Mean Brier, 0-1 scale (lower is better)")
        counts.set_ylabel("Scored forecasts")
        counts.yaxis.set_major_locator(MaxNLocator(integer=True))
        brier.legend(loc="upper right", fontsize=7, frameon=False)
        counts.set_title("Brier score by month the window ended" + (f": {subject}" if subject else ""), fontsize=9)
        return figure_svg(figure)


def aggregate_comparison_chart_svg(comparison: dict, *, subject: str = "") -> bytes:
    """Mean Brier at the close of each crowd aggregate and the best single forecaster, with 95% intervals."""
    rows = [(row["label"], row) for row in comparison["methods"] if row["n"]]
    best = comparison.get("best_forecaster")
    if best and best["n"]:
        rows.append((f"Best single forecaster (n={best['n']})", best))
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(7, 1.2 + 0.42 * max(1, len(rows))))
        axes = figure.add_subplot()
        if rows:
            positions = list(range(len(rows)))[::-1]
            values = [row["brier"] for _, row in rows]
            errors = [
                [row["brier"] - row["brier_ci"][0] for _, row in rows],
                [row["brier_ci"][1] - row["brier"] for _, row in rows],
            ]
            axes.barh(positions, values, xerr=errors, color=COUNT_COLOUR, ecolor=POINT_COLOUR, capsize=3)
            axes.set_yticks(positions, [label for label, _ in rows])
            for position, value in zip(positions, values, strict=True):
                axes.annotate(f"{value:.3f}", (value, position), textcoords="offset points", xytext=(4, 4), fontsize=7)
            axes.set_xlim(0, max(0.3, max(row["brier_ci"][1] for _, row in rows) * 1.15))
        else:
            axes.text(
                0.5, 0.5, "Nothing resolved yet", ha="center", va="center", color="#666666", transform=axes.transAxes
            )
            axes.set_yticks([])
        axes.axvline(0.25, linestyle="--", linewidth=1, color=DIAGONAL_COLOUR)
        axes.set_xlabel("Mean Brier at the close, 0-1 scale (lower is better; dashed: always 50%)")
        title = f"Crowd aggregates on {comparison['questions']} resolved questions"
        axes.set_title(title + (f": {subject}" if subject else ""), fontsize=9)
        figure.tight_layout()
        return figure_svg(figure)


RAW_COLOUR = "#c0504d"


def group_distribution_chart_svg(
    *, kind: str, labels: list[str], raw: list[float | None], coherent: list[float | None], subject: str = ""
) -> bytes:
    """A question group's implied distribution: the crowd's CDF over the ladder's ends (`when`) or
    its probability per option (`which`), coherent as a line or bars, the raw member medians as dots."""
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(7, 3.6))
        chart = figure.add_subplot()
        positions = list(range(len(labels)))
        known = [index for index, value in enumerate(coherent) if value is not None]
        if not known:
            chart.text(
                0.5, 0.5, "No forecasts yet", ha="center", va="center", color="#666666", transform=chart.transAxes
            )
        elif kind == "when":
            chart.step(
                [positions[index] for index in known],
                [coherent[index] for index in known],
                where="post",
                marker="o",
                color=POINT_COLOUR,
                label="crowd P(by date), made non-decreasing",
            )
        else:
            chart.bar(
                [positions[index] for index in known],
                [coherent[index] for index in known],
                color=COUNT_COLOUR,
                label="crowd, normalised to 1",
            )
        raw_known = [index for index, value in enumerate(raw) if value is not None]
        if raw_known:
            chart.scatter(
                [positions[index] for index in raw_known],
                [raw[index] for index in raw_known],
                marker="x",
                color=RAW_COLOUR,
                zorder=3,
                label="raw member medians",
            )
        chart.set_xticks(positions, labels, fontsize=8, rotation=0 if len(labels) <= 6 else 30)
        chart.set_xlim(-0.6, len(labels) - 0.4)
        chart.set_ylim(0, 1.05)
        chart.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))  # percentages, as every page says them
        chart.set_ylabel("P(by this date)" if kind == "when" else "P(this option)")
        chart.grid(True, axis="y", linewidth=0.3)
        if known or raw_known:
            chart.legend(loc="upper left", fontsize=7, frameon=False)
        title = "Implied distribution (cumulative)" if kind == "when" else "Implied distribution"
        chart.set_title(title + (f": {subject}" if subject else ""), fontsize=9)
        figure.tight_layout()
        return figure_svg(figure)


MINE_COLOUR = "#c0392b"
CROWD_COLOUR = POINT_COLOUR
WINDOW_COLOUR = "#e8eef5"
STATEMENT_MARKERS = ("s", "D", "^", "v", "P", "X", "*", "h")
STATEMENT_COLOURS = ("#2e7d32", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b", "#1a5276", "#a93226")


def step_points(steps) -> tuple[list, list]:
    """The start of each crowd step and, last, the end of the final one: a line drawn as steps-post."""
    if not steps:
        return [], []
    moments = [step.start for step in steps] + [steps[-1].end]
    medians = [step.median for step in steps] + [steps[-1].median]
    return moments, medians


def question_chart_svg(
    *,
    mine: list,
    crowd: list,
    statements: dict,
    window_start,
    window_end,
    end,
    closed_label: str = "",
    closed_at=None,
    narrow: bool = False,
    crowd_hidden: bool = False,
) -> bytes:
    """Probability of YES over time: the crowd median as steps, the viewer's forecasts, each
    source's statements as markers, the window shaded and the close (or the event) marked.

    `narrow` draws it for a phone's width (the same text size on a third of the width); `crowd_hidden`
    says so where the crowd would be (blind forecasting), rather than "No forecasts yet"."""
    with matplotlib.rc_context(SVG_SETTINGS):
        figure = Figure(figsize=(4.2, 3.6) if narrow else (7.5, 3.4))
        chart = figure.add_subplot()
        moments = [moment for series in (mine, *statements.values()) for moment, _ in series]
        moments += [step.start for step in crowd]
        start = min([window_start or window_end, *moments]) if moments or window_start else end
        if window_start is not None:
            chart.axvspan(window_start, window_end, color=WINDOW_COLOUR, label="question window", zorder=0)
        crowd_moments, crowd_medians = step_points(crowd)
        if crowd_moments:
            chart.step(
                crowd_moments, crowd_medians, where="post", color=CROWD_COLOUR, linewidth=1.6, label="crowd median"
            )
        if mine:
            # Your forecast stands until you change it: drawn as steps to the end, with a dot at each one.
            chart.step(
                [moment for moment, _ in mine] + [end],
                [probability for _, probability in mine] + [mine[-1][1]],
                where="post",
                color=MINE_COLOUR,
                linewidth=1.2,
                linestyle="--",
            )
            chart.plot(
                [moment for moment, _ in mine],
                [probability for _, probability in mine],
                "o",
                color=MINE_COLOUR,
                markersize=4,
                label="your forecasts",
            )
        for index, (name, series) in enumerate(sorted(statements.items())):
            chart.plot(
                [moment for moment, _ in series],
                [probability for _, probability in series],
                linestyle="none",
                marker=STATEMENT_MARKERS[index % len(STATEMENT_MARKERS)],
                color=STATEMENT_COLOURS[index % len(STATEMENT_COLOURS)],
                markersize=6,
                label=name if len(name) <= 40 else name[:39] + "…",
            )
        if closed_at is not None:
            chart.axvline(closed_at, color="#333333", linewidth=1, linestyle=":", label=closed_label or "closed")
        if crowd_hidden:
            chart.text(
                0.5, 0.5, "Crowd hidden (blind forecasting)", ha="center", va="center", color="#666666",
                transform=chart.transAxes,
            )  # fmt: skip
        elif not (crowd or mine or statements):
            chart.text(
                0.5, 0.5, "No forecasts yet", ha="center", va="center", color="#666666", transform=chart.transAxes
            )
        right = max([end, window_end, *moments])
        margin = max((right - start) * 0.03, timedelta(hours=1))
        chart.set_xlim(start - margin, right + margin)
        chart.set_ylim(0, 1)
        chart.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        chart.set_ylabel("Probability of YES")
        locator = mdates.AutoDateLocator(minticks=3, maxticks=5 if narrow else 8)
        chart.xaxis.set_major_locator(locator)
        chart.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        chart.grid(True, linewidth=0.3)
        if chart.get_legend_handles_labels()[0]:
            chart.legend(
                loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1 if narrow else 3, fontsize=7, frameon=False
            )
        return figure_svg(figure)
