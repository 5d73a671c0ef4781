"""Runner benchmark at paper scale: the CLI as a user runs it, against the issue-13 targets
(cold run <= 3x the plain-figure reference, one changed file <= 35% of cold, watch: every affected
output within 2.5 s on the bundled example, peak memory < 1 GB).

    python -m benchmarks.bench_runner                     # ~4 min on 2 cores
    python -m benchmarks.bench_runner --repeats 5 --keep --workdir /tmp/bench
    python -m benchmarks.bench_runner --quick             # one of each, a quick look
    python -m benchmarks.bench_runner --floor --repeats 3  # only the drawing floor (see below), per module
    python -m benchmarks.bench_runner --example --watch-changes 8  # only watch on the bundled example

Measures (subprocess `python run_all.py ...`, medians of --repeats runs):
- reference: one process that json-loads every file once and draws the same number of plain
  figures (a line or a bar plot each) in sequence, saved as PNG at the same dpi;
- cold full run (empty output folder) and its peak memory: the sum of the resident set sizes
  (and of the proportional set sizes, which count shared pages once) of run_all.py and its
  worker processes, sampled every 50 ms;
- no-op rerun, and a rerun after one evaluation file changed;
- watch latency: from an evaluation file being closed (renamed into place) to tables/scores.csv
  being rewritten, and to the rebuild's log line (every affected output written), at paper scale
  and on a copy of the bundled example (examples/experiments, what the target is set on);
Then where the time goes: the runner's phases (manifest `last_run.timings`), the slowest outputs,
and what drawing alone costs (all outputs, and those one change redraws, drawn in one process),
which bounds how fast any run on this machine's cores can be.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PAPER = {"seeds": 4, "ft1": 7, "ft2": 21, "checkpoints": 41}
CHANGE_FILES = ["pt1_ft1-{k}/evals/angle/eval_data/evaluation_results.json",
                "pt1_seed2_ft1-{k}/evals/atlantis_distance/eval_data/evaluation_results.json"]


# --- the reference: what a plain script would do ----------------------------------------------

def reference(data: Path, out: Path, figures: int, dpi: int) -> None:
    """json-load every evaluation file once, then draw `figures` plain line/bar plots in sequence."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: list[list[float]] = []
    for path in sorted(data.rglob("evaluation_results.json")):
        with open(path, "rb") as fh:
            checkpoints = json.load(fh)
        series.append([next((v for k, v in m.items() if k.endswith("_metric_mean")), 0.0)
                       for m in checkpoints.values()])
    out.mkdir(parents=True, exist_ok=True)
    for i in range(figures):
        fig, ax = plt.subplots(figsize=(6, 4))
        part = series[i::figures]
        if i % 2:
            ax.bar(range(len(part)), [s[-1] for s in part])
        else:
            for s in part[:20]:
                ax.plot(s)
        ax.set_title(f"reference figure {i}")
        fig.savefig(out / f"ref_{i}.png", dpi=dpi)
        plt.close(fig)


# --- measuring a process tree -----------------------------------------------------------------

@dataclass
class Measured:
    seconds: float
    code: int
    rss_mb: float = 0.0  # peak of the summed RSS of the process and its descendants
    pss_mb: float = 0.0  # same with PSS (shared pages divided among the processes sharing them)
    stderr: str = ""


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def _memory(pids: list[int]) -> tuple[float, float]:
    page = os.sysconf("SC_PAGE_SIZE")
    rss = pss = 0.0
    for p in pids:
        try:
            rss += int(Path(f"/proc/{p}/statm").read_text().split()[1]) * page
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    pss += int(line.split()[1]) * 1024
                    break
        except (OSError, ValueError, IndexError):
            pass
    return rss / 2**20, pss / 2**20


