"""Score toward perfect per task: every experiment of a group as a bar (mean over seeds), unclipped, 0 = baseline."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figure_data import TOWARD_PERFECT, clip_phrase, seed_bars, seed_phrase
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, TRAINED, UNTRAINED, apply_style, bar_panels, bar_panels_size, experiment_rows,
                         hbars, missing_handle, seed_dots, seed_handles, seed_spread)


@figure("normalized", needs="seed_points", per=("group", "condition"), writes="normalized/{group}_{condition}",
        title="Score toward perfect vs baseline",
        description="Each task's score toward perfect at the last checkpoint for every experiment of the "
                    "group, unclipped: 0 = baseline, 1 = perfect, below 0 = worse than the baseline; "
                    "bar = mean over seeds (each seed scored against its own baseline), whisker = std across "
                    "seeds, dots = each seed; orange: trained on that task; hatched: n/a.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    bars = seed_bars(data, TOWARD_PERFECT.column, ctx.config)
    tasks = list(bars.mean.columns)
    y = np.arange(len(bars.mean))
    fig, axes = bar_panels(len(tasks), bar_panels_size(len(y), len(tasks)))
    for ax, task in zip(axes.flat, tasks):
        hbars(ax, bars.mean[task].to_numpy(), bars.trained[task].to_numpy())
        seed_spread(ax, y, bars.mean[task].to_numpy(), bars.std[task].to_numpy(), horizontal=True)
        dots = bars.dots[bars.dots["task"] == task]
        seed_dots(ax, dots["row"].to_numpy() + dots["offset"].to_numpy(), dots["value"].to_numpy(),
                  horizontal=True)
        ax.axvline(0, color=BASELINE, lw=1)
        ax.axvline(1, color=BASELINE, lw=1, ls=":")
        ax.set_title(ctx.task(task).label)
        ax.set_xlabel("score (0 = baseline)")
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    experiment_rows(axes, bars, ctx.config)
    handles = [plt.Rectangle((0, 0), 1, 1, color=TRAINED), plt.Rectangle((0, 0), 1, 1, color=UNTRAINED),
               plt.Line2D([], [], color=BASELINE, lw=1), plt.Line2D([], [], color=BASELINE, lw=1, ls=":"),
               missing_handle()]
    names = ["trained on this task", "not trained on it", "0 = baseline", "1 = perfect",
             "n/a: missing evaluation or undefined score"]
    if bars.multi_seed:
        extra, extra_names = seed_handles()
        handles, names = handles + extra, names + extra_names
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False)
    seeds = (f"; bar: mean of {seed_phrase(bars.n)}, each scored against its own baseline"
             if bars.multi_seed else "")
    fig.suptitle(f"{ctx.group_label} vs baseline: {TOWARD_PERFECT.name} per task at last checkpoint, "
                 f"{ctx.condition_label}\n({TOWARD_PERFECT.scale}; below 0 = worse than the baseline{seeds})"
                 + (f"\n{clip_phrase(ctx.config)}" if ctx.config.clip else ""))
    return fig
