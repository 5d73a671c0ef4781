"""rules.yaml: load, validate and expose the metric semantics, naming and layout rules.

Validation is strict and fails fast: every message names the file and the key, so a typo in
rules.yaml is a one-line fix instead of a silently wrong figure.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from utils.errors import ConfigError

KINDS = ("accuracy", "error")
UNSUFFIXED_SEED = 0  # the seed of a run whose name has no seed part (pt1_ft2-9): its own seed, never 1
ROLES = ("in_distribution", "out_of_distribution")
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "rules.yaml"


@dataclass(frozen=True)
class TaskInfo:
    name: str
    kind: str  # "accuracy" (higher is better) or "error" (lower is better)
    label: str
    unit: str
    log: bool
    metric: str | None = None  # tidy metric name reported for this task (None: the top-level `metric`)
    statistic: str | None = None  # its statistic (None: the top-level `statistic`)
    scale: float = 1.0  # 100 when the values run 0-100 (ROUGE, WER in percent), for text output

    @property
    def higher_is_better(self) -> bool:
        return self.kind == "accuracy"


@dataclass(frozen=True)
class ConditionInfo:
    name: str
    prefix: str
    label: str
    role: str


@dataclass(frozen=True)
class ReaderRule:
    reader: str
    glob: str
    experiment: str | None = None  # where the experiment name comes from (top, run, model)
    pattern: re.Pattern | None = None  # text_log: a line's regular expression, named groups step and metrics


def _line_pattern(path: Path, key: str, raw: Any) -> re.Pattern:
    """A text log's line pattern: a regular expression with a named group `step` (or `epoch`) and
    at least one other named group, each a metric (`train_loss`, `val_loss`)."""
    if not isinstance(raw, str) or not raw:
        raise _fail(path, key, "missing: a regular expression with named groups (?P<step>...) and one per metric")
    try:
        compiled = re.compile(raw)
    except re.error as exc:
        raise _fail(path, key, f"not a regular expression: {exc}") from None
    names = set(compiled.groupindex)
    if not names & {"step", "epoch"}:
        raise _fail(path, key, "needs a named group step (or epoch), e.g. (?P<step>\\d+)")
    if not names - {"step", "epoch"}:
        raise _fail(path, key, "needs a named group per metric, e.g. (?P<val_loss>[\\d.]+)")
    return compiled


EXPERIMENT_FROM = ("top", "run", "model")


@dataclass(frozen=True)
class ExperimentName:
    """What an experiment's name says about it."""

    name: str
    baseline: str  # the experiment it is normalized against (itself for a baseline)
    group: str  # "baseline" for baselines, else e.g. "ft1"
    index: int | None
    seed: int  # the `seed` group's number; UNSUFFIXED_SEED (0) for a name without a seed part
    model: str  # seed-free name, e.g. pt1_ft2-9 for pt1_seed2_ft2-9

    @property
    def is_baseline(self) -> bool:
        return self.group == "baseline"


@dataclass(frozen=True)
class LatexRules:
    """`latex:` in rules.yaml: which experiments and seeds the paper table shows, its caption and label."""

    experiments: tuple[str, ...] = ()  # seed-free or short names, or globs (ft2-*); empty: all
    seeds: tuple[str, ...] = ()  # seeds as written in the names (2 for pt1_seed2_...); empty: all
    caption: str = ""  # LaTeX, used verbatim; empty: a caption saying what the numbers are
    label: str = "tab:raw_metrics"
    columns: tuple[str, ...] = ()  # runs without a baseline: the metrics/tasks (names or globs) to show


@functools.lru_cache(maxsize=1 << 16)
def _parsed(pattern: re.Pattern, name: str) -> ExperimentName | None:
    """An experiment name parsed by the rules' pattern; remembered, as the views ask for each name
    many times (54,000 calls at 7,250 runs)."""
    m = pattern.match(name)
    if not m:
        return None
    gd = m.groupdict()
    group, index = gd.get("group"), gd.get("index")

    def without(part: str) -> str:
        if gd.get(part) is None:
            return name
        start, end = m.span(part)
        return name[:start] + name[end:]

    return ExperimentName(
        name=name,
        baseline=without("finetune"),
        group=group if group else "baseline",
        index=int(index) if index else None,
        seed=int(gd["seed"]) if gd.get("seed") else UNSUFFIXED_SEED,
        model=without("seedpart"),
    )


