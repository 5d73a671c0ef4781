"""Shared look of every figure: a colour-blind-safe palette, readable sizes, labels from rules.yaml."""
from __future__ import annotations

import math

import matplotlib
import matplotlib.colors
import matplotlib.patches
import matplotlib.ticker
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from utils.config import Config

# Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
TRAINED = "#D55E00"   # vermillion: a task the experiment was trained on
UNTRAINED = "#0072B2"  # blue: every other task
BASELINE = "#000000"
MISSING_HATCH = "////"
DIVERGING_CMAP = "PuOr"  # colour-blind safe, symmetric around zero

RC = {
    "figure.dpi": 110, "savefig.dpi": 110, "font.size": 9, "axes.titlesize": 10,
    "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8, "legend.fontsize": 8,
    "figure.titlesize": 12, "axes.spines.top": False, "axes.spines.right": False,
    # "standard", not "tight": constrained layout already fits the figure, and "tight" draws it twice.
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO), "savefig.bbox": "standard",
    "image.cmap": "viridis",
}


def apply_style() -> None:
    """Set the project's rcParams in this (worker) process."""
    matplotlib.rcParams.update(RC)


def grid(n: int, max_cols: int = 4) -> tuple[int, int]:
    """(rows, cols) for n panels."""
    cols = min(n, max_cols) or 1
    return math.ceil(n / cols) or 1, cols


def short_name(experiment: str, baseline: str) -> str:
    """`pt1_ft2-9` -> `ft2-9`; `pt1_seed2_ft2-9` -> `ft2-9 (seed2)`."""
    rest = experiment[len(baseline):].lstrip("_-") if experiment.startswith(baseline) else experiment
    seed = baseline.split("_", 1)[1] if "_" in baseline else ""
    return f"{rest} ({seed})" if seed and rest else (rest or experiment)


def labels_for(frame: pd.DataFrame) -> list[str]:
    return [short_name(e, b) for e, b in zip(frame["experiment"], frame["baseline_experiment"])]


def experiment_labels(names: list[str], config: Config) -> list[str]:
    """Short labels for experiment names when the frame has no `baseline_experiment` column."""
    out = []
    for name in names:
        info = config.parse_experiment(name)
        out.append(short_name(name, info.baseline) if info is not None else name)
    return out


def diverging_norm(limit: float = 1.0) -> matplotlib.colors.Normalize:
    """Colour scale symmetric around 0 (0 = neutral); values beyond +-limit take the end colours."""
    return matplotlib.colors.TwoSlopeNorm(vcenter=0.0, vmin=-limit, vmax=limit)


def missing_handle() -> matplotlib.patches.Patch:
    """Legend entry for hatched 'n/a' areas (missing evaluation or undefined score)."""
    return matplotlib.patches.Patch(facecolor="none", edgecolor="0.55", hatch=MISSING_HATCH)


def note_figure(message: str, title: str) -> matplotlib.figure.Figure:
    """A small figure that says why there is nothing to draw, instead of an empty or failed file."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 1.6), layout="constrained")
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", wrap=True)
    fig.suptitle(title)
    return fig


def hbars(ax: matplotlib.axes.Axes, values: np.ndarray, trained: np.ndarray, origin: float = 0.0) -> None:
    """One horizontal bar per row from `origin` (orange if trained on the task, else blue);
    rows without a value get a hatched band and "n/a" instead of a bar, never a zero."""
    values = np.asarray(values, dtype=float)
    y = np.arange(len(values))
    ok = np.isfinite(values)
    colors = [TRAINED if t else UNTRAINED for t in np.asarray(trained, dtype=bool)[ok]]
    ax.barh(y[ok], values[ok] - origin, left=origin, height=0.78, color=colors)
    where = blended_transform_factory(ax.transAxes, ax.transData)
    for yi in y[~ok]:
        ax.axhspan(yi - 0.39, yi + 0.39, fill=False, hatch=MISSING_HATCH, edgecolor="0.6", lw=0)
        ax.text(0.5, yi, "n/a", transform=where, ha="center", va="center", fontsize=7, color="0.2",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})


def bar_panels_size(n_rows: int, n_panels: int) -> tuple[float, float]:
    """Inches for one row of task panels with one horizontal bar per experiment (~0.19 in a bar)."""
    return 1.3 + 1.75 * n_panels, max(2.8, 1.9 + 0.19 * n_rows)


class _PlainLogFormatter(matplotlib.ticker.LogFormatterSciNotation):
    """Matplotlib's choice of which log ticks to label, written as 3, 40, 2000 instead of 3×10^0."""

    def __call__(self, x: float, pos: int | None = None) -> str:
        text = super().__call__(x, pos)
        return f"{x:g}" if text and 1e-3 <= abs(x) < 1e5 else text


def plain_log_ticks(axis: matplotlib.axis.Axis) -> None:
    """Readable tick labels on a log axis, also when it spans less than a decade."""
    axis.set_major_formatter(_PlainLogFormatter())
    axis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(2, 0.5)))


def tall_log_ticks(axis: matplotlib.axis.Axis, nbins: int = 5) -> None:
    """Labels for the log axis of a tall panel (call it after drawing). Spanning a decade or more,
    matplotlib's log ticks as plain numbers; narrower, 3-6 evenly spaced plain numbers (8, 10, 12, 14
    for angle errors of 8-15), as log ticks would label only one end of it (9 and 10)."""
    lo, hi = axis.get_view_interval()
    if not 0 < lo < hi or hi / lo >= 10:
        plain_log_ticks(axis)
        return
    axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, pos: _short_number(x)))
    axis.set_minor_locator(matplotlib.ticker.NullLocator())