def measured_env() -> dict[str, str]:
    """The environment of every measured run: this one, but writing bytecode as Python does by default
    (a user's second run imports the project's `.pyc` files). A workplace that sets
    PYTHONDONTWRITEBYTECODE would otherwise have every run compile the project again (~0.15 s)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_measured(args: list[str], memory: bool = False) -> Measured:
    """Run a command to completion; wall seconds, exit code and (optionally) peak tree memory."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=measured_env())
    peak = [0.0, 0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            rss, pss = _memory(_tree(proc.pid))
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

    sampler = threading.Thread(target=sample, daemon=True)
    if memory:
        sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - start
    done.set()
    if memory:
        sampler.join()
    return Measured(seconds, proc.returncode, peak[0], peak[1], err)


def run_all(data: Path, out: Path, *extra: str, memory: bool = False) -> Measured:
    m = run_measured([sys.executable, str(REPO / "run_all.py"), "--data", str(data), "--out", str(out),
                      "-q", *extra], memory=memory)
    if m.code not in (0, 1):
        raise SystemExit(f"run_all.py failed ({m.code}):\n{m.stderr}")
    return m


# --- the scenarios ----------------------------------------------------------------------------

def make_tree(workdir: Path) -> Path:
    from utils.synthetic import write_tree
    data = workdir / "experiments"
    marker = workdir / "tree.json"
    if not (marker.exists() and json.loads(marker.read_text()) == PAPER):
        shutil.rmtree(data, ignore_errors=True)
        files = write_tree(data, **PAPER)
        marker.write_text(json.dumps(PAPER))
        print(f"wrote {len(files)} evaluation files under {data}")
    return data


def change(data: Path, rel: str, factor: float) -> Path:
    """Rewrite one evaluation file with its last reported value scaled, atomically (tmp + rename)."""
    path = data / rel
    content = json.loads(path.read_text())
    last = content[list(content)[-1]]
    key = next(k for k in last if k.endswith("_metric_mean"))
    last[key] *= factor
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)
    return path


def manifest(out: Path) -> dict:
    return json.loads((out / ".cache" / "manifest.json").read_text())


def watch_latency(data: Path, out: Path, changes: int, extra: list[str]
                  ) -> tuple[list[float], list[float], list[dict], float, int]:
    """Per change: seconds to scores.csv, seconds to the rebuild line, the runner's phases;
    then seconds to stop on SIGINT and the exit code."""
    proc = subprocess.Popen([sys.executable, str(REPO / "run_all.py"), "--watch", "--data", str(data),
                             "--out", str(out), "-q", *extra], cwd=REPO, stderr=subprocess.PIPE, text=True,
                            env=measured_env())
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in proc.stderr:
            lines.append((time.perf_counter(), line.rstrip()))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_line(text: str, after: int, timeout: float = 300) -> tuple[float, str]:
        end = time.perf_counter() + timeout
        while time.perf_counter() < end:
            for t, line in lines[after:]:
                if text in line:
                    return t, line
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        raise SystemExit("watcher: no '%s' line:\n%s" % (text, "\n".join(x for _, x in lines)))

    wait_line("watching ", 0)
    table = out / "tables" / "scores.csv"
    to_table, to_all, phases = [], [], []
    for i in range(changes):
        time.sleep(1.0)
        before = table.stat().st_mtime_ns
        n = len(lines)
        change(data, CHANGE_FILES[i % 2].format(k=1 + i % 7), 0.9 if i % 2 else 1.1)
        t0 = time.perf_counter()  # the file is closed and in place
        t_table = None
        while t_table is None and time.perf_counter() - t0 < 300:
            if table.stat().st_mtime_ns != before:
                t_table = time.perf_counter()
            else:
                time.sleep(0.005)
        t_done, line = wait_line("] rebuild: ", n)
        to_table.append((t_table or t_done) - t0)
        to_all.append(t_done - t0)
        phases.append(manifest(out)["last_run"].get("timings", {}))
        print(f"    watch change {i + 1}: scores.csv after {to_table[-1]:.2f}s, all after {to_all[-1]:.2f}s"
              f" | {line.split('] ', 1)[-1][:110]}")
    t_stop = time.perf_counter()
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    return to_table, to_all, phases, time.perf_counter() - t_stop, code


