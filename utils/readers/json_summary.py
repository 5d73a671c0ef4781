"""Flat and nested JSON summaries under any name, by content (after every other reader): a hand
written `{"metrics": {"accuracy": ...}, "classification_report": {"macro avg": {"f1-score": ...}}}`,
`{"step1000": {"accuracy": ...}}`, per-model blocks, a flat `{"eval_loss": ...}` named after its
hyper-parameters, a Keras `history.history` dump (`{"loss": [...]}`, the list index the epoch).

Nested keys become key paths (`classification_report/macro avg/f1-score`); a key such as
`checkpoint-N`, `stepN`, `step_N`, `epoch_N`, `iter_N` gives the step instead; a key or file name
marking a split (`train_metrics`, `test`, `val_acc`, `test_results_*.json`) the condition, else the
evaluation set. Strings, booleans and bookkeeping (support, runtime, epoch) are not metrics.
Configuration files (config.json, params.json, tokenizer and adapter configs) are not opened.
The run is the folder; two summaries in one folder that disagree become runs of their own.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterator

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (EVAL, NO_STEP, TRAIN, Record, find_task, head, is_bookkeeping, read_json, reader, split_of,
                           to_value)

NAME = "json_summary"
_STEP_KEY = re.compile(r"^(?:checkpoint|step|steps|epoch|iter|iteration|global_step)[-_]?(\d+)$", re.IGNORECASE)
_SPLIT_PART = re.compile(r"^(train|training|val|valid|validation|eval|evaluation|dev|test|testing)"
                         r"(?:[_-](?:metrics|results|scores|set))?$", re.IGNORECASE)
_CONDITION = {"train": "train", "training": "train", "val": "eval", "valid": "eval", "validation": "eval",
              "eval": "eval", "evaluation": "eval", "dev": "eval", "test": "test", "testing": "test"}
CONFIGS = re.compile(r"^(config|params|hparams|args|training_args|run|meta|package|package-lock|tsconfig|"
                     r"vocab|tokenizer|special_tokens_map|added_tokens|generation_config|preprocessor_config|"
                     r"adapter_config|model\.safetensors\.index|pytorch_model\.bin\.index|trainer_state|"
                     r"wandb-metadata|wandb-summary|.*_config|.*\.index)\.json$", re.IGNORECASE)
MAX_BYTES = 20_000_000


def _accepts(name: str) -> bool:
    return name.lower().endswith(".json") and not CONFIGS.match(name)


def _sniff(path: Path) -> bool:
    """A JSON object (not a JSON Lines log) holding at least one number."""
    try:
        if path.stat().st_size > MAX_BYTES:
            return False
    except OSError:
        return False
    start = head(path, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    return start.startswith(b"{") and bool(re.search(rb":\s*\[?\s*-?[\d.]", head(path, 65536)))


def leaves(data: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], int | None, float]]:
    """(key path, step from a list index, number) of every number in a JSON value."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, path + (str(key),))
    elif isinstance(data, list):
        if data and all(v is not None and not isinstance(v, (dict, list, str)) and to_value(v) is not None
                        for v in data):
            for i, v in enumerate(data):  # a number per epoch (a Keras history)
                yield path, i, to_value(v)
        else:
            for i, v in enumerate(data):
                if isinstance(v, (dict, list)):
                    yield from leaves(v, path + (str(i),))
    elif data is not None and not isinstance(data, str):  # a string or a null is not a number written
        value = to_value(data)
        if value is not None:
            yield path, None, value


def summary_records(data: Any, experiment: str, config: Config, default: str = EVAL,
                    at: int = NO_STEP) -> list[Record]:
    """Records of a summary (see the module docstring); `at`: the step of numbers naming none."""
    values: dict[tuple[str, str, int], float] = {}
    for keys, index, value in leaves(data):
        step: int | None = index
        cond = None
        parts = []
        for key in keys:
            m = _STEP_KEY.match(key.strip())
            s = _SPLIT_PART.match(key.strip())
            if m and step is None:
                step = int(m.group(1))
            elif s and cond is None:
                cond = _CONDITION[s.group(1).lower()]
            else:
                parts.append(key)
        if not parts:
            continue
        leaf = parts[-1]
        if cond is None:  # a list of numbers is a history (Keras' history.history): training numbers
            cond, leaf = split_of(leaf, TRAIN if index is not None and default == EVAL else default)
        name = "/".join(parts[:-1] + [leaf])
        if is_bookkeeping(leaf) or is_bookkeeping(name.replace(" ", "_")):
            continue
        values[(cond, name, at if step is None else step)] = value
    return [Record(experiment, cond, find_task(name, config) or name, step, name, "value", value)
            for (cond, name, step), value in values.items()]


def file_condition(path: Path) -> str:
    """The split a summary's file name marks (`test_results_supervised.json` -> test), else eval."""
    cond, _ = split_of(path.stem, EVAL)
    return cond


@reader(NAME, "flat and nested JSON summaries by content (key paths; checkpoint-N/stepN keys give the step)",
        sniff=_sniff, accepts=_accepts, fallback=True)
def read_json_summary(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one JSON summary: every number under its key path."""
    data = read_json(path)
    if not isinstance(data, (dict, list)):
        raise EvalFileError(f"{path}: a JSON {type(data).__name__}, not an object of metrics")
    experiment = path.parent.name if path.parent.resolve() != root.resolve() else root.resolve().name
    return summary_records(data, experiment, config, default=file_condition(path))
