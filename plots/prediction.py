"""Multi-task prediction: actual score against the best single-task score, with the seed noise as a
reference and the worst misses numbered."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from analysis.figure_data import clip_phrase, prediction_points, score_for, seed_phrase
from plots.page import GAP, Page, note_figure, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import (FONT_MIN, TITLE_SIZE, TRAINED, UNTRAINED, apply_style, experiment_labels, fit_limits,
                         interval_handles, linear_ticks, number)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TOP = 3  # worst misses numbered on the figure and listed beside it (summary.md lists the same kind)


def by_task(page: Page, beside: Axes, cells: pd.DataFrame, noise: float, ctx: OutputContext,
            top_inches: float) -> Axes:
    """actual − predicted per evaluation task, right of the scatter and under the list of misses: which
    tasks lose (or gain) in multi-task training beyond the seed noise (band)."""
    box = beside.get_position()
    tasks = ctx.tasks_in(cells)
    labels = [ctx.task(t).label for t in tasks]
    names_h = max(page.text_width(lab, FONT_MIN) for lab in labels) + 0.08
    x0 = box.x1 * page.width + 0.75
    y0 = box.y0 * page.height + names_h - x_axis_height(1) + 0.05
    y1 = box.y1 * page.height - top_inches
    ax = page.fig.add_axes((x0 / page.width, y0 / page.height, (page.width - x0 - 0.1) / page.width,
                            (y1 - y0) / page.height))
    where = cells["task"].map({t: i for i, t in enumerate(tasks)}).to_numpy(dtype=float)
    spread = (cells.groupby("task").cumcount().to_numpy() % 5 - 2) * 0.07  # a little jitter, deterministic
    colours = np.where(cells["trained"].to_numpy(dtype=bool), TRAINED, UNTRAINED)
    residual = cells["residual"].to_numpy(dtype=float)
    if np.isfinite(noise):
        ax.axhspan(-noise, noise, color="0.5", alpha=0.2, lw=0, zorder=0.5)
    ax.axhline(0, color="0.2", lw=0.8, zorder=1)
    ax.scatter(where + spread, residual, s=8, c=colours, edgecolors="none", zorder=3, gid="residuals")
    ax.set_xlim(-0.6, len(tasks) - 0.4)
    ax.set_ylim(*fit_limits(residual, include=(0.0,)))
    ax.set_xticks(range(len(tasks)), labels, rotation=90)
    linear_ticks(ax.yaxis, nbins=4)
    ax.set_ylabel("actual − predicted")
    return ax


def miss_lines(worst: pd.DataFrame, ctx: OutputContext) -> list[str]:
    """'1  ft2-7 on Angle: actual 0.12, predicted 0.55 (−0.43)' per worst miss."""
    labels = experiment_labels(list(worst["experiment"]), ctx.config)
    return [f"{i}  {label} on {ctx.task(r.task).label}: actual {number(r.actual)}, predicted "
            f"{number(r.predicted)} ({number(r.residual)})"
            for i, (label, r) in enumerate(zip(labels, worst.itertuples()), start=1)]


_RING = 3.6  # points: the radius of a miss's ring (marker size 34 pt², its edge included)
_NUMBER_W, _NUMBER_H = 5.0, 7.0  # points: a one-digit bold 7 pt number's box


def number_misses(ax: Axes, worst: pd.DataFrame) -> None:
    """Number each ringed miss (1 = the largest) beside its ring: the first of eight places around it,
    away from the diagonal first, where the number's box touches no ring and no number already placed."""
    fig = ax.figure
    to_pt = lambda x, y: ax.transData.transform((x, y)) / fig.dpi * 72  # noqa: E731
    rings = [to_pt(r.predicted, r.actual) for r in worst.itertuples()]
    boxes: list[tuple[float, float, float, float]] = [(x - _RING, y - _RING, x + _RING, y + _RING) for x, y in rings]
    gap = _RING + 1.5
    for i, (r, (x, y)) in enumerate(zip(worst.itertuples(), rings), start=1):
        below = r.residual < 0  # under the diagonal: the number goes further below / right
        ways = [(1, -1), (1, 0), (0, -1), (1, 1), (-1, -1), (0, 1), (-1, 0), (-1, 1)] if below else \
               [(-1, 1), (-1, 0), (0, 1), (1, 1), (-1, -1), (0, -1), (1, 0), (1, -1)]
        for k in range(4):  # further out when every place around the ring is taken
            reach = gap + k * 6.0
            spots = [(x + dx * (reach + _NUMBER_W / 2), y + dy * (reach + _NUMBER_H / 2)) for dx, dy in ways]
            free = [(cx, cy) for cx, cy in spots
                    if not any(cx - _NUMBER_W / 2 < b[2] and b[0] < cx + _NUMBER_W / 2 and
                               cy - _NUMBER_H / 2 < b[3] and b[1] < cy + _NUMBER_H / 2 for b in boxes)]
            if free:
                break
        cx, cy = (free or spots)[0]
        boxes.append((cx - _NUMBER_W / 2, cy - _NUMBER_H / 2, cx + _NUMBER_W / 2, cy + _NUMBER_H / 2))
        ax.annotate(str(i), (r.predicted, r.actual), xytext=(cx - x, cy - y), textcoords="offset points",
                    ha="center", va="center", fontsize=FONT_MIN, fontweight="bold", gid="miss")