PLAIN_MODULE = '''"""Benchmark figures: plain line/bar plots through the runner, the reference script's work.

{k} figures per (group, condition) slice, so a changed file redraws that slice's figures only.
"""
import matplotlib.pyplot as plt

from plots.registry import figure


def _register(i):
    @figure(f"bench_plain_{{i}}", needs="scores", per=("group", "condition"),
            writes=f"bench_plain/{{i}}_{{{{group}}}}_{{{{condition}}}}", title=f"plain figure {{i}}")
    def draw(data, ctx):
        fig, ax = plt.subplots(figsize=(6, 4))
        values = data["value"].fillna(0).to_numpy()
        if i % 2:
            ax.bar(range(min(len(values), 90)), values[:90])
        else:
            for task in sorted(set(data["task"]))[:20]:
                ax.plot(data.loc[data["task"] == task, "value"].to_numpy())
        ax.set_title(f"plain figure {{i}}")
        return fig


for _i in range({k}):
    _register(_i)
'''


def plain_suite(workdir: Path, figures: int) -> list[str]:
    """rules.yaml + a plot module drawing `figures` (a multiple of 4: group x condition slices)
    plain figures; the run_all.py arguments that use them."""
    import yaml
    module = workdir / "bench_plain.py"
    k = figures // 4
    module.write_text(PLAIN_MODULE.format(k=k))
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    raw.setdefault("plots", {})["modules"] = [str(module)]
    rules = workdir / "rules_plain.yaml"
    rules.write_text(yaml.safe_dump(raw, sort_keys=False))
    return ["--config", str(rules), "--only", "scores_csv", *(f"bench_plain_{i}" for i in range(k))]


# --- report -----------------------------------------------------------------------------------

def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def runs(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", type=Path, default=None, help="where the tree and outputs go (default: a tmp dir)")
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (medians are reported)")
    p.add_argument("--watch-changes", type=int, default=4, help="file changes timed in watch mode")
    p.add_argument("--quick", action="store_true", help="one run of each, 2 watch changes")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--floor", action="store_true",
                   help="only the drawing floor (outputs drawn in one process), --repeats times, per module")
    p.add_argument("--example", action="store_true", help="only the watch latency on the bundled example")
    p.add_argument("--reference", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--figures", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--dpi", type=int, default=110, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.reference:
        reference(args.data, args.out, args.figures, args.dpi)
        return 0
    repeats = 1 if args.quick else args.repeats
    changes = 2 if args.quick else args.watch_changes
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_runner_"))
    workdir.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        if args.floor:
            return _floor_only(workdir, repeats, began)
        if args.example:
            example_watch(workdir, changes)
            return 0
        return _bench(workdir, repeats, changes, began)
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class Suite:
    name: str
    cold: list[Measured]
    noop: list[Measured]
    one: list[Measured]
    one_drawn: list[str]
    to_table: list[float]
    to_all: list[float]
    cold_phases: dict
    one_phases: dict
    watch_phases: list[dict]
    stop: tuple[float, int]
    outputs: dict


def run_suite(name: str, data: Path, out: Path, extra: list[str], repeats: int, changes: int) -> Suite:
    print(f"\n[{name}]")
    cold = []
    for i in range(repeats):
        shutil.rmtree(out, ignore_errors=True)
        cold.append(run_all(data, out, *extra, memory=True))
        print(f"  cold run {i + 1}: {cold[-1].seconds:.1f}s, peak RSS sum {cold[-1].rss_mb:.0f} MB, "
              f"PSS sum {cold[-1].pss_mb:.0f} MB")
    m = manifest(out)
    noop = [run_all(data, out, *extra) for _ in range(max(repeats, 3))]
    print(f"  no-op reruns: {runs([x.seconds for x in noop])}s")
    one, one_phases, one_drawn = [], {}, []
    for i in range(repeats):
        change(data, CHANGE_FILES[0].format(k=1 + i % 7), 0.8)
        one.append(run_all(data, out, *extra))
        last = manifest(out)["last_run"]
        one_phases, one_drawn = last.get("timings", {}), list(last.get("rendered", []))
        print(f"  one changed file {i + 1}: {one[-1].seconds:.1f}s, {len(one_drawn)} outputs redrawn")
    to_table, to_all, phases, stop_s, stop_code = watch_latency(data, out, changes, extra)
    return Suite(name, cold, noop, one, one_drawn, to_table, to_all, m["last_run"].get("timings", {}),
                 one_phases, phases, (stop_s, stop_code), m["outputs"])


def example_watch(workdir: Path, changes: int) -> None:
    """Watch latency on a copy of the bundled example, the tree the issue-13 target is set on."""
    data = workdir / "example"
    shutil.rmtree(data, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "experiments", data)
    out = workdir / "out_example"
    shutil.rmtree(out, ignore_errors=True)
    n_files = sum(1 for _ in data.rglob("evaluation_results.json"))
    print(f"\n[watch on the bundled example: {n_files} evaluation files]")
    run_all(data, out)
    to_table, to_all, phases, _, code = watch_latency(data, out, changes, [])
    print(f"\n== watch on the bundled example ({n_files} files), {changes} changes")
    print(f"{'watch: scores.csv written':34s} {med(to_table):7.2f}s  {'':15s} {'':>8s}       {runs(to_table)}")
    print(f"{'watch: all affected outputs':34s} {med(to_all):7.2f}s  {'<= 2.5s':15s} {med(to_all) / 2.5:7.2f}x  "
          f"{'yes' if med(to_all) <= 2.5 else 'NO':3s}  {runs(to_all)}")
    if phases:
        print(f"runner phases (s), watch change: {phase_line(phases[-1])}; exit code on SIGINT {code}")


def phase_line(timings: dict) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in timings.items())


