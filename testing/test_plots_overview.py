"""Runs without a baseline: the overview per run group (plots/overview.py) and the evaluation-suite
table, dots and subtasks (plots/suite.py), with their numbers (analysis/overview.py) read back from the
drawn figures and checked against the files."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from readers_helpers import copy_real
from testing_helpers import inferred_config, render, render_views, write_trainer_run

from plots.style import BASELINE, BETTER, RUN_COLOURS, TRAINED, UNTRAINED, WORSE

MEANINGS = {to_hex(c) for c in (TRAINED, UNTRAINED, BETTER, WORSE, BASELINE)}


def lines(fig) -> dict[str, dict[str, tuple]]:
    """{panel title: {run: (steps, values, colour, marker, alpha)}} of an overview's run lines."""
    out = {}
    for ax in fig.axes:
        found = {}
        for ln in ax.lines:
            gid = ln.get_gid() or ""
            if gid.startswith("line:"):
                run = gid.split(":")[1]
                found[run] = (np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float),
                              to_hex(ln.get_color()), ln.get_marker(), ln.get_alpha())
        out[ax.get_title()] = found
    return out


def marks(fig, kind: str) -> dict[str, list[tuple[float, float]]]:
    """{panel title: [(x, y)]} of the `best` rings or `nan` crosses."""
    out = {}
    for ax in fig.axes:
        pts = [(float(x), float(y)) for ln in ax.lines if (ln.get_gid() or "").startswith(kind + ":")
               for x, y in zip(ln.get_xdata(), ln.get_ydata())]
        out[ax.get_title()] = pts
    return out


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_overview_lines_are_seed_means_in_one_colour_per_run(trainer_runs, config, width):
    cfg = inferred_config(trainer_runs, config, width)
    [(keys, fig)], view = render("overview", trainer_runs, cfg)
    assert keys == {"group": "runs", "page": 1}
    drawn = lines(fig)
    assert set(drawn) == {"accuracy ↑", "loss ↓", "matthews_correlation ↑"}
    acc = drawn["accuracy ↑"]
    assert set(acc) == {"bert", "roberta"}
    assert acc["bert"][1] == pytest.approx([0.71, 0.85, 0.86])  # the two seeds' mean per step
    assert list(acc["roberta"][0]) == [100, 200, 300]
    for panel in drawn.values():  # one colour and marker per run, in every panel, none with a meaning
        assert panel["bert"][2:4] == acc["bert"][2:4] and panel["roberta"][2:4] == acc["roberta"][2:4]
    assert acc["bert"][2] != acc["roberta"][2] and not {acc["bert"][2], acc["roberta"][2]} & MEANINGS
    # the best evaluation checkpoint: highest accuracy, lowest loss
    assert (300.0, pytest.approx(0.86)) in [(x, pytest.approx(y)) for x, y in marks(fig, "best")["accuracy ↑"]]
    assert (200.0, pytest.approx(0.75)) not in marks(fig, "best")["loss ↓"]
    assert [x for x, _ in marks(fig, "best")["loss ↓"]] == [300.0, 300.0]
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend[:2] == ["bert (n=2)", "roberta"] and "best evaluation checkpoint" in legend
    plots_helpers.check_page(fig, width)


