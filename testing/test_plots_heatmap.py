"""The heatmap figure: seed-free experiments x tasks of the normalized score, the mean over seeds straight
from the seed_scores view, with n (seeds) in the row label and in cells with fewer seeds."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import plots_helpers
from testing_helpers import render
from plots.registry import discover
from plots.style import experiment_labels, number
from utils.synthetic import write_tree


@pytest.fixture
def seeded_tree(tmp_path: Path) -> Path:
    """Seeds 1 and 2 of pt1 with 2 ft1 and 2 ft2 members each."""
    root = tmp_path / "seeded"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=2)
    return root


def unlink(root: Path, experiment: str, folder: str) -> None:
    (root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json").unlink()


def panels(fig):
    """The heatmap panels (axes holding an image; colour bars hold none)."""
    return [ax for ax in fig.axes if ax.images]


def columns(ax) -> list[str]:
    """The task names over a panel's columns, left to right: level texts (gid "head") or turned tick labels."""
    heads = sorted((t for t in ax.texts if t.get_gid() == "head"), key=lambda t: t.get_position()[0])
    return [t.get_text() for t in heads] or [t.get_text() for t in ax.get_xticklabels()]


def cell_texts(ax) -> list:
    """The cell annotations of a panel (not the task names over it)."""
    return [t for t in ax.texts if t.get_gid() != "head"]


def cells(ax, row_labels):
    """{(experiment label, task label): annotation text} of one panel."""
    cols = columns(ax)
    return {(row_labels[round(t.get_position()[1])], cols[round(t.get_position()[0])]): t.get_text()
            for t in cell_texts(ax)}


def expected(view, group, condition, column, config, suffix=""):
    """{(row label, task label): annotation} from the seed_scores view's `<column>_mean`."""
    rows = view[(view["group"] == group) & (view["condition"] == condition)]
    labels = [label + suffix for label in experiment_labels(list(rows["experiment"]), config)]
    return {(label, config.tasks[task].label): number(v)
            for label, task, v in zip(labels, rows["task"], rows[f"{column}_mean"])}


def test_one_heatmap_per_group_with_a_panel_per_condition(small_tree, config):
    figs, _ = render("heatmap", small_tree, config)
    assert [keys for keys, _ in figs] == [{"group": "ft1"}, {"group": "ft2"}]
    assert discover()["heatmap"].path_for({"group": "ft1"}, "png") == "heatmap/ft1.png"
    for keys, fig in figs:
        axes = panels(fig)
        assert [ax.get_title() for ax in axes] == ["Standard: score toward perfect",
                                                   "Atlantis (OOD): gap-closing score"]
        for ax in axes:
            assert len(cell_texts(ax)) == 2 * 7  # 2 experiments x 7 tasks, every cell annotated
            assert columns(ax) == [t.label for t in config.tasks.values()]
        [bar] = [ax for ax in fig.axes if not ax.images]  # one colour bar: one scale for the figure
        assert "Standard: 0 = baseline, 1 = perfect" in bar.get_xlabel()
        assert "Atlantis (OOD): 0 = baseline on this data" in bar.get_xlabel()
        assert plots_helpers.title(fig).startswith(f"{keys['group']}: ") and "vs baseline" in plots_helpers.title(fig)


def test_one_colour_scale_per_figure_fitted_to_its_values_and_saying_when_clipped(small_tree, config):
    """Both panels share one colour scale, fitted to all their values (the 95th percentile of |values|,
    not a +-1 scale that leaves +-0.3 white), so panels compare by colour; one outlier is clipped (and
    the colourbar says so, and that the scale is both panels'), its number stays unclipped."""
    figs, view = render("heatmap", small_tree, config)
    for keys, fig in figs:
        [bar] = [ax for ax in fig.axes if not ax.images]
        values = np.concatenate([view[(view["group"] == keys["group"]) & (view["condition"] == condition)]
                                 [f"{column}_mean"].dropna().to_numpy()
                                 for condition, column in [("standard", "score_toward_perfect"),
                                                           ("atlantis", "score_gap_closing")]])
        values = np.abs(values)
        norms = [ax.images[0].norm for ax in panels(fig)]
        assert len(norms) == 2 and len({(n.vmin, n.vmax) for n in norms}) == 1
        norm = norms[0]
        assert norm.vmin == -norm.vmax and norm.vcenter == 0
        assert np.percentile(values, 95) <= norm.vmax <= max(2 * np.percentile(values, 95), 0.05)
        clipped = bool((values > norm.vmax).any())
        label = " ".join(bar.get_xlabel().split())
        assert ("clipped" in label) == clipped and "one colour scale for both panels" in label
        if clipped:
            assert "95th percentile" in label


