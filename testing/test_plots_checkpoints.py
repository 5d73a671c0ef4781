"""Checkpoint curves: one line per experiment per task (trained ones highlighted and labelled, the others
thin, in one collection), the baseline's last value as a dashed line."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from testing_helpers import render, render_views
from plots.registry import discover
from plots.style import BASELINE, BETTER, RUN_COLOURS, TRAINED, UNTRAINED, WORSE
from utils.synthetic import write_tree


def curves_of(ax):
    """(experiment lines as (x, y, colour hex), dashed baseline lines) of one panel: the trained lines are
    Line2Ds, every other experiment one segment of the "others" collection."""
    lines = [(ln.get_xdata(), ln.get_ydata(), to_hex(ln.get_color())) for ln in ax.lines if ln.get_linestyle() != "--"]
    for coll in plots_helpers.by_gid(ax, "others"):
        lines += [(seg[:, 0], seg[:, 1], to_hex(coll.get_colors()[0])) for seg in coll.get_segments()]
    return lines, [ln for ln in ax.lines if ln.get_linestyle() == "--"]


def notes(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() != "label"]


def labels(ax):
    return [t.get_text() for t in ax.texts if t.get_gid() == "label"]


def test_a_panel_per_task_and_a_line_per_experiment(small_tree, config):
    figs, curves = render("checkpoints", small_tree, config)
    assert len(figs) == 4  # ft1, ft2 x standard, atlantis
    assert discover()["checkpoints"].path_for(figs[-1][0], "png") == "checkpoints/ft2_standard.png"
    for keys, fig in figs:
        axes = [ax for ax in fig.axes if ax.get_visible()]
        assert [ax.get_title() for ax in axes] == [t.label for t in config.tasks.values()]
        for ax in axes:
            info = next(t for t in config.tasks.values() if t.label == ax.get_title())
            lines, base = curves_of(ax)
            assert len(lines) == 2 and len(base) == 1
            assert ax.get_yscale() == ("log" if info.log else "linear")
            assert [len(x) for x, _, _ in lines] == [3, 3]  # 3 checkpoints each
            part = curves[(curves["experiment"] == "pt1") & (curves["task"] == info.name)
                          & (curves["condition"] == keys["condition"])]
            assert base[0].get_ydata()[0] == pytest.approx(part.sort_values("step")["value"].iloc[-1])
        assert "lower is better" in axes[0].get_ylabel()


def test_trained_experiments_are_highlighted_with_their_values(small_tree, config):
    [(_, fig)], curves = render("checkpoints", small_tree, config, only={"group": "ft1", "condition": "standard"})
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    lines, _ = curves_of(ax)
    colours = sorted(c for _, _, c in lines)
    assert colours == sorted([TRAINED.lower(), UNTRAINED.lower()])  # ft1-1 trained on distance, ft1-2 not
    x, y, _ = next(line for line in lines if line[2] == TRAINED.lower())
    want = curves[(curves["experiment"] == "pt1_ft1-1") & (curves["task"] == "distance")
                  & (curves["condition"] == "standard")].sort_values("step")
    assert np.allclose(x, want["step"]) and np.allclose(y, want["value"])
    assert labels(ax) == ["ft1-1"]  # the trained line is named at its end; the others are not
    lo, hi = ax.get_ylim()
    assert plots_helpers.in_view(lo, hi, [*(v for _, ys, _ in lines for v in ys), *(b.get_ydata()[0] for b in
                                                                                    curves_of(ax)[1])])


def test_a_missing_evaluation_is_named_on_its_panel(small_tree, config, tmp_path: Path):
    (small_tree / "pt1_ft2-2" / "evals" / "atlantis_compass" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("checkpoints", small_tree, config, only={"group": "ft2", "condition": "atlantis"})
    found = {ax.get_title(): notes(ax) for ax in fig.axes if ax.get_visible()}
    assert found["Compass"] == ["no data: ft2-2"]
    assert all(not v for k, v in found.items() if k != "Compass")
    assert len(curves_of(next(a for a in fig.axes if a.get_title() == "Compass"))[0]) == 1
    path = tmp_path / "checkpoints.png"
    fig.savefig(path)
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000


def test_several_seeds_draw_one_mean_line_per_experiment(tmp_path: Path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    only = {"group": "ft1", "condition": "standard"}
    [(_, fig)], views = render_views("checkpoints", root, config, only=only, extra=("curves",))
    means, raw = views["seed_curves"], views["curves"]
    assert "mean of 2 seeds" in plots_helpers.title(fig)
    ax = next(a for a in fig.axes if a.get_title() == "Distance")
    lines, [base] = curves_of(ax)
    assert len(lines) == 2  # ft1-1 and ft1-2, not one per seed
    _, trained, _ = next(line for line in lines if line[2] == TRAINED.lower())
    part = raw[(raw["task"] == "distance") & (raw["condition"] == "standard")]
    by_step = part[part["experiment"].isin(["pt1_ft1-1", "pt1_seed2_ft1-1"])].groupby("step")["value"]
    assert np.allclose(trained, by_step.mean().to_numpy())
    view = means[(means["experiment"] == "pt1_ft1-1") & (means["task"] == "distance")
                  & (means["condition"] == "standard")]
    assert np.allclose(trained, view["value"]) and (view["n_seeds"] == 2).all()
    [spread] = plots_helpers.by_gid(ax, "spread")  # ± std at the last checkpoint of the trained line only
    [segment] = spread.get_segments()
    last = by_step.mean().index.max()
    assert segment[:, 0] == pytest.approx([last, last])
    assert sorted(segment[:, 1]) == pytest.approx([by_step.mean()[last] - by_step.std()[last],
                                                   by_step.mean()[last] + by_step.std()[last]])
    assert not [c for c in ax.collections if c.get_gid() not in ("others", "spread")]  # no bands
    last = [part[part["experiment"] == b].sort_values("step")["value"].iloc[-1] for b in ("pt1", "pt1_seed2")]
    assert base.get_ydata()[0] == pytest.approx(np.mean(last))


def test_a_seed_missing_on_a_task_is_noted_with_its_n(tmp_path: Path, config):
    root = tmp_path / "exp"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=3)
    (root / "pt1_seed2_ft2-2" / "evals" / "atlantis_compass" / "eval_data" / "evaluation_results.json").unlink()
    [(_, fig)], _ = render("checkpoints", root, config, only={"group": "ft2", "condition": "atlantis"})
    found = {ax.get_title(): notes(ax) for ax in fig.axes if ax.get_visible()}
    assert found["Compass"] == ["fewer seeds: ft2-2 (n=1)"]
    assert all(not v for k, v in found.items() if k != "Compass")


def test_log_panels_are_labelled_across_their_range(tmp_path: Path, config):
    """Readable values on every log panel: at least two labelled ticks, spread over at least 40%
    of the panel's (log) height, not two labels squeezed at one end."""
    write_tree(tmp_path, seeds=2, ft1=7, ft2=2, checkpoints=6)
    figs, _ = render("checkpoints", tmp_path, config)
    checked = 0
    for _, fig in figs:
        fig.canvas.draw()
        for ax in (a for a in fig.axes if a.get_visible() and a.get_yscale() == "log"):
            lo, hi = ax.get_ylim()
            ticks = [t.get_loc() for t in ax.yaxis.get_major_ticks() + ax.yaxis.get_minor_ticks()
                     if t.label1.get_visible() and t.label1.get_text() and lo <= t.get_loc() <= hi]
            assert len(ticks) >= 2, (ax.get_title(), ticks)
            spread = np.log(max(ticks) / min(ticks)) / np.log(hi / lo)
            assert spread >= 0.4, (ax.get_title(), ticks, (lo, hi))
            checked += 1
    assert checked == 4 * 4  # 4 log tasks on each of the 4 figures


