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
