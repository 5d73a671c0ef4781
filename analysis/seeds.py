"""Seed aggregation: experiments that differ only by seed, averaged after per-seed normalization.

Seeds are recognised by experiments.pattern in rules.yaml (its `seedpart`/`seed` groups); the
scores view already carries each experiment's seed-free name (`model`) and scores every seed
against its own baseline (pt1_seed2_ft2-9 against pt1_seed2). Here those per-seed numbers are
averaged per model x condition x task: mean, sample std (empty for one seed) and n (the seeds
with a number, so a missing evaluation lowers n instead of counting as zero).

A run without a seed part in its name (pt1_ft2-9) is its own seed (`UNSUFFIXED_SEED`, 0), never
merged with pt1_seed1_ft2-9; two runs that claim one experiment and seed (the same folder name at
two places in the tree) stop the run: `check_seed_claims`.

Every n is the n used: `n_seeds` counts the seeds with a value (a seed whose value is missing or
was not a finite number is not counted), and a checkpoint curve's mean is drawn only at steps
where every seed of that curve has a value (see `seed_curves`).
"""
from __future__ import annotations

import pandas as pd

from utils.config import UNSUFFIXED_SEED, Config
from utils.errors import UserError
from utils.labels import categorical, codes, mapped, run_starts

MEASURES = ("value", "raw_diff", "fold_change", "score_toward_perfect", "score_gap_closing")
STATS = ("mean", "std", "n")
KEY_COLUMNS = ["experiment", "group", "index", "condition", "task", "kind", "trained", "trained_on",
               "baseline_experiment", "seeds", "n_seeds", "baseline_mean"]
SEED_COLUMNS = KEY_COLUMNS + [f"{m}_{s}" for m in MEASURES for s in STATS] + ["missing"]


class SeedClaimError(UserError):
    """Two runs claim the same experiment and seed; the message names both folders."""


def check_seed_claims(frame: pd.DataFrame, config: Config) -> None:
    """Raise SeedClaimError when two runs claim one (seed-free experiment, seed): the same
    experiment folder at two places (`pt1_ft2-9/` and `revision/exp1/pt1_ft2-9/`), or two names
    for one seed (`pt1_ft2-9` is seed 0, so is `pt1_seed0_ft2-9`). Merging them would average
    runs that are not seeds of each other; which one is meant is the user's call."""
    if frame.empty or "source" not in frame.columns:
        return
    (exp, exps), (src, srcs) = codes(frame["experiment"]), codes(frame["source"])
    first = run_starts(exp, src)
    claims: dict[tuple[str, int], set[str]] = {}  # (model, seed) -> the runs claiming it
    parsed: dict[str, object] = {}
    for e, s in set(zip(exp[first].tolist(), src[first].tolist())):
        experiment, source = (exps[e] if e >= 0 else None), (srcs[s] if s >= 0 else None)
        info = parsed[experiment] if experiment in parsed else parsed.setdefault(
            experiment, config.parse_experiment(experiment))
        if info is None:
            continue
        claims.setdefault((info.model, info.seed), set()).add(_run_folder(experiment, str(source)))
    clashes = []
    for (model, seed), runs in sorted(claims.items()):
        if len(runs) > 1:
            which = " (no seed part in the name)" if seed == UNSUFFIXED_SEED else ""
            clashes.append(f"{model} seed {seed}{which} is claimed by {len(runs)} runs: " + ", ".join(sorted(runs)))
    if clashes:
        raise SeedClaimError(
            "two runs claim the same experiment and seed, so their numbers would be merged:\n  "
            + "\n  ".join(clashes) + "\nrename or remove one of each (a run without a seed part in its name "
            f"is seed {UNSUFFIXED_SEED}; see experiments.pattern in {config.path})")


def _run_folder(experiment: str, source: str) -> str:
    """A run's folder from a file's root-relative path (down to the last folder named as the
    experiment, with a trailing /); the experiment's name when no folder carries it (it came from
    the files, which may then lie in several folders of one run)."""
    at = ("/" + source).rfind(f"/{experiment}/")  # the last folder of that name (never the file's)
    return source[:at + len(experiment)] + "/" if at >= 0 else f"{experiment} (named in its files)"


def _seed_free(name: str, config: Config) -> str:
    info = config.parse_experiment(name)
    return info.model if info is not None else name