def test_a_run_keeps_its_colour_in_every_figure(tmp_path, config):
    """Colours come from the sorted runs of the whole group, not from the runs a figure shows: `b`
    has no matthews_correlation, and `c` keeps its colour in that panel and in the table."""
    root = tmp_path / "runs"
    write_trainer_run(root / "a", [0.5, 0.6], {"matthews_correlation": [0.1, 0.2]})
    write_trainer_run(root / "b", [0.55, 0.65])
    write_trainer_run(root / "c", [0.52, 0.7], {"matthews_correlation": [0.0, 0.3]})
    cfg = inferred_config(root, config)
    [(_, over)], _ = render("overview", root, cfg)
    [(_, table)], _ = render("suite_table", root, cfg)
    [(_, dots)], _ = render("last_values", root, cfg)
    drawn = lines(over)
    colours = {run: c for run, (_, _, c, _, _) in drawn["accuracy ↑"].items()}
    assert colours == {r: to_hex(RUN_COLOURS[i]) for i, r in enumerate("abc")}
    assert {r: v[2] for r, v in drawn["matthews_correlation ↑"].items()} == {"a": colours["a"], "c": colours["c"]}
    names = {t.get_text(): to_hex(t.get_color()) for ax in table.axes for t in ax.texts if t.get_gid() == "run"}
    assert names == colours
    for ax in dots.axes:
        for ln in ax.lines:
            if (ln.get_gid() or "").startswith("dot:"):
                assert to_hex(ln.get_color()) == colours[ln.get_gid()[4:]]


def test_a_nan_breaks_the_line_and_is_crossed(tmp_path, config):
    root = tmp_path / "runs"
    write_trainer_run(root / "a", [0.5, float("nan"), 0.7, 0.8])
    write_trainer_run(root / "b", [0.4, 0.5, 0.6, 0.65])
    cfg = inferred_config(root, config)
    [(_, fig)], view = render("overview", root, cfg)
    steps, values, *_ = lines(fig)["accuracy ↑"]["a"]
    assert list(steps) == [100, 200, 300, 400] and np.isnan(values[1])  # a gap, not a bridge
    [(x, _)] = marks(fig, "nan")["accuracy ↑"]
    assert x == 200
    assert bool(view.loc[(view["model"] == "a") & (view["step"] == 200) & (view["panel"] == "accuracy"),
                         "diverged"].iloc[0])
    assert "NaN: evaluation diverged" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_a_long_log_is_drawn_from_what_its_pixels_show_markers_where_they_were(tmp_path, config):
    """3,000 evaluations in a panel ~240 pixels wide: the line keeps each pixel column's first, last,
    lowest and highest point (plots.thinning), so its extremes and ends, and its ~20 markers at the
    steps the whole line has them."""
    root = tmp_path / "runs"
    rng = np.random.default_rng(1)
    for name in ("a", "b"):
        write_trainer_run(root / name, list(np.clip(np.linspace(0.2, 0.9, 3000) + rng.normal(0, 0.05, 3000), 0, 1)))
    [(_, fig)], view = render("overview", root, inferred_config(root, config))
    ax = next(a for a in fig.axes if a.get_title() == "accuracy ↑")
    assert ax.get_xscale() == "log"
    for ln in ax.lines:
        if not (ln.get_gid() or "").startswith("line:"):
            continue
        whole = view[(view["model"] == ln.get_gid().split(":")[1]) & (view["panel"] == "accuracy")]
        steps, values = np.asarray(ln.get_xdata(), float), np.asarray(ln.get_ydata(), float)
        assert 20 < len(steps) < len(whole) / 2
        assert np.all(np.isin(steps, whole["step"])) and np.all(np.diff(steps) > 0)
        assert (steps[0], steps[-1]) == (100, 300000)
        assert values.max() == whole["value"].max() and values.min() == whole["value"].min()
        assert list(steps[ln.get_markevery()]) == list(whole["step"].to_numpy()[::150])


def _curves(rows: list[tuple]) -> pd.DataFrame:
    """A curves view of runs without a baseline: (model, condition, task, kind, step, value)."""
    df = pd.DataFrame(rows, columns=["model", "condition", "task", "kind", "step", "value"])
    return df.assign(experiment=df["model"], group="runs", seed=1, baseline_experiment="", trained_on="", std=np.nan)


EMPTY = pd.DataFrame(columns=["experiment", "condition", "task", "step", "metric", "statistic", "value"])


