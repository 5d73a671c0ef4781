"""Runs without a baseline: the numbers that need none, for the last-value and per-metric
checkpoint figures.

A run whose name experiments.pattern does not describe, and that no named baseline scores, is
still drawn: its value at the last checkpoint and its metric over the checkpoints, per task.
Runs whose names differ only by `seed<N>` (`bert-seed1`, `bert-seed2`) are one model: mean, std
across seeds and each seed.
"""
from __future__ import annotations

import pandas as pd

from utils.labels import per_value

RUN_VALUE_COLUMNS = ["experiment", "model", "seed", "group", "condition", "task", "kind", "step", "value",
                     "value_mean", "value_std", "n_seeds"]
RUN_CURVE_COLUMNS = ["model", "group", "condition", "task", "kind", "step", "value", "seed_std", "n_seeds"]


def without_baseline(view: pd.DataFrame) -> pd.Series:
    """Rows of experiments scored against no baseline (not baselines themselves)."""
    none = pd.Series(per_value(view["baseline_experiment"], lambda v: v == "", True, bool), index=view.index)
    return none & (view["group"] != "baseline")


def with_baseline(view: pd.DataFrame) -> pd.DataFrame:
    """The rows the baseline-relative views and figures use: every row but the unscored runs'."""
    if view.empty or "baseline_experiment" not in view.columns:
        return view
    return view[~without_baseline(view)].reset_index(drop=True)


def run_values(scores: pd.DataFrame) -> pd.DataFrame:
    """Last value per run and task of the runs without a baseline, with its model's mean, std
    (NaN for one seed) and number of seeds alongside."""
    rows = scores[without_baseline(scores) & scores["value"].notna()] if not scores.empty else scores
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RUN_VALUE_COLUMNS})
    rows = rows.assign(value=rows["value"].astype("float64"))
    g = rows.groupby(["model", "condition", "task"], sort=False)["value"]
    out = rows.assign(value_mean=g.transform("mean"), value_std=g.transform("std"),
                      n_seeds=g.transform("count").astype("int64"))
    return out.sort_values(["group", "condition", "task", "model", "seed"], ignore_index=True)[RUN_VALUE_COLUMNS]


def run_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """The metric at every checkpoint of the runs without a baseline, averaged over a model's
    seeds per step; only tasks where a run has two steps or more (a curve)."""
    rows = curves[without_baseline(curves) & curves["value"].notna()] if not curves.empty else curves
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in RUN_CURVE_COLUMNS})
    keys = ["model", "group", "condition", "task", "kind"]
    out = rows.assign(value=rows["value"].astype("float64")).groupby(keys + ["step"], sort=True).agg(
        value=("value", "mean"), seed_std=("value", "std"), n_seeds=("value", "count")).reset_index()
    steps = out.groupby(keys)["step"].transform("nunique")  # per run
    curve = steps.groupby([out[k] for k in ("group", "condition", "task")]).transform("max")
    return out[curve > 1].reset_index(drop=True)[RUN_CURVE_COLUMNS]
