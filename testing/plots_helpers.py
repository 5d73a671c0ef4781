"""What the figure tests read back from a drawn figure: the points and intervals of a row panel, and the
page checks every figure must pass (width, height, font sizes, no text outside the figure or on another
text, every line label joined to its line's end, at least three labelled ticks on every log axis)."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.text import Text

PAGE_WIDTH = 7.5  # inches: a two-column page's text width
PAGE_HEIGHT = 9.0  # inches: a page's text height, what no figure may exceed
MIN_FONT = 7.0  # points, at the figure's own size
MIN_LOG_LABELS = 3  # labelled ticks a log axis needs to be read as one
LABEL_TO_LINE = 0.04  # inches: most a label's leader may end from its label, or start from its line's end


def by_gid(ax, gid: str):
    """The collections of a panel with this gid (interval_rows tags its three: mean, interval, seeds)."""
    return [c for c in ax.collections if c.get_gid() == gid]


def means(ax) -> dict[int, tuple[float, str]]:
    """{row: (x, colour hex)} of the mean points of a panel (one scatter, or one per marker where runs
    nobody described bring their own)."""
    out = {}
    for found in by_gid(ax, "mean"):
        xy, colours = found.get_offsets(), found.get_facecolors()
        if len(colours) == 1:  # one colour given for every point
            colours = [colours[0]] * len(xy)
        for (x, y), c in zip(np.asarray(xy), colours):
            assert round(y) not in out  # one point per row
            out[round(y)] = (x, to_hex(c))
    return out


def mean_markers(ax) -> dict[int, str]:
    """{row: marker} of the mean points of a panel: the marker each "mean" scatter was drawn with (its
    gid and its `marker` recorded by interval_rows in the collection's label, "_mean:<marker>")."""
    out = {}
    for found in by_gid(ax, "mean"):
        marker = found.get_label().split(":", 1)[1] if found.get_label().startswith("_mean:") else "o"
        out.update({round(y): marker for _, y in np.asarray(found.get_offsets())})
    return out


def intervals(ax) -> dict[int, tuple[float, float]]:
    """{row: (low, high)} of the interval lines of a panel (one collection at most)."""
    found = by_gid(ax, "interval")
    assert len(found) <= 1
    return {round(seg[0][1]): (seg[0][0], seg[1][0]) for seg in (found[0].get_segments() if found else [])}


def seeds(ax) -> np.ndarray:
    """(row position incl. offset, x) of the seed dots of a panel."""
    found = by_gid(ax, "seeds")
    assert len(found) <= 1
    return np.asarray(found[0].get_offsets())[:, ::-1] if found else np.empty((0, 2))


def in_view(lo: float, hi: float, values) -> bool:
    """Every finite value within [lo, hi]."""
    v = np.asarray(list(values), dtype=float)
    v = v[np.isfinite(v)]
    return bool(((v >= lo - 1e-12) & (v <= hi + 1e-12)).all())


def _tick_labels(axis) -> list[Text]:
    """The tick labels matplotlib draws: ticks within the view, with text."""
    lo, hi = sorted(axis.get_view_interval())
    out = []
    for locs, ticks in ((axis.get_majorticklocs(), axis.get_major_ticks), (axis.get_minorticklocs(),
                                                                          axis.get_minor_ticks)):
        for loc, tick in zip(locs, ticks(len(locs))):
            for label in (tick.label1, tick.label2):
                if lo - 1e-9 <= loc <= hi + 1e-9 and label.get_visible() and label.get_text():
                    out.append(label)
    return out


def drawn_texts(fig) -> list[Text]:
    """Every visible text with content: titles, labels, tick labels, annotations, legends."""
    found = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        found += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
        found += _tick_labels(ax.xaxis) + _tick_labels(ax.yaxis)
        if ax.get_legend():
            found += ax.get_legend().get_texts()
    found += list(fig.texts) + [t for leg in fig.legends for t in leg.get_texts()]
    if fig._suptitle is not None:
        found.append(fig._suptitle)
    unique = {id(t): t for t in found}  # the suptitle is also one of fig.texts
    return [t for t in unique.values() if t.get_visible() and t.get_text().strip()]


def check_page(fig, width: float = PAGE_WIDTH, height: float = PAGE_HEIGHT) -> None:
    """Assert what a reader of the page relies on: the figure fits the width and a page's height, every
    font is at least 7 pt at that size, no text is cut by the figure's edge and no two texts overlap,
    every line label is joined to its line (`check_line_labels`) and every log axis has at least three
    labelled ticks (`check_log_axes`), after one draw that lays the figure out without painting it
    (`draw_without_rendering`: the same positions and text sizes as a saved figure's)."""
    fig_w, fig_h = fig.get_size_inches()
    assert fig_w <= width + 1e-9, f"figure {fig_w:.2f} in wide, page {width} in"
    assert fig_h <= height + 1e-9, f"figure {fig_h:.2f} in tall, a page {height} in"
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    texts = drawn_texts(fig)
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < MIN_FONT]
    assert not small, f"fonts below {MIN_FONT} pt: {small[:5]}"
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts])
    W, H = fig_w * fig.dpi, fig_h * fig.dpi
    outside = [texts[i].get_text() for i in np.nonzero((boxes[:, 0] < -1) | (boxes[:, 1] < -1) |
                                                       (boxes[:, 2] > W + 1) | (boxes[:, 3] > H + 1))[0]]
    assert not outside, f"text outside the figure: {outside[:5]}"
    for legend in fig.legends:  # handles too, not only the texts
        x0, y0, x1, y1 = legend.get_window_extent(renderer).extents
        assert x0 >= -1 and y0 >= -1 and x1 <= W + 1 and y1 <= H + 1, "legend outside the figure"
    tol = 0.5
    x0, y0, x1, y1 = (boxes[:, i][:, None] for i in range(4))
    hit = (x0 < x1.T - tol) & (x0.T < x1 - tol) & (y0 < y1.T - tol) & (y0.T < y1 - tol)
    np.fill_diagonal(hit, False)
    pairs = [(texts[i].get_text(), texts[j].get_text()) for i, j in zip(*np.nonzero(np.triu(hit)))]
    assert not pairs, f"overlapping texts: {pairs[:5]}"
    check_line_labels(fig, drawn=True)
    check_log_axes(fig, drawn=True)