def test_train_and_eval_of_a_metric_share_a_panel_eval_first(config):
    from analysis.overview import PANELS_PER_PAGE, run_overview
    rows = [(m, c, "loss", "error", s, v + (0.1 if c == "train" else 0) + 0.01 * i)
            for i, m in enumerate(["a", "b"]) for c in ("train", "eval") for s, v in ((1, 1.0), (2, 0.8), (3, 0.7))]
    rows += [(m, "train", f"lr{k:02d}", "error", s, 0.1 * s) for m in ("a", "b") for k in range(PANELS_PER_PAGE)
             for s in (1, 2)]
    view = run_overview(EMPTY, _curves(rows), config)
    loss = view[view["name"] == "loss"]
    assert set(loss["panel"]) == {"loss"} and set(loss["role"]) == {"train", "eval"}
    assert loss["panel_order"].iloc[0] == 0 and loss["page"].iloc[0] == 1  # the panel with evaluations first
    assert view["page"].max() == 2  # 13 panels: a second page
    best = loss[loss["best"]]
    assert set(best["condition"]) == {"eval"} and list(best["step"]) == [3, 3]  # evaluations only


@pytest.mark.parametrize("a_values, b_values, panel", [
    ([0.4, 0.5], [0.5, 0.6], True),
    ([0.4, 0.5], [0.5, np.nan], True),  # a's curve makes the panel; b's one finite value is drawn in it
    ([0.4, np.nan], [np.nan, 0.6], False),  # one finite step a run: no curve, no panel
])
def test_a_task_is_a_panel_when_some_run_of_it_has_two_finite_steps(config, a_values, b_values, panel):
    from analysis.overview import OVERVIEW_COLUMNS, run_overview
    rows = [(m, "eval", "acc", "accuracy", s, v) for m, values in (("a", a_values), ("b", b_values))
            for s, v in zip((1, 2), values)]
    rows += [(m, "eval", "f1", "accuracy", s, 0.1 * s) for m in ("a", "b") for s in (1, 2)]  # always a panel
    view = run_overview(EMPTY, _curves(rows), config)
    assert set(view["name"].astype(str)) == ({"acc", "f1"} if panel else {"f1"})
    assert len(view) == (8 if panel else 4) and set(view["model"].astype(str)) == {"a", "b"}
    # no lm-eval stderr: the column is there all the same, in its place, all missing
    assert list(view.columns) == OVERVIEW_COLUMNS
    assert view["stderr"].dtype == "float64" and view["stderr"].isna().all()


def test_the_overview_holds_its_labels_as_codes_in_the_strings_order(config):
    """Millions of rows for a log tree: labels stay categorical (sorted categories, only those used),
    rows in the order of the strings; aliases fold to one name as strings would."""
    from analysis.overview import run_overview
    rows = [(m, c, t, "error", s, 1.0 / s + i) for i, m in enumerate(["b10", "a", "B", "b2"])
            for c in ("train", "eval") for t in ("loss", "hendrycksTest-x", "zz") for s in (3, 1, 2)]
    view = run_overview(EMPTY, _curves(rows), config)
    labels = ["group", "model", "condition", "role", "task", "name", "panel", "panel_label", "kind"]
    for c in labels:
        assert isinstance(view[c].dtype, pd.CategoricalDtype), c
        cats = list(view[c].cat.categories)
        assert cats == sorted(set(view[c].astype(str))), c
    text = view.astype({c: str for c in labels})
    keys = ["group", "page", "panel_order", "model", "condition", "step"]
    pd.testing.assert_frame_equal(text, text.sort_values(keys, kind="stable", ignore_index=True))
    assert set(text["name"]) == {"loss", "mmlu_x", "zz"} and list(text["model"].unique()) == ["B", "a", "b10", "b2"]
    small = ["run_index", "panel_order", "page", "n_seeds"]  # 1 byte each here, in the worker too
    assert [str(view[c].dtype) for c in small] == ["int8"] * 4 and view["run_index"].tolist()[:1] == [0]


