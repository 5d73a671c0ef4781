"""Evaluation suites and last values of runs without a baseline, as tables and dots you can read:
`suite_table` (models x tasks, value and stderr in each cell, the best of each column shaded), `last_values`
(a dot per model and task with its interval, in the run's own colour and marker) and `suite_subtasks`
(a benchmark's subtasks, one dot per model, under the benchmark's aggregate). Numbers from
analysis/overview.py (`suite_headline`, `suite_subtasks`)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from analysis.overview import bounded
from plots.overview import short_label
from plots.page import GAP, PAGE_HEIGHT, Page, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import (FONT_MIN, PANEL_TITLE_SIZE, TITLE_SIZE, apply_style, fit_limits, fit_tick_labels,
                         linear_ticks, run_style)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from utils.config import Config

BEST_SHADE, TIED_SHADE = "0.80", "0.92"  # grey: best of a column, and those within its stderr
_ROW = 0.3  # inches a table row (value and stderr on two lines)
_MAX_COLS = 12  # table columns a block; more tasks: blocks stacked
_MIN_COL = 0.42  # inches a column at least
Z = 1.96  # stderr -> 95% interval


def cell_text(value: float, stderr: float, aggregated: bool) -> str:
    """`0.920\\n±0.039` (3 decimals on 0-1, 1 on 0-100); `*` marks a mean of subtasks."""
    if not np.isfinite(value):
        return "NaN"
    digits = 3 if abs(value) < 10 else 1
    text = f"{value:.{digits}f}" + ("*" if aggregated else "")
    return text + (f"\n±{stderr:.{digits}f}" if np.isfinite(stderr) else "")


def _models(data: pd.DataFrame) -> list[tuple[str, int, int]]:
    """(model, run index, seeds) of the slice, by run index."""
    runs = data.groupby("model").agg(idx=("run_index", "first"), seeds=("n_seeds", "max")).sort_values("idx")
    return [(str(m), int(r.idx), int(r.seeds)) for m, r in runs.iterrows()]


def _model_label(model: str, seeds: int) -> str:
    return f"{model} (n={seeds})" if seeds > 1 else model


@figure("suite_table", needs="suite_headline", per=("group",), writes="suite/{group}_table",
        title="Last values: every run on every task",
        description="For runs without a baseline, one table per run group: a row per run (its colour and marker "
                    "as in every figure), a column per task (subtasks folded into their benchmark: the reported "
                    "aggregate, or * the mean of the subtasks), each cell the value at the run's last checkpoint "
                    "(mean over seeds) and lm-eval's stderr below it; dark grey: the best of the column, light grey: "
                    "within 1.96 combined stderr of it (not told apart); - : not evaluated.")
def draw_table(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    models = _models(data)
    tasks = (data.drop_duplicates("name").assign(_eval=data.drop_duplicates("name")["kind"] == "accuracy")
             .sort_values(["_eval", "name"], ascending=[False, True]))
    names = tasks["name"].tolist()
    arrows = {r.name: " ↑" if r.kind != "error" else " ↓" for r in tasks.itertuples()}
    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    labels = [short_label(page, _model_label(m, k), 0.3 * page.width) for m, _, k in models]
    left = max(page.text_width(lab, FONT_MIN) for lab in labels) + 0.15
    title = page.wrap(f"{ctx.keys['group']}: every run on every task at its last checkpoint (value, ± stderr "
                      f"where the evaluation reports one)", TITLE_SIZE)
    fit = max(1, min(_MAX_COLS, int((page.width - left - GAP) // _MIN_COL)))  # "0.920" side by side
    nblocks = math.ceil(len(names) / fit)
    per_block = math.ceil(len(names) / nblocks)
    blocks = [names[i:i + per_block] for i in range(0, len(names), per_block)]
    col_w = (page.width - left - GAP) / per_block
    heads = [[short_label(page, n, 1.25, FONT_MIN, arrows[n]) for n in b] for b in blocks]
    head_h = max(page.text_width(h, FONT_MIN) for b in heads for h in b) + 0.1  # upright heads
    notes = []
    if data["aggregated"].astype(bool).any():
        notes.append("* mean of the subtasks (the run reports no aggregate)")
    notes.append("dark grey: best of the column" + ("; light grey: within 1.96 combined stderr of the best"
                                                    if data["stderr"].notna().any() else "")
                 + ("; a loss or perplexity is not compared across runs (it depends on the data)" if (~data["name"].map(
                     lambda n: bounded(n, "error"))).any() and (data["kind"] == "error").any() else ""))
    note = page.wrap("; ".join(notes), FONT_MIN)
    note_h = page.text_height(note, FONT_MIN) + GAP
    cells = {(r.model, r.name): r for r in data.itertuples()}
    # a block shows the runs with a value in one of its columns (a sparse suite: no rows of dashes)
    rows = [[(k, m) for k, m in enumerate(models) if any((m[0], n) in cells for n in b)] for b in blocks]
    heights = [_ROW * len(r) for r in rows]
    top = 2 * GAP + page.text_height(title, TITLE_SIZE)
    gap = head_h + 0.1
    page.height = top + sum(gap + h for h in heights) + note_h + GAP
    page.fig.set_size_inches(page.width, page.height)
    y = page.height - top
    for block, head, block_rows, h in zip(blocks, heads, rows, heights):
        y -= gap + h
        ax = page.fig.add_axes((left / page.width, y / page.height, col_w * per_block / page.width, h / page.height))
        ax.set_xlim(0, per_block)
        ax.set_ylim(len(block_rows), 0)
        ax.set_axis_off()
        for j, (name, hd) in enumerate(zip(block, head)):
            ax.text(j + 0.5, -0.08, hd, rotation=90, ha="center", va="bottom", fontsize=FONT_MIN)
            for i, (_, (model, _, _)) in enumerate(block_rows):
                r = cells.get((model, name))
                if r is not None and (r.best or r.tied):
                    ax.add_patch(_cell(j, i, BEST_SHADE if r.best else TIED_SHADE))
                text = "-" if r is None else cell_text(float(r.value), float(r.stderr), bool(r.aggregated))
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=FONT_MIN, linespacing=1.0,
                        color="0.55" if r is None else "black", fontweight="bold" if r is not None and r.best else
                        "normal", gid="cell")
        for i in range(len(block_rows) + 1):
            ax.axhline(i, color="0.85", lw=0.4, zorder=0)
        for i, (k, (model, idx, _)) in enumerate(block_rows):  # the run named in its own colour
            ax.text(-0.08, i + 0.5, labels[k], ha="right", va="center", fontsize=FONT_MIN,
                    color=run_style(idx)[0], gid="run")
    page.fig.text(GAP / page.width, GAP / page.height, note, ha="left", va="bottom", fontsize=FONT_MIN, color="0.3")
    page.title(title)
    return page.fig


def _cell(x: float, y: float, colour: str) -> Rectangle:
    return Rectangle((x + 0.02, y + 0.04), 0.96, 0.92, facecolor=colour, edgecolor="none", zorder=0.5, gid="shade")


def interval(row) -> tuple[float, float, str]:
    """(low, high, what) of a dot's interval: ± 1.96 stderr when the evaluation reports one, else ± std
    across seeds, else none."""
    if np.isfinite(row.stderr):
        return row.value - Z * row.stderr, row.value + Z * row.stderr, "stderr"
    if row.n_seeds > 1 and np.isfinite(row.value_std):
        return row.value - row.value_std, row.value + row.value_std, "std"
    return np.nan, np.nan, ""


def dot_rows(ax, rows: pd.DataFrame, order: list[str]) -> None:
    """One dot per model (its colour and marker) at its value, row by `order`, the interval as a bar."""
    where = {m: i for i, m in enumerate(order)}
    for r in rows.itertuples():
        colour, marker = run_style(int(r.run_index))
        y = where[r.model]
        lo, hi, _ = interval(r)
        if np.isfinite(lo):
            ax.plot([lo, hi], [y, y], color=colour, lw=1.2, zorder=2, gid="interval")
        ax.plot([r.value], [y], ls="", marker=marker, ms=4.5, color=colour, mec="white", mew=0.4, zorder=3,
                gid=f"dot:{r.model}")


def _legend(data: pd.DataFrame) -> tuple[list, list[str]]:
    handles, names = [], []
    if data["stderr"].notna().any():
        handles.append(Line2D([], [], color="0.3", lw=1.2))
        names.append("95% interval (± 1.96 stderr)")
    if ((data["n_seeds"] > 1) & data["stderr"].isna()).any():
        handles.append(Line2D([], [], color="0.3", lw=1.2, alpha=0.6))
        names.append("± std across seeds")
    return handles, names


_DOT_ROW = 0.2  # inches per run in a last-value panel
_DOT_PANEL_GAP = 0.5  # inches between panel rows: the x axis and the next panel's title


def _dot_tasks(data: pd.DataFrame) -> list[str]:
    """The tasks a last-value figure compares: those two or more runs report on one scale."""
    counts = data.groupby("name")["model"].nunique()
    kinds = data.drop_duplicates("name").set_index("name")["kind"]
    return [n for n in sorted(counts.index) if counts[n] > 1 and bounded(n, kinds[n])]


def dot_parts(data: pd.DataFrame, config: Config) -> int:
    """Into how many figures a group's last-value panels are split so each fits a page's height (an
    estimate from the number of panels and runs: the planner draws nothing)."""
    tasks = _dot_tasks(data)
    if not tasks:
        return 1
    runs = max(data[data["name"] == t]["model"].nunique() for t in tasks)
    ncols = 1 if config.plot_width < 5 else max(1, min(len(tasks), int((config.plot_width - 1.2) // 2.0)))
    panel = _DOT_ROW * runs + 0.15 + _DOT_PANEL_GAP
    fixed = 1.6  # title, the last x axis, the legend
    for parts in range(1, len(tasks) + 1):
        rows = math.ceil(math.ceil(len(tasks) / parts) / ncols)
        if rows * panel + fixed <= PAGE_HEIGHT - 0.2:
            return parts
    return len(tasks)


@figure("last_values", needs="suite_headline", per=("group",), writes="suite/{group}_dots", parts=dot_parts,
        title="Last values with intervals: runs compared per task",
        description="For runs without a baseline, one figure per run group: a panel per task that two or more runs "
                    "report on one scale, a dot per run (its colour and marker) at its value at the last checkpoint, "
                    "the bar its 95% interval (± 1.96 x lm-eval's stderr) or ± std across seeds; tasks of one run, "
                    "and losses (which mean something only for their own data), are in the table.")
def draw_dots(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    kinds = data.drop_duplicates("name").set_index("name")["kind"]
    tasks = _dot_tasks(data)
    part = ""
    if ctx.keys.get("parts", 1) > 1:  # one run of the tasks per figure, each fitting a page
        size = math.ceil(len(tasks) / ctx.keys["parts"])
        part = f" (part {ctx.keys['part']} of {ctx.keys['parts']})"
        tasks = tasks[(ctx.keys["part"] - 1) * size:ctx.keys["part"] * size]
    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    title = page.wrap(f"{ctx.keys['group']}: each run's value at its last checkpoint, runs compared per task{part}",
                      TITLE_SIZE)
    if not tasks:
        from plots.page import note_figure
        return note_figure("No task is reported by two runs on one scale; the values are in the table.", title,
                           ctx.config.plot_width)
    handles, names = _legend(data)
    if data.loc[data["name"].isin(tasks), "aggregated"].astype(bool).any():
        handles.append(Line2D([], [], ls=""))
        names.append("* the mean of the subtasks (no aggregate reported)")
    models = _models(data[data["name"].isin(tasks)])
    labels = {m: short_label(page, _model_label(m, k), 1.4) for m, _, k in models}
    lab_w = max(page.text_width(t, FONT_MIN) for t in labels.values()) + 0.1
    legend_cols, legend_h = page.legend_layout(names) if names else (1, 0.0)
    wspace = lab_w + 0.15
    ncols = page.columns(len(tasks), 1.2, lab_w, right=0.15, wspace=wspace)
    rows_n = max(data[data["name"] == t]["model"].nunique() for t in tasks)
    axis_h = x_axis_height(0)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height()
    axes = page.panels(len(tasks), ncols, _DOT_ROW * rows_n + 0.15, lab_w, top, axis_h + legend_h + GAP, right=0.15,
                       wspace=wspace, hspace=axis_h + title_height() + 0.05)
    pw = (page.width - lab_w - 0.15 - (ncols - 1) * wspace) / ncols
    for ax, task in zip(axes, tasks):
        rows = data[data["name"] == task].sort_values("run_index")
        order = rows["model"].tolist()
        dot_rows(ax, rows, order)
        lows, highs = zip(*[interval(r)[:2] for r in rows.itertuples()])
        ax.set_xlim(*fit_limits(np.concatenate([rows["value"].to_numpy(float), lows, highs]), pad=0.12))
        ax.set_ylim(len(order) - 0.4, -0.6)
        ax.set_yticks(range(len(order)), [labels[m] for m in order])
        for tick, m in zip(ax.get_yticklabels(), order):
            tick.set_color(run_style(int(rows.loc[rows["model"] == m, "run_index"].iloc[0]))[0])
        ax.tick_params(axis="y", length=0)
        linear_ticks(ax.xaxis, nbins=4)
        fit_tick_labels(ax)
        ax.grid(axis="x", color="0.92", lw=0.5)
        ax.set_axisbelow(True)
        agg = "*" if rows["aggregated"].astype(bool).any() else ""
        ax.set_title(short_label(page, task + agg, pw + lab_w * 0.5, PANEL_TITLE_SIZE,
                                 " ↑" if kinds[task] != "error" else " ↓"), fontsize=PANEL_TITLE_SIZE)
    page.title(title)
    if names:
        page.legend(handles, names, legend_cols)
    return page.fig


@figure("suite_subtasks", needs="suite_subtasks", per=("group", "benchmark"), writes="suite/{group}_{benchmark}",
        title="A benchmark's subtasks: runs compared",
        description="For a benchmark with subtasks (MMLU, ...; `hendrycksTest-x` read as `mmlu_x`): a row per "
                    "subtask under the benchmark's aggregate (reported, or * the mean of the subtasks), a dot per run "
                    "in its colour and marker, the bar its 95% interval (± 1.96 stderr).")
def draw_subtasks(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    bench = ctx.keys["benchmark"]
    head = data[data["name"] == bench]
    subs = sorted(set(data["name"]) - {bench})
    order = [bench] + subs
    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    models = _models(data)
    title = page.wrap(f"{ctx.keys['group']}: {bench} and its {len(subs)} subtasks, "
                      + ("runs compared" if len(models) > 1 else models[0][0]), TITLE_SIZE)
    labels = [short_label(page, (f"{bench} (all)" + ("*" if head["aggregated"].astype(bool).any() else "")) if n == bench
                          else n[len(bench) + 1:], 0.4 * page.width) for n in order]
    handles = [Line2D([], [], ls="", marker=run_style(i)[1], color=run_style(i)[0], ms=4.5) for _, i, _ in models]
    names = [_model_label(m, k) for m, _, k in models]
    more, more_names = _legend(data)
    handles, names = handles + more, names + more_names
    if head["aggregated"].astype(bool).any():
        handles.append(Line2D([], [], ls=""))
        names.append("* mean of the subtasks (no aggregate reported)")
    legend_cols, legend_h = page.legend_layout(names)
    left = max(page.text_width(t, FONT_MIN) for t in labels) * 1.1 + 0.1  # the first is bold
    axis_h = x_axis_height(2)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + 0.08
    room = PAGE_HEIGHT - 0.1 - top - axis_h - legend_h - GAP  # a long benchmark's rows shrink to fit a page
    row = max(0.105, min(0.125, (room - 0.1) / len(order)))
    [ax] = page.panels(1, 1, row * len(order) + 0.1, left, top, axis_h + legend_h + GAP, right=0.15)
    where = {n: i for i, n in enumerate(order)}
    for r in data.itertuples():
        colour, marker = run_style(int(r.run_index))
        y = where[r.name] + (r.run_index - np.mean([i for _, i, _ in models])) * 0.12 * (len(models) > 1)
        lo, hi, _ = interval(r)
        if np.isfinite(lo):
            ax.plot([lo, hi], [y, y], color=colour, lw=0.9, zorder=2, gid="interval")
        ax.plot([r.value], [y], ls="", marker=marker, ms=3.5, color=colour, mec="white", mew=0.3, zorder=3,
                gid=f"dot:{r.model}")
    lows, highs = zip(*[interval(r)[:2] for r in data.itertuples()])
    ax.set_xlim(*fit_limits(np.concatenate([data["value"].to_numpy(float), lows, highs]), pad=0.05))
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_yticks(range(len(order)), labels)
    ax.get_yticklabels()[0].set_fontweight("bold")
    ax.axhline(0.5, color="0.6", lw=0.6)
    ax.tick_params(axis="y", length=0)
    ax.grid(color="0.93", lw=0.5)
    ax.set_axisbelow(True)
    linear_ticks(ax.xaxis, nbins=6)
    fit_tick_labels(ax)
    kind = str(data["kind"].iloc[0])
    ax.set_xlabel(page.wrap(f"value at the last checkpoint ({'higher' if kind != 'error' else 'lower'} is better)",
                            7.5, page.width - left))
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