def labelled_ticks(axis) -> list[str]:
    """The texts of the tick labels drawn on an axis (major and minor, within its view)."""
    return [t.get_text() for t in _tick_labels(axis)]


def check_log_axes(fig, least: int = MIN_LOG_LABELS, drawn: bool = False) -> None:
    """Every log axis of a visible panel shows at least `least` labelled ticks (minor ones count), after
    a draw (unless the caller has just `drawn` it)."""
    if not drawn:
        fig.draw_without_rendering()
    few = []
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
            if scale == "log" and len(labelled_ticks(axis)) < least:
                few.append((ax.get_title(), axis.axis_name, labelled_ticks(axis)))
    assert not few, f"log axes with fewer than {least} labelled ticks: {few[:5]}"


def line_ends(ax) -> np.ndarray:
    """(x, y) in inches of the last finite point of every solid line of a panel (Line2D and the
    segments of line collections), where a label's leader must start."""
    ends = []
    for line in ax.lines:
        if line.get_gid() == "leader" or line.get_linestyle() in ("--", "None", ""):
            continue
        xy = np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
        xy = xy[np.isfinite(xy).all(axis=1)]
        if len(xy):
            ends.append(ax.transData.transform(xy[-1]))
    for coll in ax.collections:
        if hasattr(coll, "get_segments") and coll.get_gid() != "spread":
            for seg in coll.get_segments():
                seg = np.asarray(seg, dtype=float)
                seg = seg[np.isfinite(seg).all(axis=1)]
                if len(seg):
                    ends.append(ax.transData.transform(seg[-1]))
    return np.asarray(ends).reshape(-1, 2) / ax.figure.dpi


def check_line_labels(fig, tol: float = LABEL_TO_LINE, drawn: bool = False) -> None:
    """Every line label (a text with gid "label") is joined to its line: its leader (the Line2D with gid
    "leader" and label "_leader:<text>") starts at the end of a drawn line of the panel and ends at the
    label's left edge, level with its middle, both within `tol` inches, after a draw (unless the caller
    has just `drawn` it)."""
    if not drawn:
        fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    dpi = fig.dpi
    off = []
    for ax in fig.axes:
        labels = [t for t in ax.texts if t.get_gid() == "label" and t.get_visible()]
        if not labels:
            continue
        leaders = {ln.get_label(): ln for ln in ax.lines if ln.get_gid() == "leader"}
        ends = line_ends(ax)
        for text in labels:
            leader = leaders.get(f"_leader:{text.get_text()}")
            if leader is None:
                off.append((text.get_text(), "no leader"))
                continue
            xy = leader.get_transform().transform(np.column_stack([leader.get_xdata(), leader.get_ydata()])) / dpi
            box = text.get_window_extent(renderer)
            anchor = np.array([box.x0, (box.y0 + box.y1) / 2]) / dpi
            if np.hypot(*(xy[-1] - anchor)) > tol:
                off.append((text.get_text(), f"leader ends {np.hypot(*(xy[-1] - anchor)):.2f} in from the label"))
            gap = np.hypot(*(ends - xy[0]).T).min() if len(ends) else np.inf
            if gap > tol:
                off.append((text.get_text(), f"leader starts {gap:.2f} in from any line's end"))
    assert not off, f"labels off their lines: {off[:5]}"


def title(fig) -> str:
    """The figure's title as one line (the page layout wraps long titles at spaces)."""
    return " ".join(fig.get_suptitle().split())