@dataclass(frozen=True)
class Config:
    path: Path
    data_root: Path
    output: Path
    skip: tuple[str, ...]
    readers: tuple[ReaderRule, ...]
    conditions: tuple[ConditionInfo, ...]
    metric: str
    statistic: str
    tasks: Mapping[str, TaskInfo]
    pattern: re.Pattern | None  # None: no naming scheme, every run folder is its own experiment
    baseline: str | None  # a run named as every unmatched run's baseline (--baseline); None: none
    groups: Mapping[str, str]
    training: Mapping[str, Mapping[int, tuple[str, ...]]]
    plot_modules: tuple[Path, ...]
    plot_format: str
    plot_dpi: int
    clip: tuple[float, float] | None = None  # scores.clip: each seed's normalized score clipped before the mean
    seed_heatmap: bool = False  # plots.seed_heatmap: also draw one heatmap per seed
    plot_width: float = 7.5  # inches: the figures' width on the page (plots.width)
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    latex: LatexRules = field(default_factory=LatexRules)
    # experiments.baseline as a mapping: run group -> the run that group's runs are scored against
    group_baselines: Mapping[str, str] = field(default_factory=dict)
    # where the baseline was named for this data ("--baseline", or "experiments.baseline" of a rules
    # file other than the shipped one; "": the shipped default): a name no run has is then an error
    baseline_named: str = ""

    def parse_experiment(self, name: str) -> ExperimentName | None:
        """Split an experiment name into baseline, group, index and seed; None if it does not match."""
        return _parsed(self.pattern, name) if self.pattern is not None else None

    def trained_tasks(self, exp: ExperimentName) -> tuple[str, ...]:
        """Tasks the experiment was fine-tuned on (empty for baselines and unknown members)."""
        if exp.index is None:
            return ()
        return tuple(self.training.get(exp.group, {}).get(exp.index, ()))

    def task_metric(self, task: str) -> tuple[str, str]:
        """(tidy metric, statistic) reported for a task: its own `metric:`/`statistic:`, else the
        top-level template and statistic."""
        info = self.tasks.get(task)
        metric = info.metric if info is not None and info.metric else self.metric.format(task=task)
        stat = info.statistic if info is not None and info.statistic else self.statistic
        return metric, stat

    def condition_for_folder(self, folder: str) -> tuple[str, str] | None:
        """(condition, task) for an evaluation folder name such as `atlantis_distance`."""
        for cond in sorted(self.conditions, key=lambda c: len(c.prefix), reverse=True):
            if folder.startswith(cond.prefix) and len(folder) > len(cond.prefix):
                return cond.name, folder[len(cond.prefix):]
        return None

    def condition(self, role: str) -> ConditionInfo | None:
        return next((c for c in self.conditions if c.role == role), None)

    def condition_label(self, name: str) -> str:
        return next((c.label for c in self.conditions if c.name == name), name)

    def group_label(self, group: str) -> str:
        return self.groups.get(group, group)


_TOP_KEYS = {"data", "output", "readers", "conditions", "metric", "statistic", "tasks",
             "experiments", "training", "plots", "scores", "tidy", "latex"}


def task_metric_name(task: str, metric: str | None) -> str | None:
    """A task's `metric:` as the tidy metric name: `acc_norm` for task hellaswag is
    `hellaswag_acc_norm` (lm-eval's naming); a name that already is or starts with the task,
    or a `{task}` template, is taken as it is."""
    if metric is None:
        return None
    if "{task}" in metric:
        return metric.format(task=task)
    return metric if metric == task or metric.startswith(task + "_") else f"{task}_{metric}"


