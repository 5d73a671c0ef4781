"""Last value per run, for runs scored against no baseline (Trainer runs, lm-eval models): one
figure per task, one bar per run (the mean over its seeds, each seed a dot)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.patches
import numpy as np
import pandas as pd
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D

from plots.page import GAP, Page, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import FONT_MIN, NEUTRAL, SEED_GREY, TITLE_SIZE, apply_style, fit_tick_labels, linear_ticks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_ROW = 0.17  # inches a run
_BAR = 0.62  # of a row
_NUMBER_GAP = 0.07  # inches between a row's last mark and its number


def short_label(page: Page, text: str, width: float) -> str:
    """`text` shortened in its middle with "…" to fit `width` inches at 7 pt (long model names on a
    one-column page), both ends kept."""
    keep = len(text)
    out = text
    while page.text_width(out, FONT_MIN) > width and keep > 8:
        keep -= 2
        out = text[:keep - keep // 2 - 1] + "…" + text[len(text) - keep // 2:]
    return out


def right_limit(ends: np.ndarray, widths: np.ndarray, lo: float, panel_w: float, pad: float) -> float:
    """The x limit that leaves room right of each row's last mark (`ends`, data) for its number
    (`widths`, inches) inside a panel `panel_w` inches wide that starts at `lo`."""
    hi = np.nanmax(ends) + pad
    room = panel_w - widths
    ok = np.isfinite(ends) & (room > 0)
    need = (ends[ok] * panel_w - lo * widths[ok]) / room[ok]
    return float(max(hi, need.max())) if need.size else float(hi)


@figure("last_value", needs="run_values", per=("group", "condition", "task"),
        writes="last_value/{group}_{condition}_{task}", title="Last value per run",
        description="For runs without a baseline: the task's metric at each run's last checkpoint, one row per "
                    "run: a grey bar from 0 (grey: these runs are neither trained nor untrained on a task, and "
                    "no baseline says better or worse), or a grey diamond when a value is negative; the mean "
                    "over the seeds its name shows, written beside it, whisker ± std across seeds, dots: each "
                    "seed; no normalization.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    info = ctx.task(ctx.keys["task"])
    models = data.drop_duplicates("model").sort_values("model", kind="stable")
    n = len(models)
    means = models["value_mean"].to_numpy(dtype="float64")
    std = models["value_std"].to_numpy(dtype="float64")
    values = data["value"].to_numpy(dtype="float64")
    bars = bool(np.nanmin(values) >= 0)  # bars only from a meaningful zero
    multi = data[data["n_seeds"] > 1]

    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.fit_title(info.label, f" at each run's last checkpoint: runs compared ({ctx.keys['group']}, "
                                       f"{ctx.condition_label}; no baseline)")
    labels = [short_label(page, f"{m} (n={k})" if k > 1 else str(m), 0.45 * page.width)
              for m, k in zip(models["model"], models["n_seeds"])]
    mark = (matplotlib.patches.Patch(color=NEUTRAL) if bars else
            Line2D([], [], ls="", marker="D", markersize=4, color=NEUTRAL))
    handles, names = [], []  # one seed per run: the title says it all
    if len(multi):
        handles = [mark, Line2D([], [], color="0.2", lw=0.9),
                    Line2D([], [], ls="", marker="o", markersize=2.5, color=SEED_GREY, markeredgewidth=0)]
        names = ["mean of the seeds", "± std across seeds", "one seed"]
    legend_cols, legend_h = page.legend_columns(names) if names else (1, 0.0)
    left = max(page.text_width(lab, FONT_MIN) for lab in labels) + 0.1
    right = 0.12
    panel_w = page.width - left - right
    xlabel = page.wrap(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)", 7.5,
                       panel_w + 2 * GAP)
    axis_h = x_axis_height(xlabel.count("\n") + 1)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + 0.08
    [ax] = page.panels(1, 1, _ROW * n + 0.08, left, top, axis_h + legend_h + GAP, right=right)

    y = np.arange(n)
    if bars:  # one collection of rectangles from 0, not a patch per run
        half = _BAR / 2
        ok = np.isfinite(means)
        ax.add_collection(PolyCollection([[(0, yi - half), (m, yi - half), (m, yi + half), (0, yi + half)]
                                          for yi, m in zip(y[ok], means[ok])], facecolors=NEUTRAL,
                                         edgecolors="none", gid="bars"), autolim=False)
    else:
        ax.scatter(means, y, marker="D", s=18, color=NEUTRAL, edgecolors="0.3", linewidths=0.4, zorder=3,
                   gid="means")
    spans = np.isfinite(std) & np.isfinite(means)
    if spans.any():
        ax.hlines(y[spans], means[spans] - std[spans], means[spans] + std[spans], colors="0.2", linewidths=0.9,
                  zorder=3.5, gid="spread")
    rows = {m: i for i, m in enumerate(models["model"])}
    if len(multi):
        ax.scatter(multi["value"].to_numpy(dtype="float64"), multi["model"].map(rows).to_numpy(dtype="float64"),
                   s=5, facecolors=SEED_GREY, edgecolors="none", zorder=4, gid="seeds")

    seed_max = data.groupby("model")["value"].max().reindex(models["model"]).to_numpy(dtype="float64")
    ends = np.fmax(np.fmax(means, means + np.nan_to_num(std)), seed_max)
    numbers = [f"{m:.3g}" if np.isfinite(m) else "n/a" for m in means]
    lows = np.concatenate([values, means - np.nan_to_num(std)])
    lo = 0.0 if bars else float(np.nanmin(lows))
    span = float(np.nanmax(ends)) - lo or 1.0
    if not bars:
        lo -= 0.05 * span
    widths = np.array([page.text_width(t, FONT_MIN) + _NUMBER_GAP for t in numbers])
    ax.set_xlim(lo, right_limit(np.where(np.isfinite(ends), ends, lo), widths, lo, panel_w, 0.03 * span))
    to_data = (ax.get_xlim()[1] - lo) / panel_w
    for yi, end, text in zip(y, ends, numbers):  # the mean right of the bar, its whisker and its dots
        x = (end if np.isfinite(end) else lo) + _NUMBER_GAP * to_data
        ax.text(x, yi, text, va="center", ha="left", fontsize=FONT_MIN, color="0.25", gid="value")
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_yticks(y, labels)
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(not bars)
    linear_ticks(ax.xaxis, nbins=5)
    fit_tick_labels(ax)
    ax.set_xlabel(xlabel)
    if bars:
        ax.axvline(0, color="0.3", lw=0.6, zorder=2)
    else:
        if lo < 0 < ax.get_xlim()[1]:
            ax.axvline(0, color="0.6", lw=0.6, zorder=1)
        ax.grid(axis="x", color="0.92", lw=0.5)
        ax.set_axisbelow(True)
    page.title(title)
    if names:
        page.legend(handles, names, legend_cols)
    return page.fig