def report(suite: Suite, ref: list[Measured] | None) -> None:
    c = med([x.seconds for x in suite.cold])
    n, o = med([x.seconds for x in suite.noop]), med([x.seconds for x in suite.one])
    rows = []
    if ref is not None:
        r = med([x.seconds for x in ref])
        rows.append(("reference (json + plain figures)", r, [x.seconds for x in ref], "", "", None))
        rows.append(("cold full run", c, [x.seconds for x in suite.cold], "<= 3x reference", f"{c / r:.2f}x",
                     c <= 3 * r))
    else:
        rows.append(("cold full run", c, [x.seconds for x in suite.cold], "", "", None))
    rows += [
        ("no-op rerun", n, [x.seconds for x in suite.noop], "<= 5% of cold", f"{100 * n / c:.1f}%", n <= 0.05 * c),
        ("one changed file", o, [x.seconds for x in suite.one], "<= 35% of cold", f"{100 * o / c:.1f}%",
         o <= 0.35 * c),
        ("watch: scores.csv written", med(suite.to_table), suite.to_table, "", "", None),
        ("watch: all affected outputs", med(suite.to_all), suite.to_all, "(example: <= 2.5s)", "", None),
    ]
    figures = sum(1 for rel in suite.outputs if rel.endswith(".png"))
    print(f"\n== {suite.name}: {len(suite.outputs)} outputs ({figures} figures); "
          f"one changed file redrew {len(suite.one_drawn)}")
    print(f"{'measurement':34s} {'median':>8s}  {'target':15s} {'ratio':>8s}  met  runs (s)")
    for name, value, values, target, ratio, good in rows:
        flag = "" if good is None else ("yes" if good else "NO")
        print(f"{name:34s} {value:7.2f}s  {target:15s} {ratio:>8s}  {flag:3s}  {runs(values)}")
    rss, pss = max(x.rss_mb for x in suite.cold), max(x.pss_mb for x in suite.cold)
    print(f"{'peak memory of the cold run':34s} {rss:6.0f}MB  {'< 1024 MB':15s} {'':>8s}  "
          f"{'yes' if rss < 1024 else 'NO':3s}  (sum of RSS; sum of PSS {pss:.0f} MB)")
    print(f"{'watch: stop on SIGINT':34s} {suite.stop[0]:7.2f}s  exit code {suite.stop[1]}")
    print(f"runner phases (s), cold run:     {phase_line(suite.cold_phases)}")
    print(f"runner phases (s), one change:   {phase_line(suite.one_phases)}")
    if suite.watch_phases:
        print(f"runner phases (s), watch change: {phase_line(suite.watch_phases[-1])}")
    seconds = sorted(((e.get("seconds", 0.0), rel) for rel, e in suite.outputs.items()), reverse=True)
    print(f"render seconds, all outputs: {sum(s for s, _ in seconds):.1f} over {os.cpu_count()} workers; "
          "slowest: " + ", ".join(f"{rel} {s:.1f}" for s, rel in seconds[:5]))


