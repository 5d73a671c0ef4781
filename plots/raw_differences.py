"""Forgetting view: change from the baseline on in-distribution data, in each task's own unit."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import NullFormatter

from analysis.figure_data import (experiment_order, in_distribution, matrix, seed_forgetting, seed_numbers,
                                  seed_phrase)
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, TRAINED, UNTRAINED, apply_style, bar_panels, bar_panels_size, experiment_labels,
                         hbars, missing_handle, note_figure, row_labels, seed_handles, seed_spread)


_FOLD_TICKS = (1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 100.0, 1000.0)


def _fold_axis(ax: plt.Axes, values: np.ndarray) -> None:
    """Log x axis symmetric around 1 (half and double equally far from the baseline), with a few
    plain tick labels such as 0.5, 1, 2 instead of crowded powers of ten."""
    finite = values[np.isfinite(values) & (values > 0)]
    reach = float(np.max(np.abs(np.log10(finite)))) if finite.size else 0.0
    reach = max(reach * 1.12, np.log10(1.2))
    ax.set_xlim(10 ** -reach, 10 ** reach)
    inside = [t for t in _FOLD_TICKS if np.log10(t) <= reach]
    top = inside[-1:] + ([inside[len(inside) // 2 - 1]] if len(inside) >= 4 else [])
    ticks = sorted({1.0, *top, *(1 / t for t in top)})
    ax.set_xticks(ticks, [f"{t:.2g}" for t in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())


@figure("raw_differences", needs="seed_scores", per=("group",), writes="raw_differences/{group}",
        title="Forgetting: raw change vs baseline (in distribution)",
        description="Change from the baseline on in-distribution data at the last checkpoint: accuracy "
                    "points for accuracy tasks, fold change (log axis, 1 = baseline) for error tasks; "
                    "bar: mean over seeds (each seed against its own baseline), whisker: ± std across seeds; "
                    "orange: trained on that task; hatched: n/a.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    cond = in_distribution(ctx.config)
    label = ctx.config.condition_label(cond)
    rows = seed_forgetting(data, ctx.config)
    title = f"{ctx.group_label} vs baseline: change on {label} data at last checkpoint (forgetting view)"
    if rows.empty:
        return note_figure(f"No {label} ({cond}) evaluations for this group.", title)
    order = experiment_order(rows["experiment"], ctx.config)
    m = matrix(rows, "change", ctx.config, order)
    spread = matrix(rows, "spread", ctx.config, order).values
    seeds = seed_numbers(rows, order)
    multi = bool((seeds > 1).any())
    tasks = list(m.values.columns)
    fig, axes = bar_panels(len(tasks), bar_panels_size(len(m.values), len(tasks)))
    for ax, task in zip(axes.flat, tasks):
        info = ctx.task(task)
        values, std = m.values[task].to_numpy(), spread[task].to_numpy()
        rows_y = np.arange(len(values))
        if info.kind == "accuracy":
            hbars(ax, values, m.trained[task].to_numpy(), origin=0.0)
            ax.axvline(0, color=BASELINE, lw=1)
            seed_spread(ax, rows_y, values, std, horizontal=True)
            ends = np.abs(values) + np.nan_to_num(std)  # whiskers stay inside the panel
            finite = ends[np.isfinite(ends)]
            reach = float(finite.max()) * 1.12 if finite.size and finite.max() > 0 else 1.0
            ax.set_xlim(-reach, reach)  # symmetric: gains and losses equally far from the baseline
            ax.set_xlabel("Δ accuracy (points)\n> 0 better")
        else:
            ax.set_xscale("log")
            hbars(ax, values, m.trained[task].to_numpy(), origin=1.0)
            ax.axvline(1, color=BASELINE, lw=1)
            seed_spread(ax, rows_y, values, std, horizontal=True)
            _fold_axis(ax, np.concatenate([values, values + np.nan_to_num(std)]))
            ax.set_xlabel("error, × baseline\n< 1 better")
        ax.set_title(info.label)
        ax.grid(axis="x", color="0.9", lw=0.6)
        ax.set_axisbelow(True)
    labels = experiment_labels(list(m.values.index), ctx.config)
    if multi:
        labels = [f"{label} (n={n})" for label, n in zip(labels, seeds)]
    row_labels(axes, labels)
    handles = [plt.Rectangle((0, 0), 1, 1, color=TRAINED), plt.Rectangle((0, 0), 1, 1, color=UNTRAINED),
               plt.Line2D([], [], color=BASELINE, lw=1), missing_handle()]
    names = ["trained on this task", "not trained on it", "baseline (0 points / × 1)", "n/a: missing evaluation"]
    if multi:
        handles.append(seed_handles()[0][0])
        names.append("whisker: ± std across seeds")
        title += (f"\nbar: mean of {seed_phrase(matrix(rows, 'n', ctx.config, order).values)}, each against "
                  "its own baseline (n in the row label)")
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False)
    fig.suptitle(f"{title}\naccuracy tasks: difference in accuracy points; error tasks: fold change "
                 "(value / baseline, log axis)")
    return fig
