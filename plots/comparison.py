"""Raw metric per task: every experiment of a group as a bar (mean over seeds), the baseline as a line."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figure_data import baseline_levels, seed_bars, seed_phrase
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, TRAINED, UNTRAINED, apply_style, bar_panels, bar_panels_size, experiment_rows,
                         hbars, missing_handle, seed_dots, seed_handles, seed_spread, sparse_log_ticks)


@figure("comparison", needs="seed_points", per=("group", "condition"),
        writes="comparison/{group}_{condition}",
        title="Raw metric vs baseline",
        description="Each task's metric at the last checkpoint for every experiment of the group: bar = mean "
                    "over seeds, whisker = std across seeds, dots = each seed; dashed line: the baseline "
                    "(mean of the seeds' baselines, band = their std); orange: trained on that task; "
                    "hatched n/a: missing; log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    bars = seed_bars(data, "value", ctx.config)
    baseline = baseline_levels(data)
    tasks = list(bars.mean.columns)
    y = np.arange(len(bars.mean))
    width, height = bar_panels_size(len(y), len(tasks))
    fig, axes = bar_panels(len(tasks), (width + 0.15 * len(tasks), height + 0.15))
    for ax, task in zip(axes.flat, tasks):
        info = ctx.task(task)
        hbars(ax, bars.mean[task].to_numpy(), bars.trained[task].to_numpy())
        seed_spread(ax, y, bars.mean[task].to_numpy(), bars.std[task].to_numpy(), horizontal=True)
        dots = bars.dots[bars.dots["task"] == task]
        seed_dots(ax, dots["row"].to_numpy() + dots["offset"].to_numpy(), dots["value"].to_numpy(),
                  horizontal=True)
        for level in baseline[baseline["task"] == task].itertuples():
            ax.axvline(level.mean, color=BASELINE, ls="--", lw=1)
            if np.isfinite(level.std) and level.std > 0:
                ax.axvspan(level.mean - level.std, level.mean + level.std, color=BASELINE, alpha=0.1, lw=0,
                           zorder=0.5)  # behind the bars
        if info.log:
            ax.set_xscale("log")
            lo, hi = ax.get_xlim()
            ax.set_xlim(lo / (hi / lo) ** 0.15, hi)  # bars start off-axis: keep the shortest one visible
            sparse_log_ticks(ax.xaxis)
        ax.set_title(info.label)
        ax.set_xlabel(f"{info.unit}\n({'higher' if info.higher_is_better else 'lower'} is better)")
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    experiment_rows(axes, bars, ctx.config)
    handles = [plt.Rectangle((0, 0), 1, 1, color=TRAINED), plt.Rectangle((0, 0), 1, 1, color=UNTRAINED),
               plt.Line2D([], [], color=BASELINE, ls="--"), missing_handle()]
    names = ["trained on this task", "not trained on it", "baseline", "n/a: missing evaluation"]
    if bars.multi_seed:
        extra, extra_names = seed_handles()
        handles, names = handles + extra, names + extra_names
        names[2] = "baseline (mean of the seeds' baselines, band ± std)"
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False)
    seeds = f"; bar: mean of {seed_phrase(bars.n)}" if bars.multi_seed else ""
    fig.suptitle(f"{ctx.group_label} vs baseline: raw metric at last checkpoint, {ctx.condition_label}{seeds}")
    return fig