@pytest.mark.parametrize("ft2", [4, 21], ids=["few experiments", "paper shape"])
def test_on_a_one_column_page_panels_share_one_x_axis_and_fit_the_page(tmp_path: Path, config, ft2: int):
    """At 3.5 in the panels stack in one column: one x axis (same range, labelled under the last panel
    only) and panels shortened so the figure fits a page's height, unless that would make them unreadably
    short (then each gets the minimum)."""
    import dataclasses

    from plots.checkpoints import _MIN_PANEL_H, PAGE_HEIGHT

    root = tmp_path / "experiments"
    write_tree(root, seeds=1, ft1=3, ft2=ft2, checkpoints=4)
    figs, _ = render("checkpoints", root, dataclasses.replace(config, plot_width=3.5))
    assert figs
    for keys, fig in figs:
        fig.canvas.draw()
        panels = fig.axes
        assert len(panels) > 1 and all(ax.get_position().width == panels[0].get_position().width for ax in panels)
        shown = [ax for ax in panels if any(t.get_visible() and t.get_text() for t in ax.get_xticklabels())]
        assert shown == [panels[-1]], keys
        assert [ax.get_xlabel() for ax in panels] == [""] * (len(panels) - 1) + ["training step"]
        assert len({ax.get_xlim() for ax in panels}) == 1, keys
        height = fig.get_size_inches()[1]
        panel_h = [ax.get_position().height * height for ax in panels]
        assert height <= PAGE_HEIGHT + 1e-6 or panel_h == pytest.approx([_MIN_PANEL_H] * len(panels)), keys
        plots_helpers.check_page(fig, 3.5)


