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
from analysis.frames import group_numbers, sort_order
from analysis.overview import bounded, canonical
from utils.config import Config

Settings = list[tuple[Any, Any, dict]]  # (experiment, source, its results file's JSON): `_settings`
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
    """Runs whose best evaluation checkpoint is not their last, per metric panel: slices (group, panel,
    model, condition) in sorted order. Each slice's best row and last step are found on arrays (a log
    tree's overview is millions of rows in thousands of slices), then only the slices with a best
    checkpoint are looked at one by one."""
    keys = ["group", "panel", "model", "condition"]
    if overview.empty:
        return []
    keep = np.isfinite(overview["value"].to_numpy(dtype=float)) & (overview["role"] == "eval").to_numpy(dtype=bool)
    for k in keys:  # a slice with a missing label is none (as a group-by leaves it out)
        keep &= overview[k].notna().to_numpy()
    ok = overview.loc[keep, [*keys, "name", "kind", "step", "value", "stderr", "best"]]  # the columns read here
    if ok.empty:
        return []
    slices = group_numbers(ok, keys)
    steps = ok["step"].to_numpy()
    by_step = np.lexsort((steps, slices))  # each slice's rows by step: its last row ends its run
    last = by_step[np.append(slices[by_step][1:] != slices[by_step][:-1], True)]
    marked = np.flatnonzero(ok["best"].to_numpy(dtype=bool))
    numbers, first = np.unique(slices[marked], return_index=True)
    best = marked[first]  # each slice's first row marked best, by slice number
    last = last[numbers]  # last[i] was slice i's: the slices are numbered 0, 1, ... and lexsort put them in that order
    picked = ok.iloc[best]  # the best rows: their labels read from these, not from every row as objects
    order = sort_order(picked, keys)  # slices in sorted order, as the group-by gave them
    best, last, picked = best[order], last[order], picked.iloc[order]
    labels = zip(*(picked[c].to_numpy(dtype=object) for c in ("group", "condition", "name", "kind", "model")))
    value, stderr = ok["value"].to_numpy(dtype=float), ok["stderr"].to_numpy(dtype=float)
    rows = []
    for b, e, (group, condition, name, kind, model) in zip(best.tolist(), last.tolist(), labels):
        if steps[b] == steps[e] or value[b] == value[e]:
            continue
        both = np.sqrt(stderr[b] ** 2 + stderr[e] ** 2)
        if not np.isfinite(both) and round(float(value[b]), 3) == round(float(value[e]), 3):
            continue  # no difference at the precision reported
        rows.append({"topic": "run_best_last", "group": group, "condition": condition, "task": name, "kind": kind,
                     "experiment": model, "value": value[b], "low": steps[b], "reference": value[e], "high": steps[e],
                     "note": "tied" if np.isfinite(both) and abs(value[b] - value[e]) <= 1.96 * both else ""})
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


def _settings(frame: pd.DataFrame, groups: dict[str, str], root: Path | None) -> Settings:
    """(experiment, source, the JSON of that results file) for each file the runs in `groups` were read
    from, by experiment and source: what the tidy table does not carry (lm-eval's `limit`, the
    Trainer's `max_steps`). The files are found on the distinct (experiment, source) pairs of those
    runs' rows, numbered on the labels' codes (a log tree: 5 million rows, 200 files)."""
    keys = ["experiment", "source"]
    if root is None or frame.empty or "source" not in frame.columns:
        return []
    mine = frame["experiment"].isin(list(groups)).to_numpy(dtype=bool)  # a sweep scored against baselines: none
    if not mine.any():
        return []
    pairs = frame.loc[mine, keys]
    pairs = pairs.iloc[np.unique(group_numbers(pairs, keys), return_index=True)[1]].dropna()
    pairs = pairs.iloc[sort_order(pairs, keys)]
    out = []
    for exp, source in zip(pairs["experiment"].to_numpy(dtype=object), pairs["source"].to_numpy(dtype=object)):
        path = Path(root) / str(source)
        if path.suffix != ".json":
            continue
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            out.append((exp, source, data))
    return out


def _number(x: Any) -> float:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else float("nan")


def stopped_early(settings: Settings, groups: dict[str, str]) -> list[dict[str, Any]]:
    """Trainer runs whose last step is short of the `max_steps` they were set to run (early stopping,
    a crash, or only an intermediate checkpoint copied)."""
    steps: dict[str, list[float]] = {}
    for exp, _, data in settings:
        if "max_steps" in data and "global_step" in data:
            done, planned = _number(data["global_step"]), _number(data["max_steps"])
            if np.isfinite(done) and np.isfinite(planned):
                old = steps.get(exp, [0.0, 0.0])
                steps[exp] = [max(old[0], done), max(old[1], planned)]
    return [{"topic": "run_stopped", "group": groups[exp], "experiment": exp, "high": done, "reference": planned}
            for exp, (done, planned) in sorted(steps.items()) if 0 < done < planned]


def sampled(frame: pd.DataFrame, settings: Settings, groups: dict[str, str]) -> list[dict[str, Any]]:
    """lm-eval evaluations run on a sample (`config.limit` in the results file), per run and file."""
    rows = []
    for exp, source, data in settings:
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
    settings = _settings(frame, groups, config.data_root)  # read once for both
    rows = best_runs(suite) + best_vs_last(overview) + diverged(runs) + stopped_early(settings, groups)
    rows += sampled(frame, settings, groups)
    out = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    for col in ("value", "n", "reference", "delta", "low", "high", "median", "count", "total", "std"):
        out[col] = out[col].astype("float64")
    return out


__all__ = ["RUN_TOPICS", "run_findings", "bounded"]
