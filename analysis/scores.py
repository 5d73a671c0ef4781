"""From the tidy table to per-experiment scores, checkpoint curves and multi-task predictions."""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from analysis.frames import exact_keys, group_ends, strictly_sorted
from analysis.formulas import (clip_score, fold_change, gap_reversed, raw_diff, score_gap_closing,
                               score_toward_perfect)
from utils.config import UNSUFFIXED_SEED, Config
from utils.errors import UserError
from utils.inference import diagnostics
from utils.labels import codes, joined, mapped, plain

SCORE_COLUMNS = ["experiment", "group", "seed", "model", "condition", "task", "kind", "trained",
                 "trained_on", "step", "value", "std", "baseline_experiment", "baseline", "raw_diff",
                 "fold_change", "score_toward_perfect", "score_gap_closing", "missing", "note"]
NORMALIZED = ("score_toward_perfect", "score_gap_closing")  # the scores rules.yaml scores.clip clips
_LISTED = 8  # cells named per degenerate-baseline line; the rest are counted


def score_columns(config: Config) -> list[str]:
    """The scores table's columns: with scores.clip, each clipped score has its raw one beside it."""
    if config.clip is None:
        return SCORE_COLUMNS
    cols = list(SCORE_COLUMNS)
    for name in NORMALIZED:
        cols.insert(cols.index(name) + 1, f"{name}_raw")
    return cols


FOLD = 3  # repeated report lines of one kind: folded past this many, naming this many
TABLE = "tables/gaps.csv"
GAP_COLUMNS = ["kind", "experiment", "condition", "task", "detail"]