@pytest.mark.parametrize("values, panels", [
    ({"a": [0.41, 0.42], "b": [40.0, 42.0]}, 2),  # ROUGE as a fraction and in percent: not one axis
    ({"a": [0.41, 0.42], "b": [0.30, 0.45]}, 1),
])
def test_panels_share_an_axis_only_on_one_scale(config, values, panels):
    from analysis.overview import run_overview
    rows = [(m, "standard", "rouge1", "accuracy", 100 * (k + 1), v) for m, vs in values.items() for k, v in enumerate(vs)]
    view = run_overview(EMPTY, _curves(rows), config)
    assert view["panel"].nunique() == panels


def test_losses_of_unrelated_runs_get_panels_of_their_own(config):
    from analysis.overview import run_overview
    rows = [(m, "standard", t, "error" if t == "loss" else "accuracy", s, v)
            for m, ts in {"vit": ["loss", "f1"], "whisper": ["loss", "wer"], "bart": ["loss", "rouge1"],
                          "t5": ["loss", "rouge1"]}.items()
            for t in ts for s, v in ((100, 0.9), (200, 0.8))]
    view = run_overview(EMPTY, _curves(rows), config)
    loss = view[view["name"] == "loss"].groupby("panel")["model"].apply(lambda m: sorted(set(m))).tolist()
    assert sorted(loss) == [["bart", "t5"], ["vit"], ["whisper"]]  # same metrics reported: same kind of task


def test_a_log_step_axis_only_past_30x(tmp_path, config):
    from plots.overview import step_scale
    assert step_scale(np.array([100, 200, 3000])) == "linear"
    assert step_scale(np.array([100, 200, 215000])) == "log"
    assert step_scale(np.array([0, 100, 215000])) == "symlog"


# --- evaluation suites: lm-eval result sets -----------------------------------------------------------

def _lm_eval_file(path: Path, results: dict, limit=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"results": results, "config": {"model": "hf", "limit": limit},
                                "versions": {k: 0 for k in results}}))


def _stderr_of(root: Path) -> dict[tuple[str, str], tuple[float, float]]:
    """{(model folder, task): (acc, acc_stderr)} straight from the real results files."""
    out = {}
    for f in root.rglob("results*.json"):
        for task, r in json.loads(f.read_text())["results"].items():
            acc = next((k for k in ("acc", "acc,none") if k in r), None)
            if acc is not None:
                err = r.get(acc.replace("acc", "acc_stderr")) or r.get("acc_stderr,none")
                out[(f.parent.name, task)] = (r[acc], err)
    return out


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_the_suite_table_shows_value_and_stderr_with_aliases_merged(tmp_path, config, width):
    root = copy_real(["lm_eval"], tmp_path / "tree")  # one run group: lm_eval
    cfg = inferred_config(root, config, width)
    [(_, fig)], view = render("suite_table", root, cfg)
    names = set(view["name"])
    assert "mmlu" in names and not any(n.startswith(("hendrycksTest", "mmlu_")) for n in names)
    pythia = view[(view["model"] == "pythia-v1.1-160m") & (view["name"] == "mmlu")].iloc[0]
    scores_view = render_views("suite_subtasks", root, cfg)[1]["suite_subtasks"]
    subs = scores_view[(scores_view["model"] == "pythia-v1.1-160m") & (scores_view["benchmark"] == "mmlu")
                       & ~scores_view["headline"]]
    assert len(subs) == 57 and set(subs["name"]) >= {"mmlu_anatomy", "mmlu_virology"}
    assert bool(pythia["aggregated"]) and pythia["value"] == pytest.approx(subs["value"].mean())
    mamba = view[(view["model"] == "mamba-130m") & (view["name"] == "mmlu")].iloc[0]
    assert not bool(mamba["aggregated"])  # the reported aggregate, not a mean of ours
    cells = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == "cell"]
    piqa = view[(view["name"] == "piqa")].iloc[0]
    assert f"{piqa['value']:.3f}\n±{piqa['stderr']:.3f}" in cells
    assert piqa["stderr"] == pytest.approx(0.011281, abs=1e-6)
    assert f"{pythia['value']:.3f}*\n±{pythia['stderr']:.3f}" in cells
    plots_helpers.check_page(fig, width)