# --- seeds: the mean as a bar, the spread across seeds as a whisker, each seed as a dot -------------

SEED_DOT = "#000000"
SEED_EDGE = "#FFFFFF"


def seed_spread(ax: matplotlib.axes.Axes, pos: np.ndarray, mean: np.ndarray, std: np.ndarray,
                horizontal: bool = False) -> None:
    """Whiskers of +-std around each mean, in one errorbar call; nothing where std is undefined
    (one seed), so a one-seed figure gets no error bars at all."""
    pos, mean, std = (np.asarray(a, dtype=float) for a in (pos, mean, std))
    ok = np.isfinite(mean) & np.isfinite(std)
    if not ok.any():
        return
    xy = (mean[ok], pos[ok]) if horizontal else (pos[ok], mean[ok])
    err = {"xerr" if horizontal else "yerr": std[ok]}
    ax.errorbar(*xy, **err, fmt="none", ecolor=SEED_DOT, elinewidth=0.9, capsize=2.2, capthick=0.9, zorder=3)


def seed_dots(ax: matplotlib.axes.Axes, pos: np.ndarray, values: np.ndarray, horizontal: bool = False) -> None:
    """Every seed's own number as a dot, in one scatter call (none when there are no dots)."""
    pos, values = np.asarray(pos, dtype=float), np.asarray(values, dtype=float)
    if not len(values):
        return
    xy = (values, pos) if horizontal else (pos, values)
    ax.scatter(*xy, s=11, color=SEED_DOT, edgecolors=SEED_EDGE, linewidths=0.5, zorder=4)


def seed_handles() -> tuple[list, list[str]]:
    """Legend entries for the whisker (std across seeds) and the seed dots."""
    import matplotlib.lines
    whisker = matplotlib.lines.Line2D([], [], color=SEED_DOT, lw=0.9, marker="|", markersize=6)
    dot = matplotlib.lines.Line2D([], [], ls="", marker="o", markersize=3.5, color=SEED_DOT,
                                  markeredgecolor=SEED_EDGE, markeredgewidth=0.5)
    return [whisker, dot], ["whisker: ± std across seeds", "dot: one seed"]



_LOG_MANTISSAS = ((1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8), (1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,))


def _short_number(x: float) -> str:
    """3, 2.5, 600, 20k, 1.5M: tick labels that fit a narrow panel."""
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= 1e4:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def sparse_log_ticks(axis: matplotlib.axis.Axis, max_labels: int = 4) -> None:
    """At most `max_labels` readable labels on a log axis, at the finest of 1-1.2-1.5-2-2.5-..., 1-2-5,
    1-3 or 1 x 10^k that fits the current limits (call it after drawing): narrow panels and axes
    spanning less than a decade (angle errors 17-60: 20, 30, 50) both get plain numbers."""
    lo, hi = axis.get_view_interval()
    if not 0 < lo < hi:
        return
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    fits = []
    for mantissas in _LOG_MANTISSAS:
        ticks = [m * 10.0 ** d for d in decades for m in mantissas if lo <= m * 10.0 ** d <= hi]
        if 2 <= len(ticks) <= max_labels:
            fits = ticks
            break
    if not fits:  # very wide: every k-th decade; very narrow: the default locator does best
        powers = [10.0 ** d for d in decades if lo <= 10.0 ** d <= hi]
        if len(powers) < 2:
            plain_log_ticks(axis)
            return
        fits = powers[::math.ceil(len(powers) / max_labels)]
    axis.set_major_locator(matplotlib.ticker.FixedLocator(fits))
    axis.set_major_formatter(matplotlib.ticker.FixedFormatter([_short_number(t) for t in fits]))
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


def bar_panels(n_panels: int, figsize: tuple[float, float]) -> tuple[matplotlib.figure.Figure, np.ndarray]:
    """One row of task panels whose rows are experiments (label them with `row_labels`).

    Not `sharey`: shared axes share one tick locator, so every panel would build (and measure) a tick
    per experiment only to hide its label; that was about a third of such a figure's drawing time."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, n_panels, figsize=figsize, squeeze=False, layout="constrained")
    return fig, axes


def row_labels(axes: np.ndarray, labels: list[str]) -> None:
    """Label the rows of a row of horizontal bar panels, first on top, on the first panel only; every
    panel gets the same rows and none of the others carries y ticks."""
    for i, ax in enumerate(axes.flat):
        if i == 0:
            ax.set_yticks(range(len(labels)), labels)
        else:
            ax.yaxis.set_major_locator(matplotlib.ticker.NullLocator())
        ax.set_ylim(len(labels) - 0.5, -0.5)


def experiment_rows(axes: np.ndarray, bars, config: Config) -> None:
    """Label the rows of horizontal bar panels with the experiments; with seed counts that differ
    between rows, each label says its n."""
    labels = experiment_labels(list(bars.mean.index), config)
    if bars.multi_seed and bars.n_seeds.nunique() > 1:
        labels = [f"{label} (n={n})" for label, n in zip(labels, bars.n_seeds)]
    row_labels(axes, labels)
