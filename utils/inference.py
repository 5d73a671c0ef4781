"""What rules.yaml does not say, inferred from the data and said out loud.

A task the rules do not list is a metric: its reported metric is chosen per format (the
Trainer's key itself; for lm-eval the first of `acc`, `exact_match`, `acc_norm`, ... with no
filter or `strict-match` first), its direction comes from the metric's name (loss, error, wer,
perplexity, ...: lower is better; acc, f1, exact_match, bleu, rouge, mcc, ...: higher), its scale
from its values (0-1 or 0-100). Keys that are bookkeeping (memory, runtime, throughput, sample
counts, epoch) are not tasks; a task whose direction the name does not tell is listed, not
guessed. One log line per inferred task; `--init` writes the same as a rules.yaml to edit.
"""
from __future__ import annotations

import dataclasses
import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd
import yaml

from utils.config import ConditionInfo, Config, TaskInfo, task_metric_name
from utils.errors import UserError
from utils.readers import BOOKKEEPING, is_bookkeeping

log = logging.getLogger(__name__)

_SEP = r"(?:^|[_\-,@.\s/])"
_END = r"(?:$|[_\-,@.\s/\d])"
LOWER = re.compile(_SEP + r"(loss|error|err|wer|cer|ter|perplexity|ppl|mse|mae|rmse|nll|bits_per_byte|bpb|"
                   r"rejected)" + _END)
HIGHER = re.compile(_SEP + r"(acc|accuracy|f1|exact_match|em|bleu|rouge\w*|mcc|matthews_correlation|precision|"
                    r"recall|auc|roc_auc|chrf|sacrebleu|spearman|pearson|accuracies|reward|rewards|margins|margin|"
                    r"return|"
                    r"map\d*|map50|map50-95|top1|top5|acc1|acc5|r2|ndcg|p)" + _END)
NOT_METRIC = BOOKKEEPING  # one list, kept with the readers
# Diagnostics: numbers that tell how training went, not how good the model is (gradient norm, learning
# rate, log-probabilities, logits, KL, entropy, an optimiser's param groups): kept in metrics.csv,
# never scored or ranked.
DIAGNOSTIC = re.compile(r"(?:^|[_\-,@.\s/])(grad_norm|gradient_norm|learning_rate|lr|logps|logits|kl|entropy|"
                        r"pg\d+|momentum|weight_decay|gamma|beta\d?|temperature|clip_ratio|"
                        r"num_tokens|lr-\w+)(?:$|[_\-,@.\s/\d])")
DIAGNOSTIC_WHY = "a training diagnostic, kept in metrics.csv, not scored"
BOUNDED_LOWER = re.compile(_SEP + r"(error|err|wer|cer|ter)" + _END)
# lm-eval: which metric a task reports when rules.yaml does not say (first present wins)
LM_EVAL_ORDER = ("acc", "exact_match", "acc_norm", "f1", "mcc", "bleu", "rouge1", "rougeL", "word_perplexity",
                 "perplexity", "bits_per_byte")
FILTER_ORDER = ("", "none", "strict-match")


@dataclass(frozen=True)
class Inferred:
    """What was inferred for a task, for the log and for `--init`."""

    task: str
    info: TaskInfo | None  # None: the name does not tell the direction (listed, not guessed)
    metric: str  # the tidy metric chosen
    statistic: str
    why: str = ""


def direction(name: str) -> str | None:
    """'error' (lower is better), 'accuracy' (higher is better) or None, from a metric's name."""
    lowered = name.lower()
    if is_bookkeeping(lowered) or DIAGNOSTIC.search(lowered):
        return None
    if LOWER.search(lowered):
        return "error"
    if HIGHER.search(lowered):
        return "accuracy"
    return None


def _base(task: str, metric: str) -> tuple[str, str]:
    """(metric name without the task prefix, filter): `gsm8k_exact_match,strict-match` ->
    ("exact_match", "strict-match"); `accuracy` for task accuracy -> ("accuracy", "")."""
    name, _, filt = metric.partition(",")
    if name != task and name.startswith(task + "_"):
        name = name[len(task) + 1:]
    return name, filt