# --- run_checkpoints: runs without a baseline, one line per run ---------------------------------------

def evaluations(root: Path, metric: str) -> dict[str, dict[int, list[float]]]:
    """{model: {step: [each seed's value]}} read straight from the trainer_state.json files."""
    import json
    import re
    out: dict[str, dict[int, list[float]]] = {}
    for state in sorted(root.glob("*/trainer_state.json")):
        model = re.sub(r"-seed\d+$", "", state.parent.name)
        for entry in json.loads(state.read_text())["log_history"]:
            if f"eval_{metric}" in entry:
                out.setdefault(model, {}).setdefault(entry["step"], []).append(entry[f"eval_{metric}"])
    return out


def run_lines(ax):
    """{run: (steps, values, colour hex, marker)} of a run_checkpoints panel (its only Line2Ds)."""
    return {ln.get_label(): (ln.get_xdata(), ln.get_ydata(), to_hex(ln.get_color()), ln.get_marker())
            for ln in ax.lines}


MEANINGS = {to_hex(c) for c in (TRAINED, UNTRAINED, BETTER, WORSE, BASELINE)}


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_run_lines_are_seed_means_in_their_own_colours(trainer_runs, config, width):
    from testing_helpers import inferred_config
    cfg = inferred_config(trainer_runs, config, width)
    [(_, fig)], _ = render("run_checkpoints", trainer_runs, cfg, only={"group": "runs", "condition": "eval",
                                                                        "task": "accuracy"})
    [ax] = fig.axes
    lines = run_lines(ax)
    want = evaluations(trainer_runs, "accuracy")
    assert set(lines) == set(want) == {"bert", "roberta"}
    for run, by_step in want.items():
        steps, values, _, _ = lines[run]
        assert list(steps) == sorted(by_step)
        assert values == pytest.approx([np.mean(by_step[s]) for s in sorted(by_step)])
    colours = [c for _, _, c, _ in lines.values()]
    assert len(set(colours)) == len(colours) and not set(colours) & MEANINGS
    assert set(colours) <= {to_hex(c) for c in RUN_COLOURS}
    assert labels(ax) == ["bert (n=2)", "roberta"]  # named at the end, few runs: no legend of names
    assert [to_hex(t.get_color()) for t in ax.texts] == [lines["bert"][2], lines["roberta"][2]]
    [band] = plots_helpers.by_gid(ax, "band")  # bert only: roberta has one seed
    assert to_hex(band.get_facecolor()[0]) == lines["bert"][2]
    edge = band.get_paths()[0].vertices
    for step, seeds in want["bert"].items():
        at = edge[np.isclose(edge[:, 0], step), 1]
        std = np.std(seeds, ddof=1)
        assert min(at) == pytest.approx(np.mean(seeds) - std) and max(at) == pytest.approx(np.mean(seeds) + std)
    lo, hi = ax.get_ylim()
    assert plots_helpers.in_view(lo, hi, [*edge[:, 1], *(v for _, ys, _, _ in lines.values() for v in ys)])
    lo, hi = ax.get_xlim()
    assert plots_helpers.in_view(lo, hi, [100, 300]) and ax.get_xscale() == "linear"
    plots_helpers.check_page(fig, width)
    assert fig.get_layout_engine() is None
    assert plots_helpers.title(fig) == "accuracy at every checkpoint: runs compared (runs, Evaluation set; no baseline)"


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_many_runs_get_a_legend_and_a_colour_and_marker_pair_each(tmp_path, config, width):
    from testing_helpers import inferred_config, write_trainer_run
    root = tmp_path / "runs"
    for i in range(9):
        write_trainer_run(root / f"model-{i}", [0.5 + 0.03 * i, 0.6 + 0.02 * i])
    cfg = inferred_config(root, config, width)
    [(_, fig)], _ = render("run_checkpoints", root, cfg, only={"group": "runs", "condition": "eval",
                                                              "task": "accuracy"})
    [ax] = fig.axes
    lines = run_lines(ax)
    assert len(lines) == 9 and not labels(ax)
    pairs = {(c, m) for _, _, c, m in lines.values()}
    assert len(pairs) == 9 and not {c for c, _ in pairs} & MEANINGS
    assert len({c for c, _ in pairs}) == len(RUN_COLOURS)  # every colour of the palette before one repeats
    [legend] = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [f"model-{i}" for i in range(9)]
    for i in range(9):
        assert lines[f"model-{i}"][1] == pytest.approx([0.5 + 0.03 * i, 0.6 + 0.02 * i])
    plots_helpers.check_page(fig, width)


