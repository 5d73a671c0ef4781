"""Checks of the run's paths, before any work: a wrong `--data` or an unwritable `--out` is one
line naming the path (exit 2), not a traceback after seconds of parsing.

`check_paths` runs before anything is read or written; `check_found` after discovery, when it
found no evaluation file: it says which readers looked and, when a folder just above or below
holds files those readers would take, names it.
"""
from __future__ import annotations

import os
import re
from fnmatch import fnmatchcase
from itertools import takewhile
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Iterable

from utils.config import Config
from utils.errors import DataPathError, OutputPathError
from utils.readers import all_readers, glob_matches
from utils.walk import OUTPUT_MARKER, files_under, output_folder_of

if TYPE_CHECKING:
    from plots.registry import OutputSpec

CACHE = ".cache"  # the output folder's cache (runner/pipeline.py)
_HINT_FILES = 20000  # files looked at for the hint (a folder far too high is not walked whole)


def check_paths(data: Path, out: Path, config: Config) -> None:
    """Raise DataPathError / OutputPathError unless `data` is a folder (not one of our output
    folders), `out` can be written and does not hold `data`."""
    check_data(data, config)
    check_out(out)
    data_abs, out_abs = Path(os.path.abspath(data)), Path(os.path.abspath(out))
    if data_abs == out_abs or out_abs in data_abs.parents:
        raise OutputPathError(f"{out}: cannot write the outputs: it holds --data {data} (an output folder is "
                              f"never read as evaluations); choose an --out beside or inside --data")


def check_data(data: Path, config: Config) -> None:
    """`data` must be an existing folder, and not one of our output folders (or inside one)."""
    if data.is_dir():
        owner = output_folder_of(data)
        if owner is not None:
            raise DataPathError(f"{data}: is an output folder of run_all.py"
                                + ("" if owner == Path(os.path.abspath(data)) else f" (inside {owner})")
                                + ", not evaluations; --data takes the folder that holds the experiments")
        return
    if data.exists():
        raise DataPathError(f"{data}: is a file, not a folder; --data takes the folder that holds the "
                            f"experiments (data.root in {config.path})")
    raise DataPathError(f"{data}: evaluation folder not found (set --data or data.root in {config.path})")


def check_out(out: Path) -> None:
    """`out` and `out/.cache` must be folders (or creatable ones) this process can write into.

    Nothing is created here (a check is not a change); the first existing folder on the way to
    each is tested for write access."""
    for target in (out / CACHE, out):
        _check_folder(out, target)


def _check_folder(out: Path, target: Path) -> None:
    """`target` (a folder below `out`) exists as a writable folder or can be created."""
    path = Path(os.path.abspath(target))
    missing = False
    while not path.exists():
        if path.is_symlink():  # a dangling link: writing through it fails
            raise OutputPathError(f"{out}: cannot write the outputs: {path} is a broken link")
        missing, path = True, path.parent
    if not path.is_dir():
        what = "output folder" if path == Path(os.path.abspath(out)) else "folder on the way"
        raise OutputPathError(f"{out}: cannot write the outputs: {path} is a file, not a folder "
                              f"(the {what}); choose another --out or move the file")
    if not os.access(path, os.W_OK | os.X_OK):
        how = "to create the output folder in" if missing else "for the outputs"
        raise OutputPathError(f"{out}: cannot write the outputs: {path} is not writable {how} "
                              f"(choose another --out)")


def _in_the_way(out: Path, path: Path) -> OutputPathError:
    return OutputPathError(f"{out}: cannot write the outputs: {path} is a folder where an output file goes; "
                           f"move it or choose another --out")


