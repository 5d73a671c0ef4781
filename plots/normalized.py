"""The condition's normalized score per task (toward perfect; gap-closing out of distribution), every
experiment of a group as a point with its seed interval, on one x axis shared by all tasks."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.figure_data import clip_phrase, rows_of_part, score_for, seed_bars, seed_phrase
from plots.page import part_phrase, rows_figure, rows_split
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, apply_style, experiment_labels, fit_limits, interval_handles,
                         interval_rows, linear_ticks, row_guides, row_label_colours, run_entries)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@figure("normalized", needs="seed_points", per=("group", "condition"), writes="normalized/{group}_{condition}",
        parts=lambda data, config: rows_split(data, config, xlabel_lines=0), title="Normalized score vs baseline",
        description="Each task's normalized score at the last checkpoint for every experiment of the group, "
                    "unclipped, on one x axis shared by all tasks: score toward perfect on standard data "
                    "(0 = baseline, 1 = perfect), gap-closing score out of distribution (0 = baseline on that "
                    "data, 1 = as good as the baseline on standard data), the same score as the heatmap's cell; "
                    "point = mean over seeds (each seed scored against its own baseline), line = ± std across "
                    "seeds, grey dots = each seed; vermillion: trained on that task (runs whose training "
                    "rules.yaml does not describe: each in its own colour and marker).")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    meaning = score_for(ctx.config, ctx.keys["condition"])
    full = seed_bars(data, meaning.column, ctx.config)  # every row: one x axis in each part of a split figure
    bars = seed_bars(data, meaning.column, ctx.config, rows=rows_of_part(data, ctx.config, ctx.keys))
    tasks = list(bars.mean.columns)
    labels = experiment_labels(list(bars.mean.index), ctx.config)
    if bars.multi_seed and bars.n_seeds.nunique() > 1:
        labels = [f"{label} (n={n})" for label, n in zip(labels, bars.n_seeds)]
    low, high = bars.mean - bars.std, bars.mean + bars.std
    limits = fit_limits(np.concatenate([full.mean.to_numpy().ravel(), (full.mean - full.std).to_numpy().ravel(),
                                        (full.mean + full.std).to_numpy().ravel(), full.dots["value"].to_numpy()]),
                        include=(0.0,))
    perfect = limits[0] <= 1.0 <= limits[1]  # 1 drawn where the data reach it, never forced onto the axis
    runs = bars.runs.to_numpy()
    entries = run_entries(runs, labels)  # runs nobody described: a legend entry each
    handles, names = interval_handles(bars.multi_seed, "± std across seeds", entries,
                                      described=bool((runs < 0).any()))
    handles.append(Line2D([], [], color=BASELINE, lw=0.9))
    names.append(f"0 = {meaning.zero}")
    if perfect:
        handles.append(Line2D([], [], color=BASELINE, lw=0.9, ls=":"))
        names.append(f"1 = {meaning.one}")
    if bars.mean.isna().to_numpy().any():
        handles.append(Line2D([], [], ls=""))
        names.append("n/a: missing evaluation or undefined score")
    seeds = (f"; point: mean of {seed_phrase(bars.n)}, each scored against its own baseline"
             if bars.multi_seed else "")
    rows = rows_figure(ctx.config, labels, len(tasks),
                       f"{ctx.group_label} vs baseline: {meaning.name} at the last checkpoint, "
                       f"{ctx.condition_label}{seeds}" + (f"; {clip_phrase(ctx.config)}" if ctx.config.clip else "")
                       + part_phrase(ctx.keys, labels),
                       names,
                       common_xlabel=f"{meaning.name} (0 = {meaning.zero}, 1 = {meaning.one}; "
                                     "< 0: worse than the baseline)", even_legend=bool(entries))
    for ax, task in zip(rows.axes, tasks):
        dots = bars.dots[bars.dots["task"] == task]
        row_guides(ax, len(bars.mean))
        ax.axvline(0, color=BASELINE, lw=0.9, zorder=1)
        if perfect:
            ax.axvline(1, color=BASELINE, lw=0.9, ls=":", zorder=1)
        interval_rows(ax, bars.mean[task].to_numpy(), low[task].to_numpy(), high[task].to_numpy(),
                      bars.trained[task].to_numpy(), dots["row"].to_numpy() + dots["offset"].to_numpy(),
                      dots["value"].to_numpy(), runs)
        ax.set_xlim(*limits)  # the same on every panel: the score exists to compare tasks
        linear_ticks(ax.xaxis)
        ax.set_title(ctx.task(task).label)
    return rows.finish(handles, names, labels, row_label_colours(runs, len(labels)))