def drawing_floor(data: Path, out: Path, name: str) -> tuple[float, float, dict[str, float]]:
    """What drawing alone costs: the outputs drawn in one process (`--jobs 1`, no other process
    competing), summed, for a cold run and for a rerun after one changed file. Divided by the
    cores, no run can draw them faster; the targets above are measured against that."""
    shutil.rmtree(out, ignore_errors=True)
    cores = os.cpu_count() or 1
    print(f"\n== drawing alone, one process (--jobs 1), {name}")
    sums, per_module = [], {}
    for what, changed in (("cold run", False), ("one changed file", True)):
        if changed:
            change(data, CHANGE_FILES[0].format(k=1), 1.25)
        run = run_all(data, out, "--jobs", "1")
        if run.code != 0:
            raise SystemExit(f"--jobs 1 run failed:\n{run.stderr}")
        m = manifest(out)
        drawn = [m["outputs"][rel].get("seconds", 0.0) for rel in m["last_run"]["rendered"]]
        print(f"{what}: {len(drawn)} outputs, {sum(drawn):.1f}s of drawing -> no run draws them in less than "
              f"{sum(drawn) / cores:.1f}s on {cores} cores, before loading and analysis")
        sums.append(sum(drawn))
        if not changed:
            for rel in m["last_run"]["rendered"]:
                module = rel.split("/", 1)[0] if "/" in rel else rel
                per_module[module] = per_module.get(module, 0.0) + m["outputs"][rel].get("seconds", 0.0)
    return sums[0], sums[1], per_module


def _floor_only(workdir: Path, repeats: int, began: float) -> int:
    """The drawing floor alone, `repeats` times: medians of the cold and one-change drawing sums and
    of each module's share of the cold one (what a change to the figures' code is measured by)."""
    data = make_tree(workdir)
    cold, one, modules = [], [], {}
    for i in range(repeats):
        c, o, per = drawing_floor(data, workdir / "out_one_process", f"repeat {i + 1}")
        cold.append(c)
        one.append(o)
        for name, seconds in per.items():
            modules.setdefault(name, []).append(seconds)
    print(f"\n== drawing floor, medians of {repeats}: cold {med(cold):.1f}s ({runs(cold)}), "
          f"one changed file {med(one):.1f}s ({runs(one)})")
    for name, values in sorted(modules.items(), key=lambda kv: -med(kv[1])):
        print(f"  {name:20s} {med(values):6.2f}s  ({runs(values)})")
    print(f"\nbenchmark took {time.perf_counter() - began:.0f}s")
    return 0


def _bench(workdir: Path, repeats: int, changes: int, began: float) -> int:
    from utils.config import load_config
    config = load_config(None)
    data = make_tree(workdir)
    n_files = sum(1 for _ in data.rglob("evaluation_results.json"))
    print(f"tree: {n_files} evaluation files, {len(list(data.iterdir()))} experiments; "
          f"{os.cpu_count()} cores; dpi {config.plot_dpi}; repeats {repeats}; bytecode written (measured_env)")

    full = run_suite("every registered output", data, workdir / "out", [], repeats, changes)
    n_figures = sum(1 for rel in full.outputs if rel.endswith("." + config.plot_format))
    n_figures = 4 * -(-n_figures // 4)  # the plain suite draws 4 (group x condition) per module entry
    ref = []
    for i in range(repeats):
        ref_out = workdir / "reference"
        shutil.rmtree(ref_out, ignore_errors=True)
        ref.append(run_measured([sys.executable, "-m", "benchmarks.bench_runner", "--reference", "--data",
                                 str(data), "--out", str(ref_out), "--figures", str(n_figures),
                                 "--dpi", str(config.plot_dpi)]))
        if ref[-1].code != 0:
            raise SystemExit(f"reference failed:\n{ref[-1].stderr}")
        print(f"  reference {i + 1}: {ref[-1].seconds:.1f}s ({n_figures} plain figures)")
    plain = run_suite(f"{n_figures} plain figures + scores.csv through the runner", data, workdir / "out_plain",
                      plain_suite(workdir, n_figures), repeats, changes)
    report(plain, ref)
    report(full, ref)
    drawing_floor(data, workdir / "out_one_process", full.name)
    example_watch(workdir, changes)
    print(f"\nbenchmark took {time.perf_counter() - began:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
