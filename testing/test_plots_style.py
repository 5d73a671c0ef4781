"""Shared figure pieces in plots/style.py: the page (width, fonts, no clipped or overlapping text), the
experiment rows labelled once, numbers and colour limits fitted to the data."""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import pytest

import plots_helpers
from testing_helpers import render
from plots.style import fit_limits, log_ticks, number, robust_limit
from utils.synthetic import write_tree

ROW_FIGURES = ["comparison", "normalized", "raw_differences", "heatmap"]
FIGURES = ROW_FIGURES + ["prediction", "checkpoints", "residuals"]


@pytest.fixture(scope="module")
def paper_tree(tmp_path_factory) -> Path:
    """2 seeds, 7 + 21 fine-tunings: the bundled example's shape, where labels crowd most."""
    root = tmp_path_factory.mktemp("paper") / "experiments"
    write_tree(root, seeds=2, ft1=7, ft2=21, checkpoints=3)
    return root


@pytest.mark.parametrize("width", [7.5, 3.5])
@pytest.mark.parametrize("name", FIGURES)
def test_every_figure_fits_the_page_and_reads_at_its_size(name: str, width: float, paper_tree: Path, config
                                                          ) -> None:
    config = dataclasses.replace(config, plot_width=width)
    figs, _ = render(name, paper_tree, config)
    assert figs
    for keys, fig in figs:
        assert fig.get_size_inches()[0] == pytest.approx(width), keys
        assert fig.get_layout_engine() is None  # laid out once, in inches: saving draws once
        plots_helpers.check_page(fig, width)


@pytest.mark.parametrize("name", ROW_FIGURES)
def test_rows_are_labelled_once_and_aligned_across_panels(name: str, small_tree: Path, config) -> None:
    figs, _ = render(name, small_tree, config)
    assert figs
    for keys, fig in figs:
        panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]
        first, others = panels[0], panels[1:]
        labels = [t.get_text() for t in first.get_yticklabels()]
        assert len(labels) >= 2 and all(labels), (keys, labels)
        assert others, keys
        for ax in others:
            assert ax.get_ylim() == pytest.approx(first.get_ylim()), (keys, ax.get_title())
            # no hidden tick per row: building and measuring them was a third of a bar figure's time
            assert len(ax.get_yticks()) == 0, (keys, ax.get_title())


@pytest.mark.parametrize("value, text", [(-0.001, "0.00"), (-0.004999, "0.00"), (-0.005001, "-0.01"),
                                         (0.0, "0.00"), (1.234, "1.23"), (-1.0, "-1.00"), (float("nan"), "n/a")])
def test_numbers_never_read_minus_zero(value: float, text: str) -> None:
    assert number(value) == text


def test_colour_limit_is_fitted_to_the_data_and_says_when_it_clips() -> None:
    values = np.array([0.1, -0.2, 0.25, -0.3, 0.05, np.nan] * 4 + [5.0])  # one outlier
    limit, clipped = robust_limit(values)
    assert 0.3 <= limit < 1.0 and clipped  # the +-0.3 cells get the colour range, the outlier is clipped
    assert np.nanpercentile(np.abs(values), 95) <= limit
    limit, clipped = robust_limit(np.array([0.1, -0.2]))
    assert limit >= 0.2 and not clipped


@pytest.mark.parametrize("log", [False, True])
def test_fitted_limits_contain_the_values_and_the_reference(log: bool) -> None:
    values = np.array([2.0, 3.0, np.nan, 2.5])
    lo, hi = fit_limits(values, log=log, include=(4.0,))
    assert lo < 2.0 and hi > 4.0 and lo > 0
    assert (hi - lo) < 3.0  # zoomed: 0 is not forced in


