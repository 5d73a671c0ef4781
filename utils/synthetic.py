"""Seeded synthetic evaluation trees in the real layout, for the bundled example, tests and benchmarks.

    python -m utils.synthetic --out examples/experiments --seeds 2 --checkpoints 6
"""
from __future__ import annotations

import argparse
import json
import math
import random
from pathlib import Path

# Baseline levels on standard data; atlantis (OOD) is worse. Errors span decades on purpose.
BASE_STANDARD = {"distance": 3.0, "trianglearea": 2.0e3, "angle": 12.0, "perimeter": 40.0,
                 "crossing": 0.86, "inside": 0.90, "compass": 0.80}
BASE_ATLANTIS = {"distance": 60.0, "trianglearea": 9.0e4, "angle": 45.0, "perimeter": 700.0,
                 "crossing": 0.55, "inside": 0.60, "compass": 0.30}
ACCURACY = {"crossing", "inside", "compass"}
FT1 = ["distance", "trianglearea", "angle", "compass", "inside", "perimeter", "crossing"]
FT2 = [("distance", "trianglearea"), ("angle", "compass"), ("inside", "perimeter"), ("crossing", "distance"),
       ("trianglearea", "angle"), ("compass", "inside"), ("perimeter", "crossing"), ("angle", "distance"),
       ("compass", "trianglearea"), ("angle", "inside"), ("compass", "perimeter"), ("crossing", "inside"),
       ("distance", "perimeter"), ("crossing", "trianglearea"), ("compass", "distance"),
       ("inside", "trianglearea"), ("angle", "perimeter"), ("compass", "crossing"), ("distance", "inside"),
       ("perimeter", "trianglearea"), ("angle", "crossing")]


def experiments(seeds: int = 1, ft1: int = 7, ft2: int = 21) -> dict[str, tuple[str, ...]]:
    """Experiment name -> trained tasks, named as the real sweep names them."""
    out: dict[str, tuple[str, ...]] = {}
    for seed in range(1, seeds + 1):
        base = "pt1" if seed == 1 else f"pt1_seed{seed}"
        out[base] = ()
        for k in range(1, ft1 + 1):
            out[f"{base}_ft1-{k}"] = (FT1[k - 1],)
        for k in range(1, ft2 + 1):
            out[f"{base}_ft2-{k}"] = FT2[k - 1]
    return out


def _final_value(task: str, condition: str, trained: tuple[str, ...], rng: random.Random) -> float:
    b = (BASE_STANDARD if condition == "standard" else BASE_ATLANTIS)[task]
    bi = BASE_STANDARD[task]
    if task in trained:  # adaptation: closes much of the gap to the standard level
        share = rng.uniform(0.55, 0.95) / math.sqrt(len(trained))
    elif trained:  # transfer or forgetting on untrained tasks
        share = rng.uniform(-0.25, 0.2)
    else:
        share = 0.0
    if condition == "standard":
        target = (1.0 if task in ACCURACY else bi * 0.3)
        share = share * 0.3 if task in trained else share
        start = b
    else:
        target, start = bi, b
    if task in ACCURACY:
        v = start + share * (target - start) + rng.gauss(0, 0.005)
        return min(max(v, 0.0), 1.0)
    return math.exp(math.log(start) + share * (math.log(target) - math.log(start)) + rng.gauss(0, 0.03))


def write_tree(root: Path, seeds: int = 1, ft1: int = 7, ft2: int = 21, checkpoints: int = 6,
               step: int = 1000, seed: int = 0, conditions: tuple[str, ...] = ("standard", "atlantis"),
               tasks: tuple[str, ...] = tuple(FT1)) -> list[Path]:
    """Write a tree `<root>/<exp>/evals/[atlantis_]<task>/eval_data/evaluation_results.json`."""
    rng = random.Random(seed)
    written: list[Path] = []
    for name, trained in experiments(seeds, ft1, ft2).items():
        for condition in conditions:
            for task in tasks:
                final = _final_value(task, condition, trained, rng)
                start = (BASE_STANDARD if condition == "standard" else BASE_ATLANTIS)[task]
                data = {}
                for i in range(1, checkpoints + 1):
                    frac = 1 - math.exp(-3 * i / checkpoints)
                    frac /= 1 - math.exp(-3)
                    if task in ACCURACY:
                        v = start + frac * (final - start)
                    else:
                        v = math.exp(math.log(start) + frac * (math.log(final) - math.log(start)))
                    if not trained:
                        v = final
                    std = abs(v) * rng.uniform(0.2, 0.6) if task not in ACCURACY else rng.uniform(0.2, 0.45)
                    data[f"checkpoint-{i * step}"] = {
                        f"eval_{task}_metric_mean": round(v, 6),
                        f"eval_{task}_metric_std": round(std, 6),
                        f"eval_{task}_metric_median": round(v * 0.95, 6),
                        "eval_loss": round(rng.uniform(0.5, 2.0), 4),
                        "eval_runtime": round(rng.uniform(5, 30), 2),
                    }
                folder = task if condition == "standard" else f"{condition}_{task}"
                path = root / name / "evals" / folder / "eval_data" / "evaluation_results.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(data))
                written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="folder to write the experiments into")
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--checkpoints", type=int, default=6)
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same tree)")
    p.add_argument("--multi-task", action="store_true", help="add a multi_task evaluation to one experiment")
    args = p.parse_args(argv)
    files = write_tree(args.out, seeds=args.seeds, checkpoints=args.checkpoints, seed=args.seed)
    if args.multi_task:
        path = args.out / "pt1_ft2-1" / "evals" / "multi_task" / "eval_data" / "evaluation_results.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"checkpoint-1000": {"eval_distance_metric_mean": 2.5,
                                                        "eval_angle_metric_mean": 11.0}}, indent=1))
        files.append(path)
    print(f"wrote {len(files)} evaluation files under {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
