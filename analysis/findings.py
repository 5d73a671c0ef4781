"""The findings a researcher writes after a sweep, computed from the (seed-averaged) scores.

Each finding is one row of a DataFrame: a topic, the slice it is about (group, condition, task)
and its numbers, each with the experiment (and task) that gives it. plots/summary.py turns the
rows into templated sentences; nothing here is worded and no number is ever typed by hand.

Topics and the columns they fill:
  best        condition, task, kind, experiment, value (mean over seeds), n (seeds with a value),
              total (seeds run),
              reference_experiment/reference (the baseline and its value), delta (value - reference)
  baseline    condition (in-distribution), task, kind, experiment, value, n
  forgetting  group, condition (in-distribution), kind; measure fold_change (error tasks) or
              raw_diff (accuracy tasks) on untrained tasks: low/high (+ experiment, task),
              median, count (cells worse than the baseline), total (cells)
  adaptation  group, condition (out-of-distribution), subset (trained/untrained);
              measure score_gap_closing: low/high (+ experiment, task), median, total
  diagonal    group, condition: count (experiments whose every trained task scores above every
              untrained task), total, value (median trained - median untrained score),
              note ("diagonal" when each experiment trained one task, else "block-diagonal")
  prediction  group, condition, task, kind, measure (the condition's score, as the prediction figure
              shows it), experiment (seed-free), value (actual), reference (predicted), delta (actual -
              predicted), all seed means (figure_data.prediction_points, the prediction figure's
              points); the `top` largest misses per group and condition, largest first
  prediction_error  group, condition, measure: value (mean absolute miss over the figure's points),
              total (points)
best and baseline rows carry `decimals` and `exponent`: how raw_metrics.tex prints that column.
  transfer    group (families named under training: only), condition, subset (trained/transfer),
              measure (the condition's normalized score): value (mean over cells of the seed means),
              std (their sample std), total (cells)
  clip        low, high: rules.yaml scores.clip, when set (each seed's score clipped before the mean)
"""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from analysis.figure_data import conditions_in, described, prediction_points, score_for, tasks_in
from analysis.latex import column_formats
from utils.config import Config

FINDING_COLUMNS = ["topic", "group", "condition", "task", "subset", "kind", "measure", "experiment",
                   "value", "n", "reference_experiment", "reference", "delta", "low", "low_experiment",
                   "low_task", "high", "high_experiment", "high_task", "median", "count", "total", "note", "std",
                   "decimals", "exponent"]
TOPICS = ("best", "baseline", "forgetting", "adaptation", "diagonal", "prediction", "prediction_error",
          "transfer", "clip")
_SCORE_BY_ROLE = {"in_distribution": "score_toward_perfect", "out_of_distribution": "score_gap_closing"}


def compute_findings(seed_scores: pd.DataFrame, predictions: pd.DataFrame, config: Config,
                     top: int = 3) -> pd.DataFrame:
    """Every finding (see the module docstring), one row each, in the order they are reported."""
    rows: list[dict[str, Any]] = []
    if not seed_scores.empty:
        present = seed_scores[seed_scores["value_n"] > 0]
        formats = column_formats(seed_scores)  # as raw_metrics.tex prints each (task, condition) column
        printed = [_printed(r, formats) for r in best_per_task(present, config) + baseline_levels(present, config)]
        rows += printed
        # forgetting, adaptation and trained vs transfer mean something only where rules.yaml says what a
        # run trained on (figure_data.described): runs nobody described (scored against a named baseline,
        # or a family training: leaves out) are left out of them
        known = present[described(present)]
        rows += forgetting(known, config)
        rows += adaptation(known, config)
        rows += transfer(known, config)
    rows += prediction_misses(predictions, config, top)
    if config.clip is not None:
        rows.append({"topic": "clip", "low": config.clip[0], "high": config.clip[1]})
    frame = pd.DataFrame(rows, columns=FINDING_COLUMNS)
    for col in ("value", "n", "reference", "delta", "low", "high", "median", "count", "total", "std", "decimals",
                "exponent"):
        frame[col] = frame[col].astype("float64")
    return frame


