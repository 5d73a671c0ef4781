"""How far the multi-task prediction misses: a histogram of actual − predicted, per group and condition."""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib.patches
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.figure_data import clip_phrase, score_for
from plots.page import GAP, Page, note_figure, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import PANEL_TITLE_SIZE, TITLE_SIZE, TRAINED, UNTRAINED, apply_style, linear_ticks

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_BIN = 0.05  # score units per bin: fine enough to show the shape at a few hundred cells
_MIN_PANEL = 2.3  # inches: narrower, the panels go one under the other


def bins_for(res: np.ndarray) -> np.ndarray:
    """Bin edges `_BIN` apart centred on multiples of `_BIN`: a residual of exactly 0 (often, under a
    clip) sits in the bin centred on 0, not on an edge."""
    return np.arange(np.floor(res.min() / _BIN) - 0.5, np.ceil(res.max() / _BIN) + 1.0) * _BIN


@figure("residuals", needs="predictions", per=("group",), writes="residuals/{group}",
        title="Prediction residuals",
        description="For experiments trained on several tasks: histogram of actual − predicted normalized "
                    "score (prediction: max over the trained tasks of the same seed's single-task score), "
                    "one count per seed and evaluation cell, one panel per condition (same count axis); "
                    "vermillion: trained tasks, blue: transfer (untrained) tasks, stacked; dashed: actual = "
                    "predicted.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    conditions = ctx.conditions_in(data)
    panels = []
    for cond in conditions:
        meaning = score_for(ctx.config, cond)
        part = data[(data["condition"] == cond) & (data["score"] == meaning.column)]
        part = part[np.isfinite(part["residual"].astype("float64"))]
        if len(part):
            panels.append((cond, meaning, part))
    clip = clip_phrase(ctx.config, per_seed=True)
    title = (f"{ctx.group_label}: multi-task score vs its single-task prediction (actual − predicted)"
             + (f"; {clip}" if clip else ""))
    if not panels:
        return note_figure("No predictions with both an actual and a predicted score for this group.", title,
                           width=ctx.config.plot_width)

    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.fit_title(f"{ctx.group_label}: ", title[len(ctx.group_label) + 2:])
    handles = [matplotlib.patches.Patch(color=TRAINED), matplotlib.patches.Patch(color=UNTRAINED),
               Line2D([], [], color="0.2", lw=0.9, ls="--")]
    names = ["trained task", "transfer (untrained) task", "actual = predicted"]
    legend_cols, legend_h = page.legend_columns(names)
    left, right, wspace = x_axis_height(1) + 0.08, 0.12, 0.25
    ncols = page.columns(len(panels), _MIN_PANEL, left, right=right, wspace=wspace)
    panel_w = (page.width - left - right - (ncols - 1) * wspace) / ncols
    heads = [page.wrap(f"{ctx.config.condition_label(cond)}: {meaning.name}\n"
                       f"{len(part)} (cell, seed) pairs, mean {part['residual'].astype('float64').mean():+.2f}, "
                       f"median {part['residual'].astype('float64').median():+.2f}", PANEL_TITLE_SIZE,
                       panel_w + 2 * GAP) for cond, meaning, part in panels]
    head_h = title_height(max(h.count("\n") + 1 for h in heads))
    xlabel = page.wrap("actual − predicted score (> 0: better than predicted)", 7.5, panel_w + 2 * GAP)
    axis_h = x_axis_height(xlabel.count("\n") + 1)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + head_h
    axes = page.panels(len(panels), ncols, 1.5 if ncols > 1 else 1.3, left, top, axis_h + legend_h + GAP,
                       right=right, wspace=wspace, hspace=axis_h + head_h + 0.04)

    counts = []
    for ax, (cond, meaning, part), head in zip(axes, panels, heads):
        res = part["residual"].astype("float64").to_numpy()
        trained = part["trained"].astype(bool).to_numpy()
        edges = bins_for(res)
        low, _ = np.histogram(res[trained], bins=edges)
        total, _ = np.histogram(res, bins=edges)
        # two filled step outlines per panel (trained below, transfer stacked on it), not a bar per bin
        ax.stairs(low, edges, fill=True, color=TRAINED, gid="trained")
        ax.stairs(total, edges, baseline=low, fill=True, color=UNTRAINED, gid="transfer")
        ax.axvline(0, color="0.2", lw=0.9, ls="--", zorder=3)
        ax.set_xlim(min(edges[0], -_BIN), max(edges[-1], _BIN))
        linear_ticks(ax.xaxis, nbins=5)
        ax.set_title(head)
        ax.set_xlabel(xlabel)
        counts.append(total.max())
    for i, ax in enumerate(axes):  # one count axis for every panel: the conditions' shapes compare
        ax.set_ylim(0, max(counts) * 1.06)
        linear_ticks(ax.yaxis, nbins=4)
        if i % ncols == 0:
            ax.set_ylabel("cells (one per seed)")
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