def seed_scores(scores: pd.DataFrame, config: Config) -> pd.DataFrame:
    """One row per seed-free experiment x condition x task: mean, std, n of value and every score.

    `experiment` is the seed-free name (pt1_ft2-9) and `baseline_experiment` the seed-free
    baseline (pt1), so the runner's split adds the averaged baseline rows to every group slice.
    `seeds` lists the seeds present ("1,2"); `baseline_mean` is the baseline's mean value.
    """
    if scores.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in SEED_COLUMNS})
    names = set(pd.unique(scores["baseline_experiment"]).tolist()) | set(pd.unique(scores["experiment"]).tolist())
    seed_free = {n: _seed_free(n, config) for n in names}
    index = {n: _index(n, config) for n in names}
    df = scores.assign(base_model=scores["baseline_experiment"].map(seed_free),
                       index=scores["experiment"].map(index))
    keys = ["model", "condition", "task"]
    grouped = df.groupby(keys, sort=False)
    out = grouped.agg(group=("group", "first"), index=("index", "first"), kind=("kind", "first"),
                      trained=("trained", "first"), trained_on=("trained_on", "first"),
                      baseline_experiment=("base_model", "first"),
                      seeds=("seed", lambda s: ",".join(map(str, sorted(set(s))))),
                      n_seeds=("seed", "nunique"), baseline_mean=("baseline", "mean"),
                      missing=("missing", "all"))
    for m in MEASURES:
        col = df[m].astype("float64")
        g = col.groupby([df[k] for k in keys], sort=False)
        out[f"{m}_mean"] = g.mean()
        out[f"{m}_std"] = g.std(ddof=1)  # NaN (an empty cell) for a single seed
        out[f"{m}_n"] = g.count().astype("int64")
    out = out.reset_index().rename(columns={"model": "experiment"})
    out["trained"] = out["trained"].astype(bool)
    out["missing"] = out["missing"].astype(bool)
    out["index"] = out["index"].astype("Int64")
    return _order(out, config)[SEED_COLUMNS]


def seed_points(scores: pd.DataFrame, aggregated: pd.DataFrame) -> pd.DataFrame:
    """Every per-seed row of the scores view with its model's mean, std and n alongside.

    For figures that draw the mean with error bars and each seed as a dot: the dots are
    `value` (or a score) per row, the bar and whiskers the `<measure>_mean` / `_std` columns.
    """
    agg_cols = [f"{m}_{s}" for m in MEASURES for s in STATS] + ["n_seeds"]
    if aggregated.empty:  # nothing scored against a baseline: the columns, no rows to merge on
        return scores.iloc[:0].assign(**{c: pd.Series(dtype="float64") for c in agg_cols})
    right = aggregated[["experiment", "condition", "task"] + agg_cols].rename(columns={"experiment": "model"})
    if scores.empty or right.empty:  # an empty view's key columns are float64: merge would refuse them
        keys = {k: "object" for k in ("model", "condition", "task")}
        scores, right = scores.astype(keys), right.astype(keys)
    return scores.merge(right, on=["model", "condition", "task"], how="left")


def _index(name: str, config: Config) -> int | None:
    info = config.parse_experiment(name)
    return info.index if info is not None and info.index is not None else None


