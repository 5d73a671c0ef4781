"""Shared look of every figure: one colour meaning, page-sized fonts, a fixed layout, labels from rules.yaml.

Colour meaning, the same in every figure of the set (defined here only):
- vermillion = the experiment was trained on this task, blue = it was not (points, lines), for the runs
  whose training rules.yaml describes (`training:`; analysis.figure_data.described decides, once);
- black = the baseline (line, band = its spread over seeds); dark grey dots = single seeds;
- better/worse only in the diverging maps, with a different hue pair: green = better than the
  baseline, pink = worse (`DIVERGING_CMAP`); trained cells there are outlined, not coloured;
- runs with no trained/untrained meaning (no baseline, or scored against one but not described under
  `training:`): one colour and marker per run from `RUN_COLOURS`/`RUN_MARKERS` (`run_style`), hues none
  of the above uses, legends naming the runs; a value that means nothing but itself (a run's bar) is
  neutral grey (`NEUTRAL`).
Sizes: figures are `plots.width` wide (7.5 in: a two-column page; 3.5 in: one column) and every
font is at least 7 pt at that size, so a figure placed at 100% reads like the paper's text.
"""
from __future__ import annotations

import math

import matplotlib
import matplotlib.colors
import matplotlib.font_manager
import matplotlib.patches
import matplotlib.ticker
import numpy as np
from matplotlib.transforms import blended_transform_factory

from analysis.figure_data import robust_limit  # noqa: F401 - the colour limit lives with the numbers
from utils.config import Config

# Okabe & Ito (2008), distinguishable with the common colour-vision deficiencies.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
TRAINED = "#D55E00"   # vermillion: a task the experiment was trained on
UNTRAINED = "#0072B2"  # blue: every other task
BASELINE = "#000000"
MISSING_HATCH = "////"
# Better/worse: green/pink, a hue pair used for nothing else (not the trained vermillion/blue);
# ColorBrewer's PiYG is colour-blind safe and symmetric around its neutral middle.
DIVERGING_CMAP = "PiYG"
BETTER, WORSE = "#4D9221", "#C51B7D"  # the ends of DIVERGING_CMAP, for legends and notes
# One colour per run, for runs with no trained/untrained meaning (no baseline, or a baseline but no
# `training:` entry in rules.yaml): purple, teal, brown, crimson, forest green, grey, wine, indigo, olive, jade,
# none of them near vermillion, blue, green, pink or black (CIE Lab distance >= 30) nor near each other (>= 25),
# so a run's line never reads as trained, untrained, better, worse or baseline; all dark enough (L* <= 55) to
# read as 7 pt text on white, none light (lavender), tan or gold. Ten runs get ten colours; each is paired with a
# marker (`run_style`: 10 colours x 4 markers, 40 runs before a (colour, marker) pair repeats), which also tells
# runs apart in grey scale. A run's index, so its colour and marker, is its place among the sorted runs of its
# group (analysis/figure_data.py `run_index`), the same in every figure.
RUN_COLOURS = ["#6A3D9A", "#00838F", "#8C564B", "#A6112A", "#33592D", "#7F7F7F", "#67204C", "#2A315E", "#7C7D2A",
               "#04936C"]
RUN_MARKERS = ["o", "s", "^", "D"]
NEUTRAL = "#A0A0A0"  # bars with no trained/untrained or better/worse meaning (a run's last value)

