"""Checkpoint curves: the metric at every step, per task, to see when adaptation or forgetting happens."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator
from matplotlib.transforms import blended_transform_factory

from analysis.figure_data import curve_panels, curve_seeds, seed_phrase
from plots.page import GAP, Page, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import (BASELINE, FONT_MIN, TITLE_SIZE, TRAINED, UNTRAINED, apply_style, experiment_labels,
                         fit_limits, linear_ticks, log_ticks, run_style)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_MAX_NAMED = 3  # missing experiments named on a panel before "+ n more"
_LABEL_GAP = 0.1  # inches between two direct labels at a panel's right edge
PAGE_HEIGHT = 8.95  # inches: a page's text height (9 in) less a margin, what stacked panels are fitted into
_PANEL_H, _MIN_PANEL_H = 1.35, 0.7  # inches: a panel's height, and the least a stacked one is given


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


def end_labels(ax: Axes, ends: list[tuple[float, float]], names: list[str], colours: list[str],
               pad: float = 0.06) -> None:
    """Name each line at the panel's right edge, `pad` inches right of it: each label as near the height
    its line ends as labels `_LABEL_GAP` apart allow (`spread_labels`), joined to its line's end by a
    thin grey leader (gid "leader": level with the line's end to the panel's edge, then to the label),
    so a label pushed off its line's height still points at it. Call it once the panel's limits are final."""
    if not ends:
        return
    fig = ax.figure
    heights = spread_labels(ax, np.array([y for _, y in ends], dtype=float), _LABEL_GAP)
    width = ax.get_position().width * fig.get_size_inches()[0]
    at = blended_transform_factory(ax.transAxes, ax.transData)
    x_px = ax.transAxes.transform((1, 0))[0] + (pad - 0.015) * fig.dpi  # where the leader ends
    for (x, y), h, name, colour in zip(ends, heights, names, colours):
        y_px = ax.transData.transform((x, h))[1]
        x_end, y_end = ax.transData.inverted().transform((x_px, y_px))
        edge = ax.get_xlim()[1]
        ax.plot([x, edge, x_end], [y, y, y_end], color="0.6", lw=0.5, clip_on=False, zorder=3.4, gid="leader",
                label=f"_leader:{name}")
        ax.text(1 + pad / width, h, name, transform=at, fontsize=FONT_MIN, color=colour, va="center", ha="left",
                gid="label")


def _end_spread(table: pd.DataFrame, spread: pd.DataFrame, name: str) -> float:
    """The ± std across seeds at an experiment's last checkpoint with a value (nan without one)."""
    ok = np.flatnonzero(np.isfinite(table[name].to_numpy()))
    return float(spread[name].to_numpy()[ok[-1]]) if len(ok) else np.nan


_WHISKER_STEP = 0.045  # inches between the dodged end-of-run whiskers