def check_outputs(out: Path, specs: Iterable[OutputSpec], fmt: str) -> None:
    """Before any output is written: every folder an output of `specs` goes into (and the cache's)
    is a writable folder or can be created, and nothing is in the way of an output file: a folder
    named like one (for outputs named per slice, any folder their name pattern matches)."""
    folders = {out, out / CACHE, out / CACHE / "blocks", out / "tables"}
    files = [out / "tables" / "gaps.csv", out / "index.html", out / "gallery.js", out / OUTPUT_MARKER, out / CACHE / "manifest.json",
             out / CACHE / "manifest.journal", out / CACHE / "parsed.pickle", out / CACHE / "folders.pickle"]
    patterns: list[tuple[Path, str]] = []
    for spec in specs:
        parts = (spec.writes + (f".{fmt}" if spec.kind == "figure" else "")).split("/")
        fixed = list(takewhile(lambda p: "{" not in p, parts[:-1]))
        folder = out.joinpath(*fixed)
        folders.add(folder)
        if spec.blocks_by:
            folders.add(out / CACHE / "blocks" / spec.name)
        if len(fixed) == len(parts) - 1:
            if "{" in parts[-1]:
                patterns.append((folder, re.sub(r"\{[^}]*\}", "*", parts[-1])))
            else:
                files.append(folder / parts[-1])
    for folder in sorted(folders):
        _check_folder(out, folder)
    for path in files:
        if path.is_dir():
            raise _in_the_way(out, path)
    for folder, pattern in patterns:
        if not folder.is_dir():
            continue
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.is_dir() and fnmatchcase(entry.name, pattern):
                    raise _in_the_way(out, Path(entry.path))


def readers_phrase(config: Config) -> str:
    """Which readers looked, for the "no evaluation files" message."""
    if config.readers:
        return "; ".join(f"{r.reader} for {r.glob}" for r in config.readers)
    return "any of " + ", ".join(sorted(n for n, r in all_readers().items() if r.sniff is not None))


def check_found(data: Path, files: int, config: Config, allow_empty: bool = False) -> None:
    """Raise DataPathError when discovery found no evaluation file under `data`; with
    `allow_empty` (watch mode, files may land later) only when a folder nearby holds them."""
    if files:
        return
    hint = _hint(data, config)
    if allow_empty and not hint:
        return
    raise DataPathError(f"no evaluation files under {data} (readers: {readers_phrase(config)})"
                        + (f"; {hint}" if hint else ""))


def _hint(data: Path, config: Config) -> str:
    """'the folder below, X, holds N: --data X' when the readers' globs match files under `data` as
    seen from a folder one or two levels below or above it."""
    if not config.readers:
        return ""  # sniffers ignore the root: had they matched a file below, discovery had found it
    data = data.resolve()
    counts: dict[Path, int] = {}
    above = [(data.parent, PurePosixPath(data.name)),
             (data.parent.parent, PurePosixPath(data.parent.name, data.name))]
    for i, rel in enumerate(_files(data)):
        if i >= _HINT_FILES:
            break
        candidates = [(root, prefix / rel) for root, prefix in above if root != data]
        candidates += [(data.joinpath(*rel.parts[:k]), PurePosixPath(*rel.parts[k:]))
                       for k in (1, 2) if len(rel.parts) > k]
        for root, sub in candidates:
            if any(_glob(sub.as_posix(), r.glob) for r in config.readers):
                counts[root] = counts.get(root, 0) + 1
    if not counts:
        return ""
    best = max(counts.values())
    roots = sorted(r for r, n in counts.items() if n == best)
    if roots[0] in (data.parent, data.parent.parent):
        return (f"{best} file(s) here fit them as seen from the folder above, {_shown(roots[0])} "
                f"(is {data.name} one experiment?): try --data {_shown(roots[0])}")
    names = ", ".join(map(_shown, roots[:3])) + (f" + {len(roots) - 3} more" if len(roots) > 3 else "")
    return f"the folder below, {names}, holds {best} file(s) they read: try --data {_shown(roots[0])}"


def _shown(path: Path) -> str:
    """A path as the user would type it: relative to the working folder when that is short."""
    rel = os.path.relpath(path)
    return rel if not rel.startswith(os.pardir + os.sep + os.pardir) else str(path)


def _glob(rel: str, pattern: str) -> bool:
    return glob_matches(rel, pattern)


def _files(root: Path):
    """Root-relative paths of the files under root, walked as discovery walks them (utils/walk.py)."""
    for _, rel in files_under(os.fspath(root)):
        yield PurePosixPath(rel)
