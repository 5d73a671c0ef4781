"""Figure-ready shapes of the analysis views: which score a condition uses, matrices, curves.

Plot modules draw; every number they show comes from here or from the views, so a figure and
the scores table can never disagree.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis.frames import columns
from utils.config import Config
from utils.errors import ConfigError
from utils.labels import codes, per_value, present


@dataclass(frozen=True)
class ScoreMeaning:
    """Which score column a condition is judged by, and what its 0 and 1 mean (for labels)."""

    column: str
    name: str
    zero: str
    one: str

    @property
    def scale(self) -> str:
        return f"0 = {self.zero}, 1 = {self.one}"


# The display name of every score, the same in every figure, table and sentence (formulas: analysis/formulas.py).
# A condition is judged by one normalized score (`score_for`): toward perfect in distribution, gap
# closing out of it; the normalized, heatmap and prediction figures all show that one for a cell.
SCORE_NAMES = {"raw_diff": "raw difference", "fold_change": "fold change",
               "score_toward_perfect": "score toward perfect", "score_gap_closing": "gap-closing score"}

TOWARD_PERFECT = ScoreMeaning("score_toward_perfect", SCORE_NAMES["score_toward_perfect"], "baseline", "perfect")
GAP_CLOSING = ScoreMeaning("score_gap_closing", SCORE_NAMES["score_gap_closing"], "baseline on this data",
                           "as good as the baseline on standard data")
_BY_ROLE = {"in_distribution": TOWARD_PERFECT, "out_of_distribution": GAP_CLOSING}


def clip_phrase(config: Config, per_seed: bool = False) -> str:
    """Under rules.yaml scores.clip: 'each seed's score clipped to [0, 1.5] before the mean' (for a
    figure of seed means) or 'scores clipped to [0, 1.5]' (`per_seed`: one seed's scores); else ''."""
    if config.clip is None:
        return ""
    where = f"clipped to [{config.clip[0]:g}, {config.clip[1]:g}]"
    return f"scores {where}" if per_seed else f"each seed's score {where} before the mean"


def score_for(config: Config, condition: str) -> ScoreMeaning:
    """The normalized score for a condition: toward perfect in distribution, gap closing out of it."""
    for cond in config.conditions:
        if cond.name == condition:
            return _BY_ROLE[cond.role]
    raise ConfigError(f"{config.path}: conditions: no condition named {condition!r}")


def conditions_in(frame: pd.DataFrame, config: Config) -> list[str]:
    """The conditions the frame's rows hold, in the order rules.yaml lists them."""
    found = set(present(frame["condition"]))
    return [c.name for c in config.conditions if c.name in found]


def tasks_in(frame: pd.DataFrame, config: Config) -> list[str]:
    """The tasks the frame's rows hold, in the order rules.yaml lists them."""
    found = set(present(frame["task"]))
    return [t for t in config.tasks if t in found]


def in_distribution(config: Config) -> str:
    """Name of the in-distribution condition (raises if rules.yaml has none)."""
    cond = config.condition("in_distribution")
    if cond is None:
        raise ConfigError(f"{config.path}: conditions: no condition with role in_distribution")
    return cond.name


def members(frame: pd.DataFrame) -> pd.DataFrame:
    """The fine-tuned experiments of a slice (baseline rows dropped)."""
    return frame[frame["group"] != "baseline"] if "group" in frame.columns else frame


def experiment_order(names: list[str] | pd.Series, config: Config) -> list[str]:
    """Distinct experiment names by group, member index and seed (seeds of a member adjacent)."""
    def key(name: str) -> tuple:
        info = config.parse_experiment(name)
        if info is None:
            return (1, "", 0, 0, name)
        return (0, info.group, info.index or 0, info.seed, name)
    distinct = pd.unique(names).tolist() if isinstance(names, pd.Series) else dict.fromkeys(names)  # not row by row
    return sorted(distinct, key=key)


def robust_limit(values: np.ndarray, quantile: float = 95.0, floor: float = 0.05) -> tuple[float, bool]:
    """Symmetric colour limit fitted to the data: the `quantile` percentile of |values| (so one outlier
    does not wash out the rest), at least `floor`; and whether any value lies beyond it (clipped)."""
    finite = np.abs(np.asarray(values, dtype=float))
    finite = finite[np.isfinite(finite)]
    if not finite.size:
        return 1.0, False
    limit = max(float(np.percentile(finite, quantile)), floor)
    nice = _nice_ceiling(limit)
    return nice, bool((finite > nice).any())


def _nice_ceiling(x: float) -> float:
    """The next of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8 x 10^k at or above x (a readable colourbar end)."""
    k = math.floor(math.log10(x))
    for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 7, 8, 10):
        if m * 10.0 ** k >= x * (1 - 1e-9):
            return m * 10.0 ** k
    return 10.0 ** (k + 1)


