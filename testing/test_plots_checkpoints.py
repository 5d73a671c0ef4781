"""Checkpoint curves: one line per experiment per task (trained ones highlighted and labelled, the others
thin, in one collection), the baseline's last value as a dashed line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from testing_helpers import render, render_views
from plots.registry import discover
from plots.style import TRAINED, UNTRAINED
from utils.synthetic import write_tree


def curves_of(ax):
    """(experiment lines as (x, y, colour hex), dashed baseline lines) of one panel: the trained lines are
    Line2Ds, every other experiment one segment of the "others" collection."""
    lines = [(ln.get_xdata(), ln.get_ydata(), to_hex(ln.get_color())) for ln in ax.lines
             if ln.get_linestyle() != "--" and ln.get_gid() != "leader"]
    for coll in plots_helpers.by_gid(ax, "others"):
        lines += [(seg[:, 0], seg[:, 1], to_hex(coll.get_colors()[0])) for seg in coll.get_segments()]
    return lines, [ln for ln in ax.lines if ln.get_linestyle() == "--"]


def notes(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() != "label"]


def labels(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "label"]


def test_a_panel_per_task_and_a_line_per_experiment(small_tree, config):
    figs, curves = render("checkpoints", small_tree, config)
    assert len(figs) == 4  # ft1, ft2 x standard, atlantis
    assert discover()["checkpoints"].path_for(figs[-1][0], "png") == "checkpoints/ft2_standard.png"
    for keys, fig in figs:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == [t.label for t in config.tasks.values()]
        for ax in axes:
            info = next(t for t in config.tasks.values() if t.label == ax.get_title())
            lines, base = curves_of(ax)
            assert len(lines) == 2 and len(base) == 1
            assert ax.get_yscale() == ("log" if info.log else "linear")
            assert [len(x) for x, _, _ in lines] == [3, 3]  # 3 checkpoints each
            part = curves[(curves["experiment"] == "pt1") & (curves["task"] == info.name)
                          & (curves["condition"] == keys["condition"])]
            assert base[0].get_ydata()[0] == pytest.approx(part.sort_values("step")["value"].iloc[-1])
        assert "lower is better" in axes[0].get_ylabel()


def test_trained_experiments_are_highlighted_with_their_values(small_tree, config):
    [(_, fig)], curves = render("checkpoints", small_tree, config, only={"group": "ft1", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    lines, _ = curves_of(ax)
    colours = sorted(c for _, _, c in lines)
    assert colours == sorted([TRAINED.lower(), UNTRAINED.lower()])  # ft1-1 trained on distance, ft1-2 not
    x, y, _ = next(line for line in lines if line[2] == TRAINED.lower())
    want = curves[(curves["experiment"] == "pt1_ft1-1") & (curves["task"] == "distance")
                  & (curves["condition"] == "standard")].sort_values("step")
    assert np.allclose(x, want["step"]) and np.allclose(y, want["value"])
    assert labels(ax) == ["ft1-1"]  # the trained line is named at its end; the others are not
    lo, hi = ax.get_ylim()
    assert plots_helpers.in_view(lo, hi, [*(v for _, ys, _ in lines for v in ys), *(b.get_ydata()[0] for b in
                                                                                    curves_of(ax)[1])])


def test_a_missing_evaluation_is_named_on_its_panel(small_tree, config, tmp_path: Path):
    (small_tree / "pt1_ft2-2" / "evals" / "atlantis_compass" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("checkpoints", small_tree, config, only={"group": "ft2", "condition": "atlantis"})
    found = {ax.get_title(): notes(ax) for ax in fig.axes if ax.get_visible()}
    assert found["Compass"] == ["no data: ft2-2"]
    assert all(not v for k, v in found.items() if k != "Compass")
    assert len(curves_of(next(a for a in fig.axes if a.get_title() == "Compass"))[0]) == 1
    path = tmp_path / "checkpoints.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_several_seeds_draw_one_mean_line_per_experiment(tmp_path: Path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    only = {"group": "ft1", "condition": "standard"}
    [(_, fig)], views = render_views("checkpoints", root, config, only=only, extra=("curves",))
    means, raw = views["seed_curves"], views["curves"]
    assert "mean of 2 seeds" in plots_helpers.title(fig)
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    lines, [base] = curves_of(ax)
    assert len(lines) == 2  # ft1-1 and ft1-2, not one per seed
    _, trained, _ = next(line for line in lines if line[2] == TRAINED.lower())
    part = raw[(raw["task"] == "distance") & (raw["condition"] == "standard")]
    by_step = part[part["experiment"].isin(["pt1_ft1-1", "pt1_seed2_ft1-1"])].groupby("step")["value"]
    assert np.allclose(trained, by_step.mean().to_numpy())
    view = means[(means["experiment"] == "pt1_ft1-1") & (means["task"] == "distance")
                  & (means["condition"] == "standard")]
    assert np.allclose(trained, view["value"]) and (view["n_seeds"] == 2).all()
    [spread] = plots_helpers.by_gid(ax, "spread")  # ± std at the last checkpoint of the trained line only
    [segment] = spread.get_segments()
    last = by_step.mean().index.max()
    assert segment[0, 0] == segment[1, 0] and last < segment[0, 0] < ax.get_xlim()[1]  # just right of the end
    assert sorted(segment[:, 1]) == pytest.approx([by_step.mean()[last] - by_step.std()[last],
                                                   by_step.mean()[last] + by_step.std()[last]])
    assert plots_helpers.in_view(*ax.get_ylim(), segment[:, 1])  # the whisker inside the axes
    assert not [c for c in ax.collections if c.get_gid() not in ("others", "spread", "spread_mean")]  # no bands
    last = [part[part["experiment"] == b].sort_values("step")["value"].iloc[-1] for b in ("pt1", "pt1_seed2")]
    assert base.get_ydata()[0] == pytest.approx(np.mean(last))


def test_a_seed_missing_on_a_task_is_noted_with_its_n(tmp_path: Path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    (root / "pt1_seed2_ft2-2" / "evals" / "atlantis_compass" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("checkpoints", root, config, only={"group": "ft2", "condition": "atlantis"})
    found = {ax.get_title(): notes(ax) for ax in fig.axes if ax.get_visible()}
    assert found["Compass"] == ["fewer seeds: ft2-2 (n=1)"]
    assert all(not v for k, v in found.items() if k != "Compass")


def test_log_panels_are_labelled_across_their_range(tmp_path: Path, config):
    """Readable values on every log panel: at least two labelled ticks, spread over at least 40%
    of the panel's (log) height, not two labels squeezed at one end."""
    write_tree(tmp_path, seeds=2, ft1=7, ft2=2, checkpoints=6)
    figs, _ = render("checkpoints", tmp_path, config)
    checked = 0
    for _, fig in figs:
        fig.canvas.draw()
        for ax in (a for a in fig.axes if a.get_visible() and a.get_yscale() == "log"):
            lo, hi = ax.get_ylim()
            ticks = [t.get_loc() for t in ax.yaxis.get_major_ticks() + ax.yaxis.get_minor_ticks()
                     if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi]
            assert len(ticks) >= 2, (ax.get_title(), ticks)
            spread = np.log(max(ticks) / min(ticks)) / np.log(hi / lo)
            assert spread >= 0.4, (ax.get_title(), ticks, (lo, hi))
            checked += 1
    assert checked == 4 * 4  # 4 log tasks on each of the 4 figures


