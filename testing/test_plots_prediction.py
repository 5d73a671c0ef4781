"""Multi-task prediction figure: actual, predicted (best single-task run) and actual - predicted."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from testing_helpers import render
from plots.registry import discover
from plots.style import experiment_labels
from utils.synthetic import write_tree


@pytest.fixture
def complete_tree(tmp_path: Path) -> Path:
    """Both ft2 members' trained tasks (distance, trianglearea, angle, compass) have an ft1 run."""
    root = tmp_path / "complete"
    write_tree(root, seeds=1, ft1=4, ft2=2, checkpoints=2)
    return root


def panels(fig):
    return [ax for ax in fig.axes if ax.images]


def cells(ax, rows):
    cols = [t.get_text() for t in ax.get_xticklabels()]
    return {(rows[round(t.get_position()[1])], cols[round(t.get_position()[0])]): t.get_text() for t in ax.texts}


def expected(view, condition, score, column, config):
    rows = view[(view["condition"] == condition) & (view["score"] == score)]
    return {(label, config.tasks[t].label): "n/a" if np.isnan(v) else f"{v:.2f}"
            for label, t, v in zip(experiment_labels(list(rows["experiment"]), config), rows["task"], rows[column])}


def test_only_multi_task_groups_get_a_figure_with_three_panels(complete_tree, config):
    figs, _ = render("prediction", complete_tree, config)
    assert [k for k, _ in figs] == [{"group": "ft2", "condition": "atlantis"},
                                    {"group": "ft2", "condition": "standard"}]
    assert discover()["prediction"].path_for(figs[0][0], "png") == "prediction/ft2_atlantis.png"
    for keys, fig in figs:
        titles = [ax.get_title() for ax in panels(fig)]
        assert len(titles) == 3 and titles[0].startswith("actual") and titles[1].startswith("predicted")
        assert titles[2].startswith("actual − predicted")
        assert all(len(ax.texts) == 2 * 7 for ax in panels(fig))
        assert ("gap-closing" if keys["condition"] == "atlantis" else "toward perfect") in fig.get_suptitle()


@pytest.mark.parametrize("condition, score", [("standard", "score_toward_perfect"), ("atlantis", "score_gap_closing")])
def test_annotations_are_the_prediction_view_values(complete_tree, config, condition, score):
    [(_, fig)], view = render("prediction", complete_tree, config, only={"group": "ft2", "condition": condition})
    rows = [t.get_text() for t in panels(fig)[0].get_yticklabels()]
    assert rows == ["ft2-1", "ft2-2"]
    for ax, column in zip(panels(fig), ("actual", "predicted", "residual")):
        assert cells(ax, rows) == expected(view, condition, score, column, config)
    assert "n/a" not in {t.get_text() for ax in panels(fig) for t in ax.texts}


def test_a_missing_multi_task_evaluation_is_na_in_actual_and_residual(complete_tree, config, tmp_path: Path):
    (complete_tree / "pt1_ft2-1" / "evals" / "crossing" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("prediction", complete_tree, config, only={"group": "ft2", "condition": "standard"})
    actual, predicted, residual = (cells(ax, ["ft2-1", "ft2-2"]) for ax in panels(fig))
    assert actual[("ft2-1", "Crossing")] == "n/a" and residual[("ft2-1", "Crossing")] == "n/a"
    assert predicted[("ft2-1", "Crossing")] != "n/a"
    assert sum(v == "n/a" for d in (actual, predicted, residual) for v in d.values()) == 2
    path = tmp_path / "prediction.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_small_tree_with_unmatched_multi_task_runs(small_tree, config):
    figs, _ = render("prediction", small_tree, config)
    fig = next(f for k, f in figs if k["condition"] == "standard")
    assert set(cells(panels(fig)[1], ["ft2-1", "ft2-2"]).values()) >= {"n/a"}