def heatmap_limit(frame: pd.DataFrame, config: Config, suffix: str = "") -> tuple[float, bool]:
    """One colour limit for every panel of a heatmap (each condition's own score, `suffix` "_mean" for
    seed means): `robust_limit` of all of them together, so colours compare across panels."""
    values = [frame.loc[frame["condition"] == c, score_for(config, c).column + suffix].to_numpy(dtype=float)
              for c in conditions_in(frame, config)]
    return robust_limit(np.concatenate(values) if values else np.array([]))


def with_heatmap_limit(scores: pd.DataFrame, config: Config) -> pd.DataFrame:
    """The per-seed scores with `colour_limit`: one per group over all its seeds and conditions, so every
    per-seed heatmap of a group shares one colour scale."""
    if scores.empty:
        return scores.assign(colour_limit=pd.Series(dtype="float64"))
    part = members(scores)
    limits = {g: heatmap_limit(rows, config)[0] for g, rows in part.groupby("group")}
    return scores.assign(colour_limit=scores["group"].map(limits).astype("float64"))


def part_models(frame: pd.DataFrame, config: Config, part: int, parts: int) -> list[str]:
    """The seed-free experiments (`model`, else `experiment`) that part `part` (1-based) of `parts` of a
    figure draws: a contiguous run of the slice's experiments in order, the parts as equal as they go."""
    column = "model" if "model" in frame.columns else "experiment"
    names = experiment_order(members(frame)[column], config)
    size = math.ceil(len(names) / max(parts, 1))
    return names[(part - 1) * size:part * size]


def rows_of_part(frame: pd.DataFrame, config: Config, keys: dict) -> list[str] | None:
    """The experiments one part of a split figure draws (`keys["part"]` of `keys["parts"]`), or None
    (every one) when the figure is not split: the `rows` argument of seed_bars and matrix."""
    if "parts" not in keys:
        return None
    return part_models(frame, config, int(keys["part"]), int(keys["parts"]))


def part_rows(frame: pd.DataFrame, config: Config, keys: dict) -> pd.DataFrame:
    """The rows of a slice that one part of a split figure draws (`keys["part"]` of `keys["parts"]`, see
    plots.registry.figure): its experiments' rows and every baseline row; the whole slice when unsplit."""
    if "parts" not in keys:
        return frame
    column = "model" if "model" in frame.columns else "experiment"
    chosen = set(part_models(frame, config, int(keys["part"]), int(keys["parts"])))
    base = frame["group"] == "baseline" if "group" in frame.columns else pd.Series(False, index=frame.index)
    return frame[base | frame[column].isin(chosen)]


def row_count(frame: pd.DataFrame) -> int:
    """How many experiment rows (seed-free) a slice's figure has."""
    column = "model" if "model" in frame.columns else "experiment"
    return int(members(frame)[column].nunique())


@dataclass(frozen=True)
class Matrix:
    """Experiments (rows) x tasks (columns) of one value, with which cells were trained on."""

    values: pd.DataFrame
    trained: pd.DataFrame


def matrix(frame: pd.DataFrame, column: str, config: Config, rows: list[str] | None = None) -> Matrix:
    """Pivot `column` to experiments x tasks (rules.yaml task order); absent cells are NaN.

    `rows` fixes the experiments and their order (so panels of one figure line up).
    """
    rows = rows if rows is not None else experiment_order(frame["experiment"], config)
    cols = tasks_in(frame, config)
    grid = cells(trained_mask(frame), "experiment", {column: "first", "trained": "any"}, rows, cols)
    return Matrix(grid[column].astype("float64"), grid["trained"].fillna(False).astype(bool))