def test_end_whiskers_stand_side_by_side_inside_the_axes_in_the_names_order(tmp_path: Path, config):
    """Six trained lines ending close together: six whiskers at six x positions right of the last
    checkpoint (left to right in the order the names read, top to bottom), every one within the y limits;
    every name joined to its line's end by its leader (the page checks)."""
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=21, checkpoints=4)
    [(_, fig)], _ = render("checkpoints", root, config, only={"group": "ft2", "condition": "standard"})
    plots_helpers.check_page(fig)
    checked = 0
    for ax in (a for a in fig.axes if a.get_visible()):
        [spread] = plots_helpers.by_gid(ax, "spread")
        segments = spread.get_segments()
        names = labels(ax)
        assert len(segments) == len(names) > 1
        xs = [seg[0, 0] for seg in segments]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)
        lo, hi = ax.get_ylim()
        assert plots_helpers.in_view(lo, hi, [v for seg in segments for v in seg[:, 1]])
        assert max(xs) < ax.get_xlim()[1]
        [centres] = plots_helpers.by_gid(ax, "spread_mean")
        at = np.asarray(centres.get_offsets())
        assert at[:, 0].tolist() == xs and (np.diff(at[:, 1]) <= 0).all()  # the highest ending line's first
        ends = sorted(ys[-1] for _, ys, c in curves_of(ax)[0] if c == TRAINED.lower())
        assert sorted(at[:, 1]) == pytest.approx(ends)
        checked += 1
    assert checked == 7


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_the_legend_fills_an_empty_grid_cell(small_tree, config, width):
    """Seven panels in a grid of three columns: the legend sits in the last row's empty cells, not under
    the panels; on one column (no empty cell) it stays under them."""
    import dataclasses
    [(_, fig)], _ = render("checkpoints", small_tree, dataclasses.replace(config, plot_width=width),
                           only={"group": "ft1", "condition": "standard"})
    fig.canvas.draw()
    [legend] = fig.legends
    box = legend.get_window_extent().transformed(fig.dpi_scale_trans.inverted())
    panels = [ax.get_position() for ax in fig.axes]
    lowest = min(p.y0 for p in panels) * fig.get_size_inches()[1]
    if width == 7.5:
        assert box.y0 >= lowest - 1e-6  # beside the last row's panel, not under it
        assert box.x0 > max(p.x1 for p in panels if p.y0 * fig.get_size_inches()[1] <= lowest + 1e-6) \
            * fig.get_size_inches()[0]
    else:
        assert box.y1 < lowest
    plots_helpers.check_page(fig, width)


