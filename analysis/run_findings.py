"""Findings of runs nobody described (no baseline), in the rows analysis/findings.py uses
(`FINDING_COLUMNS`), so summary.md words them beside the sweep's. Nothing here is worded.

Topics and the columns they fill (group: the run group; task: the canonical metric name):
  run_best       group, condition, task, kind, experiment (the best model), value, n (its seeds),
                 reference_experiment/reference (the runner-up and its value), delta (best - runner-up),
                 std (the best's stderr, NaN without one), total (models compared), note (`aggregated`: a
                 mean of subtasks; `tied`: the runner-up is within 1.96 combined stderr); only metrics on a
                 fixed scale (a loss depends on its data) that two or more models report
  run_best_last  group, condition, task, kind, experiment, value (best checkpoint's), low (its step),
                 reference (the last checkpoint's value), high (the last step): where they differ
                 (at 3 decimals); note `tied` when within 1.96 combined stderr
  run_diverged   group, condition, task, experiment, low (first step with a NaN), count (NaN steps)
  run_stopped    group, experiment, high (its last step), reference (the `max_steps` it was set to run,
                 from its trainer_state.json): runs that stopped short of it
  run_sampled    group, experiment, task, value (the evaluation's `limit`): lm-eval on a sample
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.findings import FINDING_COLUMNS
from analysis.overview import bounded, canonical
from utils.config import Config

RUN_TOPICS = ("run_best", "run_best_last", "run_diverged", "run_stopped", "run_sampled")


def best_runs(suite: pd.DataFrame) -> list[dict[str, Any]]:
    """The best model per metric of each group (headline rows of `suite_headline`, best marked)."""
    rows = []
    if suite.empty:
        return rows
    for (group, cond, name), part in suite.groupby(["group", "condition", "name"], sort=True):
        if not part["best"].any():
            continue
        signed = np.where(part["kind"] == "error", -part["value"], part["value"])
        order = part.assign(_s=signed).sort_values("_s", ascending=False)
        best, second = order.iloc[0], order.iloc[1]
        rows.append({"topic": "run_best", "group": group, "condition": cond, "task": name, "kind": best["kind"],
                     "experiment": best["model"], "value": best["value"], "n": best["n_seeds"],
                     "reference_experiment": second["model"], "reference": second["value"],
                     "delta": best["value"] - second["value"], "std": best["stderr"], "total": len(part),
                     "note": " ".join(w for w, on in (("aggregated", bool(best["aggregated"])),
                                                      ("tied", bool(second["tied"]))) if on)})
    return rows


def best_vs_last(overview: pd.DataFrame) -> list[dict[str, Any]]:
    """Runs whose best evaluation checkpoint is not their last, per metric panel."""
    rows = []
    if overview.empty:
        return rows
    ok = overview[np.isfinite(overview["value"].astype(float)) & (overview["role"] == "eval")]
    for (group, panel, model, cond), part in ok.groupby(["group", "panel", "model", "condition"], sort=True):
        best = part[part["best"]]
        if best.empty:
            continue
        b, last = best.iloc[0], part.sort_values("step").iloc[-1]
        if b["step"] == last["step"] or b["value"] == last["value"]:
            continue
        both = np.sqrt(b["stderr"] ** 2 + last["stderr"] ** 2)
        if not np.isfinite(both) and round(float(b["value"]), 3) == round(float(last["value"]), 3):
            continue  # no difference at the precision reported
        rows.append({"topic": "run_best_last", "group": group, "condition": cond, "task": b["name"],
                     "kind": b["kind"], "experiment": model, "value": b["value"], "low": b["step"],
                     "reference": last["value"], "high": last["step"],
                     "note": "tied" if np.isfinite(both) and abs(b["value"] - last["value"]) <= 1.96 * both else ""})
    return rows


def diverged(curves: pd.DataFrame) -> list[dict[str, Any]]:
    """Runs with a NaN evaluation (a diverged run, or a metric that could not be computed)."""
    rows = []
    if curves.empty:
        return rows
    bad = curves[~np.isfinite(curves["value"].astype(float))]
    for (group, cond, task, exp), part in bad.groupby(["group", "condition", "task", "experiment"], sort=True):
        rows.append({"topic": "run_diverged", "group": group, "condition": cond, "task": canonical(str(task)),
                     "experiment": exp, "low": float(part["step"].min()), "count": float(part["step"].nunique())})
    return rows


def _settings(frame: pd.DataFrame, groups: dict[str, str], root: Path | None):
    """(experiment, the JSON of each results file it was read from) for the runs in `groups`: what the
    tidy table does not carry (lm-eval's `limit`, the Trainer's `max_steps`)."""
    if root is None or frame.empty or "source" not in frame.columns:
        return
    pairs = frame.loc[frame["experiment"].isin(groups), ["experiment", "source"]]  # two columns, not every row's
    for exp, source in pairs.groupby(["experiment", "source"], sort=True).size().index:
        path = Path(root) / str(source)
        if path.suffix != ".json":
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield exp, source, data


def _number(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else float("nan")


def stopped_early(frame: pd.DataFrame, groups: dict[str, str], root: Path | None) -> list[dict[str, Any]]:
    """Trainer runs whose last step is short of the `max_steps` they were set to run (early stopping,
    a crash, or only an intermediate checkpoint copied)."""
    steps: dict[str, list[float]] = {}
    for exp, _, data in _settings(frame, groups, root):
        if "max_steps" in data and "global_step" in data:
            done, planned = _number(data["global_step"]), _number(data["max_steps"])
            if np.isfinite(done) and np.isfinite(planned):
                old = steps.get(exp, [0.0, 0.0])
                steps[exp] = [max(old[0], done), max(old[1], planned)]
    return [{"topic": "run_stopped", "group": groups[exp], "experiment": exp, "high": done, "reference": planned}
            for exp, (done, planned) in sorted(steps.items()) if 0 < done < planned]


def sampled(frame: pd.DataFrame, groups: dict[str, str], root: Path | None) -> list[dict[str, Any]]:
    """lm-eval evaluations run on a sample (`config.limit` in the results file), per run and file."""
    rows = []
    for exp, source, data in _settings(frame, groups, root):
        limit = _number((data.get("config") or {}).get("limit") if isinstance(data.get("config"), dict) else None)
        if np.isfinite(limit) and limit > 0:
            part = frame[(frame["experiment"] == exp) & (frame["source"] == source)]
            tasks = sorted({canonical(str(t)) for t in part["task"]})
            rows.append({"topic": "run_sampled", "group": groups[exp], "experiment": exp,
                         "task": ", ".join(tasks), "value": limit})
    return rows


def run_findings(frame: pd.DataFrame, curves: pd.DataFrame, overview: pd.DataFrame, suite: pd.DataFrame,
                 config: Config) -> pd.DataFrame:
    """Every finding about the runs without a baseline (see the module docstring), one row each."""
    from analysis.runs import without_baseline
    runs = curves[without_baseline(curves)] if not curves.empty else curves
    groups = runs.drop_duplicates("experiment").set_index("experiment")["group"].to_dict() if not runs.empty else {}
    rows = best_runs(suite) + best_vs_last(overview) + diverged(runs) + stopped_early(frame, groups, config.data_root)
    rows += sampled(frame, groups, config.data_root)
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    for col in ("value", "n", "reference", "delta", "low", "high", "median", "count", "total", "std"):
        out[col] = out[col].astype("float64")
    return out


__all__ = ["RUN_TOPICS", "run_findings", "bounded"]
