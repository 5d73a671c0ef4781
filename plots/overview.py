"""The overview of a run group without a baseline: small multiples, one panel per metric, one line per
run in the colour and marker it has in every figure of the set, training values light and evaluations
bold in one panel, the best evaluation checkpoint ringed, a NaN (a diverged evaluation) a break in the
line with a cross at the panel's foot. Numbers from analysis/overview.py (`run_overview`)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.transforms import blended_transform_factory

from analysis.frames import group_rows
from analysis.scores import DIAGNOSTIC
from plots.page import GAP, Page, title_height, x_axis_height
from plots.registry import OutputContext, figure
from plots.style import (FONT_MIN, PANEL_TITLE_SIZE, TITLE_SIZE, apply_style, fit_limits, fit_tick_labels,
                         linear_ticks, log_ticks, run_style, short_number_ticks)
from plots.thinning import drawn_points

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MIN_PANEL = 1.3  # inches: the narrowest panel (3 a row at 7.5 in, 2 at 3.5 in)
DIAGNOSTIC_FACE = "0.95"  # a training diagnostic's panel (gradient norm, learning rate): grey, no direction
LOG_SPAN = 30  # a log step axis when a panel's positive steps span more than this


def step_scale(steps: np.ndarray) -> str:
    """'log' when the positive steps span more than LOG_SPAN x, 'symlog' when step 0 is among them
    too, else 'linear'."""
    pos = steps[steps > 0]
    if pos.size < 2 or pos.max() / pos.min() <= LOG_SPAN:
        return "linear"
    return "symlog" if (steps <= 0).any() else "log"


def run_names(data: pd.DataFrame) -> list[tuple[int, str]]:
    """(run index, legend name) of the runs in the figure, by index; `(n=k)` for k seeds averaged."""
    runs = data.groupby("model").agg(idx=("run_index", "first"), seeds=("n_seeds", "max")).sort_values("idx")
    return [(int(r.idx), f"{m} (n={int(r.seeds)})" if r.seeds > 1 else str(m)) for m, r in runs.iterrows()]


def short_label(page: Page, text: str, width: float, size: float = FONT_MIN, tail: str = "") -> str:
    """`text + tail` with `text` shortened in its middle with "…" to fit `width` inches at `size` points."""
    keep, out = len(text), text
    while page.text_width(out + tail, size) > width and keep > 8:
        keep -= 2
        out = text[:keep - keep // 2 - 1] + "…" + text[len(text) - keep // 2:]
    return out + tail


EVAL_STYLES = ("-", "--", ":", "-.")  # one per evaluation set (eval, eval_<set>, test), in sorted order


def eval_styles(data: pd.DataFrame) -> dict[str, str]:
    """Line style per evaluation condition of the figure: solid for the first (sorted; `eval` and
    `standard` first), dashed, dotted, dash-dotted for further evaluation sets."""
    conds = sorted({str(c) for c in data.loc[data["role"] == "eval", "condition"].unique()},
                   key=lambda c: (c not in ("eval", "standard"), c))
    return {c: EVAL_STYLES[i % len(EVAL_STYLES)] for i, c in enumerate(conds)}


LINE_STYLE_NAMES = {"-": "solid", "--": "dashed", ":": "dotted", "-.": "dash-dot"}


def style_legend(styles: dict[str, str], train: bool) -> tuple[list, list[str]]:
    """Legend entries for how a line is drawn, each thing said once: training values light and, per
    evaluation set (`styles`: condition -> line style, `eval_styles`), its line style, bold where there
    is training to tell it from: `training (light)`, `eval (bold, solid)`, `test (bold, dashed)`; one
    evaluation set beside training is `evaluation (bold)`, several alone `eval (solid)`, `test (dashed)`."""
    handles, names = [], []
    if train:
        handles.append(Line2D([], [], color="0.3", lw=0.8, alpha=0.45))
        names.append("training (light)")
    if len(styles) > 1:  # several evaluation sets: which line is which
        for condition, ls in styles.items():
            handles.append(Line2D([], [], color="0.3", lw=1.4, ls=ls))
            names.append(f"{condition} ({'bold, ' if train else ''}{LINE_STYLE_NAMES[ls]})")
    elif train:
        handles.append(Line2D([], [], color="0.3", lw=1.4))
        names.append("evaluation (bold)")
    return handles, names


def draw_panel(ax, part: pd.DataFrame, higher: bool, styles: dict[str, str] | None = None,
               columns: int = 0) -> None:
    """One metric: a line per run and condition (train light, evaluations bold), best ringed, NaN crossed.
    A line of more points than the panel's `columns` pixels can show is drawn from those they show
    (`plots.thinning`, on the axis's step scale, which is set before)."""
    foot = blended_transform_factory(ax.transData, ax.transAxes)
    scale = ax.xaxis.get_transform()
    # the panel's columns taken once, each line's rows from them: a log tree's panel has a line per
    # run (columns of a slice a line: ~0.7 s of a 200-run overview)
    column = {c: part[c].to_numpy(dtype=d) for c, d in (("step", None), ("value", float), ("stderr", float),
                                                         ("best", bool), ("run_index", None), ("role", None),
                                                         ("model", None), ("condition", None))}
    for rows in group_rows(part, ["model", "condition"]):
        step = column["step"][rows]
        if len(step) > 1 and not (step[1:] >= step[:-1]).all():  # as sort_values("step") orders them
            rows = rows[part["step"].iloc[rows].reset_index(drop=True).sort_values().index.to_numpy()]
        model, condition = column["model"][rows[0]], column["condition"][rows[0]]
        colour, marker = run_style(int(column["run_index"][rows[0]]))
        train = column["role"][rows[0]] == "train"
        steps = column["step"][rows].astype(float)
        values = column["value"][rows]
        ls = "-" if train else (styles or {}).get(str(condition), "-")
        every = max(1, len(steps) // 20)  # a long log keeps its line readable: ~20 markers
        shown = drawn_points(scale.transform(steps), values, columns) if columns else np.arange(len(steps))
        if len(shown) < len(steps):  # the markers where the whole line has them
            shown = np.union1d(shown, np.arange(0, len(steps), every))
            every = np.flatnonzero(shown % every == 0).tolist()
        ax.plot(steps[shown], values[shown], color=colour, lw=0.8 if train else 1.4, alpha=0.45 if train else 1.0,
                ls=ls, marker=marker, ms=2.2 if train else 2.8, zorder=2 if train else 3, markevery=every,
                gid=f"line:{model}:{condition}")
        bad = ~np.isfinite(values)
        if bad.any():  # the line breaks there; the cross says why
            ax.plot(steps[bad], np.full(bad.sum(), 0.04), transform=foot, ls="", marker="x", ms=4.5, mew=1.1,
                    color=colour, zorder=4, clip_on=False, gid=f"nan:{model}")
        err = column["stderr"][rows]
        band = np.isfinite(err) & np.isfinite(values)
        if band.any():  # lm-eval's stderr: how far apart two points must be to differ
            ax.fill_between(steps[band], values[band] - err[band], values[band] + err[band], color=colour,
                            alpha=0.15, lw=0, zorder=1, gid=f"stderr:{model}")
        best = column["best"][rows]
        if best.any():
            ax.plot(steps[best], values[best], ls="", marker="o", ms=7, mfc="none", mec=colour, mew=1.0, zorder=5,
                    gid=f"best:{model}")


@figure("overview", needs="run_overview", per=("group", "page"), writes="overview/{group}_{page}",
        title="Overview: every metric at every checkpoint, runs compared",
        description="For runs without a baseline, one figure per run group (paged at 12 panels, evaluations "
                    "first): one panel per metric, one line per run in the colour and marker it has in every "
                    "figure of the set; training values light, evaluations bold, in the metric's panel; the best "
                    "evaluation checkpoint ringed; a NaN (a diverged evaluation) breaks the line and is crossed "
                    "at the panel's foot. Runs share a panel only when they measure the same thing on one scale "
                    "(a loss only across runs reporting the same metrics); a log step axis where the steps span "
                    "more than 30x; subtasks folded into their benchmark (the mean of its subtasks where a run "
                    "reports no aggregate). After the scored metrics, the training diagnostics (gradient norm, "
                    "learning rate, log-probabilities, ...) as curves on grey panels: no direction, no best "
                    "checkpoint, never ranked.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    apply_style()
    panels = data.drop_duplicates("panel").sort_values("panel_order")
    n = len(panels)
    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    pages = ctx.keys.get("pages")
    title = page.wrap(f"{ctx.keys['group']}: every metric at every checkpoint, runs compared (no baseline)"
                      + (f", page {ctx.keys['page']}" if int(ctx.keys.get("page", 1)) > 1 or pages else ""),
                      TITLE_SIZE)
    names = run_names(data)
    handles = [Line2D([], [], color=run_style(i)[0], marker=run_style(i)[1], ms=3, lw=1.4) for i, _ in names]
    legend = [name for _, name in names]
    handles.append(Line2D([], [], ls="", marker="o", ms=6, mfc="none", mec="0.3", mew=1.0))
    legend.append("best evaluation checkpoint")
    styles = eval_styles(data)
    more, said = style_legend(styles, bool((data["role"] == "train").any()))
    handles += more
    legend += said
    if data["stderr"].notna().any():
        handles.append(Rectangle((0, 0), 1, 1, color="0.3", alpha=0.2, lw=0))
        legend.append("band: ± stderr (lm-eval)")
    if data["diverged"].astype(bool).any():
        handles.append(Line2D([], [], ls="", marker="x", ms=4.5, mew=1.1, color="0.3"))
        legend.append("NaN: evaluation diverged")
    if (data["kind"] == DIAGNOSTIC).any():
        handles.append(Rectangle((0, 0), 1, 1, facecolor=DIAGNOSTIC_FACE, edgecolor="0.6", lw=0.5))
        legend.append("grey panel: a training diagnostic (not scored)")
    legend_cols, legend_h = page.legend_layout(legend)
    left, right, wspace = 0.42, 0.1, 0.28
    ncols = page.columns(n, _MIN_PANEL, left, right=right, wspace=wspace)
    axis_h = x_axis_height(1)
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height()
    axes = page.panels(n, ncols, 1.25 if page.width > 5 else 1.0, left, top, axis_h + legend_h + GAP, right=right, wspace=wspace,
                       hspace=axis_h + title_height() + 0.02)
    panel_w = (page.width - left - right - (ncols - 1) * wspace) / ncols
    nrows = -(-n // ncols)
    for i, (ax, panel) in enumerate(zip(axes, panels.itertuples())):
        part = data[data["panel"] == panel.panel]
        higher = panel.kind != "error"
        diagnostic = panel.kind == DIAGNOSTIC
        if diagnostic:
            ax.set_facecolor(DIAGNOSTIC_FACE)
        steps = part["step"].to_numpy(dtype=float)
        scale = step_scale(steps)
        if scale == "symlog":
            ax.set_xscale("symlog", linthresh=float(steps[steps > 0].min()))
        elif scale == "log":
            ax.set_xscale("log")
        draw_panel(ax, part, higher, styles, round(panel_w * page.dpi))
        if scale == "symlog":  # step 0 at the left edge: no padding below it into negative steps
            ax.set_xlim(0, float(steps.max()) * 1.15)
        else:
            ax.set_xlim(*fit_limits(steps, log=scale == "log", pad=0.04))
        values = part["value"].to_numpy(dtype=float)
        err = np.nan_to_num(part["stderr"].to_numpy(dtype=float))
        ax.set_ylim(*fit_limits(np.concatenate([values - err, values + err]), pad=0.08))
        linear_ticks(ax.yaxis, nbins=4)
        if scale == "linear":
            short_number_ticks(ax.xaxis, nbins=3)
        else:
            log_ticks(ax.xaxis, least=3, most=4)  # log, or symlog from step 0
        fit_tick_labels(ax)
        ax.grid(color="white" if diagnostic else "0.92", lw=0.5)
        ax.set_axisbelow(True)
        arrow = "" if diagnostic else " ↑" if higher else " ↓"  # a diagnostic has no better direction
        ax.set_title(short_label(page, str(panel.panel_label), panel_w + 0.3, PANEL_TITLE_SIZE, arrow),
                     fontsize=PANEL_TITLE_SIZE)
        last_row = i // ncols == nrows - 1 or i + ncols >= n
        ax.set_xlabel("step" + (" (log)" if scale != "linear" else "") if last_row else "")
    page.title(title)
    page.legend(handles, legend, legend_cols)
    return page.fig
