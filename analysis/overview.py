"""Runs without a baseline, as a researcher looks at them: the numbers behind the overview (one
panel per metric, one line per run), the evaluation-suite table (models x benchmarks, value and
stderr) and the last-value dots.

- A run keeps one index (so one colour and marker) in every figure: its place among the sorted
  names of the runs without a baseline of its group in the whole table, not in one figure.
- Known aliases are merged (`hendrycksTest-x` is `mmlu_x`); a task `b_x` is a subtask of `b` when
  `b` is itself a task of the group and at least `MIN_SUBTASKS` tasks start with `b_`. A model
  that reports the benchmark's aggregate keeps it; one that does not gets the mean of its subtasks
  (`aggregated`, said in the figures).
- A panel holds the runs that measure one metric on one scale: the runs of a task whose values lie
  a decade or more apart, or on 0-1 and 0-100, are split into one panel per scale.
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from analysis.figure_data import described, distinct_pairs, run_index as figure_run_index
from analysis.frames import (columns, concat_rows, group_numbers, label_numbers, narrowest_ints, sorted_by,
                             strictly_sorted)
from analysis.runs import without_baseline
from analysis.scores import DIAGNOSTIC
from utils.config import Config
from utils.inference import BOUNDED_LOWER
from utils.labels import categorical, mapped, per_value, plain

ALIASES = (("hendrycksTest-", "mmlu_"),)  # (old prefix, current prefix): one benchmark, two names
MIN_SUBTASKS = 3  # asdiv_cot_llama beside asdiv is a variant, not a subtask
PANELS_PER_PAGE = 12  # an overview page: 4 columns x 3 rows at 7.5 in
PANELS_PER_NARROW_PAGE = 6  # on a one-column page (plots.width under 5 in): 2 columns x 3 rows, fits 9 in
TRAIN = "train"  # the condition of training-time values (issue 21's readers); every other is an evaluation

OVERVIEW_COLUMNS = ["group", "model", "run_index", "condition", "role", "task", "name", "panel", "panel_label",
                    "panel_order", "page", "kind", "step", "value", "n_seeds", "stderr", "best", "diverged"]
_SMALL_INTS = ("run_index", "panel_order", "page", "n_seeds")  # the overview's small whole numbers
_MEANS = ["group", "model", "condition", "task", "name", "step", "value", "n_seeds", "stderr", "kind"]  # `_model_means`
SUITE_COLUMNS = ["group", "model", "run_index", "condition", "task", "name", "benchmark", "headline", "aggregated",
                 "n_sub", "kind", "step", "value", "stderr", "value_std", "n_seeds", "scale"]


def canonical(task: str) -> str:
    """The task's current name: `hendrycksTest-anatomy` -> `mmlu_anatomy`."""
    for old, new in ALIASES:
        if task.startswith(old):
            return new + task[len(old):]
    return task


def benchmark_of(names: set[str]) -> dict[str, str]:
    """Canonical task name -> the benchmark it folds under (itself for a headline task)."""
    out = {n: n for n in names}
    prefixes = {p for p, _ in ALIASES} | {new.rstrip("_-") for _, new in ALIASES}
    for b in sorted(names | {n for n in prefixes if "-" not in n}, key=len):
        subs = [n for n in names if n != b and n.startswith(b + "_") and out[n] == n]
        if len(subs) >= MIN_SUBTASKS and (b in names or b in prefixes):
            for n in subs:
                out[n] = b
    return out


