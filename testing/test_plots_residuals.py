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


def stacks(ax):
    """(trained counts, transfer counts, bin edges) of a panel: two filled step outlines, transfer on top."""
    [trained] = [p for p in ax.patches if p.get_gid() == "trained"]
    [transfer] = [p for p in ax.patches if p.get_gid() == "transfer"]
    low, edges, _ = trained.get_data()
    top, edges_top, base = transfer.get_data()
    assert np.array_equal(edges, edges_top) and np.array_equal(base, low)  # stacked on the trained counts
    return low, top - base, edges


def counted(values, edges):
    """How many values fall in each bin [edge, next edge)."""
    values = np.asarray(values, dtype=float)
    return np.array([((values >= a) & (values < b)).sum() for a, b in zip(edges[:-1], edges[1:])])


def test_only_the_multi_task_group_and_every_residual_counted_once(seeded_tree, config):
    from matplotlib.colors import to_hex
    from plots.style import TRAINED, UNTRAINED
    figs, preds = render("residuals", seeded_tree, config)
    assert [keys for keys, _ in figs] == [{"group": "ft2"}]
    fig = figs[0][1]
    axes = [ax for ax in fig.axes if ax.patches]
    assert len(fig.axes) == 2 and fig.get_layout_engine() is None
    assert [ax.get_title().splitlines()[0] for ax in axes] == ["Standard: score toward perfect",
                                                              "Atlantis (OOD): gap-closing score"]
    for ax, (cond, score) in zip(axes, (("standard", "score_toward_perfect"), ("atlantis", "score_gap_closing"))):
        part = preds[(preds["condition"] == cond) & (preds["score"] == score)].dropna(subset=["residual"])
        assert len(part) == 3 * 7 * 2  # 3 experiments x 7 tasks x 2 seeds
        trained, transfer, edges = stacks(ax)
        is_trained = part["trained"].astype(bool)
        assert np.array_equal(trained, counted(part.loc[is_trained, "residual"], edges))
        assert np.array_equal(transfer, counted(part.loc[~is_trained, "residual"], edges))
        assert trained.sum() == is_trained.sum() and transfer.sum() == (~is_trained).sum()
        colours = {p.get_gid(): to_hex(p.get_facecolor()) for p in ax.patches}
        assert colours == {"trained": to_hex(TRAINED), "transfer": to_hex(UNTRAINED)}
        assert f"mean {part['residual'].mean():+.2f}" in ax.get_title()


def test_a_residual_of_zero_falls_in_the_bin_centred_on_zero(seeded_tree, config):
    clipped = dataclasses.replace(config, clip=(0.0, 1.5))
    figs, preds = render("residuals", seeded_tree, clipped)
    ax = [a for a in figs[0][1].axes if a.patches][1]
    part = preds[(preds["condition"] == "atlantis") & (preds["score"] == "score_gap_closing")]
    zeros = int((part["residual"] == 0).sum())
    assert zeros > 0
    trained, transfer, edges = stacks(ax)
    [at_zero] = np.flatnonzero((edges[:-1] < 0) & (edges[1:] > 0))
    assert edges[at_zero] == pytest.approx(-edges[at_zero + 1])  # the bin is centred on 0
    assert trained[at_zero] + transfer[at_zero] >= zeros
    assert "scores clipped to [0, 1.5]" in figs[0][1]._suptitle.get_text()


@pytest.mark.parametrize("clip", [None, (0.0, 1.5)])
@pytest.mark.parametrize("width", [7.5, 3.5])
def test_the_histogram_fits_the_page_with_every_residual_and_zero_in_view(seeded_tree, config, width, clip):
    """Two panels side by side on a two-column page, one under the other on one column; one count axis
    from 0; the title in at most two lines, with the clip when there is one."""
    import plots_helpers
    figs, preds = render("residuals", seeded_tree, dataclasses.replace(config, plot_width=width, clip=clip))
    fig = figs[0][1]
    plots_helpers.check_page(fig, width)
    assert fig._suptitle.get_text().count("\n") <= 1
    axes = [ax for ax in fig.axes if ax.patches]
    lefts = {round(ax.get_position().x0, 3) for ax in axes}
    assert len(lefts) == (2 if width == 7.5 else 1)
    assert len({ax.get_ylim() for ax in axes}) == 1  # counts compare across conditions
    for ax, (cond, score) in zip(axes, (("standard", "score_toward_perfect"), ("atlantis", "score_gap_closing"))):
        part = preds[(preds["condition"] == cond) & (preds["score"] == score)].dropna(subset=["residual"])
        trained, transfer, _ = stacks(ax)
        lo, hi = ax.get_ylim()
        assert lo == 0 and plots_helpers.in_view(lo, hi, trained + transfer)
        assert plots_helpers.in_view(*ax.get_xlim(), [*part["residual"], 0.0])


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_nothing_to_draw_says_so_on_a_page_sized_figure(config, width):
    import pandas as pd
    import plots_helpers
    from plots.registry import OutputContext, discover
    spec = discover()["residuals"]
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in ("condition", "score", "residual", "trained")})
    fig = spec.func(empty, OutputContext(dataclasses.replace(config, plot_width=width), {"group": "ft2"}, spec.title))
    plots_helpers.check_page(fig, width)
    assert fig.get_layout_engine() is None
    assert "No predictions" in " ".join(t.get_text() for t in plots_helpers.drawn_texts(fig))
