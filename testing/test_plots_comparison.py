"""The comparison figure: raw metric per task, a point per seed-free experiment (mean over seeds) with a
line of ± std across seeds and a dot per seed, the mean of the seeds' baselines as a dashed line, on an
axis zoomed to the data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from analysis.figure_data import experiment_order
from testing_helpers import render_views
from plots.style import TRAINED, UNTRAINED, experiment_labels
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path: Path) -> Path:
    """Seeds 1 and 2 of pt1 with 2 ft1 and 2 ft2 members each (pt1_ft1-1 and pt1_seed2_ft1-1, ...)."""
    root = tmp_path / "seeded"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=2)
    return root


def render(name, root, config, only):
    """The figure of one slice, drawn as the runner draws it, and the seed views it is drawn from."""
    [(_, fig)], views = render_views(name, root, config, only, extra=("seed_scores", "seed_points"))
    return fig, views


def unlink(root: Path, experiment: str, folder: str) -> None:
    (root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json").unlink()


def panels(fig):
    return [ax for ax in fig.axes if ax.get_visible()]


def row_labels(fig):
    """The experiment labels, top to bottom (on the first panel; the others show the same rows unlabelled)."""
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def cut(view, group, condition, task):
    """Rows of a view for one group, condition and task."""
    return view[(view["group"] == group) & (view["condition"] == condition) & (view["task"] == task)]


@pytest.mark.parametrize("group, condition", [("ft1", "standard"), ("ft2", "atlantis")])
def test_points_intervals_and_dots_are_the_seed_views(seeded_tree, config, group, condition):
    fig, views = render("comparison", seeded_tree, config, {"group": group, "condition": condition})
    means, points = views["seed_scores"], views["seed_points"]
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [t.label for t in config.tasks.values()]
    for ax, (task, info) in zip(axes, config.tasks.items()):
        want = cut(means, group, condition, task).set_index("experiment")
        order = experiment_order(list(want.index), config)
        assert row_labels(fig) == experiment_labels(order, config) == [f"{group}-1", f"{group}-2"]
        assert not ax.containers  # no bars: a raw metric on a zoomed (or log) axis has no meaningful zero
        drawn = plots_helpers.means(ax)
        assert [drawn[i][0] for i in range(2)] == pytest.approx(list(want.loc[order, "value_mean"]))
        colours = [TRAINED if t else UNTRAINED for t in want.loc[order, "trained"]]
        assert [drawn[i][1] for i in range(2)] == [to_hex(c) for c in colours]
        lines = plots_helpers.intervals(ax)
        for i, name in enumerate(order):
            mean, std = want.loc[name, "value_mean"], want.loc[name, "value_std"]
            if mean - std > 0 or not info.log:
                assert lines[i] == pytest.approx((mean - std, mean + std))
        seeds = cut(points, group, condition, task)
        got = plots_helpers.seeds(ax)
        assert len(got) == len(seeds) == 4  # 2 experiments x 2 seeds
        assert sorted(got[:, 1]) == pytest.approx(sorted(seeds["value"]))
        for i, name in enumerate(order):  # each seed's dot sits on its experiment's row
            near = got[np.abs(got[:, 0] - i) < 0.4, 1]
            assert sorted(near) == pytest.approx(sorted(seeds.loc[seeds["model"] == name, "value"]))
        base = cut(means, "baseline", condition, task)
        dashed = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
        assert dashed == pytest.approx(base["value_mean"].tolist())  # mean of pt1 and pt1_seed2
        lo, hi = ax.get_xlim()  # zoomed to the data, and everything drawn is in view
        plotted = [*want["value_mean"], *seeds["value"], *dashed, *(v for seg in lines.values() for v in seg)]
        assert plots_helpers.in_view(lo, hi, plotted)
        assert ax.get_xscale() == ("log" if info.log else "linear")
        assert info.unit in ax.get_xlabel()
    title = plots_helpers.title(fig)
    assert config.condition_label(condition) in title and "mean of 2 seeds" in title
    assert not [t for t in row_labels(fig) if "n=" in t]  # every row has 2 seeds: said once, in the title


def test_accuracy_axes_are_zoomed_to_the_effects(seeded_tree, config):
    """The 2-4 point effects that are the story fill the panel instead of the 0.8 in front of them."""
    fig, views = render("comparison", seeded_tree, config, {"group": "ft1", "condition": "standard"})
    ax = next(a for a in panels(fig) if a.get_title() == "Crossing")
    lo, hi = ax.get_xlim()
    shown = cut(views["seed_points"], "ft1", "standard", "crossing")["value"]
    assert lo > 0 and (hi - lo) < 3 * (shown.max() - shown.min()) + 0.1


def test_one_seed_tree_has_no_intervals_dots_or_n(small_tree, config):
    fig, views = render("comparison", small_tree, config, {"group": "ft2", "condition": "standard"})
    scores = views["seed_scores"]
    for ax, task in zip(panels(fig), config.tasks):
        want = cut(scores, "ft2", "standard", task)
        assert [x for x, _ in plots_helpers.means(ax).values()] == pytest.approx(list(want["value_mean"]))
        assert plots_helpers.intervals(ax) == {} and len(plots_helpers.seeds(ax)) == 0
    texts = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() + ax.texts]
    texts += [t.get_text() for t in fig.legends[0].get_texts()] + [plots_helpers.title(fig)]
    assert not [t for t in texts if "n=" in t or "seed" in t]


def test_a_missing_evaluation_has_no_point_only_na(small_tree, config, tmp_path: Path):
    unlink(small_tree, "pt1_ft1-2", "crossing")
    fig, _ = render("comparison", small_tree, config, {"group": "ft1", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Crossing")
    assert list(plots_helpers.means(ax)) == [0]  # ft1-1 only: no point (never a zero) for ft1-2
    [na] = ax.texts
    assert na.get_text() == "n/a" and na.get_position()[1] == 1  # on ft1-2's row
    assert not any(a.texts for a in panels(fig) if a is not ax)
    assert "n/a: missing evaluation" in [t.get_text() for t in fig.legends[0].get_texts()]
    path = tmp_path / "comparison.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_one_seed_missing_lowers_n_both_missing_is_na(seeded_tree, config):
    unlink(seeded_tree, "pt1_seed2_ft1-1", "inside")  # ft1-1: seed 1 only
    unlink(seeded_tree, "pt1_ft1-2", "inside")
    unlink(seeded_tree, "pt1_seed2_ft1-2", "inside")  # ft1-2: no seed at all
    fig, views = render("comparison", seeded_tree, config, {"group": "ft1", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Inside")
    seed1 = views["seed_points"].query("experiment == 'pt1_ft1-1' and condition == 'standard' and task == 'inside'")
    assert plots_helpers.means(ax)[0][0] == pytest.approx(seed1["value"].item())
    assert 1 not in plots_helpers.means(ax)
    assert plots_helpers.intervals(ax) == {}  # std of one seed is undefined: no interval, not a zero one
    assert plots_helpers.seeds(ax)[:, 1].tolist() == pytest.approx([seed1["value"].item()])
    assert [t.get_text() for t in ax.texts] == ["n/a"]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_runs_nobody_described_are_drawn_in_their_own_colours(small_tree, undescribed_config):
    """Without `training:` in rules.yaml no task is trained or untrained for ft1-1 and ft1-2: each is a
    run in its own colour and marker (run_style by its index), named in the legend and in its colour at
    its row, with no vermillion or blue anywhere."""
    from matplotlib.colors import to_hex as hexed

    from plots.style import run_style
    fig, _ = render("comparison", small_tree, undescribed_config, {"group": "ft1", "condition": "standard"})
    assert row_labels(fig) == ["ft1-1", "ft1-2"]
    want = {row: run_style(row) for row in range(2)}
    for ax in panels(fig):
        drawn = plots_helpers.means(ax)
        assert {row: colour for row, (_, colour) in drawn.items()} == {r: hexed(c) for r, (c, _) in want.items()}
        assert plots_helpers.mean_markers(ax) == {r: m for r, (_, m) in want.items()}
        segments = [hexed(c) for coll in plots_helpers.by_gid(ax, "interval") for c in coll.get_colors()]
        assert not {hexed(TRAINED), hexed(UNTRAINED)} & ({c for _, c in drawn.values()} | set(segments))
    legend = legend_texts(fig)
    assert legend[:2] == ["ft1-1", "ft1-2"] and "baseline" in legend
    assert "trained on this task" not in legend and "not trained on it" not in legend
    handles = [h for leg in fig.legends for h in leg.legend_handles][:2]
    assert [(hexed(h.get_color()), h.get_marker()) for h in handles] == [(hexed(c), m) for c, m in want.values()]
    assert [hexed(t.get_color()) for t in fig.axes[0].get_yticklabels()] == [hexed(c) for c, _ in want.values()]


def test_trainer_runs_scored_against_a_baseline_keep_their_colour(scored_runs):
    """Runs the naming pattern does not describe, scored against `base`: alpha, beta, gamma are runs 0-2 of
    their group in the comparison, the normalized figure and the checkpoint curves alike."""
    from matplotlib.colors import to_hex as hexed

    from plots.style import run_style
    root, cfg = scored_runs
    fig, _ = render("comparison", root, cfg, {"group": "hf", "condition": "eval"})
    assert row_labels(fig) == ["alpha", "beta", "gamma"]
    colours = [hexed(run_style(i)[0]) for i in range(3)]
    for ax in panels(fig):
        assert [plots_helpers.means(ax)[i][1] for i in range(3)] == colours
    assert legend_texts(fig)[:3] == ["alpha", "beta", "gamma"]
    [(_, norm)], _ = render_views("normalized", root, cfg, {"group": "hf", "condition": "eval"})
    assert [plots_helpers.means(panels(norm)[0])[i][1] for i in range(3)] == colours
    [(_, curves)], _ = render_views("checkpoints", root, cfg, {"group": "hf", "condition": "eval"})
    lines = {ln.get_gid(): hexed(ln.get_color()) for ax in curves.axes for ln in ax.lines
             if (ln.get_gid() or "").startswith("run:")}
    assert lines == {"run:alpha": colours[0], "run:beta": colours[1], "run:gamma": colours[2]}
