"""A study in the layout of the researcher whose scripts we replace (issue 16), written into a folder.

Originals at the data root without a seed suffix (`pt1`, `pt1_ftwb1-3`), revision seeds 1-3 under
`revision/exp1/` (`pt1_seed2_ftwb1-3`), families ftwb1 (single task, 1..7) and ftwb2 (two tasks, a
subset), 14 evaluations per run (7 tasks x standard/atlantis), checkpoint keys out of order, and a
`multi_task` folder beside the tasks. `values` holds every number written, so a test can compute
what the scores must be with plain Python, independently of analysis/.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path

import yaml

from testing_helpers import REPO

TASKS = {"distance": "error", "trianglearea": "error", "angle": "error", "perimeter": "error",
         "crossing": "accuracy", "inside": "accuracy", "compass": "accuracy"}
FTWB1 = {1: ["distance"], 2: ["trianglearea"], 3: ["angle"], 4: ["compass"], 5: ["inside"], 6: ["perimeter"],
         7: ["crossing"]}
FTWB2 = {1: ["distance", "trianglearea"], 2: ["angle", "compass"], 3: ["inside", "perimeter"],
         4: ["crossing", "distance"]}
SEEDS = (0, 1, 2, 3)  # 0: the originals, without a seed suffix
STEPS = (3000, 1000, 2000)  # written in this order: the last checkpoint is not the last key


def run_name(seed: int, member: str | None = None) -> str:
    """pt1 / pt1_ftwb1-3 for the originals, pt1_seed2 / pt1_seed2_ftwb1-3 for revision seeds."""
    base = "pt1" if seed == 0 else f"pt1_seed{seed}"
    return base if member is None else f"{base}_{member}"


def run_folder(root: Path, seed: int, member: str | None = None) -> Path:
    return (root if seed == 0 else root / "revision" / "exp1") / run_name(seed, member)


def members() -> list[tuple[str, list[str]]]:
    return [(f"ftwb1-{i}", t) for i, t in FTWB1.items()] + [(f"ftwb2-{i}", t) for i, t in FTWB2.items()]


def _value(rng: random.Random, kind: str, baseline: float | None, trained: bool, ood: bool) -> float:
    if baseline is None:  # the baseline: OOD clearly worse than standard
        if kind == "accuracy":
            return round(rng.uniform(0.5, 0.6) if ood else rng.uniform(0.8, 0.9), 6)
        return round(rng.uniform(8, 12) if ood else rng.uniform(2, 4), 6)
    gain = rng.uniform(0.2, 0.9) if trained else rng.uniform(-0.5, 0.3)  # some scores < 0, some > 1.5 below
    if kind == "accuracy":
        return round(min(0.999, max(0.01, baseline + gain * (1 - baseline) * (2.2 if ood and trained else 1))), 6)
    return round(max(0.05, baseline * (1 - gain) / (3.0 if ood and trained else 1)), 6)


def write_study(root: Path, rng_seed: int = 16) -> dict[tuple[str, int, str, str], float]:
    """Write the study; returns (run name, seed, condition, task) -> the value at the last checkpoint."""
    rng = random.Random(rng_seed)
    values: dict[tuple[str, int, str, str], float] = {}
    for seed in SEEDS:
        for member, trained in [(None, [])] + members():
            name = run_name(seed, member)
            folder = run_folder(root, seed, member)
            for task, kind in TASKS.items():
                for cond, prefix in (("standard", ""), ("atlantis", "atlantis_")):
                    base = None if member is None else values[(run_name(seed), seed, cond, task)]
                    last = _value(rng, kind, base, task in trained, cond == "atlantis")
                    values[(name, seed, cond, task)] = last
                    ckpts = {f"checkpoint-{s}": {f"eval_{task}_metric_mean": last if s == max(STEPS) else
                                                 round(last * rng.uniform(1.05, 1.5), 6),
                                                 f"eval_{task}_metric_std": 0.1, "epoch": s / 1000}
                             for s in STEPS}
                    path = folder / "evals" / f"{prefix}{task}" / "eval_data" / "evaluation_results.json"
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(ckpts))
            if member is not None and member.startswith("ftwb2"):  # several tasks' keys in one file: skipped
                path = folder / "evals" / "multi_task" / "eval_data" / "evaluation_results.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps({"checkpoint-3000": {f"eval_{t}_metric_mean": 1.0 for t in TASKS}}))
    return values


def study_rules(path: Path, training: bool = True, **extra) -> Path:
    """The shipped rules.yaml with the pattern's family renamed ft -> ftwb and the training map's keys
    renamed ft1/ft2 -> ftwb1/ftwb2 (nothing else), plus top-level `extra` sections merged in."""
    text = (REPO / "rules.yaml").read_text()
    text = text.replace(r"(?P<group>ft\d+)", r"(?P<group>ftwb\d+)")
    raw = yaml.safe_load(text)
    if training:
        raw["training"] = {"ftwb1": raw["training"].pop("ft1"), "ftwb2": raw["training"].pop("ft2")}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key].update(value)
        else:
            raw[key] = value
    raw["data"]["root"] = "experiments"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


# --- the researcher's rule, in plain Python --------------------------------------------------------

def toward_perfect(v: float, b: float, kind: str) -> float:
    return (v - b) / (1 - b) if kind == "accuracy" else (b - v) / b


def gap_closing(v: float, bo: float, bi: float, kind: str) -> float:
    return (v - bo) / (bi - bo) if kind == "accuracy" else math.log(bo / v) / math.log(bo / bi)


def seed_score(values: dict, member: str, seed: int, cond: str, task: str, score: str | None = None) -> float:
    """One seed's normalized score: toward perfect on standard data, gap closing on atlantis (or `score`)."""
    kind = TASKS[task]
    v = values[(run_name(seed, member), seed, cond, task)]
    b = values[(run_name(seed), seed, cond, task)]
    if (score or ("score_toward_perfect" if cond == "standard" else "")) == "score_toward_perfect":
        return toward_perfect(v, b, kind)
    return gap_closing(v, b, values[(run_name(seed), seed, "standard", task)], kind)


def seed_mean(values: dict, member: str, cond: str, task: str, clip: tuple[float, float] | None = None) -> float:
    scores = [seed_score(values, member, s, cond, task) for s in SEEDS]
    if clip is not None:
        scores = [min(clip[1], max(clip[0], x)) for x in scores]
    return sum(scores) / len(scores)
