"""Multi-task prediction figure: actual against predicted (best single-task run) per experiment and task,
the seed noise as a band around the diagonal, the worst misses ringed, numbered and listed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import plots_helpers
from testing_helpers import render
from plots.registry import discover
from utils.synthetic import write_tree


@pytest.fixture
def complete_tree(tmp_path: Path) -> Path:
    """Both ft2 members' trained tasks (distance, trianglearea, angle, compass) have an ft1 run; 2 seeds."""
    root = tmp_path / "complete"
    write_tree(root, seeds=2, ft1=4, ft2=2, checkpoints=2)
    return root


def independent(view, condition, score):
    """Per (seed-free experiment, task): mean actual and predicted over seeds, computed here; and the
    median over cells of the actual score's std across seeds."""
    rows = view[(view["condition"] == condition) & (view["score"] == score)]
    rows = rows.assign(model=rows["experiment"].str.replace(r"_seed\d+", "", regex=True))
    cells = rows.groupby(["model", "task"]).agg(actual=("actual", "mean"), predicted=("predicted", "mean"),
                                                std=("actual", "std"))
    return cells, float(cells["std"].median())


def scatter(fig, gid):
    [ax] = [a for a in fig.axes if plots_helpers.by_gid(a, gid)]
    [points] = plots_helpers.by_gid(ax, gid)
    return ax, np.asarray(points.get_offsets())


def test_only_multi_task_groups_get_a_figure(complete_tree, config):
    figs, _ = render("prediction", complete_tree, config)
    assert [k for k, _ in figs] == [{"group": "ft2", "condition": "atlantis"},
                                    {"group": "ft2", "condition": "standard"}]
    assert discover()["prediction"].path_for(figs[0][0], "png") == "prediction/ft2_atlantis.png"
    for keys, fig in figs:
        assert ("gap-closing" if keys["condition"] == "atlantis" else "toward perfect") in plots_helpers.title(fig)
        assert "mean of 2 seeds" in plots_helpers.title(fig)


@pytest.mark.parametrize("condition, score", [("standard", "score_toward_perfect"), ("atlantis", "score_gap_closing")])
def test_points_band_and_worst_misses_are_the_prediction_view(complete_tree, config, condition, score):
    [(_, fig)], view = render("prediction", complete_tree, config, only={"group": "ft2", "condition": condition})
    cells, noise = independent(view, condition, score)
    ax, xy = scatter(fig, "cells")
    want = cells.dropna(subset=["actual", "predicted"])
    assert sorted(map(tuple, xy.round(9))) == sorted(zip(want["predicted"].round(9), want["actual"].round(9)))
    lo, hi = ax.get_xlim()
    assert ax.get_ylim() == pytest.approx((lo, hi))  # one scale: the diagonal is the 45° line
    assert plots_helpers.in_view(lo, hi, [*xy.ravel()])
    [band] = [c for c in ax.collections if c.get_gid() is None]  # fill_between: diagonal ± noise
    vertices = band.get_paths()[0].vertices
    assert (vertices[:, 1] - vertices[:, 0]).max() == pytest.approx(noise)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(f"± seed noise ({noise:.2f}" in t for t in legend)
    # the worst misses: the 3 largest |actual - predicted|, ringed, numbered 1-3 and listed with their names
    worst = (want["actual"] - want["predicted"]).abs().sort_values(ascending=False).index[:3]
    _, ringed = scatter(fig, "worst")
    assert sorted(map(tuple, ringed.round(9))) == sorted(
        (round(want.loc[k, "predicted"], 9), round(want.loc[k, "actual"], 9)) for k in worst)
    assert [t.get_text() for t in ax.texts] == ["1", "2", "3"]
    listing = next(t.get_text() for t in fig.texts if t.get_text().startswith("largest misses"))
    for i, (model, task) in enumerate(worst, start=1):
        assert f"{i}  {model.removeprefix('pt1_')} on {config.tasks[task].label}:" in listing


def test_one_seed_has_no_noise_band(tmp_path: Path, config):
    root = tmp_path / "one"
    write_tree(root, seeds=1, ft1=4, ft2=2, checkpoints=2)
    [(_, fig)], _ = render("prediction", root, config, only={"group": "ft2", "condition": "standard"})
    ax, _ = scatter(fig, "cells")
    assert not [c for c in ax.collections if c.get_gid() is None]
    assert not [t for t in fig.legends[0].get_texts() if "noise" in t.get_text()]
    assert "seeds" not in plots_helpers.title(fig)


def test_a_missing_multi_task_evaluation_has_no_point(complete_tree, config, tmp_path: Path):
    for exp in ("pt1_ft2-1", "pt1_seed2_ft2-1"):
        (complete_tree / exp / "evals" / "crossing" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], view = render("prediction", complete_tree, config, only={"group": "ft2", "condition": "standard"})
    _, xy = scatter(fig, "cells")
    assert len(xy) == 2 * 7 - 1
    path = tmp_path / "prediction.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_small_tree_with_unmatched_multi_task_runs(small_tree, config):
    figs, _ = render("prediction", small_tree, config)
    assert figs
    for _, fig in figs:  # cells without a single-task source are left out, the rest drawn
        texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
        assert texts


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_miss_numbers_sit_beside_their_rings_touching_none(width, tmp_path, config):
    """Each miss's number is near its own ring (within 12 pt of its centre) and its box overlaps no ring
    and no other number: the rings of close misses are not covered by their numbers."""
    import dataclasses

    from utils.synthetic import write_tree
    root = tmp_path / "experiments"
    write_tree(root, seeds=2, ft1=7, ft2=21, checkpoints=3)
    figs, _ = render("prediction", root, dataclasses.replace(config, plot_width=width))
    for keys, fig in figs:
        fig.canvas.draw()
        ax = fig.axes[0]
        [rings] = plots_helpers.by_gid(ax, "worst")
        centres = ax.transData.transform(np.asarray(rings.get_offsets()))
        numbers = sorted((t for t in ax.texts if t.get_gid() == "miss"), key=lambda t: int(t.get_text()))
        assert len(numbers) == len(centres) > 0, keys
        radius = 3.6 * fig.dpi / 72
        boxes = [t.get_window_extent() for t in numbers]
        for i, (box, (cx, cy)) in enumerate(zip(boxes, centres)):
            middle = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
            assert np.hypot(*(middle - (cx, cy))) <= 12 * fig.dpi / 72, (keys, i)
            for rx, ry in centres:
                assert not (box.x0 < rx + radius and rx - radius < box.x1 and box.y0 < ry + radius
                            and ry - radius < box.y1), (keys, i + 1, "covers a ring")
            for j, other in enumerate(boxes):
                assert j == i or not box.overlaps(other), (keys, i + 1, j + 1)
        plots_helpers.check_page(fig, width)
