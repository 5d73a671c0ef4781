"""Normalized score heatmap: experiments x eval tasks, one panel per condition (its own score)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Patch, Rectangle

from analysis.figure_data import (Matrix, clip_phrase, experiment_order, matrix, members, score_for, seed_counts,
                                  seed_numbers, seed_phrase)
from plots.page import GAP, Page, title_height
from plots.registry import OutputContext, figure
from plots.style import (DIVERGING_CMAP, FONT_MIN, MISSING_HATCH, PT, TITLE_SIZE, apply_style, diverging_norm,
                         experiment_labels, missing_handle, number, robust_limit)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

NA = "n/a"
TRAINED_EDGE = "#000000"
LABEL_ROTATION = 90  # degrees: task names upright above columns narrower than the names


def draw_matrix(ax: Axes, m: Matrix, norm: Normalize, row_labels: list[str] | None, col_labels: list[str],
                cmap: str = DIVERGING_CMAP, fontsize: float = FONT_MIN, counts: np.ndarray | None = None
                ) -> AxesImage:
    """Colour cells by value (clipped colour scale), annotate every cell with its unclipped value
    (2 decimals, never "-0.00"; "n/a" and hatched when missing) and outline the trained cells.

    `counts` (same shape, optional): a cell with a count > 0 gets a second line "n=<count>" (seeds behind
    a mean, shown only where it differs from the row's n); 0 adds nothing. `row_labels` None: a panel
    beside the labelled one, without y ticks at all (not a tick per row with an empty label).
    """
    values = m.values.to_numpy(dtype=float)
    counts = np.zeros(values.shape, dtype=int) if counts is None else np.asarray(counts, dtype=int)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.93")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, norm=norm, aspect="auto",
                      interpolation="nearest")
    nan_r, nan_c = np.nonzero(np.isnan(values))
    if len(nan_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(nan_r, nan_c)],
                                          facecolor="none", edgecolor="0.6", hatch=MISSING_HATCH, lw=0))
    tr_r, tr_c = np.nonzero(m.trained.to_numpy(dtype=bool))
    if len(tr_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.45, r - 0.42), 0.9, 0.84) for r, c in zip(tr_r, tr_c)],
                                          facecolor="none", edgecolor=TRAINED_EDGE, lw=1.1))
    shade = np.abs(np.clip(norm(np.nan_to_num(values)), 0, 1) - 0.5)  # 0.5 = darkest end of the scale
    for (r, c), v in np.ndenumerate(values):
        # inside the axes by construction: kept out of layout so 300 labels are not measured
        note = counts[r, c] > 0 and not np.isnan(v)
        ax.text(c, r, NA if np.isnan(v) else f"{number(v)}\nn={counts[r, c]}" if note else number(v),
                ha="center", va="center", fontsize=fontsize, linespacing=0.95,
                color="white" if shade[r, c] > 0.3 and not np.isnan(v) else "black",
                clip_on=True, in_layout=False)
    ax.set_xticks(np.arange(len(col_labels)), col_labels, rotation=LABEL_ROTATION, ha="center", va="bottom")
    ax.xaxis.tick_top()
    ax.set_yticks([] if row_labels is None else np.arange(len(row_labels)), row_labels)
    ax.tick_params(length=0, pad=2)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return image


def legend_handles(missing: bool = True) -> tuple[list, list[str]]:
    """Legend for trained-cell outlines and (when there are some) hatched missing cells."""
    handles, names = [Patch(facecolor="none", edgecolor=TRAINED_EDGE, lw=1.1)], ["outlined: trained on this task"]
    if missing:
        handles.append(missing_handle())
        names.append("hatched n/a: missing evaluation or undefined score")
    return handles, names


def colour_limit(values: np.ndarray) -> tuple[Normalize, bool]:
    """A colour scale fitted to the panel: symmetric, clipped at the 95th percentile of |values|."""
    limit, clipped = robust_limit(values)
    return diverging_norm(limit), clipped


def colourbar_label(limit: float, clipped: bool) -> str:
    """What a colourbar says about its range: whether the colours are clipped (the numbers never are)."""
    if clipped:
        return f"colours clipped at ±{limit:g} (95th percentile of |values|); the numbers are not"
    return f"colour scale ±{limit:g}, fitted to the values"


def matrix_page(config, row_labels: list[str], col_labels: list[str], n_panels: int, title: str,
                legend_names: list[str], bar_lines: int = 1):
    """Lay out `n_panels` matrices side by side, or stacked when the page is too narrow for their cells
    (row labels left of each row of panels; task names on top), a colourbar under each, the legend and
    title: (page, panels, colourbar axes, panels a row, legend columns, title, points from a panel's top
    edge to the top of its task names: the pad of the panel's title)."""
    apply_style()
    page = Page(config.plot_width, config.plot_dpi)
    left = max((page.text_width(lab, FONT_MIN) for lab in row_labels), default=0.3) + 0.08
    longest = max((page.text_width(lab, FONT_MIN) for lab in col_labels), default=0.3)
    heads = longest + 0.08  # the upright task names above the cells
    title = page.wrap(title, TITLE_SIZE)
    legend_cols, legend_h = page.legend_columns(legend_names)
    bar_h = 0.08 + 0.03 + (2.0 + 7.0 * 1.2 + bar_lines * 7.5 * 1.2) * PT + 0.1  # bar, ticks, label
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height() + heads
    bottom = bar_h + legend_h + GAP
    right = 0.1
    panel_h = 0.16 * len(row_labels) + 0.02
    ncols = page.columns(n_panels, 0.42 * len(col_labels), left, right, wspace=0.12)  # a 0.42 in cell holds "-0.22"
    hspace = bar_h + 2 * GAP + title_height() + heads
    axes = page.panels(n_panels, ncols, panel_h, left, top, bottom, right=right, wspace=0.12, hspace=hspace)
    bars = []
    for ax in axes:
        box = ax.get_position()
        bars.append(page.fig.add_axes((box.x0 + box.width * 0.1, box.y0 - (0.1 + 0.08) / page.height,
                                       box.width * 0.8, 0.08 / page.height), label="<colorbar>"))
    return page, axes, bars, ncols, legend_cols, title, heads * 72 + 3


@figure("heatmap", needs="seed_scores", per=("group",), writes="heatmap/{group}",
        title="Normalized score heatmap",
        description="Experiments x evaluation tasks of the normalized score at the last checkpoint, one panel "
                    "per condition (standard: score toward perfect; OOD: gap-closing score), mean over seeds "
                    "(each seed scored against its own baseline; n in the title, or per row when it differs, "
                    "and in a cell with fewer); numbers unclipped; colours fitted to each panel (symmetric, "
                    "clipped at the 95th percentile of |values|; green better, pink worse than the baseline); "
                    "outlined: trained tasks.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    rows = members(data)
    order = experiment_order(rows["experiment"], ctx.config)
    seeds = seed_numbers(rows, order)
    title = f"{ctx.group_label} vs baseline: each condition's score per task at the last checkpoint"
    if bool((seeds > 1).any()):
        title += f"; mean of {seed_phrase(seeds)}, each scored against its own baseline"
    if ctx.config.clip:  # rules.yaml scores.clip
        title += f"; {clip_phrase(ctx.config)}"
    return score_heatmap(rows, ctx, title, suffix="_mean", seeds=seeds)


def score_heatmap(rows: pd.DataFrame, ctx: OutputContext, title: str, suffix: str = "",
                  seeds: pd.Series | None = None) -> Figure:
    """Experiments x tasks of each condition's score on the page, one panel per condition, colours fitted
    to each panel. `suffix`: "_mean" for the seed_scores view (with `seeds`, each row's number of seeds:
    n in the row labels when it differs, and in the cells backed by fewer), "" for one seed's scores."""
    apply_style()
    conditions = [c.name for c in ctx.config.conditions if c.name in set(rows["condition"])]
    panels = [(cond, score_for(ctx.config, cond), rows[rows["condition"] == cond]) for cond in conditions]
    order = experiment_order(rows["experiment"], ctx.config)
    n_seeds = seeds.to_numpy() if seeds is not None else np.ones(len(order), dtype=int)
    multi = bool((n_seeds > 1).any())
    mats = [(cond, meaning, matrix(part, f"{meaning.column}{suffix}", ctx.config, order),
             seed_counts(part, meaning.column, ctx.config, order).to_numpy() if multi else None)
            for cond, meaning, part in panels]
    labels = experiment_labels(order, ctx.config)
    if multi and len(set(n_seeds)) > 1:  # n once in the title when every row shares it
        labels = [f"{label} (n={n})" for label, n in zip(labels, n_seeds)]
    cols = [ctx.task(t).label for t in mats[0][2].values.columns] if mats else []
    missing = any(np.isnan(m.values.to_numpy(dtype=float)).any() for _, _, m, _ in mats)
    handles, names = legend_handles(missing)
    page, axes, bar_axes, ncols, legend_cols, title, pad = matrix_page(ctx.config, labels, cols, len(mats), title,
                                                                       names, bar_lines=3)
    for i, (ax, cax, (cond, meaning, m, n)) in enumerate(zip(axes, bar_axes, mats)):
        fewer = np.where((n > 0) & (n < n_seeds[:, None]), n, 0) if multi else None
        norm, clipped = colour_limit(m.values.to_numpy(dtype=float))
        image = draw_matrix(ax, m, norm, labels if i % ncols == 0 else None,
                            [ctx.task(t).label for t in m.values.columns], counts=fewer)
        ax.set_title(f"{ctx.config.condition_label(cond)}: {meaning.name}", pad=pad)
        bar = page.fig.colorbar(image, cax=cax, orientation="horizontal", extend="both" if clipped else "neither")
        limit = norm.vmax
        bar.set_ticks([-limit, 0, limit], labels=[f"{-limit:g}", "0", f"{limit:g}"])
        bar.ax.tick_params(length=2, pad=1.5)
        bar.outline.set_linewidth(0.5)
        text = f"{meaning.scale}\n{colourbar_label(limit, clipped)}"
        bar.set_label(page.wrap(text, FONT_MIN, ax.get_position().width * page.width + 2 * GAP), fontsize=FONT_MIN,
                      labelpad=1.5)
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
