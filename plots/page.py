"""The page: every figure laid out once, in inches, at `plots.width` (a paper's column or text width),
from the sizes of the texts that go into its margins, so no layout engine runs when it is saved.
`Page` places panels, title and legend; `rows_figure` lays out the task panels whose rows are
experiments; `note_figure` is the page that says why a figure has nothing to draw."""
from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING

import matplotlib
import matplotlib.font_manager
import matplotlib.ticker

from analysis.figure_data import experiment_order, members
from plots.style import FONT_MIN, PANEL_TITLE_SIZE, PT, TITLE_SIZE, apply_style, experiment_labels, fit_tick_labels
from utils.config import Config

if TYPE_CHECKING:
    import pandas as pd
    import matplotlib.axes
    import matplotlib.figure

GAP = 0.06  # inches between blocks (title, panels, legend) and at the figure's edges
PAGE_HEIGHT = 9.0  # inches: a page's text height; no figure is taller (split into parts instead)
ROW_PITCH = 0.12  # inches per experiment row of a rows figure
CHAR_WIDTH = 0.62 * FONT_MIN * PT  # inches: a 7 pt character, on average, for estimates without a renderer


@dataclass
class Page:
    """A figure of fixed width (`plots.width`) laid out once, in inches, from the sizes of the texts
    that go into its margins; panels are placed with `add_axes` and no layout engine runs, so saving
    draws the figure once (constrained layout measured every text twice, at ~0.8 s a figure).

    Use: `page = Page(width)`, measure with `text_width`/`wrap`/`legend_columns`, then `panels(...)`
    fixes the height and places the axes; `title` and `legend` go into the margins reserved for them."""

    width: float
    dpi: float = 150.0  # the file's: text extents depend on it (hinting), so measure at it

    def __post_init__(self) -> None:
        import matplotlib.pyplot as plt
        self.fig = plt.figure(figsize=(self.width, 3.0), dpi=self.dpi)
        self._renderer = self.fig.canvas.get_renderer()
        self.height = 3.0

    def text_width(self, text: str, size: float) -> float:
        """Inches the text takes at `size` points (its widest line)."""
        prop = matplotlib.font_manager.FontProperties(size=size)
        widths = [self._renderer.get_text_width_height_descent(line or " ", prop, ismath=False)[0]
                  for line in str(text).split("\n")]
        return max(widths) / self.fig.dpi

    @staticmethod
    def text_height(text: str, size: float, spacing: float = 1.2) -> float:
        """Inches `text` takes vertically at `size` points (matplotlib's line spacing)."""
        return (str(text).count("\n") + 1) * size * spacing * PT

    def wrap(self, text: str, size: float, width: float | None = None) -> str:
        """`text` broken into lines that fit `width` inches (default: the page less its edges)."""
        width = (width or self.width) - 2 * GAP
        lines = []
        for line in str(text).split("\n"):
            chars = len(line)
            while chars > 10 and self.text_width(textwrap.fill(line, chars), size) > width:
                chars = int(chars * 0.92)
            lines.append(textwrap.fill(line, chars) if chars < len(line) else line)
        return "\n".join(lines)

    def wrap_even(self, text: str, size: float, width: float | None = None) -> str:
        """`text` in as few lines as fit `width` inches (default: the page less its edges), the lines made
        as even as that number allows, so no word is left alone on the last line."""
        wrapped = self.wrap(text, size, width)
        lines = wrapped.count("\n") + 1
        if lines == 1:
            return wrapped
        best, chars = wrapped, len(text)
        while chars > 10:
            chars -= 2
            trial = textwrap.fill(text, chars)
            if trial.count("\n") + 1 > lines:
                break
            best = trial
        return best

    def fit_title(self, head: str, rest: str, lines: int = 2, size: float = TITLE_SIZE) -> str:
        """`head + rest` wrapped to the page in at most `lines` lines: `head` (a long task or metric name)
        is shortened in its middle with "…" until it fits, `rest` (what is compared with what) is kept."""
        text = self.wrap(head + rest, size)
        keep = len(head)
        while text.count("\n") >= lines and keep > 8:
            keep -= 2
            short = head[:keep - keep // 2 - 1] + "…" + head[len(head) - keep // 2:]
            text = self.wrap(short + rest, size)
        return text

    def columns(self, n: int, min_panel: float, left: float, right: float = GAP, wspace: float = 0.12) -> int:
        """How many panels of at least `min_panel` inches fit side by side (1 to n)."""
        fit = int((self.width - left - right + wspace) // (min_panel + wspace))
        return max(1, min(n, fit))

    def legend_columns(self, names: list[str], size: float = FONT_MIN, width: float | None = None
                       ) -> tuple[int, float]:
        """Columns of a legend of `names` that fit the page (or `width` inches), and its height in inches
        (none: no legend, 0 in)."""
        if not names:
            return 1, 0.0
        em = size * PT
        widths = [self.text_width(n, size) + (1.6 + 0.5 + 1.2) * em for n in names]
        room = (self.width if width is None else width) - 2 * GAP
        for ncols in range(len(names), 0, -1):
            rows = math.ceil(len(names) / ncols)
            cols = [max(widths[c * rows:(c + 1) * rows], default=0) for c in range(ncols)]
            if sum(cols) + em <= room:
                break
        lines = sum(n.count("\n") for n in names[:rows]) + rows
        spacing = matplotlib.rcParams["legend.labelspacing"]  # em between rows
        return ncols, (lines * 1.25 + (rows - 1) * spacing) * size * PT + 2 * GAP

    def legend_layout(self, names: list[str]) -> tuple[int, float]:
        """`legend_columns`, with as few columns as give the same number of rows: matplotlib fills
        columns of that many rows, so 4 entries in 3 columns come out 2 + 1 + 1, wider than measured."""
        ncols, height = self.legend_columns(names)
        rows = -(-len(names) // ncols)
        while ncols > 1 and -(-len(names) // (ncols - 1)) == rows:
            ncols -= 1
        return ncols, height

    def panels(self, n: int, ncols: int, panel_height: float, left: float, top: float, bottom: float,
               right: float = GAP, wspace: float = 0.12, hspace: float = 0.3, panel_width: float | None = None
               ) -> list[matplotlib.axes.Axes]:
        """Fix the figure's height and place `n` panels (row-major, `ncols` a row); margins in inches:
        `left` for row labels, `top` for the titles, `bottom` for the x labels and the legend,
        `hspace` between panel rows for the next row's panel titles and this one's x labels."""
        nrows = math.ceil(n / ncols)
        pw = panel_width or (self.width - left - right - (ncols - 1) * wspace) / ncols
        self.height = top + nrows * panel_height + (nrows - 1) * hspace + bottom
        W, H = self.width, self.height
        self.fig.set_size_inches(W, H)
        axes = []
        for i in range(n):
            r, c = divmod(i, ncols)
            x0 = left + c * (pw + wspace)
            y0 = H - top - (r + 1) * panel_height - r * hspace
            axes.append(self.fig.add_axes((x0 / W, y0 / H, pw / W, panel_height / H)))
        return axes

    def legend_width(self, names: list[str], size: float = FONT_MIN) -> float:
        """Inches a one-column legend of `names` takes (handles, texts and padding)."""
        return max((self.text_width(n, size) for n in names), default=0.0) + (1.6 + 0.5 + 1.2 + 1) * size * PT

    def free_cells(self, n: int, ncols: int, left: float, right: float = GAP, wspace: float = 0.12,
                   after: float = 0.15, panel_width: float | None = None) -> tuple[float, float]:
        """(x in inches, width in inches) of the empty cells at the end of the last row of `n` panels laid
        out `ncols` a row by `panels`: from `after` inches right of the last panel (what belongs to it:
        tick labels running over its edge, names at its lines' ends) to the page's right edge;
        (0, 0) when the last row is full."""
        if n % ncols == 0 or n < ncols:
            return 0.0, 0.0
        pw = panel_width or (self.width - left - right - (ncols - 1) * wspace) / ncols
        c = n % ncols
        x = left + c * pw + (c - 1) * wspace + after
        return x, self.width - x - GAP

    def legend_at(self, handles: list, names: list[str], x: float, top: float, ncols: int = 1) -> None:
        """The legend with its upper left corner at (`x`, `top`) inches from the figure's left and bottom
        edges: in the empty cells of a panel grid (`free_cells`)."""
        self.fig.legend(handles, names, loc="upper left", bbox_to_anchor=(x / self.width, top / self.height),
                        ncols=ncols, frameon=False, borderpad=0, borderaxespad=0)

    def title(self, text: str, size: float = TITLE_SIZE) -> None:
        """The figure's title, at the top edge (reserve `text_height(text) + 2 * GAP` for it)."""
        self.fig.suptitle(text, x=0.5, y=1 - GAP / self.height, ha="center", va="top", fontsize=size)

    def legend(self, handles: list, names: list[str], ncols: int) -> None:
        """The legend, centred at the bottom edge (reserve `legend_columns(names)[1]` for it); none
        without entries."""
        if not names:
            return
        self.fig.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, GAP / self.height),
                        ncols=ncols, frameon=False, borderpad=0, borderaxespad=0)


def x_axis_height(label_lines: int, tick_labels: bool = True) -> float:
    """Inches below a panel for its ticks, tick labels and an x label of `label_lines` lines."""
    ticks = (2.5 + 1.8 + FONT_MIN * 1.2) if tick_labels else 0.0
    label = (2.0 + label_lines * 7.5 * 1.2) if label_lines else 0.0
    return (ticks + label) * PT + 0.02


def title_height(lines: int = 1, size: float = PANEL_TITLE_SIZE) -> float:
    """Inches above a panel for a panel title of `lines` lines."""
    return (3.0 + lines * size * 1.2) * PT + 0.02



def note_figure(message: str, title: str, width: float = 6.0) -> matplotlib.figure.Figure:
    """A small figure, `width` inches wide, that says why there is nothing to draw, instead of an empty
    or failed file; laid out once (`Page`), the title and the message (in a bare panel) wrapped to the width."""
    apply_style()
    page = Page(width)
    title = page.wrap(title, TITLE_SIZE)
    message = page.wrap(message, 7.5)
    [ax] = page.panels(1, 1, page.text_height(message, 7.5) + 0.3, GAP, 2 * GAP + page.text_height(title, TITLE_SIZE),
                       GAP, right=GAP)
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=7.5)
    page.title(title)
    return page.fig


@dataclass
class RowsFigure:
    """A figure of task panels whose rows are experiments (comparison, normalized, raw differences)."""

    page: Page
    axes: list
    ncols: int
    legend_cols: int
    title: str
    xlabel: str = ""  # one x label under all panels (when they share the quantity and its limits)
    xlabel_y: float = 0.0  # inches from the bottom edge: where it goes
    legend_cell: tuple[float, float] | None = None  # (x, top) inches: the legend in the grid's empty cells
    legend_names: dict[str, str] | None = None  # names wrapped to the empty cells' width

    @property
    def fig(self) -> matplotlib.figure.Figure:
        return self.page.fig

    def finish(self, handles: list, names: list[str], labels: list[str],
               label_colours: list[str | None] | None = None) -> matplotlib.figure.Figure:
        """Row labels on the first panel of each panel row (the others carry no y ticks at all), each in
        its `label_colours` entry where that is not None (a run's own colour), the title and the legend
        in the margins reserved for them."""
        for i, ax in enumerate(self.axes):
            if i % self.ncols == 0:
                ax.set_yticks(range(len(labels)), labels)
                ax.tick_params(axis="y", length=0)
                for tick, colour in zip(ax.get_yticklabels(), label_colours or []):
                    if colour is not None:
                        tick.set_color(colour)
            else:  # no tick at all, not a tick per row with an empty label
                ax.yaxis.set_major_locator(matplotlib.ticker.NullLocator())
            ax.spines["left"].set_visible(False)
            ax.set_ylim(len(labels) - 0.5, -0.5)
            fit_tick_labels(ax)
        if self.xlabel:  # centred on the page, as it was wrapped to fit it
            self.fig.text(0.5, self.xlabel_y / self.page.height, self.xlabel, ha="center", va="bottom",
                          fontsize=7.5)
        self.page.title(self.title)
        names = [(self.legend_names or {}).get(n, n) for n in names]
        if self.legend_cell is not None:
            self.page.legend_at(handles, names, *self.legend_cell, ncols=self.legend_cols)
        else:
            self.page.legend(handles, names, self.legend_cols)
        return self.page.fig


def rows_height(width: float, labels: list[str], n_panels: int, xlabel_lines: int = 2, title_lines: int = 3,
                legend_h: float = 0.8, min_panel: float = 0.8) -> float:
    """Inches a rows figure of `labels` and `n_panels` panels takes at `width` (as `rows_figure` lays it
    out), estimated without drawing (characters of average width): what `rows_parts` splits by."""
    left = max((len(lab) for lab in labels), default=4) * CHAR_WIDTH + 0.08
    ncols = max(1, min(n_panels, int((width - left - 0.16 + 0.2) // (min_panel + 0.2))))
    nrows = math.ceil(n_panels / ncols)
    panel_h = max(1.1, ROW_PITCH * len(labels) + 0.12)
    axis_h = x_axis_height(xlabel_lines)
    top = 2 * GAP + title_lines * TITLE_SIZE * 1.2 * PT + title_height()
    hspace = axis_h + title_height() + 0.04
    return top + nrows * panel_h + (nrows - 1) * hspace + axis_h + legend_h + GAP + (0.25 if not xlabel_lines else 0)


def rows_parts(width: float, labels: list[str], n_panels: int, **layout) -> int:
    """Into how many figures (each a run of the rows) a rows figure is split so each fits a page's
    height: 1 when the whole fits."""
    for parts in range(1, max(len(labels), 1) + 1):
        size = math.ceil(len(labels) / parts)
        if rows_height(width, labels[:size], n_panels, **layout) <= PAGE_HEIGHT - 0.2:
            return parts
    return max(len(labels), 1)


def rows_split(data: pd.DataFrame, config: Config, xlabel_lines: int = 2) -> int:
    """`parts` of a rows figure (plots.registry.figure): how many figures the slice's experiment rows
    are split into at `plots.width` so each fits a page."""
    column = "model" if "model" in data.columns else "experiment"
    rows = members(data[[c for c in (column, "group", "n_seeds") if c in data.columns]])  # not every column copied
    names = experiment_order(rows[column], config)
    labels = experiment_labels(names, config)
    if "n_seeds" in rows.columns and rows.groupby(column)["n_seeds"].max().nunique() > 1:
        labels = [f"{lab} (n=2)" for lab in labels]  # each row says its n
    return rows_parts(config.plot_width, labels, max(int(data["task"].nunique()), 1), xlabel_lines=xlabel_lines)


def part_phrase(keys: dict, labels: list[str]) -> str:
    """" (part 1 of 2: ft2-1 to ft2-11)" for one part of a split figure (its rows' `labels`); "" unsplit."""
    if "parts" not in keys or not labels:
        return ""
    return f" (part {keys['part']} of {keys['parts']}: {labels[0]} to {labels[-1]})"


def rows_figure(config: Config, labels: list[str], n_panels: int, title: str, legend_names: list[str],
                xlabel_lines: int = 2, min_panel: float = 0.8, common_xlabel: str = "",
                even_legend: bool = False) -> RowsFigure:
    """Lay out a figure of `n_panels` task panels side by side (wrapping into rows when the page is
    narrow), one row per experiment label; the height follows the number of rows (0.12 in a row).
    Each panel has an x label of `xlabel_lines` lines, or (`common_xlabel`) all share one. A legend
    under the panels takes `Page.legend_layout`'s columns with `even_legend` (a long one, naming runs)."""
    apply_style()
    page = Page(config.plot_width, config.plot_dpi)
    left = max((page.text_width(lab, FONT_MIN) for lab in labels), default=0.3) + 0.08
    ncols = page.columns(n_panels, min_panel, left, right=0.16, wspace=0.2)
    title = page.wrap(title, TITLE_SIZE)
    axis_h = x_axis_height(0 if common_xlabel else xlabel_lines)
    panel_h = max(1.1, ROW_PITCH * len(labels) + 0.12)
    # The legend in the last row's empty cells when it fits there (one column), else under the panels.
    free_x, free_w = page.free_cells(n_panels, ncols, left, right=0.16, wspace=0.2, after=0.15)
    handle_w = page.legend_width([""])
    wrapped = {n: page.wrap(n, FONT_MIN, free_w - handle_w + 2 * GAP) for n in legend_names} if free_w > 0 else {}
    legend_rows_h = page.legend_columns(list(wrapped.values()) or legend_names, width=0.01)[1]  # one column
    in_cell = (free_w > handle_w + 0.5 and page.legend_width(list(wrapped.values())) <= free_w
               and legend_rows_h <= panel_h + axis_h)
    legend_cols, legend_h = (1, 0.0) if in_cell else (page.legend_layout if even_legend else page.legend_columns)(
        legend_names)
    common_xlabel = page.wrap(common_xlabel, 7.5) if common_xlabel else ""
    common = page.text_height(common_xlabel, 7.5) + 0.03 if common_xlabel else 0.0
    top = 2 * GAP + page.text_height(title, TITLE_SIZE) + title_height()
    bottom = axis_h + common + legend_h + GAP
    axes = page.panels(n_panels, ncols, panel_h, left, top, bottom, right=0.16, wspace=0.2,
                       hspace=axis_h + title_height() + 0.04)
    cell = None
    if in_cell:
        cell = (free_x, axes[-1].get_position().y1 * page.height)
    return RowsFigure(page, axes, ncols, legend_cols, title, xlabel=common_xlabel, xlabel_y=legend_h + GAP,
                      legend_cell=cell, legend_names=wrapped if in_cell else None)