@figure("checkpoints", needs="seed_curves", per=("group", "condition"), writes="checkpoints/{group}_{condition}",
        title="Metric over training checkpoints",
        description="Each task's metric at every checkpoint: the experiments trained on that task in vermillion, "
                    "named at the panel's edge (a grey leader joins each name to its line's end), with a whisker "
                    "of ± std across seeds at the last checkpoint (side by side, in the order of the names); "
                    "every other experiment of the group as a thin blue line (runs whose training rules.yaml "
                    "does not describe: a line each in its own colour and marker, named in the legend); lines "
                    "are means over seeds; "
                    "dashed: the baseline's value at its last checkpoint (mean over the seeds' baselines); log "
                    "scale for errors. The legend fills the grid's empty cells.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    panels = curve_panels(data, ctx.config)
    tasks = [t for t in ctx.tasks_in(data) if t in panels]  # a task only the baseline has: no curve to compare
    seeds = curve_seeds(data)
    multi = bool((seeds > 1).any())
    # runs nobody described (no training: entry): a line each in its own colour and marker, named in the legend
    runs = sorted({(i, e) for t in tasks for e, i in panels[t].runs.items()})
    known = any(set(panels[t].table.columns) - set(panels[t].runs) for t in tasks) or not runs
    handles, names = [], []
    if known:
        handles += [Line2D([], [], color=TRAINED, lw=1.4), Line2D([], [], color=UNTRAINED, lw=0.7, alpha=0.5)]
        names += ["trained on this task (named)", "not trained on it"]
    for i, label in zip([i for i, _ in runs], experiment_labels([e for _, e in runs], ctx.config)):
        colour, marker = run_style(i)
        handles.append(Line2D([], [], color=colour, lw=1.2, marker=marker, markersize=3))
        names.append(label)
    handles.append(Line2D([], [], color=BASELINE, ls="--", lw=0.9))
    names.append("baseline at its last checkpoint" + (" (mean of its seeds)" if multi else ""))
    what = ""
    if multi:
        if known:
            handles.append(Line2D([], [], color=TRAINED, lw=0, marker="|", markersize=7, markeredgewidth=1))
            names.append("± std across seeds at the end")
        what = f"; lines: mean of {seed_phrase(seeds)}"

    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.wrap(f"{ctx.group_label} vs baseline: metric at every checkpoint, {ctx.condition_label}{what}",
                      TITLE_SIZE)
    named = [e for e in seeds.index if all(e not in panels[t].runs for t in tasks)]  # runs: named in the legend
    label_w = max((page.text_width(lab, FONT_MIN) for lab in experiment_labels(named, ctx.config)),
                  default=0.3 if not runs else 0.0) + 0.08  # only runs: no names at the lines' ends
    left = 0.72  # y tick labels (up to "0.825") and a 2-line y label
    label_w += 0.06  # the labels start just right of the panel
    wspace = label_w + left
    ncols = page.columns(len(tasks), 1.3, left, right=label_w, wspace=wspace)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height()
    axis_h = x_axis_height(1)
    # The legend goes into the grid's empty cells when it fits there, else under the panels.
    free_x, free_w = page.free_cells(len(tasks), ncols, left, right=label_w, wspace=wspace, after=label_w + GAP)
    in_cell = free_w > 0 and page.legend_width(names) <= free_w
    # with runs named in it the legend is long: columns as matplotlib fills them (legend_layout)
    legend_cols, legend_h = (1, 0.0) if in_cell else (page.legend_layout(names) if runs else
                                                      page.legend_columns(names))
    bottom = axis_h + legend_h + GAP
    # Stacked in one column (a one-column page), the panels share the x axis, labelled once at the
    # bottom, and are made shorter so the figure fits a page's height.
    stacked = ncols == 1 and len(tasks) > 1
    hspace = title_height() + 0.06 + (0.0 if stacked else axis_h)
    panel_h = _PANEL_H
    if stacked:
        room = PAGE_HEIGHT - top - bottom - (len(tasks) - 1) * hspace
        panel_h = min(_PANEL_H, max(_MIN_PANEL_H, room / len(tasks)))
    axes = page.panels(len(tasks), ncols, panel_h, left, top, bottom, right=label_w, wspace=wspace, hspace=hspace)
    all_steps = np.concatenate([panels[t].table.index.to_numpy(dtype=float) for t in tasks]) if tasks else []
    # Room right of the last checkpoint for the whiskers side by side (the same on every panel).
    most_trained = max((len(panels[t].trained) for t in tasks), default=0) if multi else 0
    panel_w = axes[0].get_position().width * page.width if axes else 1.0
    strip = min(0.35, (most_trained + 0.5) * _WHISKER_STEP) / panel_w if most_trained else 0.0
    for ax, task in zip(axes, tasks):
        info = ctx.task(task)
        panel = panels[task]
        table, trained, spread, base = panel.table, panel.trained, panel.spread, panel.baseline
        others = [e for e in table.columns if e not in trained and e not in panel.runs]
        steps = table.index.to_numpy(dtype=float)
        values = table.to_numpy(dtype=float)
        if info.log:
            ax.set_yscale("log")
        span = all_steps if stacked else steps
        if len(span) > 1:
            x0, x1 = float(np.min(span)), float(np.max(span))
            ax.set_xlim(x0, x1 + (x1 - x0) * strip / (1 - strip))
        ends = []
        for name in trained:
            y = table[name].to_numpy()
            last = np.flatnonzero(np.isfinite(y))
            ends.append((steps[last[-1]], y[last[-1]]) if len(last) else (np.nan, np.nan))
        end_std = np.array([_end_spread(table, spread, n) if multi else np.nan for n in trained], dtype=float)
        end_y = np.array([y for _, y in ends], dtype=float)
        reach = np.concatenate([end_y - np.nan_to_num(end_std), end_y + np.nan_to_num(end_std)]) if ends else []
        if info.log:
            reach = reach[reach > 0] if len(reach) else reach
        ax.set_ylim(*fit_limits(np.concatenate([values.ravel(), base, reach]), log=info.log, pad=0.05))
        if others:  # one collection for all the lines in the background
            segments = [np.column_stack([steps, table[e].to_numpy()]) for e in others]
            segments = [s[np.isfinite(s[:, 1])] for s in segments]
            ax.add_collection(LineCollection(segments, colors=UNTRAINED, linewidths=0.7, alpha=0.45, zorder=1.5,
                                             gid="others"), autolim=False)
        for value in base:
            ax.axhline(value, color=BASELINE, ls="--", lw=0.9, zorder=1.8)
        for name, i in panel.runs.items():
            colour, marker = run_style(i)
            line = table[name].to_numpy()
            ax.plot(steps, line, color=colour, lw=1.2, marker=marker, markersize=2.5, zorder=2.5,
                    markevery=max(1, int(np.isfinite(line).sum()) // 12), gid=f"run:{name}")
        for name in trained:
            ax.plot(steps, table[name].to_numpy(), color=TRAINED, lw=1.4, zorder=3)
        ok = [i for i, (_, y) in enumerate(ends) if np.isfinite(y)]
        order = sorted(ok, key=lambda i: -ends[i][1])  # top to bottom: the order the names are read in
        if multi and order:  # side by side right of the last checkpoint, in the names' order
            x_last = ax.get_xlim()[0] + (ax.get_xlim()[1] - ax.get_xlim()[0]) * (1 - strip)
            dx = (ax.get_xlim()[1] - ax.get_xlim()[0]) * _WHISKER_STEP / panel_w
            xs = np.array([x_last + (k + 0.5) * dx for k in range(len(order))])
            ys, std = end_y[order], end_std[order]
            has = np.isfinite(std)
            if has.any():
                ax.vlines(xs[has], (ys - std)[has], (ys + std)[has], colors=TRAINED, linewidths=1.0, zorder=3.5,
                          gid="spread")
                ax.scatter(xs[has], ys[has], s=9, marker="_", c=TRAINED, linewidths=1.0, zorder=3.5,
                           gid="spread_mean")
        labels = experiment_labels(trained, ctx.config)
        end_labels(ax, [ends[i] for i in ok], [labels[i] for i in ok], [TRAINED] * len(ok))
        note = _panel_note(panel.missing, panel.fewer, ctx)
        if note:
            ax.text(0.02, 0.02, note, transform=ax.transAxes, fontsize=FONT_MIN, color="0.3", ha="left",
                    va="bottom", bbox={"facecolor": "white", "edgecolor": "0.6", "alpha": 0.9, "pad": 1.5})
        if info.log:
            log_ticks(ax.yaxis, least=3, most=5)
        else:
            linear_ticks(ax.yaxis, nbins=4)
            ax.yaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.set_title(info.label)
        if stacked and ax is not axes[-1]:
            ax.tick_params(axis="x", labelbottom=False)
        else:
            ax.set_xlabel("training step")
        ax.set_ylabel(f"{info.unit}\n{'higher' if info.higher_is_better else 'lower'} is better")
    for ax in axes:  # ticks within the data's steps, not in the whiskers' strip
        x0, x1 = ax.get_xlim()
        ax.xaxis.set_major_locator(FixedLocator([t for t in MaxNLocator(3).tick_values(x0, x1 - (x1 - x0) * strip)
                                                 if x0 <= t <= x1 - (x1 - x0) * strip + 1e-9]))
    page.title(title)
    if in_cell:
        last = axes[-1].get_position()
        page.legend_at(handles, names, free_x, last.y1 * page.height, legend_cols)
    else:
        page.legend(handles, names, legend_cols)
    return page.fig