def test_dots_have_stderr_intervals_and_best_is_marked(tmp_path, config):
    root = tmp_path / "lm"
    _lm_eval_file(root / "m1" / "results.json", {"piqa": {"acc": 0.60, "acc_stderr": 0.010},
                                                  "arc_easy": {"acc": 0.40, "acc_stderr": 0.02}})
    _lm_eval_file(root / "m2" / "results.json", {"piqa": {"acc": 0.615, "acc_stderr": 0.010},
                                                  "arc_easy": {"acc": 0.50, "acc_stderr": 0.02}})
    cfg = inferred_config(root, config)
    [(_, fig)], view = render("last_values", root, cfg)
    piqa = view[view["name"] == "piqa"].set_index("model")
    assert bool(piqa.loc["m2", "best"]) and bool(piqa.loc["m1", "tied"])  # 0.015 apart, stderr 0.010 each
    arc = view[view["name"] == "arc_easy"].set_index("model")
    assert bool(arc.loc["m2", "best"]) and not bool(arc.loc["m1", "tied"])
    ax = next(a for a in fig.axes if a.get_title().startswith("piqa"))
    bars = sorted(tuple(np.round(ln.get_xdata(), 6)) for ln in ax.lines if ln.get_gid() == "interval")
    assert bars == [tuple(np.round([0.6 - 1.96 * 0.01, 0.6 + 1.96 * 0.01], 6)),
                    tuple(np.round([0.615 - 1.96 * 0.01, 0.615 + 1.96 * 0.01], 6))]
    plots_helpers.check_page(fig)


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_real_trees_give_readable_suite_figures(tmp_path, config, width):
    root = copy_real(["lm_eval", "hf_runs"], tmp_path / "tree")
    cfg = inferred_config(root, config, width)
    for name in ("last_values", "suite_subtasks", "overview"):
        figs, _ = render(name, root, cfg)
        assert figs, name
        for _, fig in figs:
            plots_helpers.check_page(fig, width)


def test_a_group_of_one_run_and_one_metric_draws_nothing(config):
    """A figure must compare two runs or two metrics: one run with one metric gives no overview."""
    from analysis.overview import run_overview
    one = [("a", "standard", "accuracy", "accuracy", s, v) for s, v in ((100, 0.5), (200, 0.6))]
    assert run_overview(EMPTY, _curves(one), config).empty
    two = one + [("b", "standard", "accuracy", "accuracy", s, v) for s, v in ((100, 0.4), (200, 0.7))]
    assert set(run_overview(EMPTY, _curves(two), config)["model"]) == {"a", "b"}


def test_several_evaluation_sets_get_a_line_style_each(config):
    from analysis.overview import run_overview
    from plots.overview import draw
    from plots.registry import OutputContext
    rows = [(m, c, "accuracy", "accuracy", s, v + (0.05 if c == "test" else 0))
            for m in ("a", "b") for c in ("train", "eval", "test") for s, v in ((100, 0.5), (200, 0.6), (300, 0.65))]
    view = run_overview(EMPTY, _curves(rows), config)
    fig = draw(view, OutputContext(config, {"group": "runs", "page": 1}))
    [ax] = fig.axes
    styles = {ln.get_gid(): (ln.get_linestyle(), ln.get_alpha()) for ln in ax.lines
              if (ln.get_gid() or "").startswith("line:")}
    assert styles["line:a:eval"] == ("-", 1.0) and styles["line:a:test"] == ("--", 1.0)
    assert styles["line:a:train"][1] < 1  # training light
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    # how a line is drawn, each thing said once (not "eval (solid)" beside "evaluation (bold)")
    assert legend[legend.index("best evaluation checkpoint") + 1:] == [
        "training (light)", "eval (bold, solid)", "test (bold, dashed)"]
    handles = fig.legends[0].legend_handles[-3:]
    assert [(h.get_linestyle(), h.get_linewidth(), h.get_alpha()) for h in handles] == [
        ("-", 0.8, 0.45), ("-", 1.4, None), ("--", 1.4, None)]
    plots_helpers.check_page(fig)


