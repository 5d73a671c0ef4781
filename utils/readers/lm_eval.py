"""EleutherAI lm-evaluation-harness `results_<date>.json` (v0.4; v0.3's `results.json` too).

`results` -> task -> `"<metric>,<filter>"` (v0.3: `"<metric>"`). `<metric>_stderr` keys become
statistic "stderr" of `<metric>`, the others statistic "value". Because rules.yaml's `metric`
template names the task, the tidy metric is `<task>_<metric>` (plus `,<filter>` when the filter is
not "none"): `hellaswag` / `"acc_norm,none"` -> metric `hellaswag_acc_norm`, as a Trainer key
`eval_hellaswag_acc_norm` would give. Only `results` is read: `groups` repeats the group rows.
The harness's per-task bookkeeping (`sample_len`, `sample_count`) is not a metric. A file is
recognised by its name (`results*.json`) or, whatever its name (v0.3 wrote `--output_path` as
given), by starting with a `"results"` object of task objects.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (CHECKPOINT, Record, checkpoint_in_path, default_condition, experiment_mode,
                           folder_condition, folder_experiment, head, is_bookkeeping, read_json, reader,
                           split_condition, to_value)

NAME = "lm_eval"
_FILE = re.compile(r"^results(_.+)?\.json$")
_REVISION_STEP = re.compile(r"^step(\d+)$")
_CONTENT = re.compile(rb'^\s*\{\s*"results"\s*:\s*\{\s*"[^"]*"\s*:\s*\{')  # {"results": {"<task>": {
# JSON files a training run writes beside its results that are never harness results: not opened
NOT_RESULTS = frozenset({"config.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json",
                         "generation_config.json", "preprocessor_config.json", "adapter_config.json",
                         "vocab.json", "added_tokens.json", "trainer_state.json", "train_results.json",
                         "eval_results.json", "all_results.json", "test_results.json", "predict_results.json",
                         "evaluation_results.json", "model.safetensors.index.json"})


def _accepts(name: str) -> bool:
    return name.endswith(".json") and name not in NOT_RESULTS


def _sniff(path: Path) -> bool:
    if _FILE.match(path.name):
        return b'"results"' in head(path)
    return path.suffix == ".json" and bool(_CONTENT.match(head(path, 1024)))


def model_args(data: dict) -> dict[str, str]:
    """The `config.model_args` block as a dict (lm-eval writes `"pretrained=x,dtype=float"` or a dict)."""
    block = data.get("config")
    args = block.get("model_args") if isinstance(block, dict) else None
    if isinstance(args, dict):
        return {str(k): str(v) for k, v in args.items()}
    if isinstance(args, str):
        pairs = (item.split("=", 1) for item in args.split(",") if "=" in item)
        return {k.strip(): v.strip() for k, v in pairs}
    return {}


def _name_and_step(path: str) -> tuple[str | None, int | None]:
    """Last component of a model or adapter path, and N of a trailing `checkpoint-<N>`."""
    parts = [p for p in re.split(r"[/\\]", path) if p and p not in (".", "..")]
    if not parts:
        return None, None
    m = CHECKPOINT.match(parts[-1])
    if m and len(parts) > 1:
        return parts[-2], int(m.group(1))
    return parts[-1], None


def model_and_step(data: dict) -> tuple[str | None, int | None]:
    """Experiment and step named by the model: `pretrained=runs/pt1_ft1-1/checkpoint-500` ->
    ("pt1_ft1-1", 500); `pretrained=EleutherAI/pythia-160m,revision=step3000` -> ("pythia-160m", 3000).
    A PEFT adapter (`peft=` or `lora=`) is part of the experiment: `base+adapter`, its
    `checkpoint-<N>` the step."""
    args = model_args(data)
    model = args.get("pretrained") or args.get("model") or data.get("model_name")
    if not isinstance(model, str) or not model.strip("/"):
        return None, None
    name, step = _name_and_step(model)
    if name is None:
        return None, None
    adapter = args.get("peft") or args.get("lora")
    if adapter:
        adapter_name, adapter_step = _name_and_step(adapter)
        if adapter_name is not None:
            name, step = f"{name}+{adapter_name}", adapter_step if adapter_step is not None else step
    rev = _REVISION_STEP.match(args.get("revision", ""))
    if step is None and rev:
        step = int(rev.group(1))
    return name, step


def _task_records(path: Path, task_key: str, metrics: Any, experiment: str, condition: str,
                  step: int, config: Config) -> list[Record]:
    if not isinstance(metrics, dict):
        raise EvalFileError(f"{path}: results.{task_key}: expected an object of metrics, "
                            f"got {type(metrics).__name__}")
    cond, task = split_condition(task_key, config)
    out = []
    for key, raw in metrics.items():
        value = to_value(raw)
        if value is None:  # "alias" and other strings
            continue
        name, _, filt = key.partition(",")
        if is_bookkeeping(name):  # sample_len, sample_count
            continue
        stat = "value"
        if name.endswith("_stderr"):
            name, stat = name[: -len("_stderr")], "stderr"
        metric = f"{task}_{name}" + ("" if filt in ("", "none") else f",{filt}")
        out.append(Record(experiment, cond or condition, task, step, metric, stat, value))
    return out


@reader(NAME, "EleutherAI lm-evaluation-harness results_<date>.json", sniff=_sniff,
        experiment_from=("model", "top", "run"), accepts=_accepts)
def read_lm_eval(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one harness results file; experiment and step from the evaluated model's path."""
    data = read_json(path)
    results = data.get("results") if isinstance(data, dict) else None
    if not isinstance(results, dict):
        raise EvalFileError(f"{path}: no 'results' object; not an lm-evaluation-harness results file")
    model, model_step = model_and_step(data)
    mode = experiment_mode(path, root, config, NAME)
    if mode == "model" and model is None:
        mode = "top"  # the file names no model: fall back to the folder
    experiment = model if mode == "model" else folder_experiment(path, root, mode)
    step = model_step if model_step is not None else checkpoint_in_path(path, root) or 0
    condition = folder_condition(path, root, config, skip=experiment) or default_condition(config)
    records: list[Record] = []
    for task_key, metrics in results.items():
        records += _task_records(path, str(task_key), metrics, experiment, condition, step, config)
    if not records:
        raise EvalFileError(f"{path}: no numeric metrics under 'results'")
    return records
