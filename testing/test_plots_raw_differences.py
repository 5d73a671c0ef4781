"""The forgetting view: in-distribution change per task, accuracy points or fold change on a log axis."""
from __future__ import annotations

from pathlib import Path

import pytest

from testing_helpers import render
from plots.registry import OutputContext, discover
from plots.style import labels_for
from utils.synthetic import write_tree


def bar_ends(ax, rows):
    """{experiment label: (bar start, bar end)} of one panel."""
    return {rows[round(b.get_y() + b.get_height() / 2)]: (b.get_x(), b.get_x() + b.get_width())
            for b in ax.containers[0]}


def test_one_file_per_group_in_distribution_only(small_tree, config):
    figs, _ = render("raw_differences", small_tree, config)
    assert [k for k, _ in figs] == [{"group": "ft1"}, {"group": "ft2"}]
    assert discover()["raw_differences"].path_for({"group": "ft2"}, "png") == "raw_differences/ft2.png"
    for keys, fig in figs:
        assert [ax.get_title() for ax in fig.axes] == [t.label for t in config.tasks.values()]
        assert "Standard" in fig.get_suptitle() and "Atlantis" not in fig.get_suptitle()
        assert all(len(ax.containers[0]) == 2 for ax in fig.axes)


@pytest.mark.parametrize("kind, scale, origin", [("accuracy", "linear", 0.0), ("error", "log", 1.0)])
def test_bars_show_points_or_fold_change_from_the_scores(small_tree, config, kind, scale, origin):
    figs, scores = render("raw_differences", small_tree, config)
    for keys, fig in figs:
        rows = scores[(scores["group"] == keys["group"]) & (scores["condition"] == "standard")]
        labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
        for task, info in config.tasks.items():
            if info.kind != kind:
                continue
            ax = next(a for a in fig.axes if a.get_title() == info.label)
            assert ax.get_xscale() == scale
            assert any(line.get_xdata()[0] == origin for line in ax.lines)  # the baseline line
            part = rows[rows["task"] == task]
            want = part["raw_diff_mean"] * 100 if kind == "accuracy" else part["fold_change_mean"]
            drawn = bar_ends(ax, labels)
            for label, value in zip(labels_for(part), want):
                start, end = drawn[label]
                assert start == pytest.approx(origin) and end == pytest.approx(value)
                lo, hi = ax.get_xlim()
                assert lo <= value <= hi
        assert all(not ax.collections for ax in fig.axes)  # one seed: no whiskers
        assert "seeds" not in fig.get_suptitle()


def test_a_missing_evaluation_is_na_and_a_group_without_in_distribution_data_is_a_note(small_tree, config,
                                                                                        tmp_path: Path):
    (small_tree / "pt1_ft1-1" / "evals" / "distance" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], scores = render("raw_differences", small_tree, config, only={"group": "ft1"})
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    assert len(ax.containers[0]) == 1 and [t.get_text() for t in ax.texts] == ["n/a"]
    path = tmp_path / "raw.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000

    spec = discover()["raw_differences"]
    ood_only = scores[(scores["condition"] == "atlantis") & (scores["group"].isin(["ft1", "baseline"]))]
    note = spec.func(ood_only, OutputContext(config, {"group": "ft1"}, spec.title))
    assert "No Standard" in note.axes[0].texts[0].get_text()


def test_several_seeds_draw_the_mean_with_std_whiskers(tmp_path: Path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    [(_, fig)], seeds = render("raw_differences", root, config, only={"group": "ft2"})
    assert "mean of 2 seeds" in fig.get_suptitle()
    rows = seeds[(seeds["group"] == "ft2") & (seeds["condition"] == "standard")]
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["ft2-1 (n=2)", "ft2-2 (n=2)"]
    for task, info in config.tasks.items():
        ax = next(a for a in fig.axes if a.get_title() == info.label)
        part = rows[rows["task"] == task].sort_values("experiment")
        scale = 100.0 if info.kind == "accuracy" else 1.0
        mean = part[f"{'raw_diff' if info.kind == 'accuracy' else 'fold_change'}_mean"].to_numpy() * scale
        std = part[f"{'raw_diff' if info.kind == 'accuracy' else 'fold_change'}_std"].to_numpy() * scale
        drawn = bar_ends(ax, labels)
        assert [drawn[lab][1] for lab in labels] == pytest.approx(list(mean))
        [whiskers] = ax.collections  # one errorbar call per panel
        segments = sorted(whiskers.get_segments(), key=lambda seg: seg[0][1])
        assert [seg[0][0] for seg in segments] == pytest.approx(list(mean - std))
        assert [seg[1][0] for seg in segments] == pytest.approx(list(mean + std))