def _printed(row: dict[str, Any], formats: dict) -> dict[str, Any]:
    """A best or baseline finding with the decimals and scale its table column prints it in."""
    fmt = formats.get((row["task"], row["condition"]))
    return {**row, "decimals": fmt.decimals, "exponent": fmt.exponent} if fmt is not None else row


def _groups(table: pd.DataFrame, config: Config) -> list[str]:
    present = set(pd.unique(table["group"]).tolist()) - {"baseline"}
    return [g for g in config.groups if g in present] + sorted(present - set(config.groups))


def best_per_task(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    """Per condition and task: the fine-tuned experiment with the best mean value (the first of a tie),
    found by one group-by over the signed means (a task where lower is better: negated)."""
    members = table[table["group"] != "baseline"]
    tasks = tasks_in(members, config)
    sign = members["task"].map({t: 1.0 if config.tasks[t].higher_is_better else -1.0 for t in tasks})
    signed = members["value_mean"].astype("float64") * sign.astype("float64")
    has = signed.notna().to_numpy()  # the keys of the rows with a mean, not every column of them
    best_at = signed[has].groupby([members["condition"][has], members["task"][has]], observed=True,
                                  sort=False).idxmax()
    cell = ["experiment", "condition", "task"]
    first = table[cell + ["value_mean"]].drop_duplicates(cell)
    references = dict(zip(zip(first["experiment"], first["condition"], first["task"]), first["value_mean"]))
    rows = []
    for cond in conditions_in(members, config):
        for task in tasks:
            if (cond, task) not in best_at.index:
                continue
            best = members.loc[best_at[(cond, task)]]
            base = best["baseline_experiment"]
            reference = float(references.get((base, cond, task), float("nan"))) if isinstance(base, str) \
                else float("nan")
            rows.append({"topic": "best", "condition": cond, "task": task, "kind": best["kind"],
                         "measure": "value", "experiment": best["experiment"],
                         "value": best["value_mean"], "n": best["value_n"], "total": best["n_seeds"],
                         "reference_experiment": base, "reference": reference,
                         "delta": best["value_mean"] - reference})
    return rows


def baseline_levels(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    """The baseline's value on every task of the in-distribution (standard) condition."""
    ind = config.condition("in_distribution")
    if ind is None:
        return []
    base = table[(table["group"] == "baseline") & (table["condition"] == ind.name)]
    rows = []
    for exp in sorted(set(base["experiment"])):
        for task in tasks_in(base, config):
            part = base[(base["experiment"] == exp) & (base["task"] == task)]
            if not part.empty:
                r = part.iloc[0]
                rows.append({"topic": "baseline", "condition": ind.name, "task": task, "kind": r["kind"],
                             "measure": "value", "experiment": exp, "value": r["value_mean"],
                             "n": r["value_n"]})
    return rows


def _range(part: pd.DataFrame, col: str) -> dict[str, Any]:
    lo, hi = part.loc[part[col].idxmin()], part.loc[part[col].idxmax()]
    return {"low": lo[col], "low_experiment": lo["experiment"], "low_task": lo["task"],
            "high": hi[col], "high_experiment": hi["experiment"], "high_task": hi["task"],
            "median": float(part[col].median()), "total": len(part)}


def forgetting(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    """Per group, on in-distribution data, untrained tasks: error fold change and accuracy change."""
    ind = config.condition("in_distribution")
    if ind is None:
        return []
    untrained = table[(table["group"] != "baseline") & (table["condition"] == ind.name) & ~table["trained"]]
    rows = []
    for group in _groups(untrained, config):
        g = untrained[untrained["group"] == group]
        for kind, measure, worse in (("error", "fold_change_mean", lambda s: s > 1),
                                     ("accuracy", "raw_diff_mean", lambda s: s < 0)):
            part = g[(g["kind"] == kind)].dropna(subset=[measure])
            if part.empty:
                continue
            rows.append({"topic": "forgetting", "group": group, "condition": ind.name, "kind": kind,
                         "measure": measure.removesuffix("_mean"), "count": int(worse(part[measure]).sum()),
                         **_range(part, measure)})
    return rows


def adaptation(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    """Per group, on out-of-distribution data: gap-closing on trained vs untrained tasks."""
    ood = config.condition("out_of_distribution")
    if ood is None:
        return []
    col = "score_gap_closing_mean"
    part = table[(table["group"] != "baseline") & (table["condition"] == ood.name)].dropna(subset=[col])
    rows = []
    for group in _groups(part, config):
        g = part[part["group"] == group]
        for subset, mask in (("trained", g["trained"]), ("untrained", ~g["trained"])):
            if mask.any():
                rows.append({"topic": "adaptation", "group": group, "condition": ood.name, "subset": subset,
                             "measure": "score_gap_closing", **_range(g[mask], col)})
        rows += _diagonal(g, group, ood.name, col)
    return rows


def transfer(table: pd.DataFrame, config: Config) -> list[dict[str, Any]]:
    """Per family named under training: and condition: the condition's normalized score on trained
    vs transfer (untrained) tasks, mean +- std over the cells' seed means."""
    members = table[table["group"].isin(list(config.training))]
    rows = []
    for group in _groups(members, config):
        g = members[members["group"] == group]
        for cond in config.conditions:
            col = f"{_SCORE_BY_ROLE[cond.role]}_mean"
            part = g[g["condition"] == cond.name].dropna(subset=[col])
            for subset, mask in (("trained", part["trained"]), ("transfer", ~part["trained"])):
                cells = part.loc[mask.astype(bool), col].astype("float64")
                if len(cells):
                    rows.append({"topic": "transfer", "group": group, "condition": cond.name, "subset": subset,
                                 "measure": _SCORE_BY_ROLE[cond.role], "value": float(cells.mean()),
                                 "std": float(cells.std(ddof=1)) if len(cells) > 1 else float("nan"),
                                 "total": len(cells)})
    return rows


def _diagonal(g: pd.DataFrame, group: str, condition: str, col: str) -> list[dict[str, Any]]:
    """Does every trained task beat every untrained one, experiment by experiment?"""
    trained = g["trained"].astype(bool)
    values = g[col].astype("float64")
    per = pd.DataFrame({"low": values.where(trained), "high": values.where(~trained), "trained": trained,
                        "untrained": ~trained}).groupby(g["experiment"], observed=True, sort=False).agg(
        low=("low", "min"), high=("high", "max"), trained=("trained", "sum"), untrained=("untrained", "sum"))
    both = per[(per["trained"] > 0) & (per["untrained"] > 0)]
    if both.empty:
        return []
    widest = int(per["trained"].max())
    return [{"topic": "diagonal", "group": group, "condition": condition, "measure": "score_gap_closing",
             "count": int((both["low"] > both["high"]).sum()), "total": len(both),
             "value": float(values[trained].median() - values[~trained].median()),
             "note": "diagonal" if widest <= 1 else "block-diagonal"}]


def prediction_misses(predictions: pd.DataFrame, config: Config, top: int = 3) -> list[dict[str, Any]]:
    """Per group and condition, where the max-of-single-task prediction misses most, from the points
    the prediction figure draws (the condition's score, seed means: `prediction_points`), and the
    mean miss over those points."""
    if predictions.empty:
        return []
    rows: list[dict[str, Any]] = []
    summary: list[dict[str, Any]] = []
    groups = _unique(predictions["group"])
    for group in [g for g in config.groups if g in groups] + [g for g in groups if g not in config.groups]:
        for cond in conditions_in(predictions[predictions["group"] == group], config):
            score = score_for(config, cond).column
            part = predictions[(predictions["group"] == group) & (predictions["condition"] == cond)]
            points = prediction_points(part, score, config, top=top)
            cells = points.cells.dropna(subset=["actual", "predicted"])
            if cells.empty:
                continue
            for r in points.worst.itertuples():
                rows.append({"topic": "prediction", "group": group, "condition": cond, "task": r.task,
                             "kind": config.tasks[r.task].kind if r.task in config.tasks else None,
                             "measure": score, "experiment": r.experiment, "value": r.actual,
                             "reference": r.predicted, "delta": r.residual})
            summary.append({"topic": "prediction_error", "group": group, "condition": cond, "measure": score,
                            "value": float(cells["residual"].abs().mean()), "total": len(cells)})
    return rows + summary


def _unique(values: Iterable) -> list:
    """Distinct values in their first order (a column: worked out on its array, not row by row)."""
    return pd.unique(values).tolist() if isinstance(values, pd.Series) else list(dict.fromkeys(values))
