"""How far the multi-task prediction misses: a histogram of actual − predicted, per group and condition."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figure_data import clip_phrase, score_for
from plots.registry import OutputContext, figure
from plots.style import TRAINED, UNTRAINED, apply_style, note_figure

_BIN = 0.05  # score units per bin: fine enough to show the shape at a few hundred cells


@figure("residuals", needs="predictions", per=("group",), writes="residuals/{group}",
        title="Prediction residuals",
        description="For experiments trained on several tasks: histogram of actual − predicted normalized "
                    "score (prediction: max over the trained tasks of the same seed's single-task score), "
                    "one count per seed and evaluation cell, one panel per condition; orange: trained "
                    "tasks, blue: transfer (untrained) tasks, stacked.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    conditions = [c.name for c in ctx.config.conditions if c.name in set(data["condition"])]
    panels = []
    for cond in conditions:
        meaning = score_for(ctx.config, cond)
        part = data[(data["condition"] == cond) & (data["score"] == meaning.column)]
        part = part[np.isfinite(part["residual"].astype("float64"))]
        if len(part):
            panels.append((cond, meaning, part))
    title = f"{ctx.group_label}: multi-task score minus its single-task prediction (actual − predicted)"
    if not panels:
        return note_figure("No predictions with both an actual and a predicted score for this group.", title)
    fig, axes = plt.subplots(1, len(panels), figsize=(ctx.config.plot_width, 3.6), squeeze=False,
                             layout="constrained", sharey=True)
    for ax, (cond, meaning, part) in zip(axes.flat, panels):
        res = part["residual"].astype("float64").to_numpy()
        trained = part["trained"].astype(bool).to_numpy()
        # bins centred on multiples of _BIN: a residual of exactly 0 (often, under a clip) sits on 0
        bins = np.arange(np.floor(res.min() / _BIN) - 0.5, np.ceil(res.max() / _BIN) + 1.0) * _BIN
        ax.hist([res[trained], res[~trained]], bins=bins, stacked=True, color=[TRAINED, UNTRAINED],
                label=["trained task", "transfer (untrained) task"])
        ax.axvline(0, color="0.2", lw=0.9, ls="--")
        ax.set_title(f"{ctx.config.condition_label(cond)}: {meaning.name}\n"
                     f"{len(res)} (cell, seed) pairs, mean {res.mean():+.2f}, median {np.median(res):+.2f}")
        ax.set_xlabel("actual − predicted (score units; > 0: better than predicted)")
    axes.flat[0].set_ylabel("cells (one per seed)")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=2, frameon=False)
    clip = clip_phrase(ctx.config, per_seed=True)
    fig.suptitle(title + (f"\n{clip}" if clip else ""))
    return fig