@figure("prediction", needs="predictions", per=("group", "condition"), writes="prediction/{group}_{condition}",
        title="Multi-task score vs single-task prediction",
        description="For experiments trained on several tasks: each (experiment, evaluation task) as a point, "
                    "the prediction (max over its trained tasks of the matching single-task experiment's score, "
                    "same seed; a max of noisy scores leans high) against the actual score, both the mean over "
                    "seeds; diagonal: actual = predicted, grey band: ± the seed noise (median std of the actual "
                    "score across seeds), so misses inside it are chance; the largest misses numbered and "
                    "listed; vermillion: trained on the evaluated task.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    meaning = score_for(ctx.config, ctx.keys["condition"])
    points = prediction_points(data, meaning.column, ctx.config, top=TOP)
    cells = points.cells.dropna(subset=["actual", "predicted"])
    n_seeds = int(points.cells["n"].max()) if len(points.cells) else 1
    seeds = (f"; mean of {seed_phrase(points.cells['n'])}, each predicted from its own seed"
             if n_seeds > 1 else "")
    title = (f"{ctx.group_label}: multi-task {meaning.name} vs prediction from single-task runs, "
             f"{ctx.condition_label}{seeds}") + (f"; {clip_phrase(ctx.config)}" if ctx.config.clip else "")
    if cells.empty:
        return note_figure(f"No {meaning.name} predictions for this group and condition.", title,
                           width=ctx.config.plot_width)

    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.wrap(title, TITLE_SIZE)
    noise = points.noise
    handles, names = interval_handles(False, "")
    names = ["trained on the evaluated task", "not trained on it"]
    handles.append(Line2D([], [], color="0.2", lw=0.8))
    names.append("actual = predicted")
    if np.isfinite(noise):
        handles.append(Rectangle((0, 0), 1, 1, color="0.5", alpha=0.2, lw=0))
        names.append(f"± seed noise ({number(noise)}, median std across seeds)")
    legend_cols, legend_h = page.legend_columns(names)
    misses = miss_lines(points.worst, ctx)
    heading = "largest misses (actual − predicted):"
    list_text = "\n".join([heading, *misses])
    list_w = page.text_width(list_text, FONT_MIN)
    left = x_axis_height(1) + 0.05  # the y axis: tick labels and its label, turned
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height(0) + 0.05
    beside = page.width - left - 2.2 - 0.2 >= list_w  # room for the list right of a 2.2 in panel
    side = min(3.0, page.width - left - 0.2 - (list_w + 0.2 if beside else 0.0))
    list_h = 0.0 if beside else page.text_height(list_text, FONT_MIN) + GAP
    bottom = x_axis_height(1) + list_h + legend_h + GAP
    [ax] = page.panels(1, 1, side, left, top, bottom, panel_width=side)

    actual, predicted = cells["actual"].to_numpy(), cells["predicted"].to_numpy()
    lo, hi = fit_limits(np.concatenate([actual, predicted]), pad=0.06)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    line = np.array([lo, hi])
    if np.isfinite(noise):
        ax.fill_between(line, line - noise, line + noise, color="0.5", alpha=0.2, lw=0, zorder=0.5)
    ax.plot(line, line, color="0.2", lw=0.8, zorder=1)
    ax.axhline(0, color="0.85", lw=0.6, zorder=0.4)
    ax.axvline(0, color="0.85", lw=0.6, zorder=0.4)
    colours = np.where(cells["trained"].to_numpy(dtype=bool), TRAINED, UNTRAINED)
    ax.scatter(predicted, actual, s=14, c=colours, edgecolors="white", linewidths=0.4, zorder=3, gid="cells")
    ax.scatter(points.worst["predicted"], points.worst["actual"], s=34, facecolors="none", edgecolors="black",
               linewidths=0.7, zorder=3.5, gid="worst")
    number_misses(ax, points.worst)
    linear_ticks(ax.xaxis, nbins=4, least=2)
    linear_ticks(ax.yaxis, nbins=4, least=2)
    ax.set_xlabel(f"predicted: best single-task {meaning.name}")
    ax.set_ylabel(f"actual {meaning.name}")
    ax.set_title("above the diagonal: better than predicted", fontsize=FONT_MIN, color="0.3")
    box = ax.get_position()
    if beside:
        page.fig.text((box.x1 * page.width + 0.3) / page.width, box.y1, list_text, ha="left", va="top",
                      fontsize=FONT_MIN, linespacing=1.3)
        by_task(page, ax, cells, noise, ctx, top_inches=page.text_height(list_text, FONT_MIN, 1.3) + 0.12)
    else:
        page.fig.text(GAP / page.width, (legend_h + GAP + list_h) / page.height, list_text, ha="left", va="top",
                      fontsize=FONT_MIN, linespacing=1.2)
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