@dataclass
class Gaps:
    """What is missing from the data, for the run's report: nothing here is fatal."""

    missing_baselines: list[str] = field(default_factory=list)  # baselines named but absent
    missing_evaluations: list[tuple[str, str, str]] = field(default_factory=list)  # exp, cond, task
    unknown_tasks: list[str] = field(default_factory=list)
    unused_tasks: list[str] = field(default_factory=list)  # tasks in rules.yaml with no evaluation
    unmatched_experiments: list[str] = field(default_factory=list)
    unscored_runs: list[str] = field(default_factory=list)  # unmatched runs no baseline scores
    # families in the data that training: does not name, and the families it does name
    unmapped_families: list[str] = field(default_factory=list)
    mapped_families: list[str] = field(default_factory=list)
    degenerate: list[str] = field(default_factory=list)  # one line per baseline x task x reason
    unsuffixed: list[tuple[str, str]] = field(default_factory=list)  # (run, model): no seed part, seed 0
    suffixed: set[str] = field(default_factory=set)  # models with runs named by a seed part

    def seed_note(self) -> str | None:
        """The one line saying that runs without a seed part are seed 0, when runs of the same
        model have one (`bert` beside `bert-seed1`; else the numbering is never seen)."""
        names = [name for name, model in self.unsuffixed if model in self.suffixed]
        if not names:
            return None
        return (f"seeds: {len(names)} run(s) without a seed part in the name are seed {UNSUFFIXED_SEED}, "
                f"beside the seeds their names give: {_names(names, FOLD)}")

    def lines(self, shown: int = FOLD) -> list[str]:
        """The report's gap lines: repeated lines of one kind folded into one with a count and the
        first `shown` names (every gap is a row of `rows()`, written to tables/gaps.csv)."""
        out = [f"baseline {b!r} has no evaluations; scores against it are empty" for b in self.missing_baselines]
        if self.unmapped_families:
            out.append(f"famil{'y' if len(self.unmapped_families) == 1 else 'ies'} "
                       f"{', '.join(self.unmapped_families)} not named under training: in rules.yaml (it names "
                       f"{', '.join(self.mapped_families) or 'none'}): their trained tasks are unknown, so the "
                       f"trained-task outlines, the prediction figures and tables (prediction, residuals, "
                       f"tables/predictions.csv) and trained vs transfer in summary.md leave them out")
        out += self.degenerate
        by_exp: dict[str, list[str]] = {}
        for exp, cond, task in self.missing_evaluations:
            by_exp.setdefault(exp, []).append(f"{cond}/{task}")
        if len(by_exp) <= shown:
            out += [f"{exp}: missing evaluation(s) {', '.join(v)}" for exp, v in sorted(by_exp.items())]
        else:  # runs missing the same evaluations: one line per such set, the largest first
            same: dict[tuple[str, ...], list[str]] = {}
            for exp, missing in sorted(by_exp.items()):
                same.setdefault(tuple(missing), []).append(exp)
            sets = sorted(same.items(), key=lambda kv: (-len(kv[1]), kv[0]))
            for missing, exps in sets[:shown]:
                out.append(f"{len(exps)} run(s) missing evaluation(s) {_names(list(missing), shown)}: "
                           f"{_names(exps, shown)} ({TABLE} lists them all)")
            if len(sets) > shown:
                rest = sum(len(e) for _, e in sets[shown:])
                out.append(f"{rest} more run(s) missing other evaluations ({TABLE} lists them all)")
        if self.unknown_tasks:
            keys = [f"tasks.{t}" for t in self.unknown_tasks]
            renamed = (f"; rules.yaml has no evaluations for {_names([f'tasks.{t}' for t in self.unused_tasks], 10)}: "
                       "renamed? use the name the evaluation folders use" if self.unused_tasks else "")
            out.append(f"{len(self.unknown_tasks)} task(s) not described under tasks in rules.yaml, left out of "
                       f"scores: {_names(self.unknown_tasks, 10)} (add {_names(keys, 10)} to rules.yaml{renamed})"
                       + (f" ({TABLE} lists them all)" if len(keys) > 10 else ""))
        if self.unmatched_experiments:
            names = self.unmatched_experiments
            unscored = self.unscored_runs
            scored = len(names) - len(unscored)
            said = (f"{len(unscored)} without a baseline (name one with --baseline RUN or experiments.baseline)"
                    + (f", {scored} scored against their group's" if scored else "") if unscored
                    else "scored against their group's baseline")
            out.append(f"{len(names)} run(s) not matching experiments.pattern, each its own experiment; "
                       f"{said}: " + _names(names, 10) + (f" ({TABLE} lists them all)" if len(names) > 10 else ""))
        return out

    def rows(self) -> list[dict[str, str]]:
        """Every gap, one row each (kind, experiment, condition, task, detail): tables/gaps.csv."""
        out = [_row("missing_baseline", experiment=b) for b in self.missing_baselines]
        out += [_row("unmapped_family", detail=f) for f in self.unmapped_families]
        out += [_row("degenerate_baseline", detail=d) for d in self.degenerate]
        out += [_row("missing_evaluation", experiment=e, condition=c, task=t)
                for e, c, t in sorted(self.missing_evaluations)]
        out += [_row("task_not_in_rules", task=t) for t in self.unknown_tasks]
        out += [_row("rules_task_without_evaluations", task=t) for t in self.unused_tasks if self.unknown_tasks]
        out += [_row("run_not_matching_pattern", experiment=e) for e in self.unmatched_experiments]
        return out


def _row(kind: str, **values: str) -> dict[str, str]:
    return {"kind": kind, **{c: values.get(c, "") for c in GAP_COLUMNS[1:]}}


def _names(names: list[str], shown: int) -> str:
    """The first `shown` names and how many more."""
    return ", ".join(names[:shown]) + (f" + {len(names) - shown} more" if len(names) > shown else "")


