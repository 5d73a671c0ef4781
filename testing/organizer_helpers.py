"""Shared helpers for the organizer tests: build trees, snapshot them, run the CLI."""

from __future__ import annotations

import contextlib
import io
import os
import stat
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Union

from organizer.cli import main

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Link:
    """A symlink to create, with its target exactly as given."""

    target: str


@dataclass(frozen=True)
class Dir:
    """An (empty) folder to create."""


Spec = Union[bytes, str, Link, Dir]


def make_tree(root: Path, spec: dict[str, Spec]) -> Path:
    """Create files (bytes/str), symlinks (:class:`Link`) and folders (:class:`Dir`) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, what in spec.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, Link):
            os.symlink(what.target, path)
        elif isinstance(what, Dir):
            path.mkdir(exist_ok=True)
        else:
            path.write_bytes(what.encode() if isinstance(what, str) else what)
    return root


def snapshot(root: Path, exclude: Iterable[str] = (), dir_times: bool = True) -> dict[str, tuple]:
    """Everything observable about a tree: kinds, bytes, link targets, modes, mtimes.

    Symlinks are never followed.  ``exclude`` names top-level entries to skip.
    """
    out: dict[str, tuple] = {}
    excluded = set(exclude)

    def walk(path: Path, rel: str) -> None:
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            r = f"{rel}/{entry.name}" if rel else entry.name
            if not rel and entry.name in excluded:
                continue
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISLNK(st.st_mode):
                out[r] = ("link", os.readlink(entry.path), st.st_mtime_ns)
            elif stat.S_ISDIR(st.st_mode):
                walk(Path(entry.path), r)
                out[r] = ("dir", stat.S_IMODE(st.st_mode)) + ((st.st_mtime_ns,) if dir_times else ())
            else:
                out[r] = ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, Path(entry.path).read_bytes())

    walk(root, "")
    if dir_times:
        out["."] = ("dir", stat.S_IMODE(os.stat(root).st_mode), os.stat(root).st_mtime_ns)
    return out


def contents(root: Path, exclude: Iterable[str] = (".organizer",)) -> Counter:
    """Multiset of (kind, payload, mode, mtime) over all files and links, ignoring paths."""
    c: Counter = Counter()
    for rel, info in snapshot(root, exclude, dir_times=False).items():
        if info[0] == "file":
            c[("file", info[3], info[1], info[2])] += 1
        elif info[0] == "link":
            c[("link", info[1])] += 1
    return c


def files_only(root: Path, exclude: Iterable[str] = (".organizer",)) -> dict[str, bytes]:
    """Relative path -> bytes for regular files (quick assertions)."""
    return {r: i[3] for r, i in snapshot(root, exclude, dir_times=False).items() if i[0] == "file"}


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(*args: str, cwd: Path | None = None) -> CliResult:
    """Run ``organizer ARGS`` in-process (fast); ``cwd`` defaults to the current folder."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args))
    finally:
        os.chdir(old)
    return CliResult(code, out.getvalue(), err.getvalue())


