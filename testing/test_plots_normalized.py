"""The normalized figure: the condition's unclipped score per task (toward perfect; gap-closing out of
distribution), one point per seed-free experiment (mean over seeds, each seed scored against its own
baseline), a line of ± std and a dot per seed, on one x axis shared by every task."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from analysis.figure_data import score_for
from testing_helpers import render_views
from plots.registry import discover
from plots.style import TRAINED, UNTRAINED, experiment_labels
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path: Path) -> Path:
    """Seeds 1 and 2 of pt1 with 2 ft1 and 2 ft2 members each."""
    root = tmp_path / "seeded"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=2)
    return root


def render(name, root, config, only=None):
    """Figures per slice, plus the seed views they were cut from."""
    return render_views(name, root, config, only, extra=("seed_scores", "seed_points"))


def row_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def means(fig):
    """{(task label, row label): (x, colour hex)} of the mean points."""
    rows = row_labels(fig)
    return {(ax.get_title(), rows[r]): v for ax in fig.axes for r, v in plots_helpers.means(ax).items()}


def intervals(fig):
    """{(task label, row label): (low, high)} of the interval lines."""
    rows = row_labels(fig)
    return {(ax.get_title(), rows[r]): v for ax in fig.axes for r, v in plots_helpers.intervals(ax).items()}


def dots(fig):
    """{task label: array of (row, x)} of the seed dots."""
    return {ax.get_title(): plots_helpers.seeds(ax) for ax in fig.axes}


def texts(fig):
    """Every string on the figure: tick labels, annotations, legend, title."""
    out = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() + ax.get_xticklabels() + ax.texts]
    return out + [t.get_text() for t in fig.legends[0].get_texts()] + [plots_helpers.title(fig)]


def expected(view, group, condition, config, column):
    """{(task label, row label): value} of the seed_scores view."""
    rows = view[(view["group"] == group) & (view["condition"] == condition)]
    return {(config.tasks[t].label, label): v
            for t, label, v in zip(rows["task"], experiment_labels(list(rows["experiment"]), config), rows[column])}


SCORE = {"standard": "score_toward_perfect", "atlantis": "score_gap_closing"}


def test_a_file_per_group_and_condition_with_a_panel_per_task(small_tree, config):
    figs, _ = render("normalized", small_tree, config)
    assert [tuple(k.values()) for k, _ in figs] == [("ft1", "atlantis"), ("ft1", "standard"),
                                                   ("ft2", "atlantis"), ("ft2", "standard")]
    assert discover()["normalized"].path_for(figs[0][0], "png") == "normalized/ft1_atlantis.png"
    for keys, fig in figs:
        assert [ax.get_title() for ax in fig.axes] == [t.label for t in config.tasks.values()]
        assert all(len(plots_helpers.means(ax)) == 2 for ax in fig.axes)  # 2 experiments, no baseline row
        title = plots_helpers.title(fig)
        assert keys["group"] in title and config.condition_label(keys["condition"]) in title
        # the score the condition is judged by, named as in the heatmap and the prediction figure
        assert score_for(config, keys["condition"]).name in title and "normalized" not in title


@pytest.mark.parametrize("group, condition", [("ft1", "standard"), ("ft2", "atlantis")])
def test_points_intervals_and_dots_are_the_seed_views(seeded_tree, config, group, condition):
    [(_, fig)], views = render("normalized", seeded_tree, config, only={"group": group, "condition": condition})
    scores, points = views["seed_scores"], views["seed_points"]
    score = SCORE[condition]
    assert row_labels(fig) == [f"{group}-1", f"{group}-2"]  # seeds of one experiment are one row
    drawn, spread = means(fig), intervals(fig)
    want = expected(scores, group, condition, config, f"{score}_mean")
    std = expected(scores, group, condition, config, f"{score}_std")
    assert drawn.keys() == want.keys() == spread.keys()
    assert np.allclose([drawn[k][0] for k in want], list(want.values()))
    assert np.allclose([(lo + hi) / 2 for lo, hi in (spread[k] for k in want)], list(want.values()))
    assert np.allclose([(hi - lo) / 2 for lo, hi in (spread[k] for k in want)], [std[k] for k in want])
    seeds = points[(points["group"] == group) & (points["condition"] == condition)]
    for task, info in config.tasks.items():
        per_task = seeds[seeds["task"] == task]
        got = dots(fig)[info.label]
        assert len(got) == len(per_task) == 4  # 2 experiments x 2 seeds
        assert sorted(got[:, 1]) == pytest.approx(sorted(per_task[score]))
    trained = {(config.tasks[t].label, label) for t, label, tr in
               zip(scores["task"], experiment_labels(list(scores["experiment"]), config), scores["trained"]) if tr}
    for key, (_, colour) in drawn.items():
        assert colour == to_hex(TRAINED if key in trained else UNTRAINED)
    assert "mean of 2 seeds" in plots_helpers.title(fig)


def test_one_shared_axis_with_every_value_and_the_baseline_in_view(seeded_tree, config):
    [(_, fig)], views = render("normalized", seeded_tree, config, only={"group": "ft2", "condition": "standard"})
    limits = {ax.get_xlim() for ax in fig.axes}
    assert len(limits) == 1  # the score exists to compare tasks: one x range for all of them
    [(lo, hi)] = limits
    everything = [v for ax in fig.axes for v in (*(x for x, _ in plots_helpers.means(ax).values()),
                                                 *(e for seg in plots_helpers.intervals(ax).values() for e in seg),
                                                 *plots_helpers.seeds(ax)[:, 1])]
    assert plots_helpers.in_view(lo, hi, everything + [0.0])
    assert hi - lo < 1.3 * (max(everything + [0.0]) - min(everything + [0.0]))  # zoomed: nothing forced in
    solid = {ln.get_xdata()[0] for ax in fig.axes for ln in ax.lines if ln.get_linestyle() == "-"}
    assert solid == {0.0}
    if hi < 1:  # 1 = perfect is drawn only where the data reach it
        assert not [ln for ax in fig.axes for ln in ax.lines if ln.get_linestyle() == ":"]


def test_one_seed_tree_has_no_intervals_dots_or_n(small_tree, config):
    [(_, fig)], views = render("normalized", small_tree, config, only={"group": "ft2", "condition": "atlantis"})
    want = expected(views["seed_scores"], "ft2", "atlantis", config, "score_gap_closing_mean")
    drawn = means(fig)
    assert drawn.keys() == want.keys()
    assert np.allclose([drawn[k][0] for k in want], list(want.values()))  # unclipped
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        assert plots_helpers.in_view(lo, hi, [0.0, *want.values()])
    assert intervals(fig) == {} and all(len(d) == 0 for d in dots(fig).values())
    assert not [t for t in texts(fig) if "n=" in t or "seed" in t]


def test_seed_counts_that_differ_are_in_the_row_labels(seeded_tree, config):
    shutil.rmtree(seeded_tree / "pt1_seed2_ft1-2")  # ft1-2 ran with seed 1 only
    [(_, fig)], views = render("normalized", seeded_tree, config, only={"group": "ft1", "condition": "standard"})
    assert row_labels(fig) == ["ft1-1 (n=2)", "ft1-2 (n=1)"]
    assert {row for _, row in intervals(fig)} == {"ft1-1 (n=2)"}
    assert all(len(d) == 2 for d in dots(fig).values())  # the one-seed experiment gets no dots
    assert "1–2 seeds" in plots_helpers.title(fig)


def test_a_missing_evaluation_has_no_point_and_says_na(small_tree, config, tmp_path: Path):
    (small_tree / "pt1_ft2-1" / "evals" / "inside" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("normalized", small_tree, config, only={"group": "ft2", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Inside")
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    assert ("Inside", "ft2-1") not in means(fig) and ("Inside", "ft2-2") in means(fig)
    path = tmp_path / "normalized.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_runs_nobody_described_are_in_their_own_colours_seeds_and_all(seeded_tree, undescribed_config):
    """Two seeds of ft2-1 and ft2-2, nobody saying what they trained on: each point, its ± std line and
    its legend entry in the run's colour, never vermillion or blue; the seeds' dots stay grey."""
    from plots.style import SEED_GREY, run_style
    [(_, fig)], _ = render("normalized", seeded_tree, undescribed_config, {"group": "ft2", "condition": "atlantis"})
    colours = {label: to_hex(run_style(i)[0]) for i, label in enumerate(["ft2-1", "ft2-2"])}
    drawn = means(fig)
    assert len(drawn) == 2 * len(undescribed_config.tasks)
    assert {key: c for key, (_, c) in drawn.items()} == {(t.label, r): colours[r]
                                                         for t in undescribed_config.tasks.values() for r in colours}
    for ax in fig.axes:
        for coll in plots_helpers.by_gid(ax, "interval"):
            assert {to_hex(c) for c in coll.get_colors()} <= set(colours.values())
        for coll in plots_helpers.by_gid(ax, "seeds"):
            assert {to_hex(c) for c in coll.get_facecolors()} == {to_hex(SEED_GREY)}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["ft2-1", "ft2-2"] and "± std across seeds" in legend
    assert not {"trained on this task", "not trained on it"} & set(legend)


def test_a_family_training_leaves_out_is_drawn_beside_the_described_one(small_tree, config):
    """training: names ft1-1 only: ft1-1 keeps vermillion (distance) and blue, ft1-2 is a run in its own
    colour; the legend has both meanings."""
    import dataclasses

    from plots.style import run_style
    partial = dataclasses.replace(config, training={"ft1": {1: ("distance",)}})
    [(_, fig)], _ = render("normalized", small_tree, partial, {"group": "ft1", "condition": "standard"})
    drawn = means(fig)
    assert drawn[("Distance", "ft1-1")][1] == to_hex(TRAINED) and drawn[("Angle", "ft1-1")][1] == to_hex(UNTRAINED)
    assert {c for (_, row), (_, c) in drawn.items() if row == "ft1-2"} == {to_hex(run_style(0)[0])}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:3] == ["trained on this task", "not trained on it", "ft1-2"]