def _choose(task: str, rows: pd.DataFrame, config: Config) -> tuple[str, str]:
    """The (metric, statistic) a task reports: the metric named like the task (Trainer keys,
    tables), else lm-eval's usual order; the rules' statistic, else `value`."""
    metrics = sorted(rows["metric"].unique())
    template = config.metric.format(task=task)
    if template in metrics:
        metric = template
    elif task in metrics:
        metric = task
    else:
        def rank(m: str) -> tuple:
            name, filt = _base(task, m)
            known = LM_EVAL_ORDER.index(name) if name in LM_EVAL_ORDER else len(LM_EVAL_ORDER)
            placed = direction(name) is not None
            return (known, not placed, FILTER_ORDER.index(filt) if filt in FILTER_ORDER else 9, filt, m)
        metric = min(metrics, key=rank)
    stats = set(rows.loc[rows["metric"] == metric, "statistic"])
    statistic = next((s for s in (config.statistic, "value", "mean") if s in stats), min(stats))
    return metric, statistic


def _scale(values: Iterable[float], kind: str, name: str) -> float:
    """100 when a bounded metric's values run past 1 (ROUGE, WER in percent), else 1."""
    finite = [v for v in values if isinstance(v, float) and math.isfinite(v)]
    bounded = kind == "accuracy" or bool(BOUNDED_LOWER.search(name.lower()))
    if bounded and finite and max(finite) > 1.0 and max(finite) <= 100.0 and min(finite) >= 0.0:
        return 100.0
    return 1.0


SIGNED = re.compile(r"matthews|\bmcc\b|correlation|pearson|spearman", re.I)  # scores that run from -1 to 1


def value_range(name: str, kind: str, scale: float) -> str:
    """What the unit says about a metric's range: " (-1 to 1)" for a correlation (MCC), " (0-100)" or
    " (0-1)" for a bounded score (accuracy, F1, ROUGE), " (%)" for an error rate in percent (WER can pass
    100), "" for anything unbounded (loss, perplexity, an error rate as a fraction)."""
    if SIGNED.search(name.replace("_", " ")):
        return " (-1 to 1)"
    if kind == "accuracy":
        return " (0-100)" if scale == 100 else " (0-1)"
    if BOUNDED_LOWER.search(name.lower()) and scale == 100:
        return " (%)"
    return ""


def infer_task(task: str, rows: pd.DataFrame, config: Config) -> Inferred:
    """Task info for one task the rules do not list, from its rows of the tidy table."""
    metric, statistic = _choose(task, rows, config)
    name, filt = _base(task, metric)
    if is_bookkeeping(name):
        return Inferred(task, None, metric, statistic, "bookkeeping, not a metric")
    if DIAGNOSTIC.search(name.lower()):
        return Inferred(task, None, metric, statistic, DIAGNOSTIC_WHY)
    kind = direction(name)
    if kind is None:
        return Inferred(task, None, metric, statistic, "direction unknown from the name")
    values = rows.loc[(rows["metric"] == metric) & (rows["statistic"] == statistic), "value"].tolist()
    scale = _scale(values, kind, name)
    what = name + (f" ({filt})" if filt and filt != "none" else "")
    unit = what + value_range(name, kind, scale)
    label = task if name == task else f"{task}: {what}"
    info = TaskInfo(name=task, kind=kind, label=label, unit=unit, log=False, metric=metric,
                    statistic=statistic, scale=scale)
    return Inferred(task, info, metric, statistic)


def infer(frame: pd.DataFrame, config: Config) -> list[Inferred]:
    """One Inferred per task in the data that rules.yaml does not list, in name order."""
    missing = set(frame["task"].unique()) - set(config.tasks)
    if not missing:  # the usual sweep: every task listed, nothing to look at row by row
        return []
    unknown = frame[frame["task"].isin(list(missing))]
    return [infer_task(str(task), rows, config) for task, rows in unknown.groupby("task", sort=True)]


def diagnostics(frame: pd.DataFrame, config: Config) -> dict[str, tuple[str, str]]:
    """Task -> (metric, statistic) of each task in the data that is a training diagnostic (gradient
    norm, learning rate, log-probabilities, ...: `DIAGNOSTIC`): drawn as curves, never scored or
    ranked. A task rules.yaml lists is never one."""
    return {f.task: (f.metric, f.statistic) for f in infer(frame, config) if f.why == DIAGNOSTIC_WHY}


