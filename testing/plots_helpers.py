"""What the figure tests read back from a drawn figure: the points and intervals of a row panel, and the
page checks every figure must pass (width, font sizes, no text outside the figure or on another text)."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.text import Text

PAGE_WIDTH = 7.5  # inches: a two-column page's text width
MIN_FONT = 7.0  # points, at the figure's own size


def by_gid(ax, gid: str):
    """The collections of a panel with this gid (interval_rows tags its three: mean, interval, seeds)."""
    return [c for c in ax.collections if c.get_gid() == gid]


def means(ax) -> dict[int, tuple[float, str]]:
    """{row: (x, colour hex)} of the mean points of a panel (one scatter at most)."""
    found = by_gid(ax, "mean")
    assert len(found) <= 1
    if not found:
        return {}
    xy, colours = found[0].get_offsets(), found[0].get_facecolors()
    return {round(y): (x, to_hex(c)) for (x, y), c in zip(np.asarray(xy), colours)}


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


def check_page(fig, width: float = PAGE_WIDTH) -> None:
    """Assert what a reader of the page relies on: the figure fits the width, every font is at least
    7 pt at that size, no text is cut by the figure's edge and no two texts overlap (after a draw)."""
    fig_w, fig_h = fig.get_size_inches()
    assert fig_w <= width + 1e-9, f"figure {fig_w:.2f} in wide, page {width} in"
    fig.canvas.draw()
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


def title(fig) -> str:
    """The figure's title as one line (the page layout wraps long titles at spaces)."""
    return " ".join(fig.get_suptitle().split())
