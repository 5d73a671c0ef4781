"""plots/residuals.py: the histogram of actual - predicted, per group, one panel per condition."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from testing_helpers import render


@pytest.fixture
def seeded_tree(tmp_path):
    from utils.synthetic import write_tree
    root = tmp_path / "seeded"
    write_tree(root, seeds=2, ft1=7, ft2=3, checkpoints=2)
    return root


def bar_heights(ax, color):
    return sum(p.get_height() for p in ax.patches if np.allclose(p.get_facecolor()[:3], color))


def test_only_the_multi_task_group_and_every_residual_counted_once(seeded_tree, config):
    from matplotlib.colors import to_rgb
    from plots.style import TRAINED, UNTRAINED
    figs, preds = render("residuals", seeded_tree, config)
    assert [keys for keys, _ in figs] == [{"group": "ft2"}]
    fig = figs[0][1]
    axes = [ax for ax in fig.axes if ax.patches]
    assert [ax.get_title().splitlines()[0] for ax in axes] == ["Standard: score toward perfect",
                                                              "Atlantis (OOD): gap-closing score"]
    for ax, (cond, score) in zip(axes, (("standard", "score_toward_perfect"), ("atlantis", "score_gap_closing"))):
        part = preds[(preds["condition"] == cond) & (preds["score"] == score)].dropna(subset=["residual"])
        assert len(part) == 3 * 7 * 2  # 3 experiments x 7 tasks x 2 seeds
        assert bar_heights(ax, to_rgb(TRAINED)) == part["trained"].sum()
        assert bar_heights(ax, to_rgb(UNTRAINED)) == (~part["trained"].astype(bool)).sum()
        assert f"mean {part['residual'].mean():+.2f}" in ax.get_title()


def test_a_residual_of_zero_falls_in_the_bin_centred_on_zero(seeded_tree, config):
    clipped = dataclasses.replace(config, clip=(0.0, 1.5))
    figs, preds = render("residuals", seeded_tree, clipped)
    ax = [a for a in figs[0][1].axes if a.patches][1]
    part = preds[(preds["condition"] == "atlantis") & (preds["score"] == "score_gap_closing")]
    zeros = int((part["residual"] == 0).sum())
    assert zeros > 0
    at_zero = [p for p in ax.patches if p.get_x() < 0 < p.get_x() + p.get_width()]
    assert sum(p.get_height() for p in at_zero) >= zeros
    assert "scores clipped to [0, 1.5]" in figs[0][1]._suptitle.get_text()


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_the_histogram_fits_the_page(seeded_tree, config, width):
    fig = render("residuals", seeded_tree, dataclasses.replace(config, plot_width=width))[0][0][1]
    assert fig.get_size_inches()[0] <= width + 1e-9