FOLD = 5  # inferred-task lines: past this many new ones, one line naming this many
_SPLIT_LABELS = {"eval": "Evaluation set", "train": "Training", "test": "Test set"}


def data_conditions(config: Config, present: Iterable[str]) -> tuple[ConditionInfo, ...]:
    """The rules' conditions plus the data sets the readers name that rules.yaml does not list
    (`eval`, `eval_<set>`, `test`, `train`), so figures and scores know them. When none of the data
    has the rules' in-distribution condition (zero-config: Trainer and lm-eval files say `eval`),
    the evaluation set is the in-distribution condition, listed first."""
    known = {c.name for c in config.conditions}
    extra = sorted(set(present) - known, key=lambda n: (n != "eval", not n.startswith("eval_"), n == "train", n))
    if not extra:
        return config.conditions
    added = tuple(ConditionInfo(n, "", _SPLIT_LABELS.get(n) or (f"Evaluation set {n[5:]}" if n.startswith("eval_")
                                                               else n), "in_distribution") for n in extra)
    ind = config.condition("in_distribution")
    if ind is None or ind.name not in set(present):
        return added + config.conditions
    return config.conditions + added


def with_inferred(config: Config, frame: pd.DataFrame, say: bool = True, said: set[str] | None = None) -> Config:
    """The rules plus the tasks inferred from the data (logged when `say`: one line each, or one
    line for them all past FOLD; with `said`, a watch session's set of tasks already logged, only
    the new ones, which are added to it), and the data sets (`data_conditions`) the data names
    beyond the rules' conditions."""
    conditions = data_conditions(config, frame["condition"].unique()) if len(frame) else config.conditions
    if conditions != config.conditions:
        config = dataclasses.replace(config, conditions=conditions)
    found = infer(frame, config)
    if not found:
        return config
    placed = [f for f in found if f.info is not None]
    if say:
        new = [f for f in found if said is None or f.task not in said]
        if said is not None:
            said.update(f.task for f in new)
        _say_inferred([f for f in new if f.info is not None], [f for f in new if f.info is None])
    tasks = dict(config.tasks)
    tasks.update((f.task, f.info) for f in placed)
    return dataclasses.replace(config, tasks=tasks)


def _say_inferred(placed: list[Inferred], left: list[Inferred]) -> None:
    def how(f: Inferred) -> str:
        return "higher is better" if f.info.higher_is_better else "lower is better"
    if len(placed) <= FOLD:
        for f in placed:
            info = f.info
            scale = ("0-100" if info.scale == 100 else "-1 to 1" if "(-1 to 1)" in info.unit
                     else "0-1" if "(0-1)" in info.unit else "unbounded")
            log.info("inferred task %s: %s (metric %s, statistic %s), values %s", f.task, how(f),
                     f.metric, f.statistic, scale)
    else:
        log.info("inferred %d tasks from their metrics' names: %s + %d more (python run_all.py --init DIR "
                 "writes every one, with its metric and scale, to DIR/rules.yaml)", len(placed),
                 ", ".join(f"{f.task} ({how(f)})" for f in placed[:FOLD]), len(placed) - FOLD)
    if left:
        unknown = "direction unknown from the name"
        shown = ", ".join(f.task if f.why == unknown else f"{f.task} ({f.why})" for f in left[:10]) + (
            f" + {len(left) - 10} more (python run_all.py --init DIR lists them all)" if len(left) > 10 else "")
        log.info("%d task(s) left out of the figures (the name does not say whether higher is better; "
                 "describe them under tasks: in rules.yaml): %s", len(left), shown)


# --- --init: the inferred rules as a rules.yaml to edit -------------------------------------------------