@pytest.mark.parametrize("width", [7.5, 3.5])
@pytest.mark.parametrize("task", ["loss", "accuracy"])
def test_real_trainer_runs_over_checkpoints_fit_the_page(config, width, task):
    """Real Trainer runs: 100 to 215k steps (a log step axis for loss), runs ending at different steps."""
    from readers_helpers import real
    from testing_helpers import inferred_config
    root = real("hf_runs")
    figs, view = render("run_checkpoints", root, inferred_config(root, config, width))
    [(keys, fig)] = [(k, f) for k, f in figs if k["task"] == task and k["condition"] == "eval"]
    plots_helpers.check_page(fig, width)
    [ax] = fig.axes
    part = view[(view["group"] == keys["group"]) & (view["task"] == task) & (view["condition"] == "eval")]
    lines = run_lines(ax)
    assert set(lines) == set(part["model"])
    for run, (steps, values, _, _) in lines.items():
        rows = part[part["model"] == run].sort_values("step")
        assert list(steps) == list(rows["step"]) and values == pytest.approx(rows["value"].to_numpy())
    colours = [c for _, _, c, _ in lines.values()]
    assert len(set(colours)) == len(colours) and not set(colours) & MEANINGS
    for lim, values in ((ax.get_xlim(), part["step"]), (ax.get_ylim(), part["value"])):
        assert plots_helpers.in_view(*lim, values)
    assert ax.get_xscale() == ("log" if part["step"].max() / part["step"].min() > 30 else "linear")