def order_seed_scores(table: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Seed-averaged scores in `seed_scores`' order, from rows put together in any order by model
    (each model's rows in the order `seed_scores` gives them: the sort is stable)."""
    return _order(table, config)[SEED_COLUMNS]


def _order(table: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Baselines first, then by group, member index, condition and task as rules.yaml lists them
    (sorted on several keys, pandas' lexsort is stable: rows tied on all of them keep their order)."""
    cond = {c.name: i for i, c in enumerate(config.conditions)}
    task = {t: i for i, t in enumerate(config.tasks)}
    tmp = table.assign(_g=table["group"] != "baseline", _i=table["index"].fillna(0),
                       _c=table["condition"].map(cond), _t=table["task"].map(task))
    return tmp.sort_values(["_g", "group", "_i", "experiment", "_c", "_t"], ignore_index=True)


def seed_predictions(predictions: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Multi-task predictions averaged over seeds: one row per seed-free experiment x condition x
    task x score, with the mean of actual, predicted and residual and `n_seeds` behind them."""
    cols = ["experiment", "group", "condition", "task", "kind", "trained", "trained_on", "score",
            "actual", "predicted", "residual", "n_seeds"]
    if predictions.empty:
        return pd.DataFrame(columns=cols)
    names = predictions["experiment"].unique()
    seed_free = {n: _seed_free(n, config) for n in names}
    df = predictions.assign(model=predictions["experiment"].map(seed_free))
    keys = ["model", "condition", "task", "score"]
    out = df.groupby(keys, sort=False).agg(
        group=("group", "first"), kind=("kind", "first"), trained=("trained", "first"),
        trained_on=("trained_on", "first"), actual=("actual", "mean"), predicted=("predicted", "mean"),
        residual=("residual", "mean"), n_seeds=("seed", "nunique"))
    out = out.reset_index().rename(columns={"model": "experiment"})
    out["index"] = out["experiment"].map(lambda n: _index(n, config)).astype("Int64")
    out["trained"] = out["trained"].astype(bool)
    return _order(out, config)[cols]


def seed_free_models(curves: pd.DataFrame, config: Config) -> pd.Series:
    """Each curve row's seed-free experiment (pt1_seed2_ft2-9 -> pt1_ft2-9): the model `seed_curves`
    averages over, so a model's averaged rows come from its own rows alone."""
    return mapped(curves["experiment"], lambda n: _seed_free(n, config))


def order_seed_curves(curves: pd.DataFrame) -> pd.DataFrame:
    """Seed-averaged curves in `seed_curves`' order (experiment, condition, task, step: the text's
    order), from rows put together in any order."""
    return curves.sort_values(["experiment", "condition", "task", "step"], ignore_index=True)


CURVE_COLUMNS = ["experiment", "group", "baseline_experiment", "trained_on", "kind", "condition", "task",
                 "step", "value", "seed_std", "n_seeds", "last_mean"]


def seed_curves(curves: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Checkpoint curves averaged over seeds: one row per seed-free experiment x condition x task x step.

    `value` is the mean over the seeds at that step, drawn only where every seed of the curve (every
    seed with a value anywhere on it) has a number: at a step where one lacks it (missing, not a
    finite number, or the seed stopped earlier) `value` and `seed_std` are empty, so the line
    breaks instead of jumping to the mean of fewer seeds. `seed_std` is their sample std (NaN for
    one seed), `n_seeds` how many seeds had a number at that step; `last_mean` is the mean of each
    seed's own last value (what a baseline's dashed line shows, also when seeds stop at different
    steps). `experiment` and `baseline_experiment` are seed-free (pt1_seed2 -> pt1), so the
    runner's split still adds the averaged baseline rows to every group slice.
    """
    if curves.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in CURVE_COLUMNS})
    df = curves.assign(model=seed_free_models(curves, config),
                       base_model=mapped(curves["baseline_experiment"], lambda n: _seed_free(n, config)),
                       value=curves["value"].astype("float64"))
    keys = ["model", "condition", "task"]
    labels = keys + ["experiment", "group", "base_model", "trained_on", "kind"]
    # the labels as they came, codes as strings: a few rows a seed-free curve, drawn as strings
    dtypes = {c: "str" if isinstance(df[c].dtype, pd.CategoricalDtype) else df[c].dtype for c in labels}
    # grouped on the codes of sorted categories: the strings' order, without hashing a string a row
    df = categorical(df[labels + ["step", "value"]], labels)
    g = df.groupby(keys + ["step"], sort=True, observed=True)
    out = g.agg(group=("group", "first"), baseline_experiment=("base_model", "first"),
                trained_on=("trained_on", "first"), kind=("kind", "first"),
                value=("value", "mean"), seed_std=("value", "std"), n_seeds=("value", "count"))
    valued = df.dropna(subset=["value"])
    last = (valued.sort_values("step")
            .groupby(keys + ["experiment"], sort=False, observed=True)["value"].last()
            .groupby(level=keys, observed=True).mean().rename("last_mean"))
    seeds = valued.groupby(keys, observed=True)["experiment"].nunique().rename("_seeds")
    out = out.reset_index().merge(last.reset_index(), on=keys, how="left").merge(
        seeds.reset_index(), on=keys, how="left")
    partial = out["n_seeds"] < out["_seeds"].fillna(0)  # some seed of this curve has no number here
    out.loc[partial, ["value", "seed_std"]] = float("nan")
    out["n_seeds"] = out["n_seeds"].astype("int64")
    dtypes["baseline_experiment"] = dtypes.pop("base_model")  # the labels as they came, not categorical
    out = out.astype({c: t for c, t in dtypes.items() if c in out.columns and out[c].dtype != t})
    return out.rename(columns={"model": "experiment"})[CURVE_COLUMNS]
