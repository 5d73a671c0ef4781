"""Forgetting view: change from the baseline on in-distribution data, in each task's own unit."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from analysis.figure_data import (described, forgetting_intervals, in_distribution, members, rows_of_part,
                                  seed_phrase)
from plots.page import note_figure, part_phrase, rows_figure, rows_split
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, apply_style, experiment_labels, fit_limits, interval_handles,
                         interval_rows, linear_ticks, log_ticks, row_guides, row_label_colours, run_entries)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _symmetric(limits: tuple[float, float], centre: float, log: bool) -> tuple[float, float]:
    """Limits widened to be symmetric around the baseline (0 points, x 1): gains and losses equally far."""
    if log:
        reach = max(abs(np.log10(limits[0])), abs(np.log10(limits[1])))
        return 10.0 ** -reach, 10.0 ** reach
    reach = max(abs(limits[0] - centre), abs(limits[1] - centre))
    return centre - reach, centre + reach


@figure("raw_differences", needs="seed_points", per=("group",), writes="raw_differences/{group}",
        parts=rows_split, title="Forgetting: raw change vs baseline (in distribution)",
        description="Change from the baseline on in-distribution data at the last checkpoint: percentage "
                    "points (raw difference x 100, mean ± std across seeds) for accuracy tasks, fold change "
                    "(value / baseline, geometric mean and geometric ± std across seeds, log axis, 1 = baseline) "
                    "for error tasks; each kind on one x axis shared by its tasks; grey dots = each seed; "
                    "vermillion: trained on that task (runs whose training rules.yaml does not describe: "
                    "each in its own colour and marker, and the title says change, not forgetting).")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    label = ctx.config.condition_label(in_distribution(ctx.config))
    full = forgetting_intervals(data, ctx.config)  # every row: the same axes in each part of a split figure
    change = forgetting_intervals(data, ctx.config, rows=rows_of_part(data, ctx.config, ctx.keys))
    runs = change.runs.to_numpy()
    # forgetting: a change on tasks a run was not trained on, which only rules.yaml's training: can say;
    # a group nobody described is a change from the baseline, no more
    forgetting = " (forgetting)" if described(members(data)).any() else ""
    title = (f"{ctx.group_label} vs baseline: change on {label} data at the last checkpoint{forgetting}: "
             "Δ accuracy in percentage points (pp), error fold change (×)")
    if change.mean.empty:
        return note_figure(f"No {label} evaluations for this group.", title, width=ctx.config.plot_width)
    tasks = list(change.mean.columns)
    labels = experiment_labels(list(change.mean.index), ctx.config)
    if change.multi_seed and change.n_seeds.nunique() > 1:
        labels = [f"{lab} (n={n})" for lab, n in zip(labels, change.n_seeds)]
    if change.multi_seed:
        title += f"; mean of {seed_phrase(change.n)}, each against its own baseline"
    accuracy = [t for t in tasks if ctx.task(t).kind == "accuracy"]
    limits = {}  # one shared x range per kind of change: points for accuracies, fold change for errors
    for kind, cols in (("accuracy", accuracy), ("error", [t for t in tasks if t not in accuracy])):
        values = [full.mean[cols], full.low[cols], full.high[cols],
                  full.dots.loc[full.dots["task"].isin(cols), "value"]]
        log = kind == "error"
        centre = 1.0 if log else 0.0
        fitted = fit_limits(np.concatenate([np.ravel(v.to_numpy()) for v in values]), log=log, include=(centre,))
        limits[kind] = _symmetric(fitted, centre, log)
    entries = run_entries(runs, labels)  # runs nobody described: a legend entry each
    handles, names = interval_handles(change.multi_seed, "± std across seeds (geometric for ×)",
                                      entries, described=bool((runs < 0).any()))
    handles.append(Line2D([], [], color=BASELINE, lw=0.9))
    names.append("baseline (Δ 0, × 1)")
    if change.mean.isna().to_numpy().any():
        handles.append(Line2D([], [], ls=""))
        names.append("n/a: missing evaluation")
    rows = rows_figure(ctx.config, labels, len(tasks), title + part_phrase(ctx.keys, labels), names,
                       even_legend=bool(entries))
    for ax, task in zip(rows.axes, tasks):
        info = ctx.task(task)
        dots = change.dots[change.dots["task"] == task]
        row_guides(ax, len(change.mean))
        log = info.kind != "accuracy"
        ax.axvline(1.0 if log else 0.0, color=BASELINE, lw=0.9, zorder=1)
        if log:
            ax.set_xscale("log")
        interval_rows(ax, change.mean[task].to_numpy(), change.low[task].to_numpy(), change.high[task].to_numpy(),
                      change.trained[task].to_numpy(), dots["row"].to_numpy() + dots["offset"].to_numpy(),
                      dots["value"].to_numpy(), runs)
        ax.set_xlim(*limits["error" if log else "accuracy"])
        if log:
            log_ticks(ax.xaxis, least=3, most=4)
            ax.set_xlabel("× baseline\n← lower is better")
        else:
            linear_ticks(ax.xaxis)
            ax.set_xlabel("Δ pp\nhigher is better →")
        ax.set_title(info.label)
    return rows.finish(handles, names, labels, row_label_colours(runs, len(labels)))
