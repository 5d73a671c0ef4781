#!/usr/bin/env python
"""Render every registered figure and table from the evaluation tree.

    python run_all.py                  # the bundled example -> figures/
    python run_all.py --data experiments --out figures
    python run_all.py --watch          # keep figures up to date while evaluations land
    python run_all.py --init runs/     # write the rules inferred for runs/ to runs/rules.yaml, to edit

Exit codes: 0 all outputs written, 1 some output failed (the others were still written),
2 usage, configuration or path error (--data not a folder, an output folder or holding no
evaluation files; --out not writable, holding --data or with a file in the way), 130 interrupted
(Ctrl-C; the finished outputs are kept and a rerun draws only the rest).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from pathlib import Path

from runner.memory import return_freed_memory
from runner.pipeline import Pipeline
from runner.report import Options
from runner.watch import watch
from utils.config import load_config
from utils.errors import UserError

log = logging.getLogger("run_all")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=None, help="rules file (default: rules.yaml beside run_all.py)")
    p.add_argument("--data", type=Path, default=None, help="evaluation root (default: data.root in the rules file; the shipped rules.yaml: "
                   "the bundled example, examples/experiments)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: output in the rules file; the shipped rules.yaml: "
                   "figures/ beside run_all.py)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=(), help="render only these outputs (see --list)")
    p.add_argument("--list", action="store_true", help="list the registered outputs and what they write")
    p.add_argument("--jobs", "-j", type=int, default=0, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--force", action="store_true", help="redraw everything, ignoring the cache")
    p.add_argument("--strict", action="store_true", help="exit 1 when any evaluation file was unreadable")
    p.add_argument("--watch", action="store_true", help="keep running; redraw what new evaluations affect")
    p.add_argument("--poll", type=float, default=None, metavar="SECONDS",
                   help="with --watch: poll the file system every SECONDS (NFS, Lustre) instead of inotify")
    p.add_argument("--baseline", metavar="RUN", default=None,
                   help="score every run the naming pattern does not describe against this run")
    p.add_argument("--init", type=Path, metavar="DIR", default=None,
                   help="write the rules inferred for DIR to DIR/rules.yaml (never overwrites) and exit")
    p.add_argument("--quiet", "-q", action="store_true", help="only warnings, the report and the summary (no progress, no inference lines)")
    args = p.parse_args(argv)
    if args.jobs < 0:
        p.error("--jobs must be 0 (all cores) or more")
    if args.poll is not None and (not args.watch or args.poll <= 0):
        p.error("--poll takes a positive number of seconds and goes with --watch")
    return args


def list_outputs(registry: dict, fmt: str) -> str:
    lines = []
    for name, spec in sorted(registry.items()):
        per = f" per {', '.join(spec.per)}" if spec.per else ""
        writes = spec.writes + (f".{fmt}" if spec.kind == "figure" else "")
        lines.append(f"{name:20s} {spec.kind:6s} needs {spec.needs:11s} writes {writes}{per}\n"
                     f"{'':20s} {spec.description}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s")
    try:
        config = load_config(args.config)
        if args.baseline is not None:
            config = with_baseline(config, args.baseline)
        if args.init is not None:
            from utils.inference import write_init  # lazily: pandas, which a no-op run does not need
            target = write_init(args.init, config)
            print(f"wrote {target}: the inferred rules, commented; edit them, then "
                  f"python run_all.py --config {target}", file=sys.stderr)
            return 0
        if args.list:
            from plots.registry import discover  # here: a no-op run should not import pandas
            print(list_outputs(discover(config.plot_modules), config.plot_format))
            return 0
        return_freed_memory()  # before the first big array (runner/memory.py)
        options = Options(data=args.data or config.data_root, out=args.out or config.output,
                          only=tuple(args.only), jobs=args.jobs, force=args.force, strict=args.strict,
                          progress=not args.quiet)
        if args.watch:
            return watch(config, options, poll=args.poll)
        pipeline = Pipeline(config, options)
        try:
            report = pipeline.run()
        finally:
            pipeline.close()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # outputs already written stay; the cache records only finished ones
        print("interrupted; rerun to finish (finished outputs are kept)", file=sys.stderr)
        return 130
    print_report(report, options.out)
    return report.exit_code


def with_baseline(config, run: str):
    """The rules with `experiments.baseline` set to `run` (--baseline), in the raw rules too, so
    outputs drawn under another baseline are redrawn."""
    import dataclasses
    raw = dict(config.raw)
    raw["experiments"] = {**(raw.get("experiments") or {}), "baseline": run}
    return dataclasses.replace(config, baseline=run, raw=raw, baseline_named="--baseline", group_baselines={})


FOLD = 3  # repeated lines of one kind: past this many, the first ones and one line for the rest


def print_report(report, out: Path) -> None:
    """What the user must know after a run, on stderr: skipped files, conflicts, gaps, failures,
    summary. Repeated lines of one kind are folded: the first FOLD, then one line with the count."""
    for line in report.info:
        print(line, file=sys.stderr)
    _folded("skipped unreadable file: ", report.problems,
            "more unreadable file(s) skipped (tables/files.csv lists every file with its status)")
    _folded("missing values: ", report.notes,
            "more file(s) with values read as missing (tables/files.csv lists every file with its status)")
    _folded("conflict: ", report.conflicts,
            "more pair(s) of files giving different values (tables/metrics.csv marks every superseded row, "
            "column superseded_by)", [c.split(" give different values", 1)[0] for c in report.conflicts])
    for gap in report.gaps:
        print(f"gap: {gap}", file=sys.stderr)
    _folded("FAILED ", [f"{output}: {reason}" for output, reason in report.failed], "more output(s) FAILED")
    print(f"{report.summary()} -> {out}", file=sys.stderr)
    if (out / "index.html").is_file():
        print(f"gallery: open {out / 'index.html'}", file=sys.stderr)


def _folded(prefix: str, lines: list[str], rest: str, names: list[str] | None = None) -> None:
    """The first FOLD lines, then one line counting the others and naming the first few (`names`
    per line; by default what precedes its first ': ', the file or output)."""
    for line in lines[:FOLD]:
        print(f"{prefix}{line}", file=sys.stderr)
    more = lines[FOLD:]
    if more:
        names = ", ".join((names or [line.split(": ", 1)[0] for line in lines])[FOLD:2 * FOLD])
        print(f"{prefix}{len(more)} {rest}: {names}" + (", ..." if len(more) > FOLD else ""), file=sys.stderr)


def exit_at_once(code: int) -> None:
    """Leave the process with `code` without the interpreter's teardown, which frees the objects of
    pandas, matplotlib and the run one by one (~0.2 s after every run of the 100,000-file sweep,
    with every output already written). Only when this thread is the last: another one may still
    be writing, and then the process ends the usual way, after it."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    if threading.active_count() == 1:
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    exit_at_once(main())
