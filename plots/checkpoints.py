"""Checkpoint curves: the metric at every step, per task, to see when adaptation or forgetting happens."""
from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from analysis.figure_data import (baseline_last, curve_seeds, curves_for, curves_spread, fewer_seeds,
                                  missing_curves, seed_phrase)
from plots.registry import OutputContext, figure
from plots.style import BASELINE, TRAINED, UNTRAINED, apply_style, experiment_labels, grid, tall_log_ticks

_MAX_NAMED = 3  # missing experiments named on a panel before "+ n more"
_BAND_ALPHA = 0.12  # the ± std band across seeds: light, so 21 of them stay readable


def _named(labels: list[str]) -> str:
    more = f" + {len(labels) - _MAX_NAMED} more" if len(labels) > _MAX_NAMED else ""
    return ", ".join(labels[:_MAX_NAMED]) + more


def _panel_note(missing: list[str], fewer: dict[str, int], ctx: OutputContext) -> str:
    """'no data: ft2-2' for experiments without a curve, 'fewer seeds: ft2-3 (n=3)' for partial ones."""
    parts = []
    if missing:
        parts.append("no data: " + _named(experiment_labels(missing, ctx.config)))
    if fewer:
        labels = experiment_labels(list(fewer), ctx.config)
        parts.append("fewer seeds: " + _named([f"{lab} (n={n})" for lab, n in zip(labels, fewer.values())]))
    return "\n".join(parts)


def _lines(ax: plt.Axes, steps, table: pd.DataFrame, spread: pd.DataFrame | None, names: list[str],
           **style) -> None:
    """One line per experiment (the seed mean) and, given `spread` and several seeds, a light ± std band."""
    if not names:
        return
    ax.plot(steps, table[names].to_numpy(), **style)
    for name in names if spread is not None else ():
        std = spread[name].to_numpy() if name in spread.columns else None
        if std is None or not pd.notna(std).any():
            continue
        mean = table[name].to_numpy()
        ax.fill_between(steps, mean - std, mean + std, color=style["color"], alpha=_BAND_ALPHA, lw=0)


@figure("checkpoints", needs="seed_curves", per=("group", "condition"), writes="checkpoints/{group}_{condition}",
        title="Metric over training checkpoints",
        description="Each task's metric at every checkpoint, one line per experiment of the group (the mean "
                    "over seeds; light band around the orange lines: ± std across seeds; orange: trained on that "
                    "task); dashed: the baseline's value at its last checkpoint (mean over the seeds' baselines); "
                    "log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    tasks = ctx.tasks_in(data)
    seeds = curve_seeds(data)
    multi = bool((seeds > 1).any())
    nr, nc = grid(len(tasks))
    fig, axes = plt.subplots(nr, nc, figsize=(3.5 * nc, 2.8 * nr + 0.9), squeeze=False, layout="constrained")
    for ax, task in zip(axes.flat, tasks):
        info = ctx.task(task)
        table, trained = curves_for(data, task)
        spread = curves_spread(data, task).reindex(index=table.index)
        others = [e for e in table.columns if e not in trained]
        steps = table.index.to_numpy()
        # bands only around the highlighted (trained) lines: 20 overlapping bands would hide the lines
        _lines(ax, steps, table, None, others, color=UNTRAINED, lw=0.9, alpha=0.45)
        _lines(ax, steps, table, spread, trained, color=TRAINED, lw=1.6, marker="o", ms=2.5)
        for value in baseline_last(data, task):
            ax.axhline(value, color=BASELINE, ls="--", lw=1.1)
        note = _panel_note(missing_curves(data, task, ctx.config), fewer_seeds(data, task), ctx)
        if note:
            ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=7, color="0.3",
                    ha="left", va="bottom", bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.9})
        if info.log:
            ax.set_yscale("log")
            tall_log_ticks(ax.yaxis)
        ax.set_title(info.label)
        ax.set_xlabel("training step")
        ax.set_ylabel(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)")
        ax.grid(color="0.92", lw=0.6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.set_visible(False)
    handles = [plt.Line2D([], [], color=TRAINED, lw=1.6, marker="o", ms=2.5),
               plt.Line2D([], [], color=UNTRAINED, lw=0.9, alpha=0.6),
               plt.Line2D([], [], color=BASELINE, ls="--", lw=1.1)]
    names = ["experiment trained on this task", "experiment not trained on it",
             "baseline (value at its last checkpoint)"]
    what = "one line per experiment"
    if multi:
        handles.append(plt.Rectangle((0, 0), 1, 1, color=TRAINED, alpha=0.25, lw=0))
        names.append("band: ± std across seeds (trained experiments)")
        names[2] = "baseline (mean of its seeds' last values)"
        what = f"one line per experiment: mean of {seed_phrase(seeds)}"
    fig.legend(handles, names, loc="outside lower center", ncols=len(names), frameon=False)
    fig.suptitle(f"{ctx.group_label} vs baseline: metric at every checkpoint, {ctx.condition_label} ({what})")
    return fig


@figure("run_checkpoints", needs="run_curves", per=("group", "condition", "task"),
        writes="run_checkpoints/{group}_{condition}_{task}", title="Metric over checkpoints, runs without a baseline",
        description="For runs without a baseline: one metric at every checkpoint, one line per run (the mean over "
                    "the seeds its name shows; band: ± std across seeds).")
def draw_runs(data: pd.DataFrame, ctx: OutputContext) -> plt.Figure:
    apply_style()
    info = ctx.task(ctx.keys["task"])
    table = data.pivot_table(index="step", columns="model", values="value", aggfunc="first").sort_index()
    spread = data.pivot_table(index="step", columns="model", values="seed_std", aggfunc="first",
                              dropna=False).reindex(index=table.index, columns=table.columns)
    fig, ax = plt.subplots(figsize=(6.4, 3.6), layout="constrained")
    steps = table.index.to_numpy()
    seeds = data.groupby("model")["n_seeds"].max()
    for name in table.columns:  # the default (Okabe-Ito) cycle: one colour per run, named in the legend
        values = table[name].to_numpy()
        ok = np.isfinite(values)
        n = int(seeds.get(name, 1))
        label = f"{name} (mean of {n} seeds, band ± std)" if n > 1 else name
        line, = ax.plot(steps[ok], values[ok], marker="o", ms=2.5, lw=1.4, label=label)
        std = spread[name].to_numpy()[ok]
        if np.isfinite(std).any():
            ax.fill_between(steps[ok], values[ok] - std, values[ok] + std, color=line.get_color(), alpha=_BAND_ALPHA,
                            lw=0)
    ax.set_xlabel("training step")
    ax.set_ylabel(f"{info.unit} ({'higher' if info.higher_is_better else 'lower'} is better)")
    ax.grid(color="0.92", lw=0.6)
    ax.legend(loc="best", fontsize=7, frameon=False)
    fig.suptitle(f"{textwrap.shorten(info.label, 70)}\nat every checkpoint, runs compared ({ctx.keys['group']}, "
                 f"{ctx.condition_label}; no baseline)", fontsize=10)
    return fig