@pytest.mark.parametrize("ft2", [4, 21], ids=["few experiments", "paper shape"])
def test_on_a_one_column_page_panels_share_one_x_axis_and_fit_the_page(tmp_path: Path, config, ft2: int):
    """At 3.5 in the panels stack in one column: one x axis (same range, labelled under the last panel
    only) and panels shortened so the figure fits a page's height (9 in), none below the minimum."""
    import dataclasses

    from plots.checkpoints import _MIN_PANEL_H, PAGE_HEIGHT

    root = tmp_path / "experiments"
    write_tree(root, seeds=1, ft1=3, ft2=ft2, checkpoints=4)
    figs, _ = render("checkpoints", root, dataclasses.replace(config, plot_width=3.5))
    assert figs
    for keys, fig in figs:
        fig.canvas.draw()
        panels = fig.axes
        assert len(panels) > 1 and all(ax.get_position().width == panels[0].get_position().width for ax in panels)
        shown = [ax for ax in panels if any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())]
        assert shown == [panels[-1]], keys
        assert [ax.get_xlabel() for ax in panels] == [""] * (len(panels) - 1) + ["training step"]
        assert len({ax.get_xlim() for ax in panels}) == 1, keys
        height = fig.get_size_inches()[1]
        panel_h = [ax.get_position().height * height for ax in panels]
        assert height <= PAGE_HEIGHT + 1e-6 and min(panel_h) >= _MIN_PANEL_H - 1e-6, keys
        plots_helpers.check_page(fig, 3.5)


def test_runs_nobody_described_are_lines_in_their_own_colours(small_tree, config, undescribed_config):
    """Without `training:` no line is trained (vermillion, named at its end) or an untrained blue one:
    each run is a line in its own colour and marker, named in the legend; the panels keep no room for
    end names, so they are wider than the sweep's."""
    from plots.style import run_style
    [(_, sweep)], _ = render("checkpoints", small_tree, config, only={"group": "ft1", "condition": "standard"})
    [(_, fig)], curves = render("checkpoints", small_tree, undescribed_config,
                                only={"group": "ft1", "condition": "standard"})
    want = {f"run:pt1_ft1-{i + 1}": (to_hex(run_style(i)[0]), run_style(i)[1]) for i in range(2)}
    for ax in [a for a in fig.axes if a.get_visible()]:
        runs = {ln.get_gid(): (to_hex(ln.get_color()), ln.get_marker()) for ln in ax.lines
                if (ln.get_gid() or "").startswith("run:")}
        assert runs == want
        assert plots_helpers.by_gid(ax, "others") == [] and labels(ax) == []
        lines, base = curves_of(ax)
        assert not {TRAINED.lower(), UNTRAINED.lower()} & {c for _, _, c in lines} and len(base) == 1
        task = next(t for t, info in config.tasks.items() if info.label == ax.get_title())
        mine = next(ln for ln in ax.lines if ln.get_gid() == "run:pt1_ft1-2")
        part = curves[(curves["experiment"] == "pt1_ft1-2") & (curves["task"] == task)
                      & (curves["condition"] == "standard")].sort_values("step")
        assert np.allclose(mine.get_ydata(), part["value"])
    legend = [t.get_text() for leg in fig.legends for t in leg.get_texts()]
    assert legend == ["ft1-1", "ft1-2", "baseline at its last checkpoint"]
    width = lambda f: f.axes[0].get_position().width  # noqa: E731
    assert width(fig) > width(sweep)
    plots_helpers.check_page(fig)
