"""plots/last_value.py: runs without a baseline, each run's value at its last checkpoint, one figure per task:
a neutral bar from 0 (a diamond when a value is negative), the mean over the seeds its name shows, ± std and
each seed, the number beside it."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_hex

import plots_helpers
from readers_helpers import real
from testing_helpers import inferred_config, render
from plots.style import NEUTRAL, TRAINED, UNTRAINED


def last_values(root: Path, metric: str) -> dict[str, list[float]]:
    """{model: [each seed's value at its last evaluation]} read straight from the trainer_state.json files."""
    out: dict[str, list[float]] = {}
    for state in sorted(root.glob("*/trainer_state.json")):
        history = [e for e in json.loads(state.read_text())["log_history"] if f"eval_{metric}" in e]
        last = max(history, key=lambda e: e["step"])
        out.setdefault(re.sub(r"-seed\d+$", "", state.parent.name), []).append(last[f"eval_{metric}"])
    return out


def drawn(fig) -> dict:
    """What the panel shows, by row label: bar end or diamond, whisker, seed dots, the number beside it."""
    [ax] = fig.axes
    labels = [t.get_text() for t in ax.get_yticklabels()]
    out = {lab: {"seeds": []} for lab in labels}
    for coll in plots_helpers.by_gid(ax, "bars"):
        for path in coll.get_paths():
            v = path.vertices
            out[labels[round(v[:, 1].mean())]]["mean"] = (v[:, 0].min(), v[:, 0].max())
    for coll in plots_helpers.by_gid(ax, "means"):
        for x, y in coll.get_offsets():
            out[labels[round(y)]]["mean"] = (x, x)
    for coll in plots_helpers.by_gid(ax, "spread"):
        for seg in coll.get_segments():
            out[labels[round(seg[0][1])]]["spread"] = (seg[0][0], seg[1][0])
    for coll in plots_helpers.by_gid(ax, "seeds"):
        for x, y in coll.get_offsets():
            out[labels[round(y)]]["seeds"].append(x)
    for text in ax.texts:
        if text.get_gid() == "value":
            out[labels[round(text.get_position()[1])]]["number"] = text.get_text()
    return out


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_bars_from_zero_show_each_models_mean_std_and_seeds(trainer_runs, config, width):
    cfg = inferred_config(trainer_runs, config, width)
    [(keys, fig)], _ = render("last_value", trainer_runs, cfg, only={"group": "runs", "condition": "eval",
                                                                       "task": "accuracy"})
    want = last_values(trainer_runs, "accuracy")
    got = drawn(fig)
    assert list(got) == ["bert (n=2)", "roberta"]
    for model, values in want.items():
        row = got[f"{model} (n={len(values)})" if len(values) > 1 else model]
        assert row["mean"] == pytest.approx((0.0, np.mean(values)))  # a bar from 0 to the mean
        assert row["number"] == f"{np.mean(values):.3g}"
        if len(values) > 1:
            std = np.std(values, ddof=1)
            assert row["spread"] == pytest.approx((np.mean(values) - std, np.mean(values) + std))
            assert sorted(row["seeds"]) == pytest.approx(sorted(values))
        else:
            assert "spread" not in row and not row["seeds"]
    [ax] = fig.axes
    [bars] = plots_helpers.by_gid(ax, "bars")
    assert {to_hex(c) for c in bars.get_facecolors()} == {to_hex(NEUTRAL)}  # no trained/untrained meaning here
    assert to_hex(NEUTRAL) not in {to_hex(TRAINED), to_hex(UNTRAINED)}
    lo, hi = ax.get_xlim()
    every = [v for vs in want.values() for v in vs] + [e for r in got.values() for e in r.get("spread", ())]
    assert lo == 0 and plots_helpers.in_view(lo, hi, every)
    plots_helpers.check_page(fig, width)
    assert fig.get_layout_engine() is None
    title = plots_helpers.title(fig)
    assert title == "accuracy at each run's last checkpoint: runs compared (runs, Evaluation set; no baseline)"
    assert fig._suptitle.get_text().count("\n") <= 1


@pytest.mark.parametrize("width", [7.5, 3.5])
def test_a_negative_value_is_a_point_not_a_bar(trainer_runs, config, width):
    cfg = inferred_config(trainer_runs, config, width)
    [(_, fig)], _ = render("last_value", trainer_runs, cfg, only={"group": "runs", "condition": "eval",
                                                                   "task": "matthews_correlation"})
    [ax] = fig.axes
    assert not plots_helpers.by_gid(ax, "bars")
    want = last_values(trainer_runs, "matthews_correlation")
    got = drawn(fig)
    assert got["roberta"]["mean"] == pytest.approx((-0.05, -0.05))
    assert got["bert (n=2)"]["mean"][0] == pytest.approx(np.mean(want["bert"]))
    lo, hi = ax.get_xlim()
    assert lo < -0.05 and plots_helpers.in_view(lo, hi, [v for vs in want.values() for v in vs])
    plots_helpers.check_page(fig, width)


@pytest.mark.parametrize("width", [7.5, 3.5])
@pytest.mark.parametrize("task", ["loss", "accuracy"])
def test_real_trainer_runs_fit_the_page(config, width, task):
    """Seven real Trainer runs (one seed each): long run names, numbers from 0.05 to 1.6."""
    root = real("hf_runs")
    cfg = inferred_config(root, config, width)
    figs, view = render("last_value", root, cfg)
    [(keys, fig)] = [(k, f) for k, f in figs if k["task"] == task and k["condition"] == "eval"]
    plots_helpers.check_page(fig, width)
    [ax] = fig.axes
    lo, hi = ax.get_xlim()
    part = view[(view["group"] == keys["group"]) & (view["task"] == task) & (view["condition"] == "eval")]
    assert lo == 0 and plots_helpers.in_view(lo, hi, part["value"])
    assert len(ax.get_yticklabels()) == part["model"].nunique()