def run_index(curves: pd.DataFrame, extra: pd.DataFrame | None = None) -> dict[str, int]:
    """Model -> its index (colour, marker) among the sorted models of its run group that nobody described
    (analysis.figure_data.run_index: here, the runs without a baseline), taken from the whole table, so
    the same in every figure (a run belongs to one group). Models only in `extra` (a run with training
    diagnostics and no scored metric) are numbered after the others of their group, so they change no
    other run's colour."""
    out = figure_run_index(curves, "model")
    if extra is None or extra.empty or "model" not in extra.columns:
        return out
    more: dict[str, set[str]] = {}
    for group, model in distinct_pairs(extra, without_baseline(extra).to_numpy(dtype=bool), "group", "model"):
        if model not in out:
            more.setdefault(group, set()).add(model)
    scored = (distinct_pairs(curves, ~described(curves).to_numpy(dtype=bool), "group", "model")
              if not curves.empty and "model" in curves.columns else [])
    taken = Counter(group for group, _ in scored)  # the pairs are distinct: the runs of each group
    out.update((m, taken[g] + i) for g in sorted(more) for i, m in enumerate(sorted(more[g])))
    return out


def role(condition: str) -> str:
    """'train' for training-time values, 'eval' for every evaluation (standard, eval, eval_x, test)."""
    return "train" if condition == TRAIN else "eval"


def _scale_of(top: float) -> str:
    """The scale of values whose largest finite magnitude is `top` (NaN: none is finite)."""
    if not np.isfinite(top):
        return "none"
    return "0-1" if top <= 1.0 else ("0-100" if top <= 100.0 else "large")


def _scale_class(values: np.ndarray) -> str:
    finite = np.abs(values[np.isfinite(values)])
    return _scale_of(float(finite.max()) if finite.size else np.nan)


def magnitudes(values: np.ndarray, slices: np.ndarray) -> dict[int, tuple[float, float]]:
    """(median, largest) magnitude of the finite `values` of each slice (`slices`: a slice number a
    value), in one group-by on the numbers: what deciding panels needs of a run's values (a slice
    without a finite value is absent). Grouped by one number, not by the labels it stands for: a
    log tree's 5 million values are grouped without the label combinations' arrays beside them."""
    finite = np.isfinite(values)
    by = pd.Series(np.abs(values[finite])).groupby(slices[finite], sort=False)
    stats = pd.DataFrame({"median": by.median(), "top": by.max()})
    return {int(k): (float(m), float(t)) for k, m, t in zip(stats.index, stats["median"], stats["top"])}


def bounded(name: str, kind: str) -> bool:
    """A metric on a fixed scale (accuracy, F1, ROUGE, error rates: 0-1 or 0-100); loss and
    perplexity are not, and mean something only for the data they were measured on."""
    return kind == "accuracy" or bool(BOUNDED_LOWER.search(name.lower()))


def scale_panels(stats: dict[str, tuple[float, float]], fixed: bool = True,
                 signature: dict[str, frozenset] | None = None) -> dict[str, int]:
    """Model -> panel number within one task, from each model's (median, largest) finite magnitude
    (`magnitudes`; NaN for a model without a finite value). On a fixed scale (`fixed`), runs share a
    panel unless one reports fractions (0-1) and another percentages (0-100). An unbounded metric
    (loss) is shared only by runs that report the same set of metrics (`signature`: the same kind of
    task) with medians less than a decade apart; every other run gets a panel of its own."""
    order = []
    for model in sorted(stats):
        median, top = stats[model]
        key = _scale_of(top) if fixed else (signature or {}).get(model, frozenset({model}))
        order.append((median, key, model))
    order.sort(key=lambda s: (str(sorted(s[1])) if not fixed else s[1], np.inf if not np.isfinite(s[0]) else s[0], s[2]))
    out: dict[str, int] = {}
    panel, start, key = -1, None, None
    for median, k, model in order:
        apart = (not fixed and start is not None and np.isfinite(median) and np.isfinite(start) and start > 0
                 and median / start >= 10)
        if start is None or k != key or apart:
            panel, start, key = panel + 1, median, k
        out[model] = panel
    return out


