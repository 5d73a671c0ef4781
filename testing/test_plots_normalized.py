"""The normalized figure: unclipped score toward perfect per task, one bar per seed-free experiment (mean
over seeds, each seed scored against its own baseline), a whisker of the std and a dot per seed."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from matplotlib.collections import PathCollection
from matplotlib.colors import to_rgb
from matplotlib.container import BarContainer, ErrorbarContainer

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


def bars(fig):
    """{(task label, row label): (bar width, colour)} read back from the figure."""
    rows = row_labels(fig)
    out = {}
    for ax in fig.axes:
        for container in ax.containers:
            if isinstance(container, BarContainer):
                for bar in container:
                    row = rows[round(bar.get_y() + bar.get_height() / 2)]
                    out[(ax.get_title(), row)] = (bar.get_width(), bar.get_facecolor())
    return out


def whiskers(fig):
    """{(task label, row label): (low, high)} of the error bars (one errorbar call per panel at most)."""
    rows = row_labels(fig)
    out = {}
    for ax in fig.axes:
        found = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
        assert len(found) <= 1
        for seg in (found[0].lines[2][0].get_segments() if found else []):
            out[(ax.get_title(), rows[round(seg[0][1])])] = (seg[0][0], seg[1][0])
    return out


def dots(fig):
    """{task label: array of (x, y)} of the seed dots (one scatter per panel at most)."""
    out = {}
    for ax in fig.axes:
        found = [c for c in ax.collections if isinstance(c, PathCollection)]
        assert len(found) <= 1
        out[ax.get_title()] = np.asarray(found[0].get_offsets()) if found else np.empty((0, 2))
    return out


def texts(fig):
    """Every string on the figure: tick labels, annotations, legend, title."""
    out = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() + ax.get_xticklabels() + ax.texts]
    return out + [t.get_text() for t in fig.legends[0].get_texts()] + [fig.get_suptitle()]


def expected(view, group, condition, config, column="score_toward_perfect_mean"):
    """{(task label, row label): value} of the seed_scores view."""
    rows = view[(view["group"] == group) & (view["condition"] == condition)]
    return {(config.tasks[t].label, label): v
            for t, label, v in zip(rows["task"], experiment_labels(list(rows["experiment"]), config), rows[column])}


def test_a_file_per_group_and_condition_with_a_panel_per_task(small_tree, config):
    figs, _ = render("normalized", small_tree, config)
    assert [tuple(k.values()) for k, _ in figs] == [("ft1", "atlantis"), ("ft1", "standard"),
                                                   ("ft2", "atlantis"), ("ft2", "standard")]
    assert discover()["normalized"].path_for(figs[0][0], "png") == "normalized/ft1_atlantis.png"
    for keys, fig in figs:
        axes = fig.axes
        assert [ax.get_title() for ax in axes] == [t.label for t in config.tasks.values()]
        assert all(len(ax.containers[0]) == 2 for ax in axes)  # 2 experiments, no baseline bar
        title = fig.get_suptitle()
        assert keys["group"] in title and config.condition_label(keys["condition"]) in title
        assert "0 = baseline, 1 = perfect" in title


@pytest.mark.parametrize("group, condition", [("ft1", "standard"), ("ft2", "atlantis")])
def test_bars_whiskers_and_dots_are_the_seed_views(seeded_tree, config, group, condition):
    [(_, fig)], views = render("normalized", seeded_tree, config, only={"group": group, "condition": condition})
    means, points = views["seed_scores"], views["seed_points"]
    assert row_labels(fig) == [f"{group}-1", f"{group}-2"]  # seeds of one experiment are one row
    drawn, spread = bars(fig), whiskers(fig)
    want = expected(means, group, condition, config)
    std = expected(means, group, condition, config, "score_toward_perfect_std")
    assert drawn.keys() == want.keys() == spread.keys()
    assert np.allclose([drawn[k][0] for k in want], list(want.values()))
    assert np.allclose([(lo + hi) / 2 for lo, hi in (spread[k] for k in want)], list(want.values()))
    assert np.allclose([(hi - lo) / 2 for lo, hi in (spread[k] for k in want)], [std[k] for k in want])
    seeds = points[(points["group"] == group) & (points["condition"] == condition)]
    for task, info in config.tasks.items():
        per_task = seeds[seeds["task"] == task]
        got = dots(fig)[info.label]
        assert len(got) == len(per_task) == 4  # 2 experiments x 2 seeds
        assert sorted(got[:, 0]) == pytest.approx(sorted(per_task["score_toward_perfect"]))
    trained = {(config.tasks[t].label, label) for t, label, tr in
               zip(means["task"], experiment_labels(list(means["experiment"]), config), means["trained"]) if tr}
    for key, (_, colour) in drawn.items():
        assert np.allclose(colour[:3], to_rgb(TRAINED if key in trained else UNTRAINED))
    assert "mean of 2 seeds" in fig.get_suptitle()


def test_one_seed_tree_has_no_whiskers_dots_or_n(small_tree, config):
    [(_, fig)], views = render("normalized", small_tree, config, only={"group": "ft2", "condition": "atlantis"})
    want = expected(views["seed_scores"], "ft2", "atlantis", config)
    drawn = bars(fig)
    assert drawn.keys() == want.keys()
    assert np.allclose([drawn[k][0] for k in want], list(want.values()))  # unclipped
    assert min(want.values()) < 0  # the fixture has negative scores, and they are drawn as such
    for ax in fig.axes:
        lo, hi = ax.get_xlim()
        panel = [v for (task, _), v in want.items() if task == ax.get_title()]
        assert lo <= min(0, *panel) and hi >= max(1, *panel)  # 0, 1 and every bar in view
    assert whiskers(fig) == {} and all(len(d) == 0 for d in dots(fig).values())
    assert not [t for t in texts(fig) if "n=" in t or "seed" in t]


def test_seed_counts_that_differ_are_in_the_row_labels(seeded_tree, config):
    shutil.rmtree(seeded_tree / "pt1_seed2_ft1-2")  # ft1-2 ran with seed 1 only
    [(_, fig)], views = render("normalized", seeded_tree, config, only={"group": "ft1", "condition": "standard"})
    assert row_labels(fig) == ["ft1-1 (n=2)", "ft1-2 (n=1)"]
    assert {row for _, row in whiskers(fig)} == {"ft1-1 (n=2)"}
    assert all(len(d) == 2 for d in dots(fig).values())  # the one-seed experiment gets no dots
    assert "1–2 seeds" in fig.get_suptitle()


def test_a_missing_evaluation_has_no_bar_and_says_na(small_tree, config, tmp_path: Path):
    (small_tree / "pt1_ft2-1" / "evals" / "inside" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("normalized", small_tree, config, only={"group": "ft2", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Inside")
    assert len(ax.containers[0]) == 1
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    assert ("Inside", "ft2-1") not in bars(fig) and ("Inside", "ft2-2") in bars(fig)
    path = tmp_path / "normalized.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
