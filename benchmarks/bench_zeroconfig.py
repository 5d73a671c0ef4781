"""Benchmark zero-config against an explicit rules file on a 2,000-run synthetic Trainer tree.

Run: ``python -m benchmarks.bench_zeroconfig [--runs N] [--repeats R]``

The tree (built once, not timed) is what `Trainer(output_dir=...)` leaves per run: trainer_state.json
with 8 evaluations (eval_loss, eval_accuracy, eval_f1 and the Trainer's runtime/throughput keys),
all_results.json, and the sibling files the sniffers must pass over (config.json,
tokenizer_config.json, special_tokens_map.json, training_args.bin); every 4th run also a
checkpoint-N/ copy of its state. Run names carry seeds (`bert-lr3e-5-seed2`).

Timed after one untimed warm-up run of each (imports), cold each time (no parse cache), medians
over the repeats:
  explicit   - load() with a rules file naming the readers (globs) and the tasks (nothing to infer)
  zero       - load() with the shipped rules.yaml (every file sniffed) plus the task inference
  tables     - the whole `run_all.py --only metrics_csv scores_csv` in each setting (one worker)
and the ratio zero / explicit (the target: sniffing and inference cost at most 20% more).
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import yaml

import run_all
from utils.config import DEFAULT_CONFIG, load_config
from utils.inference import with_inferred
from utils.loading import load

EXPLICIT = {
    "data": {"root": "."},
    "readers": [{"reader": "hf_trainer", "glob": "*/trainer_state.json", "experiment": "run"},
                {"reader": "hf_trainer", "glob": "*/checkpoint-*/trainer_state.json", "experiment": "run"},
                {"reader": "hf_trainer", "glob": "*/all_results.json", "experiment": "run"}],
    "conditions": {"standard": {"prefix": "", "label": "Standard", "role": "in_distribution"}},
    "metric": "{task}", "statistic": "value",
    "tasks": {"loss": {"kind": "error", "log": False}, "accuracy": {"kind": "accuracy"},
              "f1": {"kind": "accuracy"}},
    "experiments": {"pattern": None, "baseline": None},
}


def build(root: Path, runs: int) -> None:
    """The synthetic Trainer tree (see the module docstring)."""
    for i in range(runs):
        run = root / f"bert-lr{1 + i % 5}e-5-r{i // 10}-seed{1 + i % 10}"
        run.mkdir(parents=True)
        history = []
        for k in range(1, 9):
            step = 250 * k
            history.append({"epoch": k / 2, "learning_rate": 3e-5, "loss": 1 / k, "step": step})
            history.append({"epoch": k / 2, "eval_loss": 1 / k + i * 1e-5, "eval_accuracy": 0.5 + k * 0.05,
                            "eval_f1": 0.4 + k * 0.05, "eval_runtime": 12.3, "eval_samples_per_second": 81.2,
                            "eval_steps_per_second": 10.1, "step": step})
        state = {"best_model_checkpoint": None, "global_step": 2000, "log_history": history}
        (run / "trainer_state.json").write_text(json.dumps(state, indent=2))
        (run / "all_results.json").write_text(json.dumps({
            "epoch": 4.0, "eval_loss": history[-1]["eval_loss"], "eval_accuracy": history[-1]["eval_accuracy"],
            "eval_f1": history[-1]["eval_f1"], "eval_runtime": 12.3, "train_loss": 0.2, "train_runtime": 300.0}))
        (run / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"],
                                                     "hidden_size": 768, "num_labels": 2}, indent=2))
        (run / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "model_max_length": 512}))
        (run / "special_tokens_map.json").write_text(json.dumps({"cls_token": "[CLS]", "sep_token": "[SEP]"}))
        (run / "training_args.bin").write_bytes(b"\x80\x04" + bytes(2000))
        if i % 4 == 0:
            ckpt = run / "checkpoint-1000"
            ckpt.mkdir()
            (ckpt / "trainer_state.json").write_text(json.dumps(
                {"global_step": 1000, "log_history": history[:8]}, indent=2))
            (ckpt / "config.json").write_text("{}")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_zeroconfig_"))
    try:
        root = work / "runs"
        build(root, args.runs)
        rules = work / "explicit.yaml"
        rules.write_text(yaml.safe_dump(EXPLICIT))
        explicit, shipped = load_config(rules), load_config(DEFAULT_CONFIG)
        files = sum(1 for f in root.rglob("*") if f.is_file())
        print(f"{args.runs} runs, {files} files under {root}")

        def zero_load() -> None:
            with_inferred(shipped, load(root, shipped).frame, say=False)

        times: dict[str, list[float]] = {k: [] for k in ("explicit", "zero", "explicit tables", "zero tables")}
        rows = {}
        for name, extra in (("warm-up explicit", ["--config", str(rules)]), ("warm-up zero", [])):  # imports
            run_all.main(["--data", str(root), "--out", str(work / name), "--only", "metrics_csv", "--jobs", "1",
                          "-q", *extra])
        for r in range(args.repeats):  # alternate, so drift on a shared machine hits both alike
            times["explicit"].append(timed(lambda: rows.__setitem__("explicit", len(load(root, explicit).frame))))
            times["zero"].append(timed(zero_load))
            for name, extra in (("explicit tables", ["--config", str(rules)]), ("zero tables", [])):
                out = work / f"out_{name.split()[0]}_{r}"
                code = [None]
                times[name].append(timed(lambda: code.__setitem__(0, run_all.main(
                    ["--data", str(root), "--out", str(out), "--only", "metrics_csv", "scores_csv",
                     "--jobs", "1", "-q", *extra]))))
                assert code[0] == 0, f"{name}: exit {code[0]}"
        same = all((work / f"out_explicit_{r}" / "tables" / t).read_bytes()
                   == (work / f"out_zero_{r}" / "tables" / t).read_bytes()
                   for r in range(args.repeats) for t in ("metrics.csv", "scores.csv"))
        med = {k: statistics.median(v) for k, v in times.items()}
        for k, v in times.items():
            print(f"{k:16s} median {med[k]:7.3f} s   (min {min(v):.3f}, max {max(v):.3f})")
        print(f"load + inference: zero-config / explicit = {med['zero'] / med['explicit']:.3f}")
        print(f"whole tables run: zero-config / explicit = {med['zero tables'] / med['explicit tables']:.3f}")
        print(f"tables identical in both settings: {same}; records loaded (explicit): {rows['explicit']}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