def primary(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The reported metric of each task (its own `metric`/`statistic` in rules.yaml, else the
    top-level ones) and its std, all steps."""
    keys = ["experiment", "condition", "task", "step"]
    reported, wanted, std_rows = _chosen(frame, config.task_metric)
    mean = frame.loc[reported & wanted, keys + ["value"]]
    std = frame.loc[reported & std_rows, keys + ["value"]].rename(columns={"value": "std"})
    if strictly_sorted(mean, keys) and (std.empty or _same_keys(mean, std, keys)):
        # the loaded table's order (utils.loading): each mean's std is the row beside it in `std`,
        # so the merge, the de-duplication and the sort below would change nothing (0.35 s a sweep)
        out = mean.reset_index(drop=True)
        out["std"] = std["std"].to_numpy() if len(std) else np.nan
        return out
    out = mean.merge(std, on=keys, how="left")
    # labels as the table holds them (codes): the curves of a log tree are millions of rows
    return out.drop_duplicates(keys, keep="last").sort_values(keys, ignore_index=True)


def _same_keys(a: pd.DataFrame, b: pd.DataFrame, keys: list[str]) -> bool:
    """Do the rows of `a` and `b` (slices of one table) have the same keys, row for row?"""
    ka, kb = exact_keys(a, keys), exact_keys(b, keys)
    return len(a) == len(b) and ka is not None and kb is not None and all(map(np.array_equal, ka, kb))


def _chosen(frame: pd.DataFrame, choose: Callable[[str], tuple[str | None, str | None]]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: whether its metric is the one `choose(task)` names for its task, whether its statistic
    is, and whether its statistic is `std`. Compared as codes: a name a code, not a string comparison
    a row; -2 matches nothing, and is also what a missing task (code -1: the last entry) gets."""
    at, tasks = codes(frame["task"])
    chosen = [choose(t) for t in tasks]
    metric, metrics = codes(frame["metric"])
    statistic, statistics = codes(frame["statistic"])
    m_at, s_at = _positions(metrics), _positions(statistics)
    reported = metric == np.array([m_at.get(m, -2) for m, _ in chosen] + [-2])[at]
    wanted = statistic == np.array([s_at.get(s, -2) for _, s in chosen] + [-2])[at]
    return reported, wanted, statistic == s_at.get("std", -2)


def _positions(values: list) -> dict:
    """Each value's index in `values`."""
    return {v: i for i, v in enumerate(values)}


RUNS = "runs"  # the group of runs whose names experiments.pattern does not describe
_SEED = re.compile(r"[_-]seed[_-]?(\d+)", re.IGNORECASE)


def run_groups(frame: pd.DataFrame) -> dict[str, str]:
    """Group of each experiment whose name the pattern does not describe: the top folder under
    the data root its files lie in (`hf_runs/whisper/...` -> hf_runs) when that is not the run
    itself, else `runs`. So Trainer runs and lm-eval models side by side stay apart."""
    firsts = frame.drop_duplicates("experiment")[["experiment", "source"]]
    out = {}
    for exp, source in zip(firsts["experiment"], firsts["source"]):
        parts = str(source).split("/")
        out[exp] = parts[0] if len(parts) > 2 and parts[0] != exp else RUNS
    return out


def _unmatched_row(name: str, config: Config, present: set[str], groups: dict[str, str]) -> dict:
    """A run the naming pattern does not describe: its own experiment, seed from `seed<N>` in the
    name (none: seed 0, as in the sweep), scored against the named baseline run (--baseline, experiments.baseline) when that is
    present and in the same group (a Trainer baseline does not score lm-eval models)."""
    m = _SEED.search(name)
    group = groups.get(name, RUNS)
    base = config.group_baselines.get(group, config.baseline)
    base = base if base in present else None
    if base is not None and name != base and group != groups.get(base, RUNS):
        base = None
    if name in config.group_baselines.values():
        base = name
    if name == base:
        return {"experiment": name, "group": "baseline", "seed": UNSUFFIXED_SEED, "model": name, "index": None,
                "baseline_experiment": name, "trained_on": "", "n_trained": 0}
    return {"experiment": name, "group": groups.get(name, RUNS),
            "seed": int(m.group(1)) if m else UNSUFFIXED_SEED,
            "model": name[:m.start()] + name[m.end():] if m else name, "index": None,
            "baseline_experiment": base or "", "trained_on": "", "n_trained": 0}


class BaselineError(UserError):
    """A baseline named for this data (--baseline, experiments.baseline) that no run has, or one that
    lies in another run group than the runs it is to score."""


def check_baselines(frame: pd.DataFrame, config: Config) -> None:
    """Raise BaselineError naming the close matches when a baseline named for this data is not a run
    in it: scoring against nothing would change nothing, silently. The shipped rules' sweep
    baseline is a default, not a name given for this data, and is not checked."""
    runs = sorted(set(frame["experiment"].unique()))
    groups = run_groups(frame)
    named = [("experiments.baseline." + g, b, g) for g, b in sorted(config.group_baselines.items())]
    if config.baseline is not None and config.baseline_named:
        # a rules file's single name also names the sweep's baseline, which a tree of one experiment
        # lacks: it must exist only when runs the naming pattern does not describe would use it
        if config.baseline_named == "--baseline" or any(config.parse_experiment(r) is None for r in runs):
            named.append((config.baseline_named, config.baseline, None))
    for key, name, group in named:
        if name not in runs:
            close = difflib.get_close_matches(name, runs, n=3, cutoff=0.5)
            close += [r for r in runs if name in r and r not in close][:3]
            hint = f"; close matches: {', '.join(close)}" if close else f"; runs: {', '.join(runs[:8])}" + (
                f" + {len(runs) - 8} more" if len(runs) > 8 else "")
            raise BaselineError(f"{key}: no run named {name!r} in the data{hint}")
        if group is not None and groups.get(name, RUNS) != group:
            raise BaselineError(f"{key}: run {name!r} is in group {groups.get(name, RUNS)!r}, not {group!r}; "
                                f"a baseline scores the runs of its own group")


def experiment_table(experiments: list[str], config: Config, gaps: Gaps,
                     frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per experiment: what its name says (baseline, group, seed) and what it trained on.

    Names experiments.pattern does not describe are runs of their own, grouped by where their files
    lie in `frame` (run_groups; only looked up when there is such a name)."""
    rows = []
    present = set(experiments)
    groups: dict[str, str] | None = None
    for name in sorted(present):
        info = config.parse_experiment(name)
        if info is None:
            gaps.unmatched_experiments.append(name)
            if groups is None:
                groups = run_groups(frame) if frame is not None else {}
            row = _unmatched_row(name, config, present, groups)
            rows.append(row)
            _count_seed_part(gaps, name, row["model"])
            if not row["baseline_experiment"]:
                gaps.unscored_runs.append(name)
            continue
        _count_seed_part(gaps, name, info.model)
        trained = config.trained_tasks(info)
        rows.append({"experiment": name, "group": info.group, "seed": info.seed, "model": info.model,
                     "index": info.index, "baseline_experiment": info.baseline,
                     "trained_on": "+".join(trained), "n_trained": len(trained)})
    return pd.DataFrame(rows, columns=["experiment", "group", "seed", "model", "index",
                                       "baseline_experiment", "trained_on", "n_trained"])


def _count_seed_part(gaps: Gaps, name: str, model: str) -> None:
    """Note whether a run's name has a seed part (its seed-free name, `model`, differs)."""
    if model != name:
        gaps.suffixed.add(model)
    else:
        gaps.unsuffixed.append((name, model))


def build_scores(frame: pd.DataFrame, config: Config, gaps: Gaps | None = None,
                 prim: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per experiment x condition x task at its last checkpoint, with every score."""
    gaps = gaps if gaps is not None else Gaps()
    prim = primary(frame, config) if prim is None else prim  # `prim`: primary() already computed
    tasks = set(pd.unique(prim["task"]).tolist())
    unknown = sorted(tasks - set(config.tasks))
    gaps.unknown_tasks.extend(unknown)
    if unknown:
        gaps.unused_tasks.extend(t for t in config.tasks if t not in tasks)
    prim = prim[prim["task"].isin(list(config.tasks))]
    cell = ["experiment", "condition", "task"]
    ends = group_ends(prim, cell) if strictly_sorted(prim, cell + ["step"]) else None
    last = plain(prim.iloc[ends] if ends is not None else prim.groupby(cell, sort=True, observed=True).tail(1))

    exps = experiment_table(list(prim["experiment"].unique()), config, gaps, frame)
    cells = last[["condition", "task"]].drop_duplicates()
    runs = set(gaps.unmatched_experiments)
    grid = exps[["experiment"]][~exps["experiment"].isin(runs)].merge(cells, how="cross")
    if runs:  # a run the pattern does not describe is not expected to have every task: only its own
        own = last[last["experiment"].isin(runs)][["experiment", "condition", "task"]]
        grid = pd.concat([grid, own], ignore_index=True)
    table = grid.merge(last, on=["experiment", "condition", "task"], how="left").merge(exps, on="experiment")
    table["missing"] = table["value"].isna() & table["step"].isna()
    for row in table[table["missing"]].itertuples():
        gaps.missing_evaluations.append((row.experiment, row.condition, row.task))

    present = set(pd.unique(exps["experiment"]).tolist())
    gaps.missing_baselines.extend(sorted(set(pd.unique(exps["baseline_experiment"]).tolist()) - present - {""}))
    base = last[["experiment", "condition", "task", "value"]].rename(
        columns={"experiment": "baseline_experiment", "value": "baseline"})
    table = table.merge(base, on=["baseline_experiment", "condition", "task"], how="left")

    table["kind"] = table["task"].map({t: info.kind for t, info in config.tasks.items()})
    hib = (table["kind"] == "accuracy").to_numpy()
    table["trained"] = _trained(table)
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
    table["note"] = _degenerate(table, config, gaps)
    table = table.drop(columns=["bi"], errors="ignore")
    if config.clip is not None:
        for name in NORMALIZED:
            table[f"{name}_raw"] = table[name]
            table[name] = clip_score(table[name], *config.clip)

    order = {c.name: i for i, c in enumerate(config.conditions)}
    task_order = {t: i for i, t in enumerate(config.tasks)}
    table = table.assign(_g=table["group"] != "baseline", _c=table["condition"].map(order),
                         _t=table["task"].map(task_order), _i=table["index"].fillna(0))
    table = table.sort_values(["_g", "group", "_i", "seed", "experiment", "_c", "_t"], ignore_index=True)
    table["step"] = table["step"].astype("Int64")
    _unmapped_families(exps[~exps["experiment"].isin(runs)], config, gaps)
    return table[score_columns(config)]


def _trained(table: pd.DataFrame) -> np.ndarray:
    """Per row: is its task one its experiment trained on (`trained_on`, tasks joined by +)? Asked
    once per distinct `trained_on`, not once per row."""
    found, sets = pd.factorize(table["trained_on"].to_numpy(dtype=object), use_na_sentinel=True)
    out = np.zeros(len(table), dtype=bool)
    for i, on in enumerate(sets):
        if on:
            rows = found == i
            out[rows] = table["task"][rows].isin(on.split("+")).to_numpy()
    return out


def _unmapped_families(exps: pd.DataFrame, config: Config, gaps: Gaps) -> None:
    """Families in the data that training: does not name (their trained tasks are unknown).
    Only the families experiments.pattern names: runs outside it were never trained on a map."""
    present = sorted(set(exps["group"]) - {"baseline"})
    gaps.unmapped_families.extend(g for g in present if g not in config.training)
    gaps.mapped_families.extend(config.training)


def _degenerate(table: pd.DataFrame, config: Config, gaps: Gaps) -> pd.Series:
    """Why a score is n/a because of its baseline (or an error of exactly 0), per row; '' if none.

    A reversed gap (the baseline better out of distribution than on standard data) would make the
    gap-closing score read backwards, so it is set to NaN here; the other cases are NaN already
    (formulas.py). One line per baseline x task x reason goes to the run's report, naming the cells.
    Call with `bi` (the baseline on standard data) in the table."""
    note = pd.Series("", index=table.index, dtype="object")
    error = (table["kind"] == "error").to_numpy()
    hib = ~error
    b = table["baseline"].astype("float64")
    ood_cond = config.condition("out_of_distribution")
    is_ood = (table["condition"] == ood_cond.name).to_numpy() if ood_cond is not None else np.zeros(len(table), bool)
    bi = table["bi"].astype("float64") if "bi" in table.columns else pd.Series(np.nan, index=table.index)
    value = table["value"].astype("float64")
    reversed_gap = is_ood & np.asarray(gap_reversed(b, bi, hib), dtype=bool)
    table.loc[reversed_gap, "score_gap_closing"] = np.nan
    gap_na = "gap-closing score n/a"
    cases = [
        (reversed_gap, "reversed gap: the baseline is better out of distribution than on standard data", gap_na),
        (is_ood & (b == bi).to_numpy() & b.notna().to_numpy(), "no gap: the baseline is equal on both conditions",
         gap_na),
        (error & (b == 0).to_numpy(), "the baseline's error is exactly 0", "fold change and every score n/a"),
        (is_ood & error & (bi == 0).to_numpy() & (b != 0).to_numpy(),
         "the baseline's error on standard data is exactly 0", gap_na),
        (~error & (b == 1).to_numpy(), "the baseline's accuracy is exactly 1 (nothing left to improve)",
         "score toward perfect n/a"),
        (is_ood & error & (value == 0).to_numpy() & (b != 0).to_numpy(),
         "an error of exactly 0 (the gap-closing score is a log ratio)", gap_na),
    ]
    for mask, reason, what in cases:
        mask = np.asarray(mask, dtype=bool) & ~table["missing"].to_numpy(dtype=bool)
        if not mask.any():
            continue
        note[mask] = [f"{n}; {reason}" if n else reason for n in note[mask]]
        for (base, task), part in table[mask].groupby(["baseline_experiment", "task"], sort=True):
            cells = [f"{e} ({c})" for e, c in zip(part["experiment"], part["condition"])]
            more = f" and {len(cells) - _LISTED} more" if len(cells) > _LISTED else ""
            gaps.degenerate.append(f"baseline {base}, task {task}: {reason}; {what} in {len(cells)} cell(s): "
                                   f"{', '.join(cells[:_LISTED])}{more} (reason in the note column of "
                                   f"tables/scores.csv)")
    return note


def build_curves(frame: pd.DataFrame, config: Config, prim: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reported metric at every checkpoint, with the experiment's group and baseline."""
    prim = primary(frame, config) if prim is None else prim
    prim = prim[prim["task"].isin(list(config.tasks))]
    exps = experiment_table(list(prim["experiment"].unique()), config, Gaps(), frame)
    # in primary's order (experiment, condition, task, step); labels as codes, like primary's
    out = joined(prim, exps[["experiment", "group", "seed", "model", "baseline_experiment", "trained_on"]],
                 "experiment")
    out["kind"] = mapped(out["task"], lambda t: config.tasks[t].kind)
    return out


DIAGNOSTIC = "diagnostic"  # the kind of a training diagnostic's curve: no direction, never scored or ranked


def build_diagnostics(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The training diagnostics (gradient norm, learning rate, log-probabilities, ...:
    `utils.inference.diagnostics`) at every step, in `build_curves`' columns with kind `diagnostic`:
    for the overview to draw as curves; no score, finding or table is computed from them."""
    keys = ["experiment", "condition", "task", "step"]
    cols = keys + ["value", "std", "group", "seed", "model", "baseline_experiment", "trained_on", "kind"]
    chosen = diagnostics(frame, config) if len(frame) else {}
    if not chosen:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    rows = frame[frame["task"].isin(list(chosen))]
    # as primary does: compared, deduplicated and sorted as codes (a log tree: millions of rows), and
    # kept as codes
    reported, wanted, _ = _chosen(rows, lambda task: chosen.get(task, (None, None)))
    keep = reported & wanted
    prim = (rows.loc[keep, keys + ["value"]].drop_duplicates(keys, keep="last")
            .sort_values(keys, ignore_index=True)).assign(std=np.nan)
    exps = experiment_table(list(prim["experiment"].unique()), config, Gaps(), frame)
    out = joined(prim, exps[["experiment", "group", "seed", "model", "baseline_experiment", "trained_on"]],
                 "experiment")
    out["kind"] = pd.Categorical.from_codes(np.zeros(len(out), dtype="int8"), categories=[DIAGNOSTIC])
    return out[cols]


_PREDICTED_SCORES = ("score_toward_perfect", "score_gap_closing")  # in build_predictions' order


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
    for score in _PREDICTED_SCORES:
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


def order_predictions(predictions: pd.DataFrame) -> pd.DataFrame:
    """Predictions in `build_predictions`' order (by score, then experiment, condition, task), from
    rows put together in any order by seed."""
    rank = predictions["score"].map({s: i for i, s in enumerate(_PREDICTED_SCORES)})
    order = predictions.assign(_rank=rank).sort_values(["_rank", "experiment", "condition", "task"],
                                                       kind="stable").index
    return predictions.loc[order].reset_index(drop=True)