# Font sizes in points at the figure's own (page) size: never below 7 pt.
FONT_MIN = 7.0
TITLE_SIZE = 8.5
PANEL_TITLE_SIZE = 8.0
PT = 1 / 72  # inches per point
RC = {
    "figure.dpi": 100, "savefig.dpi": 150, "font.size": 7.5, "axes.titlesize": PANEL_TITLE_SIZE,
    "axes.labelsize": 7.5, "xtick.labelsize": FONT_MIN, "ytick.labelsize": FONT_MIN,
    "legend.fontsize": FONT_MIN, "figure.titlesize": TITLE_SIZE, "axes.titlepad": 3.0, "axes.labelpad": 2.0,
    "axes.spines.top": False, "axes.spines.right": False, "axes.linewidth": 0.6,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5, "ytick.major.size": 2.5,
    "xtick.minor.size": 1.5, "ytick.minor.size": 1.5, "xtick.major.pad": 1.8, "ytick.major.pad": 1.8,
    "lines.linewidth": 1.0, "legend.handlelength": 1.6, "legend.columnspacing": 1.2,
    "legend.handletextpad": 0.5, "legend.borderaxespad": 0.2,
    # Titles at a fixed height above the panel: matplotlib otherwise measures the x axis at every draw
    # to dodge top ticks (a tenth of a checkpoint figure's time); the heatmap sets its title's pad itself.
    "axes.titley": 1.0,
    # Figures are laid out once, in inches (`Page`), not by constrained layout: no engine, one draw.
    "figure.constrained_layout.use": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO), "savefig.bbox": "standard",
    "image.cmap": "viridis",
    # Glyphs as the font draws them, not snapped to the pixel grid: text is most of a figure's drawing
    # time and hinting a sizeable part of it; at 150 dpi the text reads the same (vector formats ignore it).
    "text.hinting": "no_hinting",
}


def apply_style() -> None:
    """Set the project's rcParams in this (worker) process."""
    matplotlib.rcParams.update(RC)


def short_name(experiment: str, baseline: str) -> str:
    """`pt1_ft2-9` -> `ft2-9`; `pt1_seed2_ft2-9` -> `ft2-9 (seed2)`."""
    rest = experiment[len(baseline):].lstrip("_-") if experiment.startswith(baseline) else experiment
    seed = baseline.split("_", 1)[1] if "_" in baseline else ""
    return f"{rest} ({seed})" if seed and rest else (rest or experiment)


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


def run_style(i: int) -> tuple[str, str]:
    """(colour, marker) of the run with index i (analysis.figure_data.run_index): the colours in turn, the
    markers in turn, one marker further each time the colours start over, so neighbours differ in both
    and (10 + 1 colours-and-a-step being prime to 4 markers) the pair repeats only after 10 x 4 runs."""
    n = len(RUN_COLOURS)
    return RUN_COLOURS[i % n], RUN_MARKERS[(i + i // n) % len(RUN_MARKERS)]


_LOG_MANTISSAS = ((1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8), (1, 1.5, 2, 3, 5, 7), (1, 2, 5), (1, 3), (1,))


def _short_number(x: float, thousands_from: float = 1e4) -> str:
    """3, 2.5, 600, 20k, 1.5M: tick labels that fit a narrow panel (in thousands from `thousands_from`)."""
    if x >= 1e6:
        return f"{x / 1e6:g}M"
    if x >= thousands_from:
        return f"{x / 1e3:g}k"
    return f"{x:g}"


def short_number_ticks(axis: matplotlib.axis.Axis, nbins: int = 4) -> None:
    """A few round ticks on a linear axis of large counts (training steps), written 500, 20k, 1.5M."""
    axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, pos: _short_number(x) if x >= 0 else f"{x:g}"))


def _labels_fit(axis: matplotlib.axis.Axis, ticks: list[float], labels: list[str], gap: float) -> bool:
    """Whether tick labels at `ticks` stand `gap` inches apart along the axis (digits 0.64 em wide,
    a line 1.2 em tall at FONT_MIN), at the panel's current size and limits."""
    ax = axis.axes
    t = np.asarray(ticks, dtype=float)
    if axis.axis_name == "x":
        at = ax.get_xaxis_transform().transform(np.column_stack([t, np.zeros_like(t)]))[:, 0] / ax.figure.dpi
        half = np.array([len(lab) * FONT_MIN * 0.64 * PT / 2 for lab in labels])
    else:
        at = ax.get_yaxis_transform().transform(np.column_stack([np.zeros_like(t), t]))[:, 1] / ax.figure.dpi
        half = np.full(len(labels), FONT_MIN * 1.2 * PT / 2)
    return bool((np.abs(np.diff(at)) - half[1:] - half[:-1] >= gap).all())


def _compact(x: float) -> str:
    """1.5k, 2k, 20k, 1.5M: the narrowest plain form of a tick from 1000 up."""
    return _short_number(x, thousands_from=1e3)