def _lab(colour: str) -> np.ndarray:
    """CIE L*a*b* (D65) of an sRGB colour: distances there follow what the eye tells apart."""
    from matplotlib.colors import to_rgb
    rgb = np.array(to_rgb(colour))
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    f = np.cbrt(np.maximum(xyz / np.array([0.95047, 1.0, 1.08883]), (6 / 29) ** 3))
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_run_colours_mean_nothing_else_and_tell_runs_apart() -> None:
    """Runs with no trained/untrained meaning get colours far from trained, untrained, better, worse and
    the baseline, and from each other, dark enough for 7 pt text on white; ten runs get ten colours (the
    eight lm-eval runs of the real tree no longer share one), and with a marker each a (colour, marker)
    pair repeats only after 40 runs, neighbours differing in both."""
    from plots.style import BASELINE, BETTER, RUN_COLOURS, RUN_MARKERS, TRAINED, UNTRAINED, WORSE, run_style
    meanings = [TRAINED, UNTRAINED, BETTER, WORSE, BASELINE]
    for colour in RUN_COLOURS:
        assert min(np.linalg.norm(_lab(colour) - _lab(m)) for m in meanings) >= 30, colour
        assert _lab(colour)[0] <= 55, colour  # L*: readable as small text on white (no lavender, tan, gold)
    for a, b in itertools.combinations(RUN_COLOURS, 2):
        assert np.linalg.norm(_lab(a) - _lab(b)) >= 25, (a, b)
    assert len({run_style(i)[0] for i in range(10)}) == 10
    assert len({run_style(i) for i in range(12)}) == 12
    n = len(RUN_COLOURS) * len(RUN_MARKERS)
    assert len({run_style(i) for i in range(n)}) == n == 40
    assert run_style(n) == run_style(0)
    assert all(run_style(i)[1] != run_style(i + 1)[1] for i in range(n))  # neighbours: another marker too


def test_interval_rows_draw_a_run_in_its_own_colour_and_marker() -> None:
    """Rows whose run index is >= 0 (nobody described them) take the run's colour and marker; the others
    keep vermillion (trained) and blue, in one "o" collection as before."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    import plots_helpers
    from plots.style import TRAINED, UNTRAINED, interval_handles, interval_rows, run_entries, run_style
    fig, ax = plt.subplots()
    interval_rows(ax, np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.5, 1.5, 2.5, 3.5]), np.array([1.5, 2.5, 3.5, 4.5]),
                  np.array([True, False, False, False]), runs=np.array([-1, -1, 0, 1]))
    assert {r: c for r, (_, c) in plots_helpers.means(ax).items()} == {
        0: to_hex(TRAINED), 1: to_hex(UNTRAINED), 2: to_hex(run_style(0)[0]), 3: to_hex(run_style(1)[0])}
    assert plots_helpers.mean_markers(ax) == {0: "o", 1: "o", 2: run_style(0)[1], 3: run_style(1)[1]}
    [lines] = plots_helpers.by_gid(ax, "interval")
    assert [to_hex(c) for c in lines.get_colors()] == [to_hex(TRAINED), to_hex(UNTRAINED),
                                                       to_hex(run_style(0)[0]), to_hex(run_style(1)[0])]
    entries = run_entries([-1, 1, 0, 1], ["a", "d", "c", "d"])
    assert entries == [(0, "c"), (1, "d")]
    handles, names = interval_handles(False, "± std", entries, described=False)
    assert names == ["c", "d"]
    assert [(to_hex(h.get_color()), h.get_marker()) for h in handles] == [(to_hex(run_style(i)[0]), run_style(i)[1])
                                                                          for i in (0, 1)]
    assert interval_handles(True, "± std")[1] == ["trained on this task", "not trained on it", "± std", "one seed"]
    plt.close(fig)


def test_seed_dots_are_one_grey_shape_stamped_at_each_dot() -> None:
    """The seeds' dots (hundreds a row in a sweep) go to the renderer as one marker stamped at every
    dot (draw_markers), not as a collection of paths drawn one by one; grey, with no visible edge."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_hex

    from plots.style import SEED_GREY, interval_rows
    fig, ax = plt.subplots()
    dots_y = np.repeat([0.25, 1.25], 60)
    interval_rows(ax, np.array([1.0, 2.0]), np.array([0.5, 1.5]), np.array([1.5, 2.5]), np.array([True, False]),
                  dots_y=dots_y, dots_x=np.linspace(0.5, 2.5, len(dots_y)))
    [dots] = plots_helpers.by_gid(ax, "seeds")
    assert [to_hex(c) for c in dots.get_facecolors()] == [to_hex(SEED_GREY)]
    assert [to_hex(c) for c in dots.get_edgecolors()] == [to_hex(SEED_GREY)] and list(dots.get_linewidths()) == [0]
    renderer = fig.canvas.get_renderer()
    stamped, stamp = [], renderer.draw_markers
    renderer.draw_markers = lambda gc, path, trans, where, *rest: (stamped.append(len(where.vertices)),
                                                                   stamp(gc, path, trans, where, *rest))
    fig.draw(renderer)
    assert len(dots_y) in stamped
    plt.close(fig)


