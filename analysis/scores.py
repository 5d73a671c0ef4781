"""From the tidy table to per-experiment scores, checkpoint curves and multi-task predictions."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.formulas import fold_change, raw_diff, score_gap_closing, score_toward_perfect
from utils.config import Config

SCORE_COLUMNS = ["experiment", "group", "seed", "model", "condition", "task", "kind", "trained",
                 "trained_on", "step", "value", "std", "baseline_experiment", "baseline", "raw_diff",
                 "fold_change", "score_toward_perfect", "score_gap_closing", "missing"]


@dataclass
class Gaps:
    """What is missing from the data, for the run's report: nothing here is fatal."""

    missing_baselines: list[str] = field(default_factory=list)  # baselines named but absent
    missing_evaluations: list[tuple[str, str, str]] = field(default_factory=list)  # exp, cond, task
    unknown_tasks: list[str] = field(default_factory=list)
    unused_tasks: list[str] = field(default_factory=list)  # tasks in rules.yaml with no evaluation
    unmatched_experiments: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"baseline {b!r} has no evaluations; scores against it are empty" for b in self.missing_baselines]
        by_exp: dict[str, list[str]] = {}
        for exp, cond, task in self.missing_evaluations:
            by_exp.setdefault(exp, []).append(f"{cond}/{task}")
        out += [f"{exp}: missing evaluation(s) {', '.join(v)}" for exp, v in sorted(by_exp.items())]
        if self.unknown_tasks:
            keys = ", ".join(f"tasks.{t}" for t in self.unknown_tasks)
            renamed = (f"; rules.yaml has no evaluations for {', '.join(f'tasks.{t}' for t in self.unused_tasks)}: "
                       "renamed? use the name the evaluation folders use" if self.unused_tasks else "")
            out.append(f"task(s) not described under tasks in rules.yaml, left out of scores: "
                       f"{', '.join(self.unknown_tasks)} (add {keys} to rules.yaml{renamed})")
        if self.unmatched_experiments:
            out.append(f"experiment name(s) not matching experiments.pattern, left out of scores: "
                       f"{', '.join(self.unmatched_experiments)}")
        return out