def rules_text(config: Config, frame: pd.DataFrame, data: Path, readers: dict[str, int]) -> str:
    """A commented rules.yaml holding what zero-config inferred for the tree at `data`."""
    found = infer(frame, config)
    lines = [
        "# rules.yaml written by `python run_all.py --init` from what it found under this folder.",
        "# Every value below was inferred: check the directions (kind) and edit freely, then run",
        "#   python run_all.py --config <this file>",
        "",
        "data:",
        f"  root: {_q('.')}                       # the folder this file lies in",
        "",
        "# No readers: every file is offered to the readers' sniffers, which found:",
    ]
    lines += [f"#   {name}: {count} file(s)" for name, count in sorted(readers.items())]
    lines += ["# To pin files to readers, list {reader, glob} entries here (docs/formats.md).",
              "readers: []", "", "conditions:"]
    present = set(frame["condition"]) if "condition" in frame.columns else set()
    conditions = [c for c in config.conditions if c.name in present] or config.conditions[:1]
    for cond in conditions:  # only the conditions the data has
        lines.append(f"  {cond.name}: {{prefix: {_q(cond.prefix)}, label: {_q(cond.label)}, role: {cond.role}}}")
    lines.append("")
    metrics = set(frame["metric"]) if "metric" in frame.columns else set()
    if any(config.metric.format(task=t) in metrics for t in set(frame.get("task", ()))):
        lines.append(f"metric: {_q(config.metric)}")  # the template, only when the data's metrics follow it
    if config.statistic in (set(frame["statistic"]) if "statistic" in frame.columns else set()):
        lines.append(f"statistic: {_q(config.statistic)}")
    lines += ["",
              "# Per task: kind (accuracy: higher is better; error: lower is better), label, unit, log scale,",
              "# the metric it reports (e.g. acc_norm, or exact_match,strict-match for lm-eval) and the",
              "# statistic; scale 100 for values in percent.",
              "tasks:"]
    for name, info in config.tasks.items():
        if name in set(frame["task"]):
            lines.append(_task_line(info))
    for f in found:
        if f.info is not None:
            lines.append(_task_line(f.info))
    left = [f for f in found if f.info is None]
    if left:
        lines.append("  # left out (the name does not say whether higher is better); add a kind to use them:")
        lines += [f"  # {f.task}: {{kind: ?, metric: {_q(f.metric)}, statistic: {_q(f.statistic)}}}  # {f.why}"
                  for f in left]
    lines += ["", "# Each run folder (lm-eval: each model plus adapter) is its own experiment. To group runs and",
              "# score them against a baseline, give a pattern with named groups (see the shipped rules.yaml)",
              "# and/or name the baseline run (also: --baseline RUN).",
              "experiments:", "  pattern: null", "  baseline: null", "", ""]
    return "\n".join(lines)


def _task_line(info: TaskInfo) -> str:
    parts = [f"kind: {info.kind}", f"label: {_q(info.label)}", f"unit: {_q(info.unit)}",
             f"log: {'true' if info.log else 'false'}"]
    if info.metric:
        name, filt = _base(info.name, info.metric)
        short = name + (f",{filt}" if filt else "")  # as a user writes it: acc_norm, exact_match,strict-match
        parts.append(f"metric: {_q(short if task_metric_name(info.name, short) == info.metric else info.metric)}")
    if info.statistic:
        parts.append(f"statistic: {_q(info.statistic)}")
    if info.scale != 1:
        parts.append(f"scale: {info.scale:g}")
    return f"  {_q(info.name)}: {{{', '.join(parts)}}}"


def _q(text: str) -> str:
    """A YAML scalar for `text`, quoted (flow-style safe)."""
    return yaml.safe_dump(str(text), default_style='"', width=10_000).strip().removesuffix("...").strip()


def write_init(data: Path, config: Config) -> Path:
    """Infer the rules for the tree at `data` and write them to `<data>/rules.yaml`; never overwrites."""
    from utils.loading import discover, load
    target = data / "rules.yaml"
    if target.exists():
        raise UserError(f"{target}: already exists; --init never overwrites a file (move it away first)")
    result = load(data, config)  # logs what each reader took, once
    readers: dict[str, int] = {}
    quiet = logging.getLogger("utils.loading")
    level = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        for _, rname in discover(data, config):
            readers[rname] = readers.get(rname, 0) + 1
    finally:
        quiet.setLevel(level)
    text = rules_text(config, result.frame, data, readers)
    with open(target, "x", encoding="utf-8") as fh:  # "x": a file that appeared meanwhile is not overwritten
        fh.write(text)
    return target
