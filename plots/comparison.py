"""Raw metric per task: every experiment of a group as a bar, the baseline as a line."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from plots.registry import OutputContext, figure
from plots.style import BASELINE, MISSING_HATCH, TRAINED, UNTRAINED, apply_style, grid, labels_for


@figure("comparison", needs="scores", per=("group", "condition"),
        writes="comparison/{group}_{condition}",
        title="Raw metric vs baseline",
        description="Each task's metric at the last checkpoint for every experiment of the group; "
                    "dashed line: the baseline; orange: trained on that task; log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    rows = data[data["group"] != "baseline"]
    tasks = ctx.tasks_in(rows)
    nr, nc = grid(len(tasks))
    fig, axes = plt.subplots(nr, nc, figsize=(3.6 * nc, 2.9 * nr), squeeze=False, layout="constrained")
    for ax, task in zip(axes.flat, tasks):
        info = ctx.task(task)
        part = rows[rows["task"] == task]
        x = np.arange(len(part))
        values = part["value"].to_numpy(dtype=float)
        colors = [TRAINED if t else UNTRAINED for t in part["trained"]]
        ax.bar(x, np.nan_to_num(values, nan=0.0), color=colors, width=0.8)
        for xi in x[np.isnan(values)]:
            ax.axvspan(xi - 0.4, xi + 0.4, fill=False, hatch=MISSING_HATCH, edgecolor="0.6", lw=0)
        for b in part["baseline"].dropna().unique():
            ax.axhline(b, color=BASELINE, ls="--", lw=1)
        if info.log:
            ax.set_yscale("log")
        ax.set_xticks(x, labels_for(part), rotation=90)
        ax.set_title(info.label)
        ax.set_ylabel(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)")
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    handles = [plt.Rectangle((0, 0), 1, 1, color=TRAINED), plt.Rectangle((0, 0), 1, 1, color=UNTRAINED),
               plt.Line2D([], [], color=BASELINE, ls="--"),
               plt.Rectangle((0, 0), 1, 1, fill=False, hatch=MISSING_HATCH, edgecolor="0.6")]
    fig.legend(handles, ["trained on this task", "not trained on it", "baseline", "missing evaluation"],
               loc="outside lower center", ncols=4, frameon=False)
    fig.suptitle(f"{ctx.group_label} vs baseline: raw metric at last checkpoint, {ctx.condition_label}")
    return fig
