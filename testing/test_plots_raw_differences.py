"""The forgetting view: in-distribution change per task, accuracy points or fold change on a log axis, the
fold change averaged geometrically over seeds, each seed a dot, one x range per kind of change."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import plots_helpers
from testing_helpers import render
from plots.registry import OutputContext, discover
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path: Path) -> Path:
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    return root


def panel(fig, label):
    return next(a for a in fig.axes if a.get_title() == label)


def test_one_file_per_group_in_distribution_only(small_tree, config):
    figs, _ = render("raw_differences", small_tree, config)
    assert [k for k, _ in figs] == [{"group": "ft1"}, {"group": "ft2"}]
    assert discover()["raw_differences"].path_for({"group": "ft2"}, "png") == "raw_differences/ft2.png"
    for keys, fig in figs:
        assert [ax.get_title() for ax in fig.axes] == [t.label for t in config.tasks.values()]
        assert "Standard" in plots_helpers.title(fig) and "Atlantis" not in plots_helpers.title(fig)
        assert all(len(plots_helpers.means(ax)) == 2 for ax in fig.axes)
        assert all(not ax.containers for ax in fig.axes)  # points, no bars


def independent_change(points, group, task, kind):
    """{experiment: (centre, low, high, seeds)} computed here from the per-seed rows: accuracy points
    (x100) with the arithmetic mean ± std, fold change with the geometric mean and geometric ± std."""
    rows = points[(points["group"] == group) & (points["condition"] == "standard") & (points["task"] == task)]
    out = {}
    for model, part in rows.groupby("model"):
        if kind == "accuracy":
            v = part["raw_diff"].to_numpy() * 100
            m, s = v.mean(), v.std(ddof=1) if len(v) > 1 else np.nan
            out[model] = (m, m - s, m + s, sorted(v))
        else:
            logs = np.log(part["fold_change"].to_numpy())
            m, s = logs.mean(), logs.std(ddof=1) if len(logs) > 1 else np.nan
            out[model] = (np.exp(m), np.exp(m - s), np.exp(m + s), sorted(part["fold_change"]))
    return out


@pytest.mark.parametrize("kind, scale, origin", [("accuracy", "linear", 0.0), ("error", "log", 1.0)])
def test_points_intervals_and_seed_dots(seeded_tree, config, kind, scale, origin):
    [(_, fig)], points = render("raw_differences", seeded_tree, config, only={"group": "ft2"})
    assert "mean of 2 seeds" in plots_helpers.title(fig)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ft2-1", "ft2-2"]  # n once, in the title
    for task, info in config.tasks.items():
        if info.kind != kind:
            continue
        ax = panel(fig, info.label)
        assert ax.get_xscale() == scale
        assert any(line.get_xdata()[0] == origin for line in ax.lines)  # the baseline line
        want = independent_change(points, "ft2", task, kind)
        order = sorted(want)  # pt1_ft2-1, pt1_ft2-2: the rows top to bottom
        drawn, lines, dots = plots_helpers.means(ax), plots_helpers.intervals(ax), plots_helpers.seeds(ax)
        for row, model in enumerate(order):
            centre, low, high, seeds = want[model]
            assert drawn[row][0] == pytest.approx(centre)
            assert lines[row] == pytest.approx((low, high))
            assert sorted(dots[np.abs(dots[:, 0] - row) < 0.4, 1]) == pytest.approx(seeds)
        lo, hi = ax.get_xlim()
        assert plots_helpers.in_view(lo, hi, [origin, *(v for c in want.values() for v in (*c[:3], *c[3]))])
        if kind == "error":  # symmetric around 1 on the log axis: halving and doubling equally far
            assert np.log(lo) == pytest.approx(-np.log(hi))
        else:
            assert lo == pytest.approx(-hi)


def test_fold_change_is_the_geometric_mean_of_the_seeds(seeded_tree, config):
    """0.5 and 2 average to 1 (no change), not 1.25: the seeds' own fold changes decide the point."""
    [(_, fig)], points = render("raw_differences", seeded_tree, config, only={"group": "ft1"})
    rows = points[(points["condition"] == "standard") & (points["task"] == "angle") & (points["group"] == "ft1")]
    first = rows[rows["model"] == "pt1_ft1-1"]["fold_change"].to_numpy()
    x = plots_helpers.means(panel(fig, "Angle"))[0][0]
    assert x == pytest.approx(np.sqrt(first.prod()))
    assert first.min() <= x <= first.max()


def test_each_kind_shares_one_x_range(seeded_tree, config):
    [(_, fig)], _ = render("raw_differences", seeded_tree, config, only={"group": "ft2"})
    ranges = {kind: {panel(fig, t.label).get_xlim() for t in config.tasks.values() if t.kind == kind}
              for kind in ("accuracy", "error")}
    assert all(len(r) == 1 for r in ranges.values())


def test_a_missing_evaluation_is_na_and_a_group_without_in_distribution_data_is_a_note(small_tree, config,
                                                                                        tmp_path: Path):
    (small_tree / "pt1_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], points = render("raw_differences", small_tree, config, only={"group": "ft1"})
    ax = panel(fig, "Distance")
    assert list(plots_helpers.means(ax)) == [1] and [t.get_text() for t in ax.texts] == ["n/a"]
    assert plots_helpers.intervals(ax) == {} and len(plots_helpers.seeds(ax)) == 0  # one seed: no interval
    path = tmp_path / "raw.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000

    spec = discover()["raw_differences"]
    ood_only = points[(points["condition"] == "atlantis") & (points["group"].isin(["ft1", "baseline"]))]
    note = spec.func(ood_only, OutputContext(config, {"group": "ft1"}, spec.title))
    assert "No Standard" in note.axes[0].texts[0].get_text()


def test_forgetting_only_where_training_is_described(small_tree, config, undescribed_config):
    """The sweep's figure is titled forgetting and drawn in vermillion / blue; with nobody saying what the
    runs trained on it is a change from the baseline, each run in its own colour, named in the legend."""
    from matplotlib.colors import to_hex

    from plots.style import TRAINED, UNTRAINED, run_style
    [(_, described)], _ = render("raw_differences", small_tree, config, only={"group": "ft1"})
    assert "(forgetting)" in plots_helpers.title(described)
    assert {c for ax in described.axes for _, c in plots_helpers.means(ax).values()} == {
        to_hex(TRAINED), to_hex(UNTRAINED)}
    [(_, fig)], _ = render("raw_differences", small_tree, undescribed_config, only={"group": "ft1"})
    title = plots_helpers.title(fig)
    assert "forgetting" not in title.lower()
    assert title.startswith("ft1: Single-task fine-tuning vs baseline: change on Standard data at the last checkpoint:")
    for ax in fig.axes:
        assert {r: c for r, (_, c) in plots_helpers.means(ax).items()} == {
            0: to_hex(run_style(0)[0]), 1: to_hex(run_style(1)[0])}
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["ft1-1", "ft1-2"] and "trained on this task" not in legend