def test_a_long_title_keeps_what_is_compared_and_shortens_the_name() -> None:
    from plots.page import Page
    page = Page(3.5)
    rest = " at every checkpoint: runs compared (lm_eval, Standard; no baseline)"
    title = page.fit_title("hendrycksTest-high_school_government_and_politics: acc", rest)
    assert title.count("\n") == 1 and "…" in title
    assert " ".join(title.split()).endswith(" ".join(rest.split()))
    assert page.fit_title("loss", rest) == page.wrap("loss" + rest, 8.5)  # fits: unchanged


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_a_note_figure_fits_the_page_it_is_given(width: float) -> None:
    """The figure drawn instead of an empty one (no data for a group) is as wide as the page and reads."""
    from plots.page import note_figure
    fig = note_figure("No gap-closing score predictions for this group and condition: no experiment of it was "
                      "evaluated out of distribution.", "ft2: Two-task fine-tuning: multi-task gap-closing score vs "
                      "prediction from single-task runs, Atlantis (OOD)", width=width)
    assert fig.get_size_inches()[0] == pytest.approx(width) and fig.get_layout_engine() is None
    plots_helpers.check_page(fig, width)


@pytest.mark.parametrize("name", ["comparison", "normalized", "raw_differences", "heatmap"])
def test_a_figure_too_tall_for_one_column_is_split_into_parts_on_the_same_axes(name, paper_tree, config):
    """21 experiments at 3.5 in: two figures (`<file>_1.png`, `<file>_2.png`) of consecutive experiments that
    together hold every one once, each under 9 in, with the same axis limits (or colour scale) in both, so
    they read as one figure; at 7.5 in the same slice stays one figure under its usual name."""
    from plots.registry import discover
    from runner.planning import jobs_of_slice, split
    spec = discover()[name]
    narrow = dataclasses.replace(config, plot_width=3.5)
    figs, view = render(name, paper_tree, narrow)
    ft2 = [(keys, fig) for keys, fig in figs if keys["group"] == "ft2"]
    slices = {tuple(sorted((k, v) for k, v in keys.items() if k not in ("part", "parts"))) for keys, _ in ft2}
    for slice_keys in slices:
        parts = [(keys, fig) for keys, fig in ft2
                 if tuple(sorted((k, v) for k, v in keys.items() if k not in ("part", "parts"))) == slice_keys]
        assert [(k["part"], k["parts"]) for k, _ in parts] == [(1, 2), (2, 2)], slice_keys
        rows = []
        for _, fig in parts:
            assert fig.get_size_inches()[1] <= 9.0
            labelled = next(ax for ax in fig.axes if ax.get_yticklabels())
            rows.append([t.get_text().split(" ")[0] for t in labelled.get_yticklabels()])
        assert rows[0] + rows[1] == [f"ft2-{i}" for i in range(1, 22)]
        if name == "heatmap":
            scales = {(ax.images[0].norm.vmin, ax.images[0].norm.vmax) for _, fig in parts for ax in fig.axes
                      if ax.images}
            assert len(scales) == 1
        else:
            for first, second in zip(*[[ax for ax in fig.axes if ax.get_title()] for _, fig in parts]):
                assert first.get_title() == second.get_title() and first.get_xlim() == second.get_xlim()
        assert "(part 1 of 2: ft2-1 to ft2-11)" in plots_helpers.title(parts[0][1])
    [(keys, part)] = [(k, p) for k, p in split(spec, view) if k.get("group") == "ft2"][:1]
    files = [rel for _, rel in jobs_of_slice(spec, keys, part, narrow)]
    assert files == [spec.path_for(keys, "png").replace(".png", f"_{i}.png") for i in (1, 2)]
    assert [rel for _, rel in jobs_of_slice(spec, keys, part, config)] == [spec.path_for(keys, "png")]


@pytest.mark.parametrize("limits, labels", [
    ((17, 60), ["20", "30", "50"]),  # less than a decade: plain numbers between the powers of ten
    ((2, 4.3), ["2", "2.5", "3", "4"]),
    ((5000, 2e5), ["10000", "30000", "100000"]),  # plain while they fit the panel
    ((1e-2, 1e6), ["0.01", "1", "100", "10000", "1e+06"]),  # many decades: every other power of ten
])
def test_log_axes_get_three_to_five_readable_labels(limits, labels):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.9, 2))
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    log_ticks(ax.xaxis)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()] == labels
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    plt.close(fig)


@pytest.mark.parametrize("linthresh, high, labels", [
    (1, 114, ["0", "1", "10", "100"]),  # a training log from step 0: 0, then its decades
    (50, 4e4, ["0", "100", "1000", "10000"]),
])
def test_a_symlog_axis_from_zero_is_labelled_at_zero_and_along_its_log_part(linthresh, high, labels):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(1.9, 2))
    ax.set_xscale("symlog", linthresh=linthresh)
    ax.set_xlim(0, high)
    log_ticks(ax.xaxis, least=3, most=4)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()] == labels
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
    plt.close(fig)
