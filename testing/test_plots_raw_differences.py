"""The forgetting view: in-distribution change per task, accuracy points or fold change on a log axis."""
from __future__ import annotations

from pathlib import Path

import pytest

from testing_helpers import render
from plots.registry import OutputContext, discover
from plots.style import labels_for


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
            want = part["raw_diff"] * 100 if kind == "accuracy" else part["fold_change"]
            drawn = bar_ends(ax, labels)
            for label, value in zip(labels_for(part), want):
                start, end = drawn[label]
                assert start == pytest.approx(origin) and end == pytest.approx(value)
                lo, hi = ax.get_xlim()
                assert lo <= value <= hi


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
