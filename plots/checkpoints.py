"""Checkpoint curves: the metric at every step, per task, to see when adaptation or forgetting happens."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator, NullLocator
from matplotlib.transforms import blended_transform_factory

from analysis.figure_data import curve_panels, curve_seeds, seed_phrase
from plots.page import GAP, Page, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, FONT_MIN, TITLE_SIZE, TRAINED, UNTRAINED, apply_style, experiment_labels,
                         fit_limits, fit_tick_labels, linear_ticks, run_style, short_number_ticks,
                         sparse_log_ticks, tall_log_ticks)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_MAX_NAMED = 3  # missing experiments named on a panel before "+ n more"
_LABEL_GAP = 0.1  # inches between two direct labels at a panel's right edge
PAGE_HEIGHT = 9.0  # inches: a page's text height, what panels stacked in one column are fitted into
_PANEL_H, _MIN_PANEL_H = 1.35, 0.85  # inches: a panel's height, and the least a stacked one is given


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


def spread_labels(ax: Axes, ys: np.ndarray, gap: float) -> np.ndarray:
    """Heights (data units) for labels at the right end of lines ending at `ys`: in order, at least `gap`
    inches apart, moved as little as possible and kept inside the panel."""
    fig = ax.figure
    to_in = ax.transData.transform
    pix = to_in(np.column_stack([np.zeros(len(ys)), ys]))[:, 1] / fig.dpi
    lo_px, hi_px = (ax.transAxes.transform([(0, 0), (0, 1)])[:, 1] / fig.dpi)
    order = np.argsort(pix)
    placed = pix[order].copy()
    for i in range(1, len(placed)):
        placed[i] = max(placed[i], placed[i - 1] + gap)
    overflow = placed[-1] - hi_px if len(placed) else 0
    if overflow > 0:
        placed -= overflow
        for i in range(len(placed) - 2, -1, -1):
            placed[i] = min(placed[i], placed[i + 1] - gap)
    placed = np.clip(placed, lo_px, hi_px)
    out = np.empty_like(placed)
    out[order] = placed
    inverse = ax.transData.inverted().transform(np.column_stack([np.zeros(len(out)), out * fig.dpi]))
    return inverse[:, 1]


@figure("checkpoints", needs="seed_curves", per=("group", "condition"), writes="checkpoints/{group}_{condition}",
        title="Metric over training checkpoints",
        description="Each task's metric at every checkpoint: the experiments trained on that task in vermillion, "
                    "labelled at their end, with a whisker of ± std across seeds at the last checkpoint; every "
                    "other experiment of the group as a thin blue line; lines are means over seeds; dashed: the "
                    "baseline's value at its last checkpoint (mean over the seeds' baselines); log scale for errors.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    panels = curve_panels(data, ctx.config)
    tasks = [t for t in ctx.tasks_in(data) if t in panels]  # a task only the baseline has: no curve to compare
    seeds = curve_seeds(data)
    multi = bool((seeds > 1).any())
    handles = [Line2D([], [], color=TRAINED, lw=1.4), Line2D([], [], color=UNTRAINED, lw=0.7, alpha=0.5),
               Line2D([], [], color=BASELINE, ls="--", lw=0.9)]
    names = ["trained on this task (labelled)", "not trained on it",
             "baseline at its last checkpoint" + (" (mean of its seeds)" if multi else "")]
    what = ""
    if multi:
        handles.append(Line2D([], [], color=TRAINED, lw=0, marker="|", markersize=7, markeredgewidth=1))
        names.append("± std across seeds at the end")
        what = f"; lines: mean of {seed_phrase(seeds)}"

    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.wrap(f"{ctx.group_label} vs baseline: metric at every checkpoint, {ctx.condition_label}{what}",
                      TITLE_SIZE)
    legend_cols, legend_h = page.legend_columns(names)
    label_w = max((page.text_width(lab, FONT_MIN) for lab in experiment_labels(list(seeds.index), ctx.config)),
                  default=0.3) + 0.08
    left = 0.72  # y tick labels (up to "0.825") and a 2-line y label
    label_w += 0.06  # the labels start just right of the panel
    wspace = label_w + left
    ncols = page.columns(len(tasks), 1.3, left, right=label_w, wspace=wspace)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height()
    axis_h = x_axis_height(1)
    bottom = axis_h + legend_h + GAP
    # Stacked in one column (a one-column page), the panels share the x axis, labelled once at the
    # bottom, and are made shorter so the figure fits a page's height where it can.
    stacked = ncols == 1 and len(tasks) > 1
    hspace = title_height() + 0.06 + (0.0 if stacked else axis_h)
    panel_h = _PANEL_H
    if stacked:
        room = PAGE_HEIGHT - top - bottom - (len(tasks) - 1) * hspace
        panel_h = min(_PANEL_H, max(_MIN_PANEL_H, room / len(tasks)))
    axes = page.panels(len(tasks), ncols, panel_h, left, top, bottom, right=label_w, wspace=wspace, hspace=hspace)
    all_steps = np.concatenate([panels[t].table.index.to_numpy(dtype=float) for t in tasks]) if tasks else []
    for ax, task in zip(axes, tasks):
        info = ctx.task(task)
        panel = panels[task]
        table, trained, spread, base = panel.table, panel.trained, panel.spread, panel.baseline
        others = [e for e in table.columns if e not in trained]
        steps = table.index.to_numpy(dtype=float)
        values = table.to_numpy(dtype=float)
        if info.log:
            ax.set_yscale("log")
        if stacked and len(all_steps) > 1:
            ax.set_xlim(all_steps.min(), all_steps.max())
        elif len(steps) > 1:
            ax.set_xlim(steps.min(), steps.max())
        ax.set_ylim(*fit_limits(np.concatenate([values.ravel(), base]), log=info.log, pad=0.05))
        if others:  # one collection for all the lines in the background
            segments = [np.column_stack([steps, table[e].to_numpy()]) for e in others]
            segments = [s[np.isfinite(s[:, 1])] for s in segments]
            ax.add_collection(LineCollection(segments, colors=UNTRAINED, linewidths=0.7, alpha=0.45, zorder=1.5,
                                             gid="others"), autolim=False)
        for value in base:
            ax.axhline(value, color=BASELINE, ls="--", lw=0.9, zorder=1.8)
        ends, end_labels = [], experiment_labels(trained, ctx.config)
        for name in trained:
            y = table[name].to_numpy()
            ax.plot(steps, y, color=TRAINED, lw=1.4, zorder=3)
            last = np.flatnonzero(np.isfinite(y))
            ends.append((steps[last[-1]], y[last[-1]]) if len(last) else (np.nan, np.nan))
        if multi and trained:
            end_std = [spread[name].to_numpy()[np.flatnonzero(np.isfinite(table[name].to_numpy()))[-1]]
                       if np.isfinite(table[name].to_numpy()).any() else np.nan for name in trained]
            xs, ys, std = (np.array(v, dtype=float) for v in (*zip(*ends), end_std))
            ok = np.isfinite(ys) & np.isfinite(std)
            if ok.any():
                ax.vlines(xs[ok], ys[ok] - std[ok], ys[ok] + std[ok], colors=TRAINED, linewidths=1.0, zorder=3.5,
                          gid="spread")
        ok = [i for i, (_, y) in enumerate(ends) if np.isfinite(y)]
        if ok:
            heights = spread_labels(ax, np.array([ends[i][1] for i in ok]), _LABEL_GAP)
            right = blended_transform_factory(ax.transAxes, ax.transData)
            for i, y in zip(ok, heights):
                ax.text(1.03, y, end_labels[i], transform=right, fontsize=FONT_MIN, color=TRAINED, va="center",
                        ha="left", gid="label")
        note = _panel_note(panel.missing, panel.fewer, ctx)
        if note:
            ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=FONT_MIN, color="0.3", ha="left",
                    va="bottom", bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.9, "pad": 1.5})
        if info.log:
            lo, hi = ax.get_ylim()  # a decade or more: 1-2-5 labels; less: 3-4 plain numbers across it
            sparse_log_ticks(ax.yaxis, max_labels=4) if hi / lo >= 10 else tall_log_ticks(ax.yaxis, nbins=4)
        else:
            linear_ticks(ax.yaxis, nbins=4)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_minor_locator(NullLocator())  # no unlabelled minor ticks to build on log axes
        ax.set_title(info.label)
        if stacked and ax is not axes[-1]:
            ax.tick_params(axis="x", labelbottom=False)
        else:
            ax.set_xlabel("training step")
        ax.set_ylabel(f"{info.unit}\n{'higher' if info.higher_is_better else 'lower'} is better")
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