def primary(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The reported metric of each task (rules.yaml `metric`, `statistic`) and its std, all steps."""
    names = {t: config.metric.format(task=t) for t in frame["task"].unique()}
    expected = frame["task"].map(names)
    rows = frame[frame["metric"] == expected]
    keys = ["experiment", "condition", "task", "step"]
    mean = rows[rows["statistic"] == config.statistic][keys + ["value"]]
    std = rows[rows["statistic"] == "std"][keys + ["value"]].rename(columns={"value": "std"})
    out = mean.merge(std, on=keys, how="left")
    return out.drop_duplicates(keys, keep="last").sort_values(keys, ignore_index=True)


def experiment_table(experiments: list[str], config: Config, gaps: Gaps) -> pd.DataFrame:
    """One row per experiment: what its name says (baseline, group, seed) and what it trained on."""
    rows = []
    for name in sorted(set(experiments)):
        info = config.parse_experiment(name)
        if info is None:
            gaps.unmatched_experiments.append(name)
            continue
        trained = config.trained_tasks(info)
        rows.append({"experiment": name, "group": info.group, "seed": info.seed, "model": info.model,
                     "index": info.index, "baseline_experiment": info.baseline,
                     "trained_on": "+".join(trained), "n_trained": len(trained)})
    return pd.DataFrame(rows, columns=["experiment", "group", "seed", "model", "index",
                                       "baseline_experiment", "trained_on", "n_trained"])


def build_scores(frame: pd.DataFrame, config: Config, gaps: Gaps | None = None) -> pd.DataFrame:
    """One row per experiment x condition x task at its last checkpoint, with every score."""
    gaps = gaps if gaps is not None else Gaps()
    prim = primary(frame, config)
    unknown = sorted(set(prim["task"].unique()) - set(config.tasks))
    gaps.unknown_tasks.extend(unknown)
    if unknown:
        gaps.unused_tasks.extend(t for t in config.tasks if t not in set(prim["task"]))
    prim = prim[prim["task"].isin(list(config.tasks))]
    last = prim.groupby(["experiment", "condition", "task"], sort=True).tail(1)

    exps = experiment_table(list(prim["experiment"].unique()), config, gaps)
    cells = last[["condition", "task"]].drop_duplicates()
    grid = exps[["experiment"]].merge(cells, how="cross")
    table = grid.merge(last, on=["experiment", "condition", "task"], how="left").merge(exps, on="experiment")
    table["missing"] = table["value"].isna() & table["step"].isna()
    for row in table[table["missing"]].itertuples():
        gaps.missing_evaluations.append((row.experiment, row.condition, row.task))

    present = set(exps["experiment"])
    gaps.missing_baselines.extend(sorted(set(exps["baseline_experiment"]) - present))
    base = last[["experiment", "condition", "task", "value"]].rename(
        columns={"experiment": "baseline_experiment", "value": "baseline"})
    table = table.merge(base, on=["baseline_experiment", "condition", "task"], how="left")

    table["kind"] = table["task"].map(lambda t: config.tasks[t].kind)
    hib = (table["kind"] == "accuracy").to_numpy()
    table["trained"] = [t in on.split("+") if on else False for t, on in zip(table["task"], table["trained_on"])]
    table["raw_diff"] = raw_diff(table["value"], table["baseline"])
    table["fold_change"] = fold_change(table["value"], table["baseline"])
    table["score_toward_perfect"] = score_toward_perfect(table["value"], table["baseline"], hib)

    ind, ood = config.condition("in_distribution"), config.condition("out_of_distribution")
    table["score_gap_closing"] = np.nan
    if ind is not None and ood is not None:
        bi = base[base["condition"] == ind.name].drop(columns="condition").rename(columns={"baseline": "bi"})
        table = table.merge(bi, on=["baseline_experiment", "task"], how="left")
        is_ood = table["condition"] == ood.name
        gap = score_gap_closing(table["value"], table["baseline"], table["bi"], hib)
        table["score_gap_closing"] = gap.where(is_ood)
        table = table.drop(columns="bi")

    order = {c.name: i for i, c in enumerate(config.conditions)}
    task_order = {t: i for i, t in enumerate(config.tasks)}
    table = table.assign(_g=table["group"] != "baseline", _c=table["condition"].map(order),
                         _t=table["task"].map(task_order), _i=table["index"].fillna(0))
    table = table.sort_values(["_g", "group", "_i", "seed", "experiment", "_c", "_t"], ignore_index=True)
    table["step"] = table["step"].astype("Int64")
    return table[SCORE_COLUMNS]


def build_curves(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The reported metric at every checkpoint, with the experiment's group and baseline."""
    prim = primary(frame, config)
    prim = prim[prim["task"].isin(list(config.tasks))]
    exps = experiment_table(list(prim["experiment"].unique()), config, Gaps())
    out = prim.merge(exps[["experiment", "group", "seed", "baseline_experiment", "trained_on"]], on="experiment")
    out["kind"] = out["task"].map(lambda t: config.tasks[t].kind)
    return out.sort_values(["experiment", "condition", "task", "step"], ignore_index=True)


def build_predictions(scores: pd.DataFrame) -> pd.DataFrame:
    """Multi-task prediction: for training set S, predicted score on task k is the max over i in S
    of the score on k of the single-task experiment trained on i with the same seed."""
    cols = ["experiment", "group", "seed", "condition", "task", "kind", "trained", "trained_on",
            "score", "actual", "predicted", "predicted_from", "residual"]
    singles = scores[(scores["trained_on"] != "") & ~scores["trained_on"].str.contains("+", regex=False)]
    multis = scores[scores["trained_on"].str.contains("+", regex=False)]
    if multis.empty or singles.empty:
        return pd.DataFrame(columns=cols)
    out = []
    for score in ("score_toward_perfect", "score_gap_closing"):
        single = singles[["seed", "condition", "task", "trained_on", "experiment", score]].rename(
            columns={"trained_on": "source_task", "experiment": "predicted_from", score: "predicted"})
        m = multis[["experiment", "group", "seed", "condition", "task", "kind", "trained", "trained_on", score]]
        m = m.rename(columns={score: "actual"}).assign(source_task=m["trained_on"].str.split("+"))
        m = m.explode("source_task").merge(single, on=["seed", "condition", "task", "source_task"], how="left")
        m = m.dropna(subset=["actual", "predicted"], how="all")
        if m.empty:
            continue
        # The best single-task source per cell; a cell with no single-task source keeps NaN.
        best = m.sort_values("predicted", ascending=False, na_position="last", kind="stable")
        best = best.drop_duplicates(["experiment", "condition", "task"])
        best = best.sort_values(["experiment", "condition", "task"], kind="stable").assign(score=score)
        best["residual"] = best["actual"] - best["predicted"]
        out.append(best[cols])
    if not out:
        return pd.DataFrame(columns=cols)
    return pd.concat(out, ignore_index=True)
