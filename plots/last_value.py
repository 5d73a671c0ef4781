"""Last value per run, for runs scored against no baseline (Trainer runs, lm-eval models): one
figure per task, one bar per run (the mean over its seeds, each seed a dot)."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from plots.registry import OutputContext, figure
from plots.style import UNTRAINED, apply_style, seed_dots, seed_handles, seed_spread


@figure("last_value", needs="run_values", per=("group", "condition", "task"),
        writes="last_value/{group}_{condition}_{task}", title="Last value per run",
        description="For runs without a baseline: the task's metric at each run's last checkpoint, one bar per "
                    "run (mean over the seeds its name shows, whisker ± std, dots: each seed); no normalization.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    task = ctx.keys["task"]
    info = ctx.task(task)
    models = data.drop_duplicates("model").sort_values("model", kind="stable")
    n = len(models)
    fig, ax = plt.subplots(figsize=(min(6.4, ctx.config.plot_width), 1.3 + 0.32 * n), layout="constrained")
    y = np.arange(n)
    means = models["value_mean"].to_numpy(dtype="float64")
    lo = np.nanmin(data["value"].to_numpy(dtype="float64"))
    if lo >= 0:  # bars only from a meaningful zero
        ax.barh(y, means, color=UNTRAINED, height=0.6)
    else:
        ax.scatter(means, y, color=UNTRAINED, marker="D", s=24, zorder=3)
    seed_spread(ax, y, means, models["value_std"].to_numpy(dtype="float64"), horizontal=True)
    multi = data[data["n_seeds"] > 1]
    rows = {m: i for i, m in enumerate(models["model"])}
    seed_dots(ax, multi["model"].map(rows).to_numpy(dtype="float64"), multi["value"].to_numpy(dtype="float64"),
              horizontal=True)
    right = data.groupby("model")["value"].max().reindex(models["model"]).to_numpy(dtype="float64")
    ends = np.fmax(np.fmax(means, means + np.nan_to_num(models["value_std"].to_numpy(dtype="float64"))), right)
    for yi, m, end in zip(y, means, ends):  # the number right of the bar, its whisker and its dots
        if np.isfinite(m):
            ax.text(end, yi, f"  {m:.3g}", va="center", ha="left", fontsize=7, color="0.25")
    ax.set_yticks(y, [f"{m} (n={k})" if k > 1 else str(m) for m, k in zip(models["model"], models["n_seeds"])])
    ax.invert_yaxis()
    ax.margins(x=0.12)
    ax.set_xlabel(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)")
    ax.grid(axis="x", color="0.9", lw=0.6)
    ax.set_axisbelow(True)
    if len(multi):
        fig.legend(*seed_handles(), loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle(f"{textwrap.shorten(info.label, 70)}\nat each run's last checkpoint, runs compared "
                 f"({ctx.keys['group']}, {ctx.condition_label}; no baseline)", fontsize=10)
    return fig