def _fail(path: Path, key: str, msg: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {msg}")


def _expect(path: Path, key: str, value: Any, typ: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, typ) or (typ is int and isinstance(value, bool)):
        raise _fail(path, key, f"expected {what}, got {type(value).__name__} {value!r}")
    return value


def _only_keys(path: Path, key: str, mapping: Mapping, allowed: set[str]) -> None:
    unknown = sorted(set(map(str, mapping)) - allowed)
    if unknown:
        raise _fail(path, f"{key}.{unknown[0]}" if key else unknown[0],
                    f"unknown key (allowed: {', '.join(sorted(allowed))})")


def load_config(path: Path | str | None = None) -> Config:
    """Read and validate rules.yaml (the bundled one when `path` is None)."""
    path = Path(path) if path is not None else DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "YAML"
        raise ConfigError(f"{path}: {where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    _expect(path, "(top level)", raw, dict, "a mapping")
    _only_keys(path, "", raw, _TOP_KEYS)
    base_dir = path.resolve().parent

    data = _expect(path, "data", raw.get("data", {}), dict, "a mapping")
    _only_keys(path, "data", data, {"root", "skip"})
    root = _expect(path, "data.root", data.get("root", "experiments"), str, "a path")
    skip = _expect(path, "data.skip", data.get("skip", []), list, "a list of folder names")
    for i, s in enumerate(skip):
        _expect(path, f"data.skip[{i}]", s, str, "a folder name")
    output = _expect(path, "output", raw.get("output", "figures"), str, "a path")

    # No `readers` (or an empty list): every file is offered to the readers' sniffers instead.
    readers_raw = _expect(path, "readers", raw.get("readers") or [], list, "a list of {reader, glob}")
    readers = []
    for i, r in enumerate(readers_raw):
        key = f"readers[{i}]"
        _expect(path, key, r, dict, "a mapping with reader and glob")
        _only_keys(path, key, r, {"reader", "glob", "experiment", "pattern"})
        for k in ("reader", "glob"):
            if k not in r:
                raise _fail(path, f"{key}.{k}", "missing")
            _expect(path, f"{key}.{k}", r[k], str, "a string")
        exp_from = r.get("experiment")
        if exp_from is not None and exp_from not in EXPERIMENT_FROM:
            raise _fail(path, f"{key}.experiment", f"must be one of {', '.join(EXPERIMENT_FROM)}, "
                                                   f"got {exp_from!r}")
        pattern = r.get("pattern")
        if pattern is not None or r["reader"] == "text_log":
            pattern = _line_pattern(path, f"{key}.pattern", pattern)
        readers.append(ReaderRule(r["reader"], r["glob"], exp_from, pattern))

    conds_raw = _expect(path, "conditions", raw.get("conditions"), dict, "a mapping of conditions")
    conditions = []
    for name, c in conds_raw.items():
        key = f"conditions.{name}"
        _expect(path, key, c, dict, "a mapping with prefix, label, role")
        _only_keys(path, key, c, {"prefix", "label", "role"})
        prefix = _expect(path, f"{key}.prefix", c.get("prefix", ""), str, "a string")
        label = _expect(path, f"{key}.label", c.get("label", str(name)), str, "a string")
        role = c.get("role", "in_distribution")
        if role not in ROLES:
            raise _fail(path, f"{key}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
        conditions.append(ConditionInfo(str(name), prefix, label, role))
    if len({c.prefix for c in conditions}) != len(conditions):
        raise _fail(path, "conditions", "two conditions share a prefix")

    metric = _expect(path, "metric", raw.get("metric", "{task}_metric"), str, "a template string")
    if "{task}" not in metric:
        raise _fail(path, "metric", "must contain {task}")
    statistic = _expect(path, "statistic", raw.get("statistic", "mean"), str, "a string")

    # Tasks are optional: those not listed are inferred from the data (utils/inference.py).
    tasks_raw = _expect(path, "tasks", raw.get("tasks") or {}, dict, "a mapping of tasks")
    tasks: dict[str, TaskInfo] = {}
    for name, t in tasks_raw.items():
        key = f"tasks.{name}"
        _expect(path, key, t, dict, "a mapping with kind (accuracy or error)")
        _only_keys(path, key, t, {"kind", "label", "unit", "log", "metric", "statistic", "scale"})
        if "kind" not in t:
            raise _fail(path, f"{key}.kind", "missing: say whether the task is an accuracy "
                                             "(higher is better) or an error (lower is better)")
        if t["kind"] not in KINDS:
            raise _fail(path, f"{key}.kind", f"must be accuracy or error, got {t['kind']!r}")
        tasks[str(name)] = TaskInfo(
            name=str(name), kind=t["kind"],
            label=_expect(path, f"{key}.label", t.get("label", str(name)), str, "a string"),
            unit=_expect(path, f"{key}.unit", t.get("unit", t["kind"]), str, "a string"),
            log=_expect(path, f"{key}.log", t.get("log", t["kind"] == "error"), bool, "true or false"),
            metric=task_metric_name(str(name), _expect(path, f"{key}.metric", t.get("metric"), (str, type(None)),
                                                       "a metric name such as acc_norm or exact_match,strict-match")),
            statistic=_expect(path, f"{key}.statistic", t.get("statistic"), (str, type(None)), "a string"),
            scale=float(_expect(path, f"{key}.scale", t.get("scale", 1), (int, float), "1 or 100")),
        )

    exps = _expect(path, "experiments", raw.get("experiments", {}), dict, "a mapping")
    _only_keys(path, "experiments", exps, {"pattern", "baseline", "groups"})
    pat_text = _expect(path, "experiments.pattern", exps.get(
        "pattern", r"^(?P<base>[^_]+)(?P<finetune>_(?P<group>[A-Za-z]+\d*)-(?P<index>\d+))?$"),
        (str, type(None)), "a regular expression (or null: every run folder is its own experiment)")
    try:
        pattern = re.compile(pat_text) if pat_text is not None else None
    except re.error as exc:
        raise _fail(path, "experiments.pattern", f"invalid regular expression: {exc}") from None
    if pattern is None:
        pass
    elif "finetune" not in pattern.groupindex or "group" not in pattern.groupindex:
        raise _fail(path, "experiments.pattern", "needs named groups (?P<finetune>...) and (?P<group>...)")
    if pattern is not None and ("seed" in pattern.groupindex) != ("seedpart" in pattern.groupindex):
        # seeds are averaged per seed-free name: `seedpart` is what is cut off, `seed` its number
        raise _fail(path, "experiments.pattern", "named groups (?P<seedpart>...) and (?P<seed>...) go "
                                                 "together: seedpart is removed to get the seed-free name")
    baseline = _expect(path, "experiments.baseline", exps.get("baseline", "pt1"), (str, type(None), dict),
                       "a run name, a mapping of run group to run name, or null")
    group_baselines: dict[str, str] = {}
    if isinstance(baseline, dict):
        for group, run in baseline.items():
            group_baselines[str(group)] = _expect(path, f"experiments.baseline.{group}", run, str, "a run name")
        baseline = None
    groups = _expect(path, "experiments.groups", exps.get("groups", {}), dict, "a mapping")

    training_raw = _expect(path, "training", raw.get("training", {}), dict, "a mapping")
    training: dict[str, dict[int, tuple[str, ...]]] = {}
    for group, members in training_raw.items():
        key = f"training.{group}"
        _expect(path, key, members, dict, "a mapping of index -> list of tasks")
        training[str(group)] = {}
        for idx, trained in members.items():
            _expect(path, f"{key}.{idx}", idx, int, "an integer index")
            _expect(path, f"{key}.{idx}", trained, list, "a list of tasks")
            for t in trained:
                if t not in tasks:
                    raise _fail(path, f"{key}.{idx}", f"unknown task {t!r} (not under tasks)")
            training[str(group)][idx] = tuple(trained)

    plots = _expect(path, "plots", raw.get("plots", {}), dict, "a mapping")
    _only_keys(path, "plots", plots, {"modules", "format", "dpi", "width", "seed_heatmap"})
    modules = _expect(path, "plots.modules", plots.get("modules", []), list, "a list of paths")
    for i, m in enumerate(modules):
        _expect(path, f"plots.modules[{i}]", m, str, "a path")
    fmt = _expect(path, "plots.format", plots.get("format", "png"), str, "png, pdf or svg")
    if fmt not in ("png", "pdf", "svg"):
        raise _fail(path, "plots.format", f"must be png, pdf or svg, got {fmt!r}")
    dpi = _expect(path, "plots.dpi", plots.get("dpi", 150), int, "an integer")
    width = _plot_width(path, plots.get("width", "double"))
    seed_heatmap = _expect(path, "plots.seed_heatmap", plots.get("seed_heatmap", False), bool, "true or false")
    clip = _clip(path, _expect(path, "scores", raw.get("scores") or {}, dict, "a mapping"))
    latex = _latex_rules(path, raw.get("latex") or {})

    return Config(
        path=path, data_root=base_dir / root, output=base_dir / output, skip=tuple(skip),
        readers=tuple(readers), conditions=tuple(conditions), metric=metric, statistic=statistic,
        tasks=tasks, pattern=pattern, baseline=baseline, groups={str(k): str(v) for k, v in groups.items()},
        training=training, plot_modules=tuple(base_dir / m for m in modules),
        plot_format=fmt, plot_dpi=dpi, plot_width=width, clip=clip, seed_heatmap=seed_heatmap, raw=raw,
        latex=latex, group_baselines=group_baselines,
        baseline_named="experiments.baseline" if path.resolve() != DEFAULT_CONFIG and "baseline" in exps else "",
    )


def _latex_rules(path: Path, raw: Any) -> LatexRules:
    """The `latex:` section: experiments (names or globs) and seeds to show, caption, label."""
    _expect(path, "latex", raw, dict, "a mapping with experiments, seeds, caption, label")
    _only_keys(path, "latex", raw, {"experiments", "seeds", "caption", "label", "columns"})
    lists = {}
    for key, types, what in (("experiments", str, "an experiment name or glob"), ("seeds", (int, str), "a seed"),
                             ("columns", str, "a metric or task name or glob")):
        items = _expect(path, f"latex.{key}", raw.get(key) or [], list, f"a list ({what} per entry)")
        for i, item in enumerate(items):
            _expect(path, f"latex.{key}[{i}]", item, types, what)
        lists[key] = tuple(str(item) for item in items)
    caption = _expect(path, "latex.caption", raw.get("caption") or "", str, "a string (LaTeX)")
    label = _expect(path, "latex.label", raw.get("label", "tab:raw_metrics"), str, "a string such as tab:raw_metrics")
    return LatexRules(lists["experiments"], lists["seeds"], caption, label, lists["columns"])


def _clip(path: Path, scores: Mapping) -> tuple[float, float] | None:
    """`scores.clip: [low, high]` (or absent/null: no clipping)."""
    _only_keys(path, "scores", scores, {"clip"})
    clip = scores.get("clip")
    if clip is None:
        return None
    if (not isinstance(clip, list) or len(clip) != 2
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in clip)):
        raise _fail(path, "scores.clip", f"expected [low, high] (two numbers), got {clip!r}")
    if not clip[0] < clip[1]:
        raise _fail(path, "scores.clip", f"low must be below high, got {clip!r}")
    return float(clip[0]), float(clip[1])


PAGE_WIDTHS = {"double": 7.5, "single": 3.5}  # inches: a two-column page's text width, one column


def _plot_width(path: Path, width: Any) -> float:
    """plots.width: `double` (7.5 in, a two-column page's text width), `single` (3.5 in, one column)
    or a number of inches (2.5 to 20)."""
    if isinstance(width, str) and width in PAGE_WIDTHS:
        return PAGE_WIDTHS[width]
    if isinstance(width, (int, float)) and not isinstance(width, bool) and 2.5 <= width <= 20:
        return float(width)
    raise _fail(path, "plots.width", f"must be double, single or inches between 2.5 and 20, got {width!r}")