def log_ticks(axis: matplotlib.axis.Axis, least: int = 3, most: int = 5, gap: float = 0.04) -> None:
    """At least `least` (at most `most`) labelled ticks on a log axis, written as plain numbers and
    spaced so their labels do not touch (`gap` inches apart along the axis); call it once the panel's
    limits and size are final. Tried in order: 1 x 10^k, 1-3, 1-2-5, 1-1.5-2-3-5-7 and
    1-1.2-1.5-2-... per decade, then evenly spaced round numbers (an axis spanning less than a decade:
    35, 40, 45, 50), then every k-th decade; each with plain labels (2500), then compact ones (2.5k).
    The ticks are fixed and labelled as major ones; no unlabelled minor ticks are drawn. A symlog
    axis from 0 (a training log's step 0) gets 0 and then the ticks of its log part, from its
    linear threshold on."""
    lo, hi = sorted(axis.get_view_interval())
    zero = [] if axis.get_scale() != "symlog" or not lo <= 0 < hi else [0.0]
    if zero:
        lo, least, most = axis.get_transform().linthresh, max(least - 1, 1), most - 1
    if not 0 < lo < hi:
        return
    decades = range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)
    inside = lambda ticks: [t for t in ticks if lo * (1 - 1e-9) <= t <= hi * (1 + 1e-9)]  # noqa: E731
    candidates = [inside([m * 10.0 ** d for d in decades for m in mantissas])
                  for mantissas in reversed(_LOG_MANTISSAS)]
    for nbins in range(2, 10):
        candidates.append(inside(matplotlib.ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10])
                                 .tick_values(lo, hi)))
    powers = inside([10.0 ** d for d in decades])
    if len(powers) > most:
        candidates.append(powers[::math.ceil(len(powers) / most)])
    # every k-th tick of a denser set (5k, 20k, 100k of 1-2-5) for wide ranges on narrow panels
    candidates += [c[i::k] for c in list(candidates) for k in (2, 3, 4) for i in range(k) if len(c) > most]
    candidates = [c for c in candidates if least <= len(c) <= most and min(c) > 0]

    fits = lambda ticks, labels: _labels_fit(axis, zero + ticks, ["0"] * len(zero) + labels, gap)  # noqa: E731

    chosen = None
    for ticks in candidates:
        for fmt in ((lambda x: f"{x:g}"), _compact):
            labels = [fmt(t) for t in ticks]
            if fits(ticks, labels):
                chosen = ticks, labels
                break
        if chosen:
            break
    if chosen is None:  # nothing fits: the fewest round ticks there are, compact (the page checks flag it)
        ticks = min(candidates, key=len) if candidates else powers or candidates
        chosen = ticks, [_compact(t) for t in ticks]
    axis.set_major_locator(matplotlib.ticker.FixedLocator(zero + list(chosen[0])))
    axis.set_major_formatter(matplotlib.ticker.FixedFormatter(["0"] * len(zero) + list(chosen[1])))
    axis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


# --- numbers -------------------------------------------------------------------------------------

def number(value: float, decimals: int = 2) -> str:
    """A cell or label number with `decimals` places; never "-0.00" (a tiny negative rounds to 0.00)."""
    if not np.isfinite(value):
        return "n/a"
    text = f"{value:.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def fit_limits(values, log: bool = False, pad: float = 0.08, include: tuple[float, ...] = ()
               ) -> tuple[float, float]:
    """Axis limits zoomed to the data (every finite value and `include`, e.g. the baseline), padded by
    `pad` of the span on each side; on a log axis in log space (non-positive values ignored)."""
    v = np.concatenate([np.ravel(np.asarray(values, dtype=float)), np.asarray(include, dtype=float)])
    v = v[np.isfinite(v) & ((v > 0) if log else True)]
    if not v.size:
        return (1.0, 10.0) if log else (0.0, 1.0)
    lo, hi = (np.log10(v.min()), np.log10(v.max())) if log else (float(v.min()), float(v.max()))
    span = hi - lo or (0.05 if log else max(abs(hi) * 0.1, 0.05))
    lo, hi = lo - pad * span, hi + pad * span
    return (10.0 ** lo, 10.0 ** hi) if log else (lo, hi)


# --- points with intervals: one row per experiment -------------------------------------------------

SEED_GREY = "0.3"


