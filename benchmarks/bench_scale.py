"""Scale benchmark: the runner on trees ten and a hundred times the paper's, against issue 25's targets.

    python -m benchmarks.bench_scale                       # 100,000-file sweep + 10^6-record logs (~15 min, 2 cores)
    python -m benchmarks.bench_scale --seeds 25 --quick    # a tenth of the sweep, one run of each
    python -m benchmarks.bench_scale --only logs           # only the training-log tree
    python -m benchmarks.bench_scale --workdir /tmp/scale --keep   # keep the generated trees for the next run

Two generated trees (written once per work folder, not timed):
- sweep: the sweep's layout, `--seeds` seeds x 29 experiments (pt1, 7 ft1, 21 ft2) x 7 tasks x 2
  conditions, 11 checkpoints each: 250 seeds is 101,500 evaluation files;
- logs: `--logs` JSON Lines training logs (`<run>/log.jsonl`) of `--lines` lines, 5 metrics a line
  (loss, eval_loss, accuracy, learning_rate, grad_norm): 200 x 5,000 is 10^6 lines, 5 x 10^6 numbers.
Measured through the CLI as a user runs it (`python run_all.py`, subprocesses, medians of --repeats):
cold (empty output folder) with its peak memory (PSS summed over run_all.py and its workers, which
counts shared pages once; RSS beside it), no-op rerun, rerun after one changed evaluation file, and
in watch mode the seconds from a file being closed to tables/scores.csv being rewritten. Sampling the
memory costs the run CPU (every process's smaps_rollup read every 50 ms): the cold runs' seconds
include it, the one-file reruns are timed without it and one more is run with it for its memory.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.bench_runner import (CHANGE_FILES, Measured, phase_line, change, manifest, med, run_all, runs,
                                     watch_latency)

TARGETS = {"cold": 60.0, "pss_mb": 1536.0, "noop": 2.0, "one": 8.0, "watch_table": 3.0}
LOG_TARGETS = {"cold": 30.0, "pss_mb": 1024.0}


def make_sweep(workdir: Path, seeds: int, checkpoints: int = 11) -> Path:
    """The sweep tree of `seeds` seeds (written once per work folder and shape)."""
    from utils.synthetic import write_tree
    shape = {"seeds": seeds, "ft1": 7, "ft2": 21, "checkpoints": checkpoints}
    data, marker = workdir / "sweep", workdir / "sweep.json"
    if not (marker.exists() and json.loads(marker.read_text()) == shape):
        shutil.rmtree(data, ignore_errors=True)
        t0 = time.perf_counter()
        files = write_tree(data, **shape)
        marker.write_text(json.dumps(shape))
        print(f"wrote {len(files):,} evaluation files under {data} in {time.perf_counter() - t0:.0f}s")
    return data


def make_logs(workdir: Path, logs: int, lines: int) -> Path:
    """`logs` JSON Lines training logs of `lines` lines each, 5 metrics a line (written once)."""
    shape = {"logs": logs, "lines": lines}
    data, marker = workdir / "logs", workdir / "logs.json"
    if not (marker.exists() and json.loads(marker.read_text()) == shape):
        shutil.rmtree(data, ignore_errors=True)
        rng = random.Random(0)
        for i in range(logs):
            folder = data / f"run-{i:03d}"
            folder.mkdir(parents=True)
            rate = rng.uniform(0.5, 2.0)
            with open(folder / "log.jsonl", "w", encoding="utf-8") as fh:
                for step in range(1, lines + 1):
                    decay = math.exp(-rate * step / lines)
                    fh.write(json.dumps({"step": step, "loss": round(2.5 * decay + rng.gauss(0, 0.02), 5),
                                         "eval_loss": round(2.6 * decay + 0.05, 5),
                                         "accuracy": round(1 - 0.9 * decay, 5),
                                         "learning_rate": 3e-4 * (1 - step / lines),
                                         "grad_norm": round(abs(rng.gauss(1, 0.3)), 4)}) + "\n")
        marker.write_text(json.dumps(shape))
        print(f"wrote {logs} logs of {lines:,} lines under {data}")
    return data


def _mb(m: Measured) -> str:
    return f"PSS {m.pss_mb:,.0f} MB, RSS {m.rss_mb:,.0f} MB"


def _verdict(value: float, target: float) -> str:
    return f"target <= {target:g}: {'met' if value <= target else 'NOT met'}"


def sweep_suite(data: Path, out: Path, repeats: int, changes: int) -> None:
    print(f"\n[sweep, {sum(1 for _ in data.rglob('evaluation_results.json')):,} files]")
    cold: list[Measured] = []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        cold.append(run_all(data, out, memory=True))
        print(f"    cold {cold[-1].seconds:.1f}s (exit {cold[-1].code}), {_mb(cold[-1])}; "
              f"{phase_line(manifest(out)['last_run']['timings'])}")
    noop = [run_all(data, out) for _ in range(repeats)]
    one = []  # timed alone: the memory sampler reads every process's smaps_rollup every 50 ms (~1 s of
    # a one-file rerun on 2 cores, median of 5 pairs); its memory is sampled in one more run after them
    for i in range(repeats):
        change(data, CHANGE_FILES[0].format(k=1 + i % 7), 0.8)
        one.append(run_all(data, out))
        print(f"    one change {one[-1].seconds:.1f}s; {phase_line(manifest(out)['last_run']['timings'])}")
    change(data, CHANGE_FILES[0].format(k=1 + repeats % 7), 0.8)
    sampled = run_all(data, out, memory=True)
    print(f"    one change with its memory sampled {sampled.seconds:.1f}s, {_mb(sampled)}")
    to_table, to_all, _, stop, code = watch_latency(data, out, changes, []) if changes else ([], [], [], 0, 0)
    peak = max(m.pss_mb for m in cold)
    print(f"  cold        median {med([m.seconds for m in cold]):7.1f}s ({runs([m.seconds for m in cold])}) "
          f"{_verdict(med([m.seconds for m in cold]), TARGETS['cold'])}")
    print(f"  peak PSS    {peak:9,.0f} MB  {_verdict(peak, TARGETS['pss_mb'])}")
    print(f"  no-op       median {med([m.seconds for m in noop]):7.2f}s ({runs([m.seconds for m in noop])}) "
          f"{_verdict(med([m.seconds for m in noop]), TARGETS['noop'])}")
    print(f"  one change  median {med([m.seconds for m in one]):7.2f}s ({runs([m.seconds for m in one])}) "
          f"{_verdict(med([m.seconds for m in one]), TARGETS['one'])}")
    if changes:
        print(f"  watch: scores.csv median {med(to_table):.2f}s ({runs(to_table)}) "
              f"{_verdict(med(to_table), TARGETS['watch_table'])}; every output {med(to_all):.2f}s; "
              f"stopped in {stop:.2f}s (exit {code})")


def logs_suite(data: Path, out: Path, repeats: int) -> None:
    print(f"\n[training logs, {sum(1 for _ in data.rglob('log.jsonl'))} files]")
    cold = []
    for _ in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        try:
            cold.append(run_all(data, out, memory=True))
        except SystemExit as exc:  # no reader took the logs: say so, the sweep's numbers still stand
            print(f"  not read: {str(exc).strip().splitlines()[-1]}")
            return
        print(f"    cold {cold[-1].seconds:.1f}s (exit {cold[-1].code}), {_mb(cold[-1])}")
    metrics = out / "tables" / "metrics.csv"
    rows = sum(1 for _ in metrics.open()) - 1 if metrics.exists() else 0
    print(f"  records in metrics.csv: {rows:,}")
    print(f"  cold     median {med([m.seconds for m in cold]):7.1f}s {_verdict(med([m.seconds for m in cold]), LOG_TARGETS['cold'])}")
    peak = max(m.pss_mb for m in cold)
    print(f"  peak PSS {peak:9,.0f} MB {_verdict(peak, LOG_TARGETS['pss_mb'])}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=None, help="where the trees and outputs go (default: a tmp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work folder (the trees are reused next time)")
    p.add_argument("--seeds", type=int, default=250, help="seeds of the sweep tree (250: 101,500 files)")
    p.add_argument("--logs", type=int, default=200, help="training logs in the log tree")
    p.add_argument("--lines", type=int, default=5000, help="lines per training log")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (medians are reported)")
    p.add_argument("--watch-changes", type=int, default=3, help="file changes timed in watch mode (0: none)")
    p.add_argument("--quick", action="store_true", help="one run of each, one watch change")
    p.add_argument("--only", choices=("sweep", "logs"), default=None, help="one of the two trees")
    args = p.parse_args(argv)
    repeats = 1 if args.quick else args.repeats
    changes = min(1, args.watch_changes) if args.quick else args.watch_changes
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_scale_"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        if args.only != "logs":
            sweep_suite(make_sweep(workdir, args.seeds), workdir / "out_sweep", repeats, changes)
        if args.only != "sweep":
            logs_suite(make_logs(workdir, args.logs, args.lines), workdir / "out_logs", repeats)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