def fold(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Add `name` and `benchmark`; replace a model's subtasks by the benchmark's aggregate where it
    reports none (mean of its subtasks, `aggregated`); keep subtask rows flagged `headline` False.
    Label columns may be categorical (the overview's millions of rows): names and benchmarks are then
    worked out once a distinct task and (group, name), not once a row."""
    rows = rows.assign(name=mapped(rows["task"], canonical))
    pair = group_numbers(rows, ["group", "name"])
    firsts = rows.iloc[np.unique(pair, return_index=True)[1]]
    bench = {}
    for group, part in firsts.groupby("group", observed=True):
        for name, b in benchmark_of(set(part["name"].astype(str))).items():
            bench[(group, name)] = b
    per_pair = [bench.get((g, n), n) for g, n in columns(firsts, "group", "name")]
    rows["benchmark"] = _like(rows["name"], per_pair, pair)
    rows["headline"] = np.array([b == n for b, n in zip(per_pair, firsts["name"].astype(object))], dtype=bool)[pair]
    rows["aggregated"] = False
    rows["n_sub"] = 0
    subs = rows[~rows["headline"]]
    if subs.empty:
        return rows
    have = set(map(tuple, rows.loc[rows["headline"], ["group", "model", "condition", "name", "step"]]
                   .astype(str).to_numpy()))
    agg = subs.groupby(keys + ["benchmark", "step"], sort=True, dropna=False, observed=True).agg(
        value=("value", lambda v: v.mean(skipna=False)), stderr=("stderr", lambda s: np.sqrt((s ** 2).sum(min_count=1)) / len(s)),
        n_sub=("name", "nunique"), kind=("kind", "first"), task=("task", "first")).reset_index()
    agg = agg.assign(name=agg["benchmark"], headline=True, aggregated=True)
    present = [(str(g), str(m), str(c), str(b), str(s)) in have
               for g, m, c, b, s in zip(agg["group"], agg["model"], agg["condition"], agg["benchmark"], agg["step"])]
    agg = agg[~np.array(present, dtype=bool)]
    return pd.concat([rows, agg], ignore_index=True)


_CODED = ("group", "model", "condition", "task", "kind")  # the overview's label columns, as codes


def _concat_coded(parts: list[pd.DataFrame], names: tuple[str, ...]) -> pd.DataFrame:
    """The parts end to end, their categorical `names` columns kept categorical over the union of their
    categories (pd.concat makes differing categoricals plain objects). `parts` is emptied (`concat_rows`)."""
    if len(parts) == 1:
        return categorical(parts.pop().copy(), names)
    parts[:] = [categorical(p, names) for p in parts]  # in the caller's list: its frames let go of
    for n in names:
        if all(isinstance(p[n].dtype, pd.CategoricalDtype) for p in parts):
            cats = pd.Index(sorted(set().union(*(p[n].cat.categories for p in parts))), dtype="str")
            parts[:] = [p.assign(**{n: p[n].cat.set_categories(cats)}) for p in parts]
    return concat_rows(parts)


def _curve_rows(frame: pd.DataFrame, outer: list[str], inner: list[str]) -> np.ndarray:
    """Per row: whether its `outer` slice holds a curve, some `outer + inner` slice with two steps or
    more of a finite value (its steps' max above their min: a group-by's nunique > 1 for steps, never
    missing, at a fraction of its cost). The slices are numbered once, one number a row
    (`label_numbers`: an `outer` slice's number is an `outer + inner` one's divided by the inner
    labels' radix), or by `group_numbers` where those numbers would not fit."""
    numbered = label_numbers(frame, outer + inner)
    if numbered is not None:
        key, sizes = numbered
        tail = int(np.prod(sizes[len(outer):], dtype=np.int64))
    else:
        key, outer_key = group_numbers(frame, outer + inner), group_numbers(frame, outer)
    finite = np.isfinite(frame["value"].to_numpy(dtype=float))
    steps = pd.Series(frame["step"].to_numpy()[finite]).groupby(key[finite], sort=False).agg(["min", "max"])
    curves = steps.index.to_numpy()[steps["max"].to_numpy() > steps["min"].to_numpy()]
    if numbered is not None:
        return np.isin(key // tail, np.unique(curves // tail))
    return np.isin(outer_key, np.unique(outer_key[np.isin(key, curves)]))


def _like(column: pd.Series, values: list[str], which: np.ndarray) -> pd.Categorical | list[str]:
    """`values[which[i]]` for each row: categorical (sorted categories) when `column` is, else a list."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        return [values[i] for i in which]
    cats = pd.Index(sorted(set(values)), dtype="str")
    return pd.Categorical.from_codes(cats.get_indexer(values)[which], dtype=pd.CategoricalDtype(cats))


def _stderr(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The reported metric's `stderr` statistic per experiment, condition, task and step."""
    keys = ["experiment", "condition", "task", "step"]
    rows = frame[frame["statistic"] == "stderr"]
    if rows.empty:
        return pd.DataFrame(columns=keys + ["stderr"])
    chosen = {t: config.task_metric(t)[0] for t in rows["task"].unique() if t in config.tasks}
    rows = rows[rows["metric"].to_numpy(dtype=object) == rows["task"].map(chosen).to_numpy(dtype=object)]
    return plain(rows[keys + ["value"]]).rename(columns={"value": "stderr"}).drop_duplicates(keys, keep="last")


def run_suite(frame: pd.DataFrame, scores: pd.DataFrame, curves: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Last value per model (mean over the seeds its name shows) and task of the runs without a
    baseline, with lm-eval's stderr, subtasks folded under their benchmark (SUITE_COLUMNS)."""
    rows = scores[without_baseline(scores)] if not scores.empty else scores
    if rows.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in SUITE_COLUMNS})
    rows = rows.merge(_stderr(frame, config), on=["experiment", "condition", "task", "step"], how="left")
    rows = rows.assign(value=rows["value"].astype(float), stderr=rows["stderr"].astype(float))
    keys = ["group", "model", "condition", "task"]
    per_model = rows.groupby(keys, sort=True).agg(
        value=("value", "mean"), value_std=("value", "std"), stderr=("stderr", "mean"), n_seeds=("value", "count"),
        step=("step", "max"), kind=("kind", "first")).reset_index()
    per_model = per_model.assign(step=per_model["step"].astype("int64"))
    out = fold(per_model, ["group", "model", "condition"])
    out["n_seeds"] = out["n_seeds"].fillna(1).astype("int64")
    out["run_index"] = out["model"].map(run_index(curves)).fillna(-1).astype("int64")
    out["scale"] = out.groupby(["group", "name"])["value"].transform(lambda v: _scale_class(v.to_numpy(dtype=float)))
    out["step"] = out["step"].astype("int64")
    return out.sort_values(["group", "benchmark", "headline", "name", "model"], ascending=[True, True, False, True, True],
                           ignore_index=True)[SUITE_COLUMNS]


def compares_something(rows: pd.DataFrame, what: str) -> pd.DataFrame:
    """The rows of the groups with two runs, two `what` (panels, tasks) or two data sets (a run's
    training and evaluation loss): a group of one run and one metric on one data set would be a
    figure comparing nothing, and is left out. Counted on the distinct rows (millions of rows for a
    log tree's overview, a few thousand distinct)."""
    if rows.empty:
        return rows
    keys = ["group", "model", what, "condition"]
    firsts = np.unique(group_numbers(rows, keys), return_index=True)[1]  # the distinct rows, as drop_duplicates
    counts = rows.iloc[firsts][keys].groupby("group", observed=True).nunique()  # the few distinct rows taken first
    keep = counts.index[(counts["model"] > 1) | (counts[what] > 1) | (counts["condition"] > 1)]
    return rows[rows["group"].isin(keep).to_numpy(dtype=bool)]


def mark_best(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Add `best` (the best value of each `by` slice, by the metric's direction; only where two or more
    models compare on a fixed scale, `bounded`) and `tied` (within 1.96 x the combined stderr of the best: not told apart)."""
    rows = rows.assign(best=False, tied=False)
    if rows.empty:
        return rows
    signed = np.where(rows["kind"] == "error", -rows["value"].astype(float), rows["value"].astype(float))
    rows["_signed"] = signed
    # a loss or perplexity means something only for the data it was measured on: no best across runs
    fixed = np.array([bounded(str(n), str(k)) for n, k in columns(rows, "name", "kind")], dtype=bool)
    ok = rows[np.isfinite(signed) & fixed]
    counts = ok.groupby(by)["model"].transform("nunique")
    ok = ok[counts > 1]
    if not ok.empty:
        best = ok.groupby(by)["_signed"].idxmax()
        rows.loc[best.to_numpy(), "best"] = True
        top = rows.loc[best.to_numpy(), by + ["value", "stderr"]].rename(columns={"value": "_bv", "stderr": "_bs"})
        m = rows.reset_index().merge(top, on=by, how="left").set_index("index")
        gap = (m["value"] - m["_bv"]).abs()
        both = np.sqrt(m["stderr"] ** 2 + m["_bs"] ** 2)
        rows["tied"] = (~rows["best"]) & (gap <= 1.96 * both).fillna(False).astype(bool)
    return rows.drop(columns="_signed")


def suite_headline(suite: pd.DataFrame) -> pd.DataFrame:
    """The suite's headline rows (benchmarks and tasks without a benchmark), for the table and dots,
    with the best model per task marked and those within its stderr (`mark_best`)."""
    if suite.empty:
        return suite.assign(best=pd.Series(dtype=bool), tied=pd.Series(dtype=bool))
    head = compares_something(suite[suite["headline"].astype(bool)], "name").reset_index(drop=True)
    return mark_best(head, ["group", "condition", "name"])


def suite_subtasks(suite: pd.DataFrame) -> pd.DataFrame:
    """The subtasks of benchmarks two or more models report, with the benchmark's row, one
    figure per benchmark (`benchmark`); empty when no benchmark has subtasks."""
    if suite.empty:
        return suite
    subs = suite[~suite["headline"].astype(bool)]
    keep = subs.groupby(["group", "benchmark"])["name"].transform("nunique") >= MIN_SUBTASKS
    subs = subs[keep]
    heads = suite[suite["headline"].astype(bool) & suite.set_index(["group", "benchmark"]).index.isin(
        subs.set_index(["group", "benchmark"]).index)]
    return mark_best(pd.concat([heads, subs], ignore_index=True), ["group", "condition", "name"])


def _per_model(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Seeds averaged per model at each step: value (mean), n_seeds, stderr (mean), kind.

    Rows already in that order with no two of one model and step (a run a model: the log tree's
    5 M records) are their own means: taken as they are, not grouped (~1.5 s)."""
    if strictly_sorted(rows, keys + ["step"]):
        out = rows[keys + ["step", "value"]].reset_index(drop=True)
        out["n_seeds"] = np.ones(len(out), dtype="int64")
        out["stderr"] = rows["stderr"].to_numpy()
        kind = rows["kind"]
        out["kind"] = kind.array if isinstance(kind.dtype, pd.CategoricalDtype) else kind.to_numpy()
        return out
    return rows.groupby(keys + ["step"], sort=True).agg(
        value=("value", "mean"), n_seeds=("value", "size"), stderr=("stderr", "mean"),
        kind=("kind", "first")).reset_index()


def _model_means(frame: pd.DataFrame, curves: pd.DataFrame, diagnostics: pd.DataFrame | None,
                 config: Config) -> pd.DataFrame | None:
    """The runs without a baseline, seeds averaged per model at each step (`_per_model`), with lm-eval's
    stderr: the scored metrics folded (`fold`, headline rows only), then the training diagnostics;
    labels as codes. None when there are none. Its own function so that the frames it goes through
    (a log tree's: millions of rows each) are freed when it returns."""
    rows = curves[without_baseline(curves)] if not curves.empty else curves
    diag = (diagnostics[without_baseline(diagnostics)] if diagnostics is not None and not diagnostics.empty
            else pd.DataFrame())
    if rows.empty and diag.empty:
        return None
    keys = ["group", "model", "condition", "task"]
    parts = []
    # grouped a dozen times: as codes (a log tree's overview is millions of rows), and returned as codes
    if not rows.empty:
        stderr = _stderr(frame, config)
        rows = (rows.merge(stderr, on=["experiment", "condition", "task", "step"], how="left") if not stderr.empty
                else rows.assign(stderr=np.nan))
        rows = categorical(rows.assign(value=rows["value"].astype(float), stderr=rows["stderr"].astype(float)), _CODED)
        scored = fold(_per_model(rows, keys), ["group", "model", "condition"])
        parts.append(scored.loc[scored["headline"], _MEANS])
    if not diag.empty:  # never folded into a benchmark: a diagnostic's name is its own
        diag = categorical(diag.assign(value=diag["value"].astype(float), stderr=np.nan), _CODED)
        per = _per_model(diag, keys)
        parts.append(per.assign(name=per["task"])[_MEANS])
    rows = diag = scored = per = None  # only the parts are held while they are put end to end
    out = _concat_coded(parts, ("group", "model", "condition", "task", "name", "kind"))
    out["n_seeds"] = out["n_seeds"].fillna(1).astype("int32")
    return out


def run_overview(frame: pd.DataFrame, curves: pd.DataFrame, config: Config,
                 diagnostics: pd.DataFrame | None = None) -> pd.DataFrame:
    """The metrics of the runs without a baseline at every checkpoint, laid out in overview panels
    (OVERVIEW_COLUMNS): seeds averaged per model, subtasks folded, a NaN kept (a diverged
    evaluation), the best evaluation checkpoint of each run marked; only panels where some run has
    two steps or more (a curve), paged `PANELS_PER_PAGE` to a figure (`PANELS_PER_NARROW_PAGE` on a
    one-column page), evaluation panels first. The training `diagnostics` (`build_diagnostics`:
    gradient norm, learning rate, ...; kind `diagnostic`) come after every scored panel: no best
    checkpoint, never ranked; runs share a diagnostic's panel unless their values lie a decade apart."""
    out = _model_means(frame, curves, diagnostics, config)
    if out is None:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OVERVIEW_COLUMNS})
    # lm-eval's stderr: a training log has none, and its column of NaN (40 MB of a log tree's 5 M rows)
    # is added once the rows are sorted, not carried through the computation and the sort
    no_stderr = not out["stderr"].notna().any()
    if no_stderr:
        del out["stderr"]
    # a curve: some run of the task has two finite values
    out = out[_curve_rows(out, ["group", "name"], ["model", "condition"])]
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OVERVIEW_COLUMNS})
    out["role"] = mapped(out["condition"], role)
    # panels are decided on each run's distinct (group, name, model) and its values' magnitudes, not its rows
    trip = group_numbers(out, ["group", "name", "model"])
    firsts = list(columns(out.iloc[np.unique(trip, return_index=True)[1]], "group", "name", "model", "kind"))
    kinds: dict[tuple, str] = {}
    models: dict[tuple, list[str]] = {}
    signature: dict[tuple, set[str]] = {}  # the kind of task a run reports: its scored metrics
    for group, name, model, kind in firsts:  # in the rows' order: a panel's kind is its first row's
        kinds.setdefault((group, name), str(kind))
        models.setdefault((group, name), []).append(str(model))
        if kind != DIAGNOSTIC:  # a diagnostic says nothing of what was measured
            signature.setdefault((group, str(model)), set()).add(str(name))
    size = {firsts[i][:3]: both for i, both in magnitudes(out["value"].to_numpy(dtype=float), trip).items()}
    panel, label = {}, {}
    for (group, name), runs in sorted(models.items()):
        kind = kinds[(group, name)]
        fixed = kind != DIAGNOSTIC and bounded(name, kind)
        same = ({m: frozenset() for m in runs} if kind == DIAGNOSTIC  # one quantity: only a decade apart splits it
                else {m: frozenset(s) for (g, m), s in signature.items() if g == group})
        split = scale_panels({m: size.get((group, name, m), (np.nan, np.nan)) for m in runs}, fixed, same)
        n = max(split.values()) + 1
        for p in range(n):
            inside = sorted(m for m, q in split.items() if q == p)
            tops = [size[(group, name, m)][1] for m in inside if (group, name, m) in size]
            cls = _scale_of(max(tops) if tops else np.nan)
            said = ("" if n == 1 else f" (on {cls})" if fixed else
                    ": " + (inside[0] if len(inside) == 1 else f"{len(inside)} runs"))
            for model in inside:
                panel[(group, name, model)] = f"{name}#{p}" if n > 1 else name
                label[(group, name, model)] = name + said
    out["panel"] = _like(out["name"], [panel[(g, n, m)] for g, n, m, _ in firsts], trip)
    out["panel_label"] = _like(out["name"], [label[(g, n, m)] for g, n, m, _ in firsts], trip)
    del trip  # a number a row: 40 MB of a log tree's overview, not held to the end
    out = out[_curve_rows(out, ["group", "panel"], ["model", "condition"])]
    out = compares_something(out, "panel")
    if out.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in OVERVIEW_COLUMNS})
    # evaluation panels first, then training-only ones (train loss), then the diagnostics (learning
    # rate, grad norm)
    has_eval = (out["role"] == "eval").groupby([out["group"], out["panel"]], observed=True).transform("any")
    out["_eval"] = has_eval.astype(bool)
    out["_diag"] = out["kind"] == DIAGNOSTIC
    pair = group_numbers(out, ["group", "panel"])
    order = (out.iloc[np.unique(pair, return_index=True)[1]].reset_index(drop=True)  # a row a panel, by its number
             .sort_values(["group", "_diag", "_eval", "panel"], ascending=[True, True, False, True]))
    order["panel_order"] = order.groupby("group", observed=True).cumcount()
    out["panel_order"] = order["panel_order"].sort_index().to_numpy(dtype="int32")[pair]
    del pair, has_eval
    per_page = PANELS_PER_PAGE if config.plot_width >= 5 else PANELS_PER_NARROW_PAGE
    out["page"] = (out["panel_order"] // per_page + 1).astype("int32")
    out["best"] = False
    out["diverged"] = ~np.isfinite(out["value"])
    ok = out.loc[np.isfinite(out["value"]) & (out["role"] == "eval") & ~out["_diag"],  # a diagnostic has no best
                 ["group", "panel", "model", "condition", "kind", "step", "value"]]
    if not ok.empty:
        steps = ok.groupby(["group", "panel", "model", "condition"], observed=True)["step"]
        ok = ok[steps.transform("max") > steps.transform("min")]  # two steps or more (steps are never missing)
        signed = np.where(ok["kind"] == "error", -ok["value"], ok["value"])
        ok = ok.assign(_signed=signed).sort_values("step")
        best = ok.groupby(["group", "panel", "model", "condition"], observed=True)["_signed"].idxmax()
        out.loc[best.to_numpy(), "best"] = True
    index = run_index(curves, diagnostics)
    out["run_index"] = per_value(out["model"], lambda m: index.get(m, -1), -1, "int32")
    out["step"] = out["step"].astype("int64")
    # counts and numbers of runs, panels and pages in the fewest bytes that hold them (_SMALL_INTS: one
    # or two, not eight): 140 MB less of a log tree's 5 M rows, here and in the worker drawing them
    for name in _SMALL_INTS:
        out[name] = narrowest_ints(out[name])
    # sorted on codes of sorted categories: the order of the strings. The labels stay codes: millions
    # of rows for a log tree, shipped to the worker that draws them and grouped there again
    out = sorted_by(out, ["group", "page", "panel_order", "model", "condition", "step"],
                    keep=[c for c in OVERVIEW_COLUMNS if c in out.columns])
    if no_stderr:
        out.insert(OVERVIEW_COLUMNS.index("stderr"), "stderr", np.nan)
    return out