def row_guides(ax: matplotlib.axes.Axes, n: int) -> None:
    """Faint lines along each row (one collection), so a row can be followed across panels; the rows
    run top (0) to bottom (n - 1)."""
    from matplotlib.collections import LineCollection
    y = np.arange(n)
    lines = LineCollection([((0, yi), (1, yi)) for yi in y], colors="0.9", linewidths=0.5, zorder=0,
                           transform=blended_transform_factory(ax.transAxes, ax.transData))
    ax.add_collection(lines, autolim=False)
    ax.set_ylim(n - 0.5, -0.5)


def interval_rows(ax: matplotlib.axes.Axes, mean: np.ndarray, low: np.ndarray, high: np.ndarray,
                  trained: np.ndarray, dots_y: np.ndarray | None = None, dots_x: np.ndarray | None = None,
                  runs: np.ndarray | None = None) -> None:
    """Per row: the mean as a point (vermillion if trained on the task, else blue; a row whose `runs`
    index is >= 0, a run nobody described, in its own run colour and marker instead), the interval
    `low..high` as a line through it, each seed as a small grey dot just below; a collection each for the
    whole panel (the points: one per marker). A row without a mean shows "n/a" (no point, never a zero)."""
    mean, low, high = (np.asarray(a, dtype=float) for a in (mean, low, high))
    y = np.arange(len(mean))
    colors = np.where(np.asarray(trained, dtype=bool), TRAINED, UNTRAINED).astype(object)
    markers = np.full(len(mean), "o", dtype=object)
    for i in np.flatnonzero(np.asarray(runs if runs is not None else [], dtype=int) >= 0):
        colors[i], markers[i] = run_style(int(runs[i]))
    spans = np.isfinite(low) & np.isfinite(high)
    if spans.any():
        ax.hlines(y[spans], low[spans], high[spans], colors=list(colors[spans]), linewidths=1.1, zorder=2,
                  gid="interval")
    if dots_y is not None and len(dots_y):
        # an edge of its own colour and no width, not "none": one shape, face and edge, is drawn once and
        # stamped at each dot (matplotlib's draw_markers), not drawn dot by dot (0.1-0.2 s a figure of
        # 250 seeds); the same dots, at whole pixels
        ax.scatter(dots_x, dots_y, s=5, facecolors=SEED_GREY, edgecolors=SEED_GREY, linewidths=0, zorder=2.5,
                   gid="seeds")
    ok = np.isfinite(mean)
    for marker in dict.fromkeys(markers[ok]):  # "o" alone, one collection, unless runs bring their markers
        at = ok & (markers == marker)
        ax.scatter(mean[at], y[at], s=16, c=list(colors[at]), marker=marker, edgecolors="white", linewidths=0.4,
                   zorder=3, gid="mean", label=f"_mean:{marker}")
    where = blended_transform_factory(ax.transAxes, ax.transData)
    for yi in y[~ok]:
        ax.text(0.5, yi, "n/a", transform=where, ha="center", va="center", fontsize=FONT_MIN, color="0.45",
                gid="na")


def run_entries(runs, labels: list[str]) -> list[tuple[int, str]]:
    """(run index, label) of the rows drawn in run colours (`runs` >= 0: nobody described them), by
    index: a legend entry each, as the rows name them."""
    return sorted({(int(i), label) for i, label in zip(runs if runs is not None else [], labels) if i >= 0})


def row_label_colours(runs, n: int) -> list[str | None]:
    """The colour of each of `n` row labels: a run nobody described in its run colour, the others as
    they are (None)."""
    runs = list(runs) if runs is not None else [-1] * n
    return [run_style(int(i))[0] if i >= 0 else None for i in runs]


def baseline_band(ax: matplotlib.axes.Axes, level: float, spread: float = float("nan"), vertical: bool = True,
                  ls: str = "--") -> None:
    """The baseline as a black reference line and, when its seeds disagree, a grey ± spread band."""
    line, span = (ax.axvline, ax.axvspan) if vertical else (ax.axhline, ax.axhspan)
    if np.isfinite(spread) and spread > 0:
        span(level - spread, level + spread, color=BASELINE, alpha=0.1, lw=0, zorder=0.5)
    line(level, color=BASELINE, ls=ls, lw=0.9, zorder=1)


