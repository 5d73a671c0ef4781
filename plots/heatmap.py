"""Normalized score heatmap: experiments x eval tasks, one panel per condition (its own score)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.patches import Patch, Rectangle
from matplotlib.transforms import offset_copy

from analysis.figure_data import (Matrix, clip_phrase, described, experiment_order, heatmap_limit, matrix, members,
                                  part_rows, row_count, score_for, seed_counts, seed_numbers, seed_phrase)
from plots.page import GAP, PAGE_HEIGHT, Page, part_phrase, title_height
from plots.registry import OutputContext, figure
from plots.style import (DIVERGING_CMAP, FONT_MIN, MISSING_HATCH, PT, TITLE_SIZE, apply_style, diverging_norm,
                         experiment_labels, missing_handle, number, robust_limit)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

NA = "n/a"
TRAINED_EDGE = "#000000"
LABEL_ROTATION = 90  # degrees: task names upright above columns narrower than the names


def draw_matrix(ax: Axes, m: Matrix, norm: Normalize, row_labels: list[str] | None, col_labels: list[str],
                cmap: str = DIVERGING_CMAP, fontsize: float = FONT_MIN, counts: np.ndarray | None = None,
                heads: str = "upright") -> AxesImage:
    """Colour cells by value (clipped colour scale), annotate every cell with its unclipped value
    (2 decimals, never "-0.00"; "n/a" and hatched when missing) and outline the trained cells.

    `counts` (same shape, optional): a cell with a count > 0 gets a second line "n=<count>" (seeds behind
    a mean, shown only where it differs from the row's n); 0 adds nothing. `row_labels` None: a panel
    beside the labelled one, without y ticks at all (not a tick per row with an empty label).
    `heads` ("upright", "flat" or "staggered", see `head_style`): how the task names stand above the columns.
    """
    values = m.values.to_numpy(dtype=float)
    counts = np.zeros(values.shape, dtype=int) if counts is None else np.asarray(counts, dtype=int)
    colormap = matplotlib.colormaps[cmap].with_extremes(bad="0.93")
    image = ax.imshow(np.ma.masked_invalid(values), cmap=colormap, norm=norm, aspect="auto",
                      interpolation="nearest")
    nan_r, nan_c = np.nonzero(np.isnan(values))
    if len(nan_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.5, r - 0.5), 1, 1) for r, c in zip(nan_r, nan_c)],
                                          facecolor="none", edgecolor="0.6", hatch=MISSING_HATCH, lw=0))
    tr_r, tr_c = np.nonzero(m.trained.to_numpy(dtype=bool))
    if len(tr_r):
        ax.add_collection(PatchCollection([Rectangle((c - 0.45, r - 0.42), 0.9, 0.84) for r, c in zip(tr_r, tr_c)],
                                          facecolor="none", edgecolor=TRAINED_EDGE, lw=1.1))
    shade = np.abs(np.clip(norm(np.nan_to_num(values)), 0, 1) - 0.5)  # 0.5 = darkest end of the scale
    for (r, c), v in np.ndenumerate(values):
        # inside the axes by construction: kept out of layout so 300 labels are not measured
        note = counts[r, c] > 0 and not np.isnan(v)
        ax.text(c, r, NA if np.isnan(v) else f"{number(v)}\nn={counts[r, c]}" if note else number(v),
                ha="center", va="center", fontsize=fontsize, linespacing=0.95,
                color="white" if shade[r, c] > 0.3 and not np.isnan(v) else "black",
                clip_on=True, in_layout=False)
    if heads == "upright":
        ax.set_xticks(np.arange(len(col_labels)), col_labels, rotation=LABEL_ROTATION, ha="center", va="bottom")
    else:  # level names; staggered: every other one a line higher, so each may be two cells wide
        ax.set_xticks(np.arange(len(col_labels)), [""] * len(col_labels))
        line = fontsize * 1.2
        for c, label in enumerate(col_labels):
            up = line if heads == "staggered" and c % 2 else 0.0
            where = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=0, y=2 + up, units="points")
            ax.text(c, 1.0, label, transform=where, ha="center", va="bottom", fontsize=fontsize, gid="head")
    ax.xaxis.tick_top()
    ax.set_yticks([] if row_labels is None else np.arange(len(row_labels)), row_labels)
    ax.tick_params(length=0, pad=2)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    return image


def legend_handles(missing: bool = True, outlined: bool = True) -> tuple[list, list[str]]:
    """Legend for trained-cell outlines (`outlined`: when some row is one whose training rules.yaml
    describes) and (when there are some) hatched missing cells."""
    handles, names = [], []
    if outlined:
        handles.append(Patch(facecolor="none", edgecolor=TRAINED_EDGE, lw=1.1))
        names.append("outlined: trained on this task")
    if missing:
        handles.append(missing_handle())
        names.append("hatched n/a: missing evaluation or undefined score")
    return handles, names


def colour_limit(values: np.ndarray) -> tuple[Normalize, bool]:
    """A colour scale fitted to the values: symmetric, clipped at the 95th percentile of |values|."""
    limit, clipped = robust_limit(values)
    return diverging_norm(limit), clipped


def colourbar_label(limit: float, clipped: bool, shared: str = "") -> str:
    """What a colourbar says about its range: whether the colours are clipped (the numbers never are),
    and (`shared`) what else uses the same scale."""
    what = f"one colour scale{shared}" if shared else "colour scale"
    if clipped:
        return (f"{what}, clipped at ±{limit:g} (95th percentile of |values|); "
                "the numbers in the cells are not clipped")
    return f"{what} ±{limit:g}, fitted to the values"


def head_style(page: Page, labels: list[str], cell: float) -> tuple[str, float]:
    """How task names stand above columns `cell` inches wide, and the inches they take: level ("flat")
    when each fits its cell, "staggered" (every other one a line higher) when each fits two cells,
    else "upright" (turned 90 degrees)."""
    widths = [page.text_width(lab, FONT_MIN) for lab in labels]
    line = FONT_MIN * 1.2 * PT
    if max(widths, default=0) <= cell - 0.06:
        return "flat", line + 0.06
    if all(a / 2 + b / 2 <= 2 * cell - 0.06 for a, b in zip(widths, widths[2:])) and max(widths) <= 2 * cell - 0.1:
        return "staggered", 2 * line + 0.06
    return "upright", max(widths, default=0.3) + 0.08


def matrix_page(config, row_labels: list[str], col_labels: list[str], n_panels: int, title: str,
                legend_names: list[str], bar_lines: int = 1, page: Page | None = None):
    """Lay out `n_panels` matrices side by side, or stacked when the page is too narrow for their cells
    (row labels left of each row of panels; task names on top, level where they fit), one colourbar
    under all of them beside the legend, and the title: (page, panels, colourbar axes, panels a row,
    legend columns, title, points from a panel's top edge to the top of its task names: the pad of the
    panel's title, the task names' style)."""
    apply_style()
    page = page or Page(config.plot_width, config.plot_dpi)
    left = max((page.text_width(lab, FONT_MIN) for lab in row_labels), default=0.3) + 0.08
    right = 0.1
    ncols = page.columns(n_panels, 0.42 * len(col_labels), left, right, wspace=0.12)  # a 0.42 in cell holds "-0.22"
    panel_w = (page.width - left - right - (ncols - 1) * 0.12) / ncols
    style, heads = head_style(page, col_labels, panel_w / max(len(col_labels), 1))
    title = page.wrap(title, TITLE_SIZE)
    legend_cols, legend_h = page.legend_columns(legend_names)
    bar_h = 0.08 + 0.03 + (2.0 + 7.0 * 1.2 + bar_lines * 7.0 * 1.2) * PT + 0.1  # bar, ticks, label
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height() + heads
    bottom = bar_h + legend_h + GAP
    panel_h = 0.16 * len(row_labels) + 0.02
    hspace = 2 * GAP + title_height() + heads
    axes = page.panels(n_panels, ncols, panel_h, left, top, bottom, right=right, wspace=0.12, hspace=hspace)
    width = min(2.4, page.width - 2 * GAP - 0.4)
    bar = page.fig.add_axes(((page.width - width) / 2 / page.width, (bottom - 0.12 - 0.08) / page.height,
                             width / page.width, 0.08 / page.height), label="<colorbar>")
    return page, axes, bar, ncols, legend_cols, title, heads * 72 + 3, style


def heatmap_height(width: float, n_rows: int, n_panels: int, n_cols: int, label_chars: int = 8) -> float:
    """Inches a heatmap of `n_rows` experiments takes at `width` (as `matrix_page` lays it out), estimated
    without drawing (task names assumed upright on a narrow page, three title lines): what splits it."""
    left = label_chars * 0.62 * FONT_MIN * PT + 0.08
    ncols = max(1, min(n_panels, int((width - left - 0.1 + 0.12) // (0.42 * n_cols + 0.12))))
    nrows = -(-n_panels // ncols)
    heads = 2 * FONT_MIN * 1.2 * PT + 0.06 if width >= 3 else 0.8
    top = 2 * GAP + 3 * TITLE_SIZE * 1.2 * PT + title_height() + heads
    hspace = 2 * GAP + title_height() + heads
    bottom = 0.08 + 0.03 + (2.0 + 7.0 * 1.2 + 3 * 7.0 * 1.2) * PT + 0.1 + 0.35 + GAP
    return top + nrows * (0.16 * n_rows + 0.02) + (nrows - 1) * hspace + bottom


def heatmap_parts(data: pd.DataFrame, config) -> int:
    """`parts` of a heatmap: into how many figures its experiment rows are split to fit a page's height."""
    rows = members(data)
    n_rows = row_count(data)
    panels = int(rows["condition"].nunique()) if len(rows) else 1
    tasks = int(rows["task"].nunique()) if len(rows) else 1
    for parts in range(1, max(n_rows, 1) + 1):
        if heatmap_height(config.plot_width, -(-n_rows // parts), panels, tasks) <= PAGE_HEIGHT - 0.2:
            return parts
    return max(n_rows, 1)


@figure("heatmap", needs="seed_scores", per=("group",), writes="heatmap/{group}", parts=heatmap_parts,
        title="Normalized score heatmap",
        description="Experiments x evaluation tasks of the normalized score at the last checkpoint, one panel "
                    "per condition (standard: score toward perfect; OOD: gap-closing score; both 0 = baseline), "
                    "mean over seeds (each seed scored against its own baseline; n in the title, or per row when "
                    "it differs, and in a cell with fewer); numbers unclipped; one colour scale for the whole "
                    "figure (symmetric, clipped at the 95th percentile of |values|; green better, pink worse "
                    "than the baseline); outlined: trained tasks (where rules.yaml's training: says which). "
                    "Split into parts when taller than a page.")
def draw(data: pd.DataFrame, ctx: OutputContext) -> Figure:
    rows = members(data)
    order = experiment_order(rows["experiment"], ctx.config)
    seeds = seed_numbers(rows, order)
    title = f"{ctx.group_label} vs baseline: each condition's score per task at the last checkpoint"
    if bool((seeds > 1).any()):
        title += f"; mean of {seed_phrase(seeds)}, each scored against its own baseline"
    if ctx.config.clip:  # rules.yaml scores.clip
        title += f"; {clip_phrase(ctx.config)}"
    limit, _ = heatmap_limit(rows, ctx.config, "_mean")  # of every row: the same colours in each part
    part = part_rows(rows, ctx.config, ctx.keys)
    return score_heatmap(part, ctx, title, suffix="_mean", seeds=seed_numbers(part, experiment_order(
        part["experiment"], ctx.config)), limit=limit, shared=panels_phrase(
        rows["condition"].nunique()))


def panels_phrase(n: int) -> str:
    """What shares a heatmap's one colour scale: ' for both panels', ' for all 3 panels', '' for one."""
    return "" if n < 2 else " for both panels" if n == 2 else f" for all {n} panels"


def score_heatmap(rows: pd.DataFrame, ctx: OutputContext, title: str, suffix: str = "",
                  seeds: pd.Series | None = None, limit: float | None = None, shared: str = "") -> Figure:
    """Experiments x tasks of each condition's score on the page, one panel per condition, one colour
    scale for all of them (±`limit`, default fitted to every panel's values; `shared` says what else
    uses it). `suffix`: "_mean" for the seed_scores view (with `seeds`, each row's number of seeds: n in the
    row labels when it differs, and in the cells backed by fewer), "" for one seed's scores."""
    apply_style()
    conditions = ctx.conditions_in(rows)
    panels = [(cond, score_for(ctx.config, cond), rows[rows["condition"] == cond]) for cond in conditions]
    order = experiment_order(rows["experiment"], ctx.config)
    n_seeds = seeds.to_numpy() if seeds is not None else np.ones(len(order), dtype=int)
    multi = bool((n_seeds > 1).any())
    mats = [(cond, meaning, matrix(part, f"{meaning.column}{suffix}", ctx.config, order),
             seed_counts(part, meaning.column, ctx.config, order).to_numpy() if multi else None)
            for cond, meaning, part in panels]
    labels = experiment_labels(order, ctx.config)
    if multi and len(set(n_seeds)) > 1:  # n once in the title when every row shares it
        labels = [f"{label} (n={n})" for label, n in zip(labels, n_seeds)]
    title += part_phrase(ctx.keys, experiment_labels(order, ctx.config))
    cols = [ctx.task(t).label for t in mats[0][2].values.columns] if mats else []
    missing = any(np.isnan(m.values.to_numpy(dtype=float)).any() for _, _, m, _ in mats)
    handles, names = legend_handles(missing, outlined=bool(described(members(rows)).any()))
    values = np.concatenate([m.values.to_numpy(dtype=float).ravel() for _, _, m, _ in mats]) if mats else np.array([])
    if limit is None:
        limit, _ = robust_limit(values)
    finite = np.abs(values[np.isfinite(values)])
    clipped = bool((finite > limit).any())
    norm = diverging_norm(limit)
    scales = [f"{ctx.config.condition_label(c)}: {meaning.scale}" if len(mats) > 1 else meaning.scale
              for c, meaning, _, _ in mats]
    caption = "\n".join([*scales, colourbar_label(limit, clipped, shared)])
    page = Page(ctx.config.plot_width, ctx.config.plot_dpi)
    caption = "\n".join(page.wrap_even(line, FONT_MIN, page.width - 2 * GAP) for line in caption.split("\n"))
    page, axes, cax, ncols, legend_cols, title, pad, heads = matrix_page(
        ctx.config, labels, cols, len(mats), title, names, bar_lines=caption.count("\n") + 1, page=page)
    image = None
    for i, (ax, (cond, meaning, m, n)) in enumerate(zip(axes, mats)):
        fewer = np.where((n > 0) & (n < n_seeds[:, None]), n, 0) if multi else None
        image = draw_matrix(ax, m, norm, labels if i % ncols == 0 else None,
                            [ctx.task(t).label for t in m.values.columns], counts=fewer, heads=heads)
        ax.set_title(f"{ctx.config.condition_label(cond)}: {meaning.name}", pad=pad)
    if image is not None:
        bar = page.fig.colorbar(image, cax=cax, orientation="horizontal", extend="both" if clipped else "neither")
        bar.set_ticks([-limit, 0, limit], labels=[f"{-limit:g}", "0", f"{limit:g}"])
        bar.ax.tick_params(length=2, pad=1.5)
        bar.outline.set_linewidth(0.5)
        bar.set_label(caption, fontsize=FONT_MIN, labelpad=1.5)
    page.title(title)
    page.legend(handles, names, legend_cols)
    return page.fig