def _training_run(folder: Path, scale: float) -> dict[str, dict[int, float]]:
    """A Trainer run logging loss, grad_norm and learning_rate every 10 steps and evaluating every 50;
    the diagnostics it logged, {name: {step: value}}."""
    folder.mkdir(parents=True)
    history, logged = [], {"grad_norm": {}, "learning_rate": {}}
    for step in range(10, 101, 10):
        row = {"loss": 2.0 / step, "grad_norm": scale * (1 + step % 30), "learning_rate": 5e-5 * (1 - step / 100),
               "epoch": step / 100, "step": step}
        history.append(row)
        for name in logged:
            logged[name][step] = row[name]
        if step % 50 == 0:
            history.append({"eval_loss": 1.0 / step, "eval_accuracy": step / 200 + scale / 10, "eval_runtime": 1.0,
                            "epoch": step / 100, "step": step})
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": 100, "max_steps": 100,
                                                           "log_history": history}))
    return logged


def test_training_diagnostics_are_curves_after_the_scored_metrics_never_ranked(tmp_path, config):
    from analysis.scores import DIAGNOSTIC
    from plots.overview import DIAGNOSTIC_FACE
    root = tmp_path / "runs"
    logged = {run: _training_run(root / run, scale) for run, scale in (("bert", 1.0), ("roberta", 1.5))}
    cfg = inferred_config(root, config)
    [(_, fig)], views = render_views("overview", root, cfg, extra=("scores", "findings", "suite_headline"))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[-2:] == ["grad_norm", "learning_rate"]  # after every scored panel, no ↑ or ↓
    assert all(t.endswith(("↑", "↓")) for t in titles[:-2]) and {"accuracy ↑", "loss ↓"} <= set(titles)
    drawn = lines(fig)
    for name in ("grad_norm", "learning_rate"):
        for run, series in logged.items():
            steps, values, *_ = drawn[name][run]
            assert list(steps) == sorted(series[name]) and values == pytest.approx([series[name][s] for s in steps])
        assert marks(fig, "best")[name] == []  # no best checkpoint
    faces = {ax.get_title(): to_hex(ax.get_facecolor()) for ax in fig.axes}
    assert faces["grad_norm"] == faces["learning_rate"] == to_hex(DIAGNOSTIC_FACE) != faces["accuracy ↑"]
    assert "grey panel: a training diagnostic (not scored)" in [t.get_text() for t in fig.legends[0].get_texts()]
    view = views["run_overview"]
    diag = view[view["kind"] == DIAGNOSTIC]
    assert set(diag["name"]) == {"grad_norm", "learning_rate"} and not diag["best"].any()
    assert diag["panel_order"].min() > view.loc[view["kind"] != DIAGNOSTIC, "panel_order"].max()
    for name in ("scores", "suite_headline"):  # never scored or ranked
        assert not {"grad_norm", "learning_rate"} & set(views[name]["task"]), name
    findings = views["findings"]
    assert len(findings) and not findings["task"].isin(["grad_norm", "learning_rate"]).any()
    plots_helpers.check_page(fig)


