"""plots/heatmap_seeds.py: one heatmap per group and seed, off unless plots.seed_heatmap is true."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from testing_helpers import render
from plots.registry import discover
from plots.style import experiment_labels
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path):
    """pt1 (no seed suffix: seed 0) and pt1_seed2, each with 2 ft1 and 2 ft2 members."""
    root = tmp_path / "seeded"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=2)
    return root


def test_off_by_default_no_figure_at_all(seeded_tree, config):
    figs, view = render("heatmap_by_seed", seeded_tree, config)
    assert figs == [] and view.empty


def test_one_figure_per_group_and_seed_with_that_seeds_scores(seeded_tree, config):
    on = dataclasses.replace(config, seed_heatmap=True)
    figs, view = render("heatmap_by_seed", seeded_tree, on)
    assert [keys for keys, _ in figs] == [{"group": g, "seed": s} for g in ("ft1", "ft2") for s in (0, 2)]
    assert discover()["heatmap_by_seed"].path_for({"group": "ft1", "seed": 0}, "png") == "heatmap_by_seed/ft1_seed0.png"
    for keys, fig in figs:
        rows = view[(view["group"] == keys["group"]) & (view["seed"] == keys["seed"])]
        title = " ".join(fig._suptitle.get_text().split())
        which = "seed 0 (runs without a seed suffix)" if keys["seed"] == 0 else "seed 2"
        assert f"{which} only, last checkpoint" in title
        assert title.count(f"seed {keys['seed']}") == 1  # said once, not "seed 2 only (seed 2)"
        panels = [ax for ax in fig.axes if ax.images]
        for ax, (cond, column) in zip(panels, (("standard", "score_toward_perfect"),
                                                ("atlantis", "score_gap_closing"))):
            part = rows[rows["condition"] == cond]
            labels = experiment_labels(list(dict.fromkeys(part["experiment"])), on)
            heads = sorted((t for t in ax.texts if t.get_gid() == "head"), key=lambda t: t.get_position()[0])
            cols = [t.get_text() for t in heads] or [t.get_text() for t in ax.get_xticklabels()]
            got = {(labels[round(t.get_position()[1])], cols[round(t.get_position()[0])]): t.get_text()
                   for t in ax.texts if t.get_gid() != "head"}
            want = {(experiment_labels([e], on)[0], on.tasks[t].label): "n/a" if np.isnan(v) else f"{v:.2f}"
                    for e, t, v in zip(part["experiment"], part["task"], part[column])}
            assert got == want and len(got) == 2 * 7


def test_with_a_clip_the_title_says_so(seeded_tree, config):
    on = dataclasses.replace(config, seed_heatmap=True, clip=(0.0, 1.5))
    figs, view = render("heatmap_by_seed", seeded_tree, on, only={"group": "ft1", "seed": 2})
    assert "scores clipped to [0, 1.5]" in figs[0][1]._suptitle.get_text()
    assert view["score_gap_closing"].dropna().between(0, 1.5).all()


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_per_seed_heatmaps_fit_the_page(seeded_tree, config, width):
    """Drawn by the heatmap's own page layout: fits plots.width, fonts >= 7 pt, no text cut or overlapping."""
    from plots_helpers import check_page
    on = dataclasses.replace(config, seed_heatmap=True, plot_width=width)
    figs, _ = render("heatmap_by_seed", seeded_tree, on, only={"group": "ft1", "seed": 2})
    assert len(figs) == 1
    check_page(figs[0][1], width)


def test_the_seeds_of_a_group_share_one_colour_scale(seeded_tree, config):
    """Seed 0's and seed 2's heatmaps of a group colour by one scale (fitted to both seeds' scores of both
    conditions), so the figures compare by colour; every panel of a figure uses it."""
    from analysis.figure_data import robust_limit
    on = dataclasses.replace(config, seed_heatmap=True)
    figs, view = render("heatmap_by_seed", seeded_tree, on)
    for group in ("ft1", "ft2"):
        norms = [ax.images[0].norm for keys, fig in figs if keys["group"] == group for ax in fig.axes if ax.images]
        assert len(norms) == 4  # 2 seeds x 2 conditions
        assert len({(n.vmin, n.vmax) for n in norms}) == 1
        rows = view[(view["group"] == group)]
        values = np.concatenate([rows.loc[rows["condition"] == "standard", "score_toward_perfect"].to_numpy(float),
                                 rows.loc[rows["condition"] == "atlantis", "score_gap_closing"].to_numpy(float)])
        assert norms[0].vmax == pytest.approx(robust_limit(values)[0])
