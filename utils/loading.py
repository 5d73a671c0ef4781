"""Discover evaluation files, read each once, and build the one tidy table everything uses.

Parsed files are kept in a cache keyed by path, size and mtime, so a rerun or a watch-mode
rebuild parses only the files that changed.
"""
from __future__ import annotations

import fnmatch
import hashlib
import logging
import os
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from utils.atomic import write_bytes
from utils.config import Config
from utils.errors import EvalFileError, UserError
from utils.readers import Record, all_readers

log = logging.getLogger(__name__)

COLUMNS = ["experiment", "condition", "task", "step", "metric", "statistic", "value", "source"]
_CACHE_VERSION = 2
_RACY_SECONDS = 2.0  # mtimes this close to the read time may hide a later same-size write


@dataclass
class Problem:
    path: Path
    reason: str

    def __str__(self) -> str:
        return self.reason if str(self.path) in self.reason else f"{self.path}: {self.reason}"


@dataclass
class LoadResult:
    frame: pd.DataFrame
    files: list[Path]
    problems: list[Problem] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    parsed: list[Path] = field(default_factory=list)  # files actually parsed (not from cache)


def discover(root: Path, config: Config) -> list[tuple[Path, str]]:
    """(file, reader name) for every evaluation file under root; the first matching rule wins."""
    if not root.is_dir():
        raise UserError(f"{root}: evaluation folder not found (set --data or data.root in {config.path})")
    readers = all_readers()
    for rule in config.readers:
        if rule.reader not in readers:
            raise UserError(f"{config.path}: readers: unknown reader {rule.reader!r} "
                            f"(known: {', '.join(sorted(readers))})")
    found: dict[Path, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel_dir = Path(dirpath).relative_to(root)
        for name in sorted(filenames):
            if name.startswith(".") or name.endswith(".tmp"):
                continue
            rel = (rel_dir / name).as_posix()
            for rule in config.readers:
                if fnmatch.fnmatchcase(rel, rule.glob) and (
                        "**" in rule.glob or rel.count("/") == rule.glob.count("/")):
                    found.setdefault(root / rel, rule.reader)
                    break
    return sorted(found.items())


class ParseCache:
    """Parsed records per file, invalidated by size and mtime (and content for racy mtimes)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.entries: dict[str, tuple] = {}
        self.dirty = False
        if path is not None and path.exists():
            try:
                with open(path, "rb") as fh:
                    version, entries = pickle.load(fh)
                if version == _CACHE_VERSION and isinstance(entries, dict):
                    self.entries = entries
                else:
                    log.info("parse cache %s is from another version; rebuilding it", path)
            except Exception as exc:  # a corrupt cache is rebuilt, never trusted
                log.warning("parse cache %s is unreadable (%s); rebuilding it", path, exc)

    def get(self, path: Path, reader: str, st: os.stat_result) -> tuple | None:
        entry = self.entries.get(str(path))
        if entry is None:
            return None
        size, mtime, rname, digest, outcome = entry
        if (size, mtime, rname) != (st.st_size, st.st_mtime_ns, reader):
            return None
        if digest is not None and digest != _digest(path):
            return None
        return outcome

    def put(self, path: Path, reader: str, st: os.stat_result, outcome: tuple) -> None:
        racy = time.time() - st.st_mtime_ns / 1e9 < _RACY_SECONDS
        self.entries[str(path)] = (st.st_size, st.st_mtime_ns, reader,
                                   _digest(path) if racy else None, outcome)
        self.dirty = True

    def prune(self, keep: set[str]) -> None:
        for key in set(self.entries) - keep:
            del self.entries[key]
            self.dirty = True

    def save(self) -> None:
        if self.path is not None and self.dirty:
            write_bytes(self.path, pickle.dumps((_CACHE_VERSION, self.entries), pickle.HIGHEST_PROTOCOL))
            self.dirty = False


def _digest(path: Path) -> str | None:
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None


def load(root: Path, config: Config, cache: ParseCache | None = None) -> LoadResult:
    """Read every evaluation file under root into one tidy long DataFrame (see COLUMNS)."""
    cache = cache if cache is not None else ParseCache()
    readers = all_readers()
    files = discover(root, config)
    result = LoadResult(frame=pd.DataFrame(columns=COLUMNS), files=[])
    columns: list[list] = [[] for _ in COLUMNS]
    for path, rname in files:
        rel = path.relative_to(root)
        if any(part in config.skip for part in rel.parts[:-1]):
            result.skipped.append(path)
            continue
        result.files.append(path)
        try:
            st = path.stat()
        except OSError as exc:  # deleted between discovery and reading
            result.problems.append(Problem(path, f"cannot stat: {exc.strerror}"))
            continue
        outcome = cache.get(path, rname, st)
        if outcome is None:
            try:
                outcome = ("ok", readers[rname].read(path, root, config))
            except EvalFileError as exc:
                outcome = ("error", str(exc))
            cache.put(path, rname, st, outcome)
            result.parsed.append(path)
        if outcome[0] == "error":
            result.problems.append(Problem(path, outcome[1]))
            continue
        source = rel.as_posix()
        for rec in outcome[1]:
            for col, v in zip(columns, rec):
                col.append(v)
            columns[-1].append(source)
    cache.prune({str(p) for p, _ in files})
    frame = pd.DataFrame(dict(zip(COLUMNS, columns)))
    if not frame.empty:
        frame = frame.astype({"step": "int64", "value": "float64"})
        frame = frame.sort_values(["experiment", "condition", "task", "metric", "statistic", "step"],
                                  kind="stable", ignore_index=True)
    else:
        frame = pd.DataFrame({c: pd.Series(dtype="int64" if c == "step" else
                                           "float64" if c == "value" else "object") for c in COLUMNS})
    result.frame = frame
    if result.skipped:
        log.info("skipped %d file(s) in folders listed under data.skip (%s)", len(result.skipped),
                 ", ".join(config.skip))
    return result
