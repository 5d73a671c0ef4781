"""The files under a data root, entering linked folders once: the one traversal that discovery
(utils/loading.py) and the input stamp (runner/fingerprint.py) share, so a file changed in a linked
run folder is both read and noticed.

Runs that live on other storage are often linked into the tree (`pt1_ft2-9 -> /scratch/.../pt1_ft2-9`).
A link to a folder is entered unless its real folder lies inside the data root (the plain walk
reaches it there) or was already walked (through another link, or a link back up: a loop); so each
real folder is walked once, and the walk ends on any tree of links. Files are reported under the
link's name, the path the experiment is named from. No stat per plain folder: the fast no-op path
runs this on every check.

Our own output folders are never entered: a folder holding the marker file `OUTPUT_MARKER` (written
into every `--out` folder before its outputs), or an output folder written before the marker existed
(`index.html` beside `.cache/manifest.json`), is left out with everything below it, so `--out`
inside `--data` reads nothing of ours. The check costs nothing for other folders: the names are
listed anyway.
"""
from __future__ import annotations

import operator
import os
from pathlib import Path
from typing import Collection, Iterator

OUTPUT_MARKER = ".eval-figures"  # the file that marks a folder as our output folder
MARKER_TEXT = ("This folder holds the outputs of eval-figures (run_all.py). Its files are never read as\n"
               "evaluations, and a run removes only the files its manifest (.cache/manifest.json) says it wrote.\n")


def is_output_folder(folder: str, names: Collection[str]) -> bool:
    """Is `folder`, whose entries are `names`, one of our output folders (marked, or an older one)?"""
    if OUTPUT_MARKER in names:
        return True
    return ".cache" in names and "index.html" in names and os.path.isfile(
        os.path.join(folder, ".cache", "manifest.json"))


def output_folder_of(path: Path) -> Path | None:
    """`path` itself or the nearest folder above it that is one of our output folders, else None."""
    path = Path(os.path.abspath(path))
    for folder in (path, *path.parents):
        if (folder / OUTPUT_MARKER).is_file() or (
                (folder / "index.html").is_file() and (folder / ".cache" / "manifest.json").is_file()):
            return folder
    return None


def files_under(top: str, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(path, root-relative posix path) of every file under folder `top`, depth first, by name.

    Hidden files and folders and `.tmp` files are left out, unreadable folders skipped; links to
    folders are followed as described in the module docstring."""
    root = os.path.realpath(top)
    seen: set[str] = set()  # the real paths of the linked folders walked so far
    first = _listing(top)
    if first is None:
        return
    # one frame for the whole walk (not a yield passed up through one generator per folder level):
    # per open folder, its entries left, the prefix of its files, its real path when reached through a
    # link (None in the root's own tree)
    stack: list[tuple[Iterator[os.DirEntry], str, str | None]] = [(iter(first), prefix, None)]
    while stack:
        entries, pre, real = stack[-1]
        for entry in entries:
            name = entry.name
            if name.startswith(".") and not name.startswith("..__"):  # lm-eval's `..__<path>` folders are not hidden
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:  # as os.path.isdir: not a folder
                is_dir = False
            if not is_dir:
                if not name.endswith(".tmp"):
                    yield entry.path, pre + name
                continue
            try:
                is_link = entry.is_symlink()
            except OSError:
                is_link = False
            if is_link:
                target: str | None = os.path.realpath(entry.path)
            elif real is not None:  # a plain folder inside a linked one: its real path without a syscall
                target = real + os.sep + name
            else:  # the root's own tree: walked once by construction
                target = None
            if target is not None:
                if _inside(target, root) or target in seen:
                    continue
                seen.add(target)
            inner = _listing(entry.path)
            if inner is not None:
                stack.append((iter(inner), pre + name + "/", target))
                break
        else:
            stack.pop()


def stat_files(top: str) -> list[tuple[str, str, int, int] | tuple[str, str, None, None]]:
    """(path, root-relative posix path, size, mtime_ns) of every file `files_under` gives, in its
    order; size and mtime are None for a file gone before its stat. The one listing a run makes:
    the input stamp and discovery both use it, so each file is listed and stat'ed once."""
    out: list = []
    stat = os.stat
    for path, rel in files_under(top):
        try:
            st = stat(path)
        except OSError:
            out.append((path, rel, None, None))
            continue
        out.append((path, rel, st.st_size, st.st_mtime_ns))
    return out


_NAME = operator.attrgetter("name")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _listing(folder: str) -> list[os.DirEntry] | None:
    """A folder's entries by name; None for an unreadable folder or one of our output folders."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return None
    if len(entries) > 1:  # a sweep's folders mostly hold one entry (`evals/<task>/eval_data/`)
        entries.sort(key=_NAME)
    if is_output_folder(folder, [e.name for e in entries]):
        return None  # ours: outputs are not evaluations
    return entries
