"""Checkpoint curves: the metric at every step, per task, to see when adaptation or forgetting happens."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from analysis.figure_data import baseline_last, curves_for, missing_curves
from plots.registry import OutputContext, figure
from plots.style import BASELINE, TRAINED, UNTRAINED, apply_style, experiment_labels, grid, plain_log_ticks

_MAX_NAMED = 3  # missing experiments named on a panel before "+ n more"


def _missing_note(names: list[str], ctx: OutputContext) -> str:
    labels = experiment_labels(names, ctx.config)
    more = f" + {len(labels) - _MAX_NAMED} more" if len(labels) > _MAX_NAMED else ""
    return "no data: " + ", ".join(labels[:_MAX_NAMED]) + more


@figure("checkpoints", needs="curves", per=("group", "condition"), writes="checkpoints/{group}_{condition}",
        title="Metric over training checkpoints",
        description="Each task's metric at every checkpoint, one line per experiment of the group (orange: "
                    "trained on that task); dashed: the baseline's value at its last checkpoint; "
                    "log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    tasks = ctx.tasks_in(data)
    nr, nc = grid(len(tasks))
    fig, axes = plt.subplots(nr, nc, figsize=(3.5 * nc, 2.8 * nr + 0.9), squeeze=False, layout="constrained")
    for ax, task in zip(axes.flat, tasks):
        info = ctx.task(task)
        table, trained = curves_for(data, task)
        others = [e for e in table.columns if e not in trained]
        steps = table.index.to_numpy()
        if others:
            ax.plot(steps, table[others].to_numpy(), color=UNTRAINED, lw=0.9, alpha=0.45)
        if trained:
            ax.plot(steps, table[trained].to_numpy(), color=TRAINED, lw=1.6, marker="o", ms=2.5)
        for value in baseline_last(data, task):
            ax.axhline(value, color=BASELINE, ls="--", lw=1.1)
        missing = missing_curves(data, task, ctx.config)
        if missing:
            ax.text(0.02, 0.02, _missing_note(missing, ctx), transform=ax.transAxes, fontsize=7, color="0.3",
                    ha="left", va="bottom", bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.9})
        if info.log:
            ax.set_yscale("log")
            plain_log_ticks(ax.yaxis)
        ax.set_title(info.label)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)")
        ax.grid(color="0.92", lw=0.6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=TRAINED, lw=1.6, marker="o", ms=2.5),
               plt.Line2D([], [], color=UNTRAINED, lw=0.9, alpha=0.6),
               plt.Line2D([], [], color=BASELINE, ls="--", lw=1.1)]
    fig.legend(handles, ["experiment trained on this task", "experiment not trained on it",
                         "baseline (value at its last checkpoint)"],
               loc="outside lower center", ncols=3, frameon=False)
    fig.suptitle(f"{ctx.group_label} vs baseline: metric at every checkpoint, {ctx.condition_label} "
                 f"(one line per experiment)")
    return fig