@pytest.mark.parametrize("tree, seeds", [("small_tree", 1), ("seeded_tree", 2)])
def test_annotations_are_the_seed_means(request, config, tree, seeds):
    figs, view = render("heatmap", request.getfixturevalue(tree), config)
    for keys, fig in figs:
        rows = [t.get_text() for t in panels(fig)[0].get_yticklabels()]
        assert rows == [f"{keys['group']}-1", f"{keys['group']}-2"]  # every row has the same n: said once
        for ax, (condition, column) in zip(panels(fig), [("standard", "score_toward_perfect"),
                                                         ("atlantis", "score_gap_closing")]):
            assert ax.get_title().startswith(config.condition_label(condition))
            assert cells(ax, rows) == expected(view, keys["group"], condition, column, config)
            assert not [t for t in cell_texts(ax) if "n=" in t.get_text()]  # every cell has the row's n
            assert not [t for t in cell_texts(ax) if t.get_text().startswith("-0.00")]
        assert ("mean of 2 seeds" in plots_helpers.title(fig)) == (seeds == 2)


def test_a_cell_with_fewer_seeds_says_its_n(seeded_tree, config, tmp_path: Path):
    unlink(seeded_tree, "pt1_seed2_ft1-2", "angle")  # standard angle of ft1-2: seed 1 only
    unlink(seeded_tree, "pt1_ft1-1", "atlantis_angle")
    unlink(seeded_tree, "pt1_seed2_ft1-1", "atlantis_angle")  # atlantis angle of ft1-1: no seed
    [(_, fig)], view = render("heatmap", seeded_tree, config, only={"group": "ft1"})
    standard, atlantis = panels(fig)
    rows = [t.get_text() for t in standard.get_yticklabels()]
    assert rows == ["ft1-1", "ft1-2"] and "mean of 2 seeds" in plots_helpers.title(fig)
    one = view.query("experiment == 'pt1_ft1-2' and condition == 'standard' and task == 'angle'")
    assert one["score_toward_perfect_n"].item() == 1
    got = cells(standard, rows)
    assert got[("ft1-2", "Angle")] == f"{number(one['score_toward_perfect_mean'].item())}\nn=1"
    assert [k for k, v in got.items() if "n=" in v] == [("ft1-2", "Angle")]
    assert cells(atlantis, rows)[("ft1-1", "Angle")] == "n/a"  # no seed: n/a, never 0 or n=0
    assert sum(len(c.get_paths()) for c in atlantis.collections if c.get_hatch()) == 1
    path = tmp_path / "heatmap.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_trained_cells_are_outlined(small_tree, config):
    figs, view = render("heatmap", small_tree, config)
    for keys, fig in figs:
        n_trained = view[(view["group"] == keys["group"]) & view["trained"]
                         & (view["condition"] == "standard")].shape[0]
        for ax in panels(fig):
            outlines = [c for c in ax.collections if not c.get_hatch()]
            assert sum(len(c.get_paths()) for c in outlines) == n_trained  # ft1: 1 each, ft2: 2 each


def test_a_missing_evaluation_is_a_hatched_na_cell(small_tree, config, tmp_path: Path):
    unlink(small_tree, "pt1_ft1-2", "atlantis_angle")
    [(_, fig)], view = render("heatmap", small_tree, config, only={"group": "ft1"})
    standard, atlantis = panels(fig)
    rows = [t.get_text() for t in standard.get_yticklabels()]
    assert cells(atlantis, rows)[("ft1-2", "Angle")] == "n/a"
    assert cells(standard, rows)[("ft1-2", "Angle")] != "n/a"
    assert np.ma.is_masked(atlantis.images[0].get_array()[rows.index("ft1-2"), 2])
    hatched = [c for c in atlantis.collections if c.get_hatch()]
    assert sum(len(c.get_paths()) for c in hatched) == 1
    assert not [c for c in standard.collections if c.get_hatch()]
    assert cells(atlantis, rows) == expected(view, "ft1", "atlantis", "score_gap_closing", config)
    assert not [t for ax in fig.axes for t in ax.texts + ax.get_yticklabels() if "n=" in t.get_text()]


def legend_texts(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_runs_nobody_described_have_no_outlined_cells(small_tree, config, undescribed_config, tmp_path: Path):
    """The sweep's heatmap outlines the trained cells and says so; without `training:` in rules.yaml no
    cell is outlined and the legend does not mention outlines (with nothing missing it has no entry)."""
    [(_, sweep)], _ = render("heatmap", small_tree, config, only={"group": "ft1"})
    assert legend_texts(sweep) == ["outlined: trained on this task"]
    [(_, fig)], view = render("heatmap", small_tree, undescribed_config, only={"group": "ft1"})
    assert not view["trained"].any()
    for ax in panels(fig):
        assert [c for c in ax.collections if not c.get_hatch()] == []  # no outline collection at all
    assert legend_texts(fig) == []
    assert "one colour scale for both panels" in fig.axes[-1].get_xlabel()
    path = tmp_path / "heatmap.png"
    fig.savefig(path)
    assert path.stat().st_size > 10_000
    # a missing evaluation brings back only its own entry
    unlink(small_tree, "pt1_ft1-2", "angle")
    [(_, gap)], _ = render("heatmap", small_tree, undescribed_config, only={"group": "ft1"})
    assert legend_texts(gap) == ["hatched n/a: missing evaluation or undefined score"]
