"""Raw metric per task: every experiment of a group as a point with its seed interval, the baseline as a line."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.figure_data import baseline_levels, rows_of_part, seed_bars, seed_phrase
from plots.page import part_phrase, rows_figure, rows_split
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, apply_style, baseline_band, experiment_labels, fit_limits,
                         interval_handles, interval_rows, linear_ticks, log_ticks, row_guides, row_label_colours,
                         run_entries)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def better(higher_is_better: bool) -> str:
    """The x label's second line: which way is better."""
    return "higher is better →" if higher_is_better else "← lower is better"


@figure("comparison", needs="seed_points", per=("group", "condition"),
        writes="comparison/{group}_{condition}", parts=rows_split,
        title="Raw metric vs baseline",
        description="Each task's metric at the last checkpoint for every experiment of the group: point = mean "
                    "over seeds, line = ± std across seeds, grey dots = each seed; dashed line: the baseline "
                    "(mean of the seeds' baselines, band = their std); vermillion: trained on that task "
                    "(runs whose training rules.yaml does not describe: each in its own colour and marker); "
                    "axes zoomed to the data (no bars: a raw metric has no meaningful zero on these axes); "
                    "log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    full = seed_bars(data, "value", ctx.config)  # every row: the axes are the same in each part of a split figure
    bars = seed_bars(data, "value", ctx.config, rows=rows_of_part(data, ctx.config, ctx.keys))
    baseline = baseline_levels(data)
    tasks = list(bars.mean.columns)
    labels = experiment_labels(list(bars.mean.index), ctx.config)
    if bars.multi_seed and bars.n_seeds.nunique() > 1:  # n once in the title when every row shares it
        labels = [f"{label} (n={n})" for label, n in zip(labels, bars.n_seeds)]
    seeds = f"; point: mean of {seed_phrase(bars.n)}" if bars.multi_seed else ""
    runs = bars.runs.to_numpy()
    entries = run_entries(runs, labels)  # runs nobody described: a legend entry each
    handles, names = interval_handles(bars.multi_seed, "± std across seeds", entries,
                                      described=bool((runs < 0).any()))
    handles.append(Line2D([], [], color=BASELINE, ls="--", lw=0.9))
    names.append("baseline (mean of its seeds, band ± std)" if bars.multi_seed else "baseline")
    if bars.mean.isna().to_numpy().any():
        handles.append(Line2D([], [], ls=""))
        names.append("n/a: missing evaluation")
    rows = rows_figure(ctx.config, labels, len(tasks),
                       f"{ctx.group_label} vs baseline: raw metric at the last checkpoint, "
                       f"{ctx.condition_label}{seeds}{part_phrase(ctx.keys, labels)}", names, even_legend=bool(entries))
    for ax, task in zip(rows.axes, tasks):
        info = ctx.task(task)
        mean, std = bars.mean[task].to_numpy(), bars.std[task].to_numpy()
        low, high = mean - std, mean + std
        if info.log:
            low = np.where(low > 0, low, np.nan)  # a whisker below 0 cannot be drawn on a log axis
        dots = bars.dots[bars.dots["task"] == task]
        row_guides(ax, len(mean))
        interval_rows(ax, mean, low, high, bars.trained[task].to_numpy(),
                      dots["row"].to_numpy() + dots["offset"].to_numpy(), dots["value"].to_numpy(), runs)
        level = baseline[baseline["task"] == task]
        for lv in level.itertuples():
            baseline_band(ax, lv.mean, lv.std)
        base = np.concatenate([level["mean"].to_numpy(), (level["mean"] + level["std"].fillna(0)).to_numpy(),
                               (level["mean"] - level["std"].fillna(0)).to_numpy()])
        if info.log:
            ax.set_xscale("log")
        all_mean, all_std = full.mean[task].to_numpy(), full.std[task].to_numpy()
        all_low = all_mean - all_std
        if info.log:
            all_low = np.where(all_low > 0, all_low, np.nan)
        all_dots = full.dots.loc[full.dots["task"] == task, "value"].to_numpy()
        ax.set_xlim(*fit_limits(np.concatenate([all_mean, all_low, all_mean + all_std, all_dots]), log=info.log,
                                include=tuple(base)))
        if info.log:
            log_ticks(ax.xaxis, least=3, most=4)
        else:
            linear_ticks(ax.xaxis)
        ax.set_title(info.label)
        ax.set_xlabel(f"{info.unit}\n{better(info.higher_is_better)}")
    return rows.finish(handles, names, labels, row_label_colours(runs, len(labels)))
