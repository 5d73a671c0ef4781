"""Benchmark the organizer on a scratch folder of 10,000 loose files.

Run: ``python benchmarks/bench_organizer.py [--files N] [--repeats R] [--references PCT ...]``

Each ``--references`` value is one variant (default: 0 and 10): that percentage of the
Python scripts also name sibling files (a CSV by ``read_csv``, a text file by ``open``)
and import a sibling module, so the planner has reference groups to work out.
For each repeat a fresh tree is built (not timed), then we time:
  plan      - plan_tidy (read-only: scan, match rules, figures, references, subfolders, collisions)
  dryrun    - run_tidy(dry_run=True): the plan plus the check of the planned layout
  tidy      - run_tidy (plan + fsync'd write-ahead journal + no-replace moves)
  undo      - run_undo (state checks + moves back + folder cleanup)
  baseline  - bare os.rename of the same files into the same folders (no checks, no journal)
and print the median (and min/max) over repeats, per-file costs and ratios, plus the median
CPU time of this process per step (steadier than wall time when other jobs share the cores).
Each repeat also checks that undo restored every name and byte count.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from organizer import load_default_rules, plan_tidy, run_tidy, run_undo

TEMPLATES = [
    ("plot_ft{i}_heatmap.py", "import matplotlib.pyplot as plt\nplt.savefig('ft{i}_performance_heatmap.png')\n"),
    ("ft{i}_performance_heatmap.png", "\x89PNG fake image {i}\n"),
    ("test_gradient_flow_{i}.py", "def test_flow_{i}():\n    assert True\n"),
    ("analyze_atlantis_in_training_{i}.py", "import numpy as np\nprint({i})\n"),
    ("analyze_clusters_by_city_id_{i}.py", "import pandas as pd\n"),
    ("remove_id_directions_{i}.py", "def project(h):\n    return h\n"),
    ("generate_exp{i}_cka_configs.py", "import yaml\n"),
    ("migrate_paths_v{i}.py", "import shutil\n"),
    ("eval_metrics_summary_{i}.csv", "task,metric\ndistance,{i}\n"),
    ("notes_{i}.txt", "remember {i}\n"),
]


#: Appended to a script that has references: a data file by literal, a note by open(), a sibling import.
REFERENCES = ("import remove_id_directions_{i}\nimport pandas as pd\n"
              "df = pd.read_csv('eval_metrics_summary_{i}.csv')\nopen('notes_{i}.txt').read()\n")


def build(root: Path, n: int, ref_percent: int = 0) -> None:
    """``n`` loose files; ``ref_percent`` % of the ``.py`` scripts also get :data:`REFERENCES`."""
    root.mkdir()
    scripts = 0
    for i in range(n):
        name, content = TEMPLATES[i % len(TEMPLATES)]
        k = i // len(TEMPLATES)
        if name.endswith(".py") and not name.startswith("remove_id"):
            scripts += 1
            if ref_percent and scripts % 100 < ref_percent:
                content += REFERENCES
        (root / name.format(i=k)).write_text(content.format(i=k))


def listing(root: Path) -> list[tuple[str, int]]:
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            out.append((os.path.relpath(p, root), os.lstat(p).st_size))
    return sorted(out)


class _Timer:
    """Wall time and this process's CPU time of a block (CPU time is steadier on a shared machine)."""

    def __enter__(self) -> "_Timer":
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def bench_once(base: Path, n: int, rules, ref_percent: int) -> dict[str, float]:
    root = base / "scratch"
    build(root, n, ref_percent)
    before = listing(root)
    with _Timer() as t_plan:
        plan = plan_tidy(root, rules)
    with _Timer() as t_dry:
        dry = run_tidy(root, rules, dry_run=True)
    assert dry.plan.moves == plan.moves
    with _Timer() as t_tidy:
        result = run_tidy(root, rules)
    assert result.ok and len(result.done) == len(plan.moves), result.failed
    with _Timer() as t_undo:
        undo = run_undo(root)
    assert undo.ok and listing(root) == before, "undo did not restore the tree"

    # Baseline: the same moves with plain os.rename, no checks, no journal.
    for d in plan.new_dirs:
        os.mkdir(root / d)
    with _Timer() as t_base:
        for m in plan.moves:
            os.rename(root / m.source, root / m.destination)
    shutil.rmtree(root)
    out = {"moves": len(plan.moves)}
    for name, t in (("plan", t_plan), ("dryrun", t_dry), ("tidy", t_tidy), ("undo", t_undo), ("baseline", t_base)):
        out[name], out[name + "_cpu"] = t.wall, t.cpu
    return out


STEPS = ("plan", "dryrun", "tidy", "undo", "baseline")


def report(runs: list[dict[str, float]], files: int, ref_percent: int) -> dict[str, float]:
    """Print medians, per-file costs and ratios of one variant; return the medians."""
    moves = runs[0]["moves"]
    med = {k: statistics.median(run[k] for run in runs) for k in STEPS + tuple(s + "_cpu" for s in STEPS)}
    print()
    print(f"organizer benchmark: {files} loose files, references in {ref_percent}% of the scripts, "
          f"{moves} moves, {len(runs)} repeats (python {sys.version.split()[0]}, {os.cpu_count()} cpus)")
    print(f"{'step':<10}{'median s':>10}{'min s':>9}{'max s':>9}{'us/file':>10}{'cpu s':>9}")
    for k in STEPS:
        vals = [run[k] for run in runs]
        print(f"{k:<10}{med[k]:>10.3f}{min(vals):>9.3f}{max(vals):>9.3f}{med[k] / files * 1e6:>10.1f}"
              f"{med[k + '_cpu']:>9.3f}")
    print("ratios (medians):")
    print(f"  tidy / plan           {med['tidy'] / med['plan']:.2f}x  (moving + journaling vs planning alone)")
    print(f"  undo / tidy           {med['undo'] / med['tidy']:.2f}x")
    print(f"  tidy / bare os.rename {med['tidy'] / med['baseline']:.1f}x  (cost of planning, checks, fsync'd journal)")
    return med


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--references", type=int, nargs="+", default=[0, 10], metavar="PCT",
                    help="variants: percent of scripts that name sibling files (default: 0 10)")
    args = ap.parse_args()
    rules = load_default_rules()
    started = time.perf_counter()
    medians = {}
    with tempfile.TemporaryDirectory(prefix="bench_organizer_") as tmp:
        for pct in args.references:
            runs = []
            for r in range(args.repeats):
                base = Path(tmp) / f"refs{pct}_run{r}"
                base.mkdir()
                runs.append(bench_once(base, args.files, rules, pct))
                print(f"  refs {pct}% repeat {r + 1}/{args.repeats}: "
                      + "  ".join(f"{k} {runs[-1][k]:.3f}s" for k in STEPS), flush=True)
            medians[pct] = report(runs, args.files, pct)
    if len(medians) > 1:
        first = args.references[0]
        print()
        for pct in args.references[1:]:
            print(f"references {pct}% vs {first}%: plan {medians[pct]['plan'] / medians[first]['plan']:.2f}x, "
                  f"tidy {medians[pct]['tidy'] / medians[first]['tidy']:.2f}x")
    print(f"total wall time {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