def cells(frame: pd.DataFrame, index: str, values: dict[str, str], rows: list[str], cols: list[str],
          columns: str = "task") -> dict[str, pd.DataFrame]:
    """Each column of `values` aggregated per (`index`, `columns`) cell by its function ("first": the
    first number, "any", "max"), laid out `rows` x `cols` (absent cells NaN): what `pivot_table` and
    `reindex` give, from one group-by for all of them (a pivot_table costs ~5 ms; a figure made several)."""
    grouped = frame.groupby([index, columns], observed=True, sort=False)[list(values)].agg(values)
    return {name: grouped[name].unstack(columns).reindex(index=rows, columns=cols) for name in values}


def trained_mask(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with a boolean `trained` column (derived from `trained_on` when absent)."""
    if "trained" in frame.columns:
        return frame
    trained = [t in on.split("+") if isinstance(on, str) and on else False
               for t, on in columns(frame, "task", "trained_on")]
    return frame.assign(trained=trained)


# --- which runs rules.yaml describes: the sweep's trained / not-trained meaning applies only to them ---

def described(frame: pd.DataFrame) -> pd.Series:
    """Per row: whether rules.yaml says what its experiment was trained on (`training:` has its group and
    index, so `trained_on` names tasks), or it is a baseline. The one place this is decided: only these
    rows are drawn as trained (vermillion) or not trained (blue), outlined in the heatmap, called
    forgetting or predicted from single-task runs. A run nobody described (`trained_on` "": a run the
    naming pattern does not match, scored against a named baseline, or a family `training:` leaves out)
    is compared with the baseline in its own run colour (`run_index`). A frame without `trained_on`
    (a hand-made one with `trained` alone) is taken as described."""
    if "trained_on" not in frame.columns:
        return pd.Series(True, index=frame.index)
    named = pd.Series(per_value(frame["trained_on"], lambda v: str(v) != "", False, bool), index=frame.index)
    return named | (frame["group"] == "baseline") if "group" in frame.columns else named


def distinct_pairs(frame: pd.DataFrame, rows: np.ndarray, a: str, b: str) -> list[tuple[str, str]]:
    """The distinct (a, b) values of the `rows` (a boolean mask) as strings, those with a missing
    value left out (a run without a group or name has no colour), as
    `frame.loc[rows, [a, b]].dropna().astype(str).drop_duplicates()` gives them; found on codes: a
    log tree's views are millions of rows of a few hundred runs."""
    a_at, a_values = codes(frame[a])
    b_at, b_values = codes(frame[b])
    keep = rows & (a_at >= 0) & (b_at >= 0)
    width = len(b_values)
    keys = np.unique(a_at[keep].astype("int64") * width + b_at[keep])
    return [(str(a_values[k // width]), str(b_values[k % width])) for k in keys.tolist()]


def run_index(frame: pd.DataFrame, name: str = "model") -> dict[str, int]:
    """Run (`name` column) -> its index, so its colour and marker (plots.style.run_style), for every run
    nobody described (not `described`): its place among the sorted such runs of its group in `frame`.
    Given a whole view, not one figure's slice, a run has one colour in every figure of the set."""
    if frame.empty or name not in frame.columns:
        return {}
    by_group: dict[str, set[str]] = {}
    for group, run in distinct_pairs(frame, ~described(frame).to_numpy(dtype=bool), "group", name):
        by_group.setdefault(group, set()).add(run)
    return {m: i for group in sorted(by_group) for i, m in enumerate(sorted(by_group[group]))}


def with_run_index(view: pd.DataFrame, name: str = "model") -> pd.DataFrame:
    """The view with `run_index`: each row's run index (`run_index` over the whole view), -1 for the
    described rows, which keep the trained / not-trained colours."""
    if name not in view.columns:
        return view.assign(run_index=pd.Series(-1, index=view.index, dtype="int64"))
    return view.assign(run_index=view[name].astype(str).map(run_index(view, name)).fillna(-1).astype("int64"))


def row_runs(part: pd.DataFrame, rows: list[str], name: str = "model") -> pd.Series:
    """The run index of each of `rows` (-1: described, or no row in `part`): the view's `run_index`
    column where it has one (`with_run_index`), else `run_index` of the slice itself."""
    if part.empty or name not in part.columns:
        return pd.Series(-1, index=rows, dtype="int64")
    if "run_index" in part.columns:
        index = part.groupby(name)["run_index"].max()
    else:
        index = pd.Series(run_index(part, name), dtype="float64")
    return index.reindex(rows).fillna(-1).astype("int64")


def seed_forgetting(seed_scores: pd.DataFrame, config: Config) -> pd.DataFrame:
    """In-distribution change from the baseline per experiment and task, in a readable unit, from
    the seed_scores view: `change` is the seed mean of the raw difference in accuracy points (x100)
    for accuracy tasks and of the fold change (1 = baseline) for error tasks, whose values span
    decades; `spread` is the std across seeds in the same unit (NaN for one seed: no whisker); `n` the
    seeds with a number behind `change` (what its mean is over)."""
    rows = members(seed_scores)
    rows = rows[rows["condition"] == in_distribution(config)]
    acc = rows["kind"] == "accuracy"
    points = 100.0 / rows["task"].map(lambda t: config.tasks[t].scale if t in config.tasks else 1.0).astype("float64")
    change = np.where(acc, rows["raw_diff_mean"].astype("float64") * points, rows["fold_change_mean"])
    spread = np.where(acc, rows["raw_diff_std"].astype("float64") * points, rows["fold_change_std"])
    n = np.where(acc, rows["raw_diff_n"], rows["fold_change_n"])
    return rows.assign(change=change.astype("float64"), spread=spread.astype("float64"), n=n.astype("int64"))


def curves_for(curves: pd.DataFrame, task: str) -> tuple[pd.DataFrame, list[str]]:
    """Steps x experiments of the metric on one task, and which of those experiments trained on it."""
    part = trained_mask(members(curves[curves["task"] == task]))
    table = part.pivot_table(index="step", columns="experiment", values="value", aggfunc="first").sort_index()
    trained = sorted(set(part.loc[part["trained"], "experiment"]))
    return table.astype("float64"), trained


def curves_spread(curves: pd.DataFrame, task: str) -> pd.DataFrame:
    """Steps x experiments of the std across seeds on one task (seed_curves `seed_std`; NaN for one seed),
    aligned with `curves_for`'s table."""
    part = members(curves[curves["task"] == task])
    table = part.pivot_table(index="step", columns="experiment", values="seed_std", aggfunc="first",
                             dropna=False).sort_index()
    return table.astype("float64")


def baseline_last(curves: pd.DataFrame, task: str) -> pd.Series:
    """Each baseline's value on a task at its last checkpoint, by baseline experiment; on seed_curves
    the mean of the seeds' own last values (`last_mean`)."""
    base = curves[(curves["group"] == "baseline") & (curves["task"] == task)].dropna(subset=["value"])
    if "last_mean" in base.columns:
        return base.groupby("experiment")["last_mean"].first().astype("float64")
    last = base.sort_values("step").groupby("experiment")["value"].last()
    return last.astype("float64")


def curve_seeds(curves: pd.DataFrame) -> pd.Series:
    """Seeds behind each seed-free experiment of a seed_curves slice (most seeds at any step), baselines excluded."""
    return members(curves).groupby("experiment")["n_seeds"].max().astype("int64")


def fewer_seeds(curves: pd.DataFrame, task: str) -> dict[str, int]:
    """Experiments whose curve on this task has, at some step, fewer seeds than the experiment has
    elsewhere in the slice (a seed's evaluation or value is missing; the mean is not drawn there):
    {experiment: fewest seeds at a step on this task}, shown as a panel note."""
    everyone = curve_seeds(curves)
    here = members(curves[curves["task"] == task]).groupby("experiment")["n_seeds"].min()
    return {e: int(n) for e, n in here.items() if 0 < n < everyone.get(e, 0)}


def missing_curves(curves: pd.DataFrame, task: str, config: Config) -> list[str]:
    """Experiments of the slice with no checkpoint on this task (shown as a note on the panel)."""
    everyone = experiment_order(members(curves)["experiment"], config)
    have = set(members(curves[(curves["task"] == task) & curves["value"].notna()])["experiment"])
    return [e for e in everyone if e not in have]


@dataclass(frozen=True)
class CurvePanel:
    """What one task's checkpoint panel draws: steps x experiments of the metric (`table`) and of the std
    across seeds (`spread`, NaN for one seed), the experiments trained on the task, each baseline's last
    value, the experiments without a curve and those with fewer seeds here than elsewhere; `runs`: the
    experiments nobody described (`described`), each with its run index (colour, marker)."""

    table: pd.DataFrame
    spread: pd.DataFrame
    trained: list[str]
    baseline: np.ndarray
    missing: list[str]
    fewer: dict[str, int]
    runs: dict[str, int] = dataclasses.field(default_factory=dict)


def curve_panels(curves: pd.DataFrame, config: Config) -> dict[str, CurvePanel]:
    """`curves_for`, `curves_spread`, `baseline_last`, `missing_curves` and `fewer_seeds` of every task of
    a seed_curves slice, computed in one pass over it (one group-by instead of two pivots per task)."""
    rows = trained_mask(members(curves))
    everyone = experiment_order(rows["experiment"], config)
    undescribed = set(rows.loc[~described(rows), "experiment"])
    index = row_runs(rows, sorted(undescribed), "experiment")
    seeds_all = rows.groupby("experiment")["n_seeds"].max()
    spread_col = "seed_std" if "seed_std" in rows.columns else None
    out = {}
    for task, part in rows.groupby("task", sort=False):
        keyed = part.drop_duplicates(["step", "experiment"]).set_index(["step", "experiment"])
        table = keyed["value"].astype("float64").unstack("experiment").sort_index()
        spread = (keyed[spread_col].astype("float64").unstack("experiment").sort_index() if spread_col
                  else table * np.nan)
        have = set(part.loc[part["value"].notna(), "experiment"])
        here = part.groupby("experiment")["n_seeds"].min()  # the fewest at any step, as fewer_seeds
        out[task] = CurvePanel(
            table=table, spread=spread.reindex(index=table.index, columns=table.columns),
            trained=sorted(set(part.loc[part["trained"], "experiment"])),
            baseline=baseline_last(curves, task).to_numpy(),
            missing=[e for e in everyone if e not in have],
            fewer={e: int(n) for e, n in here.items() if 0 < n < seeds_all.get(e, 0)},
            runs={e: int(index[e]) for e in table.columns if e in undescribed})
    return out


# --- seeds: experiments that differ only by seed, drawn as one (views seed_points / seed_scores) ----

DOT_SPREAD = 0.5  # share of a bar's width over which one experiment's seed dots are spread


@dataclass(frozen=True)
class SeedBars:
    """Seed-free experiments (rows) x tasks of one measure, from the seed_points view.

    `mean`/`std` are the view's `<measure>_mean/_std` (each seed normalized against its own baseline
    before averaging); `n_seeds` is each row's number of seeds with a number for the measure (the
    most over its tasks), `n` each cell's (the n its mean is over; 0: no number); `dots` holds one row per
    seed with a number (`row` position, `task`, `seed`, `value`, `offset` within the bar), and is
    empty when no row has more than one seed, so a one-seed tree draws exactly as before. `runs` is each
    row's run index (colour, marker) when nobody described its training, -1 when rules.yaml did.
    """

    mean: pd.DataFrame
    std: pd.DataFrame
    trained: pd.DataFrame
    n_seeds: pd.Series
    dots: pd.DataFrame
    n: pd.DataFrame | None = None
    runs: pd.Series | None = None

    @property
    def multi_seed(self) -> bool:
        return bool((self.n_seeds > 1).any())


def seed_bars(points: pd.DataFrame, measure: str, config: Config, rows: list[str] | None = None) -> SeedBars:
    """Per seed-free experiment and task: mean and std of `measure` over seeds, and the seeds' dots."""
    part = trained_mask(members(points))
    rows = rows if rows is not None else experiment_order(part["model"], config)
    cols = tasks_in(part, config)
    grid = cells(part, "model", {f"{measure}_n": "max", "trained": "any", f"{measure}_mean": "first",
                                 f"{measure}_std": "first"}, rows, cols)
    n = grid[f"{measure}_n"].fillna(0).astype("int64")  # seeds with a number: what each mean is over
    n_seeds = n.max(axis=1).reindex(rows).fillna(0).astype("int64")
    trained = grid["trained"].fillna(False).astype(bool)
    multi = part[part["model"].map(part.groupby("model")["n_seeds"].max()) > 1]
    dots = multi.loc[np.isfinite(multi[measure].astype("float64")),
                     ["model", "task", "seed", measure]].rename(columns={measure: "value"})
    rank = dots.groupby(["model", "task"])["seed"].rank(method="first") - 1
    count = dots.groupby(["model", "task"])["seed"].transform("size")
    dots = dots.assign(row=dots["model"].map({m: i for i, m in enumerate(rows)}),
                       offset=((rank + 0.5) / count - 0.5) * DOT_SPREAD)
    dots = dots.dropna(subset=["row"]).astype({"row": "int64", "value": "float64", "offset": "float64"})
    return SeedBars(mean=grid[f"{measure}_mean"].astype("float64"), std=grid[f"{measure}_std"].astype("float64"),
                    trained=trained, n_seeds=n_seeds,
                    dots=dots[["row", "task", "seed", "value", "offset"]].reset_index(drop=True), n=n,
                    runs=row_runs(part, rows))


def baseline_levels(points: pd.DataFrame, measure: str = "value") -> pd.DataFrame:
    """The baseline per seed-free baseline and task: mean and std over the seeds' baselines in the slice.

    The runner adds to a group's slice exactly the baselines its members are scored against
    (pt1, pt1_seed2), so this is the mean of the seeds' own baselines; std is NaN for one seed.
    """
    base = points[points["group"] == "baseline"] if "group" in points.columns else points.iloc[:0]
    base = base[np.isfinite(base[measure].astype("float64"))]
    out = base.groupby(["model", "task"], sort=True)[measure].agg(["mean", "std", "count"])
    return out.rename(columns={"count": "n"}).reset_index()


def seed_counts(frame: pd.DataFrame, column: str, config: Config, rows: list[str] | None = None) -> pd.DataFrame:
    """Seeds with a number behind each cell of `matrix(frame, column + "_mean")`, from seed_scores `_n`."""
    m = matrix(frame, f"{column}_n", config, rows)
    return m.values.fillna(0).astype("int64")


def seed_numbers(frame: pd.DataFrame, rows: list[str]) -> pd.Series:
    """Seeds per seed-free experiment (`n_seeds` of the seed_scores view), in the order of `rows`."""
    return frame.groupby("experiment")["n_seeds"].max().reindex(rows).fillna(0).astype("int64")


def seed_phrase(n_seeds: pd.Series | pd.DataFrame) -> str:
    """How many seeds the means of a figure are over, for its title: '2 seeds' or '1–3 seeds'.
    Given each cell's n (a DataFrame), cells without a number (n = 0: drawn as n/a) are left out."""
    if isinstance(n_seeds, pd.DataFrame):
        cells = np.nan_to_num(n_seeds.to_numpy(dtype="float64").ravel())
        n_seeds = pd.Series(cells[cells > 0] if (cells > 0).any() else cells)
    lo, hi = int(n_seeds.min()), int(n_seeds.max())
    return f"{hi} seed{'s' if hi != 1 else ''}" if lo == hi else f"{lo}–{hi} seeds"


@dataclass(frozen=True)
class SeedIntervals:
    """Seed-free experiments (rows) x tasks: a centre, an interval (`low`..`high`) and each seed's dot
    (`dots`: `row`, `task`, `seed`, `value`, `offset` as in `SeedBars`); `kind` per task tells the unit."""

    mean: pd.DataFrame
    low: pd.DataFrame
    high: pd.DataFrame
    trained: pd.DataFrame
    n_seeds: pd.Series
    dots: pd.DataFrame
    n: pd.DataFrame  # per cell: the seeds with a number (what its mean is over)
    runs: pd.Series | None = None  # per row: its run index when nobody described it, else -1 (see SeedBars)

    @property
    def multi_seed(self) -> bool:
        return bool((self.n_seeds > 1).any())


def forgetting_intervals(points: pd.DataFrame, config: Config, rows: list[str] | None = None) -> SeedIntervals:
    """In-distribution change from the baseline per seed-free experiment and task, from seed_points:
    accuracy tasks in accuracy points (raw difference x 100): arithmetic mean ± std across seeds; error
    tasks as fold change (value / baseline), whose seeds differ by factors: the geometric mean and the
    geometric ± std (exp of the mean ± std of log fold change), so 0.5 and 2 average to 1, not 1.25.
    `rows` fixes the experiments and their order (one part of a split figure)."""
    part = trained_mask(members(points))
    part = part[part["condition"] == in_distribution(config)]
    acc = (part["kind"] == "accuracy").to_numpy()
    raw = part["raw_diff"].astype("float64").to_numpy()
    fold = part["fold_change"].astype("float64").to_numpy()
    with np.errstate(all="ignore"):
        change = np.where(acc, raw * 100.0, np.log(np.where(fold > 0, fold, np.nan)))
    part = part.assign(change=change)
    rows = rows if rows is not None else experiment_order(part["model"], config)
    cols = tasks_in(part, config)
    stats = part.groupby(["model", "task"])["change"].agg(["mean", "std", "count"])

    def pivot(values: pd.Series) -> pd.DataFrame:
        return values.unstack("task").reindex(index=rows, columns=cols).astype("float64")

    mean, std = pivot(stats["mean"]), pivot(stats["std"])
    error = [c for c in cols if config.tasks[c].kind != "accuracy"]
    low, high = mean - std, mean + std
    for frame in (mean, low, high):
        frame[error] = np.exp(frame[error])
    n_seeds = part.groupby("model")["n_seeds"].max().reindex(rows).fillna(0).astype("int64")
    trained = cells(part, "model", {"trained": "any"}, rows, cols)["trained"].fillna(False).astype(bool)
    multi = part[part["model"].map(n_seeds) > 1]
    dots = multi.loc[np.isfinite(multi["change"]), ["model", "task", "seed", "kind", "change"]]
    value = np.where(dots["kind"] == "accuracy", dots["change"], np.exp(dots["change"]))
    rank = dots.groupby(["model", "task"])["seed"].rank(method="first") - 1
    count = dots.groupby(["model", "task"])["seed"].transform("size")
    dots = dots.assign(value=value, row=dots["model"].map({m: i for i, m in enumerate(rows)}),
                       offset=((rank + 0.5) / count - 0.5) * DOT_SPREAD)
    dots = dots.dropna(subset=["row"]).astype({"row": "int64", "value": "float64", "offset": "float64"})
    return SeedIntervals(mean, low, high, trained, n_seeds,
                         dots[["row", "task", "seed", "value", "offset"]].reset_index(drop=True),
                         pivot(stats["count"]).fillna(0).astype("int64"), row_runs(part, rows))


@dataclass(frozen=True)
class PredictionPoints:
    """One row per multi-task experiment x evaluation task (`cells`: experiment, task, trained,
    actual, predicted, residual as seed means, actual_std across seeds, n), the seed noise of the
    actual score (median over cells of its std across seeds; NaN with one seed), and the worst misses
    (the `top` cells with the largest |actual - predicted|, largest first)."""

    cells: pd.DataFrame
    noise: float
    worst: pd.DataFrame


def prediction_points(predictions: pd.DataFrame, score: str, config: Config, top: int = 3) -> PredictionPoints:
    """The prediction view (one row per seed) of one slice and score, as figure points: the seeds of an
    experiment averaged (each seed predicted from its own single-task runs), with the seed noise that
    separates interference from chance."""
    part = trained_mask(predictions[predictions["score"] == score])
    if part.empty:
        empty = pd.DataFrame(columns=["experiment", "task", "trained", "actual", "predicted", "residual",
                                      "actual_std", "n"])
        return PredictionPoints(empty, float("nan"), empty)
    seed_free = {name: _seed_free_name(name, config) for name in part["experiment"].unique()}
    part = part.assign(model=part["experiment"].map(seed_free))
    for column in ("actual", "predicted", "residual"):
        part[column] = part[column].astype("float64")
    cells = part.groupby(["model", "task"], sort=False).agg(
        trained=("trained", "any"), actual=("actual", "mean"), predicted=("predicted", "mean"),
        residual=("residual", "mean"), actual_std=("actual", "std"), n=("actual", "count")).reset_index()
    cells = cells.rename(columns={"model": "experiment"})
    order = {name: i for i, name in enumerate(experiment_order(cells["experiment"], config))}
    tasks = {t: i for i, t in enumerate(config.tasks)}
    cells = cells.assign(_o=cells["experiment"].map(order), _t=cells["task"].map(tasks)).sort_values(
        ["_o", "_t"]).drop(columns=["_o", "_t"]).reset_index(drop=True)
    noise = float(cells["actual_std"].median()) if cells["actual_std"].notna().any() else float("nan")
    both = cells.dropna(subset=["actual", "predicted"])
    worst = both.loc[both["residual"].abs().sort_values(ascending=False, kind="stable").index[:top]]
    return PredictionPoints(cells, noise, worst.reset_index(drop=True))


def _seed_free_name(name: str, config: Config) -> str:
    """`pt1_seed2_ft2-9` -> `pt1_ft2-9`: the experiment its seeds are averaged into."""
    info = config.parse_experiment(name)
    return info.model if info is not None else name
