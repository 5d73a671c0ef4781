"""Normalized score heatmap: experiments x eval tasks, one panel per condition."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.image import AxesImage
from matplotlib.patches import Patch, Rectangle

from analysis.figure_data import (Matrix, clip_phrase, experiment_order, matrix, members, score_for, seed_counts,
                                  seed_numbers, seed_phrase)
from plots.registry import OutputContext, figure
from plots.style import (DIVERGING_CMAP, MISSING_HATCH, apply_style, diverging_norm, experiment_labels,
                         missing_handle)

NA = "n/a"
TRAINED_EDGE = "#000000"


def draw_matrix(ax: plt.Axes, m: Matrix, norm: Normalize, row_labels: list[str] | None, col_labels: list[str],
                cmap: str = DIVERGING_CMAP, fontsize: float = 7.0, counts: np.ndarray | None = None) -> AxesImage:
    """Colour cells by value (clipped colour scale), annotate every cell with its unclipped value
    (2 decimals, "n/a" and hatched when missing) and outline the trained cells.

    `counts` (same shape, optional): a cell with a count > 0 gets a second line "n=<count>" (seeds behind
    a mean, shown only where it differs from the row's n); 0 adds nothing. `row_labels` None: a panel
    beside the labelled one, without y ticks at all (not a tick per row with an empty label).
    """
    values = m.values.to_numpy(dtype=float)
    counts = np.zeros(values.shape, dtype=int) if counts is None else np.asarray(counts, dtype=int)
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.93")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, norm=norm, aspect="auto",
                      interpolation="nearest")
    nan_r, nan_c = np.nonzero(np.isnan(values))
    if len(nan_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(nan_r, nan_c)],
                                          facecolor="none", edgecolor="0.6", hatch=MISSING_HATCH, lw=0))
    tr_r, tr_c = np.nonzero(m.trained.to_numpy(dtype=bool))
    if len(tr_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.44, r - 0.44), 0.88, 0.88) for r, c in zip(tr_r, tr_c)],
                                          facecolor="none", edgecolor=TRAINED_EDGE, lw=1.6))
    shade = np.abs(np.clip(norm(np.nan_to_num(values)), 0, 1) - 0.5)  # 0.5 = darkest end of the scale
    for (r, c), v in np.ndenumerate(values):
        # inside the axes by construction: kept out of layout so 1000 labels are not measured twice
        note = counts[r, c] > 0 and not np.isnan(v)
        ax.text(c, r, NA if np.isnan(v) else f"{v:.2f}\nn={counts[r, c]}" if note else f"{v:.2f}",
                ha="center", va="center", fontsize=fontsize - 1 if note else fontsize, linespacing=1.0,
                color="white" if shade[r, c] > 0.28 and not np.isnan(v) else "black",
                clip_on=True, in_layout=False)
    ax.set_xticks(np.arange(len(col_labels)), col_labels, rotation=40, ha="left", rotation_mode="anchor")
    ax.xaxis.tick_top()
    ax.set_yticks([] if row_labels is None else np.arange(len(row_labels)), row_labels)
    ax.tick_params(length=0)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return image


def legend_handles() -> tuple[list, list[str]]:
    """Legend for trained-cell outlines and hatched missing cells."""
    return ([Patch(facecolor="none", edgecolor=TRAINED_EDGE, lw=1.6), missing_handle()],
            ["outlined: trained on this task", "hatched n/a: missing evaluation or undefined score"])


def figure_size(n_rows: int, n_cols: int, n_panels: int) -> tuple[float, float]:
    """Inches that keep cells ~0.6 x 0.24 in, enough for a 2-decimal label."""
    return 1.4 + n_panels * (0.62 * n_cols + 0.4), 2.6 + 0.24 * n_rows


@figure("heatmap", needs="seed_scores", per=("group",), writes="heatmap/{group}",
        title="Normalized score heatmap",
        description="Experiments x evaluation tasks of the normalized score at the last checkpoint, one panel "
                    "per condition (standard: score toward perfect; OOD: gap-closing score), mean over seeds "
                    "(each seed scored against its own baseline; n = seeds, in the row label and in a cell "
                    "with fewer); values annotated unclipped, colours clipped to [-1, 1]; outlined: trained tasks.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    rows = members(data)
    conditions = [c.name for c in ctx.config.conditions if c.name in set(rows["condition"])]
    panels = [(cond, score_for(ctx.config, cond), rows[rows["condition"] == cond]) for cond in conditions]
    order = experiment_order(rows["experiment"], ctx.config)
    seeds = seed_numbers(rows, order)
    n_seeds, multi = seeds.to_numpy(), bool((seeds > 1).any())
    mats = [(cond, meaning, matrix(part, f"{meaning.column}_mean", ctx.config, order),
             seed_counts(part, meaning.column, ctx.config, order).to_numpy()) for cond, meaning, part in panels]
    n_rows = len(order)
    n_cols = max(len(m.values.columns) for _, _, m, _ in mats)
    fig, axes = plt.subplots(1, len(mats), figsize=figure_size(n_rows, n_cols, len(mats)), squeeze=False,
                             layout="constrained")
    norm = diverging_norm(1.0)
    labels = experiment_labels(order, ctx.config)
    if multi:  # n in the row label; a cell says its own n only where fewer seeds have a number
        labels = [f"{label} (n={n})" for label, n in zip(labels, n_seeds)]
    for i, (ax, (cond, meaning, m, n)) in enumerate(zip(axes.flat, mats)):
        fewer = np.where((n > 0) & (n < n_seeds[:, None]), n, 0) if multi else None
        image = draw_matrix(ax, m, norm, labels if i == 0 else None,
                            [ctx.task(t).label for t in m.values.columns], counts=fewer)
        ax.set_title(f"{ctx.config.condition_label(cond)}: {meaning.name}", pad=10)
        bar = fig.colorbar(image, ax=ax, location="bottom", extend="both", shrink=0.9, aspect=30, pad=0.01)
        numbers = "numbers unclipped" if ctx.config.clip is None else "numbers: means of the clipped scores"
        bar.set_label(f"{meaning.scale}\n(colours clipped to [-1, 1]; {numbers})")
        bar.set_ticks([-1, -0.5, 0, 0.5, 1])
    handles, names = legend_handles()
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
    title = f"{ctx.group_label}: normalized score per evaluation task vs baseline, last checkpoint"
    if multi:
        title += (f"\nmean of {seed_phrase(seeds)}, each scored against its own baseline "
                  f"(n in the row label; a cell with fewer seeds says its n)")
    if clip_phrase(ctx.config):  # rules.yaml scores.clip
        title += f"\n{clip_phrase(ctx.config)}"
    fig.suptitle(title)
    return fig