def test_a_diagnostic_panel_is_split_only_where_runs_lie_a_decade_apart(config):
    from analysis.overview import run_overview
    from analysis.scores import DIAGNOSTIC
    rows = [(m, "eval", "accuracy", "accuracy", s, 0.5 + s / 1000) for m in ("a", "b", "c") for s in (100, 200)]
    diag = _curves([(m, "train", "learning_rate", DIAGNOSTIC, s, lr * (1 - s / 400))
                    for m, lr in (("a", 2e-5), ("b", 5e-5), ("c", 1e-3)) for s in (100, 200, 300)])
    view = run_overview(EMPTY, _curves(rows), config, diag)
    lr = view[view["name"] == "learning_rate"].groupby("panel_label")["model"].apply(lambda m: sorted(set(m)))
    assert lr.to_dict() == {"learning_rate: 2 runs": ["a", "b"], "learning_rate: c": ["c"]}
    assert set(view.loc[view["name"] == "learning_rate", "panel_order"]) == {1, 2}


def test_a_run_with_only_diagnostics_takes_a_colour_after_the_scored_runs(config):
    from analysis.overview import run_index
    from analysis.scores import DIAGNOSTIC
    curves = _curves([(m, "eval", "accuracy", "accuracy", s, 0.5) for m in ("b", "c") for s in (1, 2)])
    diag = _curves([(m, "train", "grad_norm", DIAGNOSTIC, s, 1.0) for m in ("a", "b") for s in (1, 2)])
    assert run_index(curves) == {"b": 0, "c": 1}
    assert run_index(curves, diag) == {"b": 0, "c": 1, "a": 2}  # no scored run changes colour


def test_real_trainer_and_trl_runs_draw_grad_norm_and_learning_rate(tmp_path, config):
    """Every logged grad_norm and learning_rate of the real Trainer/TRL runs, as in their trainer_state.json."""
    root = copy_real(["trl_runs/safety-dpo", "hf_runs/roberta-lora-agnews"], tmp_path / "tree")
    cfg = inferred_config(root, config)
    figs, views = render_views("overview", root, cfg)
    view = views["run_overview"]
    for run, group in (("safety-dpo", "trl_runs"), ("roberta-lora-agnews", "hf_runs")):
        states = [json.loads(p.read_text()) for p in sorted((root / group / run).rglob("trainer_state.json"))]
        for name in ("grad_norm", "learning_rate"):  # every row of every copy (checkpoints repeat earlier rows)
            want = {row["step"]: row[name] for state in states for row in state["log_history"] if name in row}
            got = view[(view["model"] == run) & (view["name"] == name) & (view["condition"] == "train")]
            assert dict(zip(got["step"], got["value"])) == pytest.approx(want) and len(want) > 2, (run, name)
            assert not got["best"].any()
    drawn = {}
    for _, fig in figs:
        for title, runs in lines(fig).items():
            drawn.setdefault(title.split(":")[0], set()).update(runs)
    assert drawn["grad_norm"] >= {"roberta-lora-agnews"} and drawn["learning_rate"] >= {"roberta-lora-agnews"}
    for _, fig in figs:
        plots_helpers.check_page(fig)


@pytest.mark.parametrize("styles, train, expected", [
    ({"eval": "-", "test": "--", "test_ood": ":"}, True,
     ["training (light)", "eval (bold, solid)", "test (bold, dashed)", "test_ood (bold, dotted)"]),
    ({"eval": "-", "test": "--"}, False, ["eval (solid)", "test (dashed)"]),
    ({"eval": "-"}, True, ["training (light)", "evaluation (bold)"]),
    ({"eval": "-"}, False, []),  # one evaluation set, no training: every line is one, nothing to tell apart
])
def test_the_line_style_legend_says_each_thing_once(styles, train, expected):
    from plots.overview import style_legend
    handles, names = style_legend(styles, train)
    assert names == expected and len(handles) == len(names)
    assert [h.get_linestyle() for h in handles] == (["-"] if train else []) + (
        list(styles.values()) if len(styles) > 1 else ["-"] * train)