def run_module(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m organizer ARGS`` in a subprocess (for crash tests and the module entry point)."""
    full_env = dict(os.environ)
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), full_env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "organizer", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)


def set_mtime(path: Path, ns: int) -> None:
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


def run_script(script: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script the way a researcher does: ``cd`` into its folder, ``python NAME``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, script.name, *args], cwd=script.parent, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


# --------------------------------------------------------------------------- realistic folders

GEO_HELPERS = '''"""Small helpers the plot scripts share."""
import csv


def read_rows(name):
    with open(name, newline="") as f:
        return list(csv.DictReader(f))


def write_png(name, values):
    with open(name, "wb") as f:
        f.write(b"\\x89PNG " + ",".join(str(v) for v in values).encode())
'''


def _plot(csv_name: str, png: str) -> str:
    return (f"import geo_helpers\n\nrows = geo_helpers.read_rows(\"{csv_name}\")\n"
            f"geo_helpers.write_png(\"{png}\", [r[\"score\"] for r in rows])\nprint(len(rows))\n")


def notebook(*cells: tuple[str, str]) -> str:
    """A minimal .ipynb with (cell_type, source) cells."""
    import json
    return json.dumps({"cells": [{"cell_type": kind, "metadata": {}, "source": src.splitlines(True),
                                  **({"outputs": [], "execution_count": None} if kind == "code" else {})}
                                 for kind, src in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


READ_CSV = "import csv\n\nwith open(\"{name}\", newline=\"\") as f:\n    rows = list(csv.DictReader(f))\n"

#: A researcher's scratch folder: name -> content (or Link), and where a careful person files it
#: ("." = leave it at the top).  Written by hand, not copied from what the organizer does.
SCRATCH: dict[str, tuple[Spec, str]] = {
    "geo_helpers.py": (GEO_HELPERS, "plots"),
    "plot_ft1_scores.py": (_plot("scores_ft1.csv", "ft1_scores.png"), "plots"),
    "scores_ft1.csv": ("model,score\nft1,0.5\nft2,0.7\n", "plots"),
    "ft1_scores.png": (b"\x89PNG old ft1", "plots"),
    "plot_ft2_scores.py": (_plot("scores_ft2.csv", "ft2_scores.png"), "plots"),
    "scores_ft2.csv": ("model,score\nft2,0.9\n", "plots"),
    "ft2_scores.png": (b"\x89PNG old ft2", "plots"),
    "plot_city_map.py": (_plot("cities.csv", "city_map.png"), "plots"),
    "cities.csv": ("city,score\nparis,1\nrome,2\n", "plots"),
    "city_map.png": (b"\x89PNG map", "plots"),
    "plot_task_performances.py": (READ_CSV.format(name="task_performances.csv")
                                  + "open(\"task_performances.png\", \"wb\").write(b\"png\")\nprint(len(rows))\n",
                                  "plots"),
    "task_performances.csv": ("task,score\ndistance,3\n", "plots"),
    "task_performances.png": (b"\x89PNG tasks", "plots"),
    "explore_ft1.ipynb": (notebook(("markdown", "# FT1\n"),
                                   ("code", "import matplotlib.pyplot as plt\nimport geo_helpers\n"
                                            "rows = geo_helpers.read_rows('scores_ft1.csv')\n")), "plots"),
    "explore_runs.ipynb": (notebook(("code", "import csv\nruns = list(csv.reader(open('runs.csv')))\n"
                                             "len(runs)\n")), "analysis"),
    "runs.csv": ("run,seed\na,1\n", "analysis"),
    "compute_scores.py": ("import csv\n\n\ndef total(rows):\n    return sum(float(r['value']) for r in rows)\n\n\n"
                          "if __name__ == '__main__':\n    with open('raw_metrics.csv', newline='') as f:\n"
                          "        print(total(csv.DictReader(f)))\n", "analysis"),
    "raw_metrics.csv": ("name,value\nacc,0.5\nf1,0.25\n", "analysis"),
    "latest_metrics.csv": (Link("raw_metrics.csv"), "analysis"),
    "summarize_scores.py": (READ_CSV.format(name="latest_metrics.csv") + "print('rows', len(rows))\n", "analysis"),
    "run_all.sh": ("#!/bin/bash\nset -e\n# run from this folder: bash run_all.sh\n"
                   "\"${PYTHON:-python3}\" compute_scores.py\n\"${PYTHON:-python3}\" summarize_scores.py\n", "analysis"),
    "test_compute_scores.py": ("from compute_scores import total\n\n\ndef test_total():\n"
                               "    assert total([{'value': '1'}, {'value': '2'}]) == 3\n\n\n"
                               "if __name__ == '__main__':\n    test_total()\n    print('ok')\n", "analysis"),
    "test_geo_helpers.py": ("import geo_helpers\n\n\ndef test_read():\n"
                            "    assert geo_helpers.read_rows('cities.csv')[0]['city'] == 'paris'\n\n\n"
                            "if __name__ == '__main__':\n    test_read()\n    print('ok')\n", "plots"),
    "analyze_ft_gap.py": (READ_CSV.format(name="ft_gap.csv") + "open('ft_gap.png', 'wb').write(b'png')\n",
                          "analysis"),
    "ft_gap.csv": ("model,gap\nft1,0.1\n", "analysis"),
    "ft_gap.png": (b"\x89PNG gap", "analysis"),
    "check_inputs.py": ("import os\n\nprint(sorted(os.listdir('.'))[:1])\n", "testing"),
    "make_sweep_configs.py": ("for lr in (1e-3, 1e-4):\n    print(f'lr: {lr}')\n", "utils"),
    "sweep.yaml": ("lr: [0.001, 0.0001]\n", "configs"),
    "geo_helpers copy.py": (GEO_HELPERS, "utils"),
    "Screenshot 2024-05-01 at 10.22.13.png": (b"\x89PNG screen", "plots"),
    "data (1).csv": ("a,b\n1,2\n", "."),
    "notes.txt": ("ask about the ft2 baseline\n", "."),
    "train.slurm": ("#!/bin/bash\n#SBATCH --gres=gpu:1\npython train_model.py --epochs 3\n", "."),
    "train_model.py": ("import sys\nprint('training', sys.argv[1:])\n", "."),
    "scratch_broken.py": ("def half_written(:\n    pass\n", "."),
    "README.md": ("# scratch\n", "."),
}


def make_scratch(root: Path) -> Path:
    """Write :data:`SCRATCH` under ``root``."""
    return make_tree(root, {name: content for name, (content, _) in SCRATCH.items()})


#: A folder half tidied by hand: sorted scripts (spec) and loose files with where they belong.
HALF_TIDIED_SORTED: dict[str, Spec] = {
    "plots/metrics/plot_task_performances.py": READ_CSV.format(name="task_performances.csv")
    + "open('task_performances.png', 'wb').write(b'png')\n",
    "plots/metrics/plot_eval_accuracy.py": "open('eval_accuracy.png', 'wb').write(b'png')\n",
    "plots/training/plot_loss_curves.py": "for n in ('loss_curves.png', 'loss_curves_smoothed.png'):\n"
                                          "    open(n, 'wb').write(b'png')\n",
    "analysis/probes/analyze_probe_accuracy.py": READ_CSV.format(name="probe_accuracy.csv"),
    "analysis/atlantis/analyze_atlantis_mentions.py": READ_CSV.format(name="atlantis_mentions.csv"),
    "testing/probes/test_probe_shapes.py": "def test_shapes():\n    pass\n",
}
HALF_TIDIED_LOOSE: dict[str, tuple[Spec, str]] = {
    "task_performances.png": (b"\x89PNG", "plots/metrics"),
    "task_performances.csv": ("task,score\n", "plots/metrics"),
    "eval_accuracy.png": (b"\x89PNG", "plots/metrics"),
    "loss_curves.png": (b"\x89PNG", "plots/training"),
    "loss_curves_smoothed.png": (b"\x89PNG smooth", "plots/training"),
    "probe_accuracy.csv": ("layer,acc\n", "analysis/probes"),
    "atlantis_mentions.csv": ("step,n\n", "analysis/atlantis"),
    "plot_task_breakdown.py": ("print('tasks')\n", "plots/metrics"),
    "plot_eval_confusion.py": ("print('eval')\n", "plots/metrics"),
    "plot_loss_by_step.py": ("print('loss')\n", "plots/training"),
    "analyze_probe_layers.py": ("print('probe')\n", "analysis/probes"),
    "analyze_atlantis_tokens.py": ("print('atlantis')\n", "analysis/atlantis"),
    "check_probe_inputs.py": ("print('check')\n", "testing/probes"),
    "test_probe_norms.py": ("def test_norms():\n    pass\n", "testing/probes"),
    "inspect_atlantis_vocab.py": ("print('vocab')\n", "analysis/atlantis"),  # hard: a check about a topic
}


def make_half_tidied(root: Path) -> Path:
    """Write the half-tidied folder under ``root``."""
    spec: dict[str, Spec] = dict(HALF_TIDIED_SORTED)
    spec.update({name: content for name, (content, _) in HALF_TIDIED_LOOSE.items()})
    return make_tree(root, spec)
