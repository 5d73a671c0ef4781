"""The comparison figure: raw metric per task, a bar per seed-free experiment (mean over seeds) with a
whisker of the std across seeds and a dot per seed, the mean of the seeds' baselines as a dashed line."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.container import BarContainer, ErrorbarContainer

from analysis.figure_data import experiment_order
from testing_helpers import render_views
from plots.style import experiment_labels, sparse_log_ticks
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


def bars_by_label(ax, rows):
    """{row label: bar length} of a panel (bars sit on integer y positions, from 0)."""
    [bars] = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert all(b.get_x() == 0 for b in bars)
    return {rows[round(b.get_y() + b.get_height() / 2)]: b.get_width() for b in bars}


def whiskers(ax):
    """{row position: (low, high)} of the panel's error bars ({} when it has none)."""
    found = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(found) <= 1  # one errorbar call per panel
    if not found:
        return {}
    segments = found[0].lines[2][0].get_segments()
    return {round(s[0][1]): (s[0][0], s[1][0]) for s in segments}


def dots(ax):
    """(row position + offset, value) of the seed dots: one scatter per panel at most."""
    found = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert len(found) <= 1
    return np.asarray(found[0].get_offsets())[:, ::-1] if found else np.empty((0, 2))


def cut(view, group, condition, task):
    """Rows of a view for one group, condition and task."""
    return view[(view["group"] == group) & (view["condition"] == condition) & (view["task"] == task)]


@pytest.mark.parametrize("group, condition", [("ft1", "standard"), ("ft2", "atlantis")])
def test_bars_whiskers_and_dots_are_the_seed_views(seeded_tree, config, group, condition):
    fig, views = render("comparison", seeded_tree, config, {"group": group, "condition": condition})
    means, points = views["seed_scores"], views["seed_points"]
    axes = panels(fig)
    assert [ax.get_title() for ax in axes] == [t.label for t in config.tasks.values()]
    for ax, (task, info) in zip(axes, config.tasks.items()):
        want = cut(means, group, condition, task).set_index("experiment")
        order = experiment_order(list(want.index), config)
        labels = experiment_labels(order, config)
        assert row_labels(fig) == labels == [f"{group}-1", f"{group}-2"]  # seeds of one experiment: one row
        assert bars_by_label(ax, labels) == pytest.approx(dict(zip(labels, want.loc[order, "value_mean"])))
        drawn = whiskers(ax)
        assert sorted(drawn) == [0, 1]
        for x, name in enumerate(order):
            lo, hi = drawn[x]
            assert (lo + hi) / 2 == pytest.approx(want.loc[name, "value_mean"])
            assert (hi - lo) / 2 == pytest.approx(want.loc[name, "value_std"])
        seeds = cut(points, group, condition, task)
        assert len(seeds) == 4  # 2 experiments x 2 seeds
        got = dots(ax)
        assert len(got) == len(seeds)
        assert sorted(got[:, 1]) == pytest.approx(sorted(seeds["value"]))
        for x, name in enumerate(order):  # each seed's dot sits on its experiment's bar
            near = got[np.abs(got[:, 0] - x) < 0.4, 1]
            assert sorted(near) == pytest.approx(sorted(seeds.loc[seeds["model"] == name, "value"]))
        base = cut(means, "baseline", condition, task)
        dashed = [ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == "--"]
        assert dashed == pytest.approx(base["value_mean"].tolist())  # mean of pt1 and pt1_seed2
        assert ax.get_xscale() == ("log" if info.log else "linear")
        assert info.unit in ax.get_xlabel()
    assert config.condition_label(condition) in fig.get_suptitle() and "mean of 2 seeds" in fig.get_suptitle()


def test_one_seed_tree_has_no_whiskers_dots_or_n(small_tree, config):
    fig, views = render("comparison", small_tree, config, {"group": "ft2", "condition": "standard"})
    scores = views["seed_scores"]
    for ax, task in zip(panels(fig), config.tasks):
        want = cut(scores, "ft2", "standard", task)
        assert bars_by_label(ax, row_labels(fig)) == pytest.approx(dict(zip(["ft2-1", "ft2-2"], want["value_mean"])))
        assert whiskers(ax) == {} and len(dots(ax)) == 0
        assert not [c for c in ax.collections if isinstance(c, LineCollection)]
    texts = [t.get_text() for ax in fig.axes for t in ax.get_yticklabels() + ax.texts]
    texts += [t.get_text() for t in fig.legends[0].get_texts()] + [fig.get_suptitle()]
    assert not [t for t in texts if "n=" in t or "seed" in t]


def test_a_missing_evaluation_has_no_bar_only_a_hatch_and_na(small_tree, config, tmp_path: Path):
    unlink(small_tree, "pt1_ft1-2", "crossing")
    fig, _ = render("comparison", small_tree, config, {"group": "ft1", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Crossing")
    lengths = bars_by_label(ax, row_labels(fig))
    assert list(lengths) == ["ft1-1"] and lengths["ft1-1"] > 0  # no zero-length bar for ft1-2
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 1
    assert hatched[0].get_y() + hatched[0].get_height() / 2 == pytest.approx(1)  # on ft1-2's row
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    others = [a for a in panels(fig) if a is not ax]
    assert not any(p.get_hatch() for a in others for p in a.patches)
    assert not any(a.texts for a in others)
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
    assert bars_by_label(ax, row_labels(fig)) == pytest.approx({"ft1-1": seed1["value"].item()})
    assert whiskers(ax) == {}  # std of one seed is undefined: no whisker, not a zero one
    assert dots(ax)[:, 1].tolist() == pytest.approx([seed1["value"].item()])
    assert [t.get_text() for t in ax.texts] == ["n/a"]
    assert len([p for p in ax.patches if p.get_hatch()]) == 1


@pytest.mark.parametrize("limits, labels", [
    ((17, 60), ["20", "30", "50"]),  # less than a decade: plain numbers between the powers of ten
    ((2, 4.3), ["2", "2.5", "3", "4"]),
    ((5000, 2e5), ["10k", "30k", "100k"]),
    ((1e-2, 1e6), ["0.01", "10", "10k"]),  # many decades: every third power of ten
])
def test_log_axes_get_a_few_readable_labels(limits, labels):
    fig, ax = plt.subplots(figsize=(1.9, 2))
    ax.set_xscale("log")
    ax.set_xlim(*limits)
    sparse_log_ticks(ax.xaxis)
    fig.canvas.draw()
    assert [t.get_text() for t in ax.get_xticklabels() if t.get_text()] == labels
    assert not [t for t in ax.get_xticklabels(minor=True) if t.get_text()]