def linear_ticks(axis: matplotlib.axis.Axis, nbins: int = 3, least: int = 3, gap: float = 0.04) -> None:
    """A few round ticks on a narrow linear axis, without the "-0" matplotlib's formatter can print: at
    least `least` within the limits where their labels fit the panel (more bins tried up to 8), else the
    `nbins` matplotlib picks with an unlabelled minor tick halfway between them. Call it once the panel's
    limits and size are final."""
    fmt = lambda x, pos=None: f"{0.0 if abs(x) < 1e-12 else round(x, 12):g}"  # noqa: E731
    lo, hi = sorted(axis.get_view_interval())
    for bins in range(nbins, 9):
        ticks = [t for t in matplotlib.ticker.MaxNLocator(nbins=bins, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi)
                 if lo - 1e-12 <= t <= hi + 1e-12]
        if len(ticks) >= least and _labels_fit(axis, ticks, [fmt(t) for t in ticks], gap):
            axis.set_major_locator(matplotlib.ticker.FixedLocator(ticks))
            break
    else:  # too narrow for `least` labels: matplotlib's few, with an unlabelled tick halfway between them
        axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=nbins, steps=[1, 2, 2.5, 5, 10]))
        axis.set_minor_locator(matplotlib.ticker.AutoMinorLocator(2))
    axis.set_major_formatter(matplotlib.ticker.FuncFormatter(fmt))


def fit_tick_labels(ax: matplotlib.axes.Axes, size: float = FONT_MIN, gap: float = 0.04) -> None:
    """Keep only the x tick labels that fit side by side in the panel and inside the figure (left to right,
    `gap` inches apart): narrow panels otherwise print 2000 and 2500 on top of each other. Call it once
    the panel's limits, scale and ticks are final; the kept ticks are fixed (no tick per redraw)."""
    lo, hi = sorted(ax.get_xlim())
    locs = [t for t in ax.xaxis.get_majorticklocs() if lo <= t <= hi]
    if not locs:
        return
    formatter = ax.xaxis.get_major_formatter()
    formatter.set_locs(locs)
    labels = [formatter(t, i) for i, t in enumerate(locs)]
    dpi, fig_w = ax.figure.dpi, ax.figure.get_size_inches()[0]
    x = ax.transData.transform(np.column_stack([locs, np.zeros(len(locs))]))[:, 0] / dpi
    kept, right = [], -np.inf
    for t, label, xi in zip(locs, labels, x):
        half = len(label) * size * 0.64 * PT / 2  # digits are 0.64 em wide in DejaVu Sans
        if label and xi - half >= right + gap and xi + half <= fig_w - 0.02 and xi - half >= 0.02:
            kept.append((t, label))
            right = xi + half
    ax.xaxis.set_major_locator(matplotlib.ticker.FixedLocator([t for t, _ in kept]))
    ax.xaxis.set_major_formatter(matplotlib.ticker.FixedFormatter([lab for _, lab in kept]))
    if ax.get_xscale() == "log":
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # no unlabelled log minor ticks to build


def interval_handles(multi_seed: bool, interval: str, runs: list[tuple[int, str]] = (), described: bool = True,
                     ) -> tuple[list, list[str]]:
    """Legend entries of an interval-rows figure: trained / not trained point (when some row is `described`,
    i.e. rules.yaml says what it trained on), a point per run nobody described in its colour and marker
    (`runs`: (run index, name), see `run_entries`), the interval, seed dots."""
    import matplotlib.lines
    point = dict(ls="", marker="o", markersize=4.5, markeredgecolor="white", markeredgewidth=0.4)
    handles, names = [], []
    if described:
        handles += [matplotlib.lines.Line2D([], [], color=TRAINED, **point),
                    matplotlib.lines.Line2D([], [], color=UNTRAINED, **point)]
        names += ["trained on this task", "not trained on it"]
    for i, name in runs:
        colour, marker = run_style(i)
        handles.append(matplotlib.lines.Line2D([], [], color=colour, **{**point, "marker": marker}))
        names.append(name)
    if multi_seed:
        handles += [matplotlib.lines.Line2D([], [], color="0.2", lw=1.1),
                    matplotlib.lines.Line2D([], [], ls="", marker="o", markersize=2.5, color=SEED_GREY,
                                            markeredgewidth=0)]
        names += [interval, "one seed"]
    return handles, names
