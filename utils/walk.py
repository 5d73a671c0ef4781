"""The files under a data root, entering linked folders once: the one traversal that discovery
(utils/loading.py) and the input stamp (runner/fingerprint.py) share, so a file changed in a linked
run folder is both read and noticed.

Runs that live on other storage are often linked into the tree (`pt1_ft2-9 -> /scratch/.../pt1_ft2-9`).
A link to a folder is entered unless its real folder lies inside the data root (the plain walk
reaches it there) or was already walked (through another link, or a link back up: a loop); so each
real folder is walked once, and the walk ends on any tree of links. Files are reported under the
link's name, the path the experiment is named from. No stat per plain folder in a walk without a
memo (below).

Our own output folders are never entered: a folder holding the marker file `OUTPUT_MARKER` (written
into every `--out` folder before its outputs), or an output folder written before the marker existed
(`index.html` beside `.cache/manifest.json`), is left out with everything below it, so `--out`
inside `--data` reads nothing of ours. The check costs nothing for other folders: the names are
listed anyway.

The fast no-op path walks with a `FolderMemo` (like git's untracked cache): what the last walk
listed in each folder, with the folder's mtime, ctime and inode. Adding, removing or renaming an
entry changes a folder's mtime and ctime (and only the system clock can set a ctime back), so a
folder whose three are unchanged is not listed again: one stat instead of a listing. When every folder of the last walk
is unchanged (and its links lead where they led), the walk is the last one's and its files are only
stat'ed; files are stat'ed one by one in any case, so a file rewritten in place is seen. A folder
changed too recently to vouch for its listing (`utils.filestamp.is_racy`) is not memoized, and
neither is an unreadable folder or an older output folder (known by a file below it); links are
resolved afresh on every walk.
"""
from __future__ import annotations

import logging
import operator
import os
import sys
import threading
import time
from array import array
from pathlib import Path
from typing import Callable, Collection, Iterable, Iterator

from utils.atomic import write_pickle
from utils.filestamp import is_racy
from utils.safe_pickle import read_builtins

log = logging.getLogger(__name__)

OUTPUT_MARKER = ".eval-figures"  # the file that marks a folder as our output folder
MARKER_TEXT = ("This folder holds the outputs of eval-figures (run_all.py). Its files are never read as\n"
               "evaluations, and a run removes only the files its manifest (.cache/manifest.json) says it wrote.\n")
MEMO_VERSION = "folders-1"

# A folder's listing: its names, sorted (the walk leaves out hidden names and `.tmp` files), and
# their kinds, one letter a name, in one string. Where a link leads is resolved on every walk.
_FILE, _DIR, _LINK = "f", "d", "l"
_OURS = "-"  # the memo's kinds of one of our output folders (not entered)
# the memo's times are signed 64-bit integers, its inodes unsigned ones (a folder beyond is not memoized)
_INT64, _UINT64 = range(-1 << 63, 1 << 63), range(1 << 64)
Listing = tuple[list[str], str]
Row = tuple[str, str, int, int] | tuple[str, str, None, None]


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
    return _walk(top, prefix, _scan, _resolve)


def stat_files(top: str, memo: FolderMemo | None = None) -> list[Row]:
    """(path, root-relative posix path, size, mtime_ns) of every file `files_under` gives, in its
    order; size and mtime are None for a file gone before its stat. The one listing a run makes:
    the input stamp and discovery both use it, so each file is listed and stat'ed once.

    With a `memo`, folders unchanged since its walk are not listed again, and the memo then holds
    what this walk saw (`memo.dirty`: it differs from what was loaded or saved)."""
    if memo is None:
        return _stat_each(files_under(top))
    if memo.rels is not None and top == memo.top:
        # the last walk's files stat'ed with its folders: one pass, halved between two processes
        # (folders first and files after, each a pass of its own: a second fork and wait)
        base, sep = _base(top), os.sep
        files = [(base + (rel if sep == "/" else rel.replace("/", sep)), rel) for rel in memo.rels]
        stats = stat_all(memo.paths + [path for path, _ in files])
        if memo.holds(top, stats[:len(memo.paths)]):  # then the listing is the last walk's
            return _rows(files, stats[len(memo.paths):])
    recorder = _Recorder(memo, os.path.realpath(top), time.time())
    rows = _stat_each(_walk(top, "", recorder, recorder.resolve))
    memo.took(top, recorder, [row[1] for row in rows])
    return rows


STAT_THREADS = 2  # when no second process can be forked: two threads take ~0.8 of one thread's time
_STATS_PER_THREAD = 20_000  # fewer paths than this: one thread (starting threads would cost more)
_STATS_TO_FORK = 40_000  # fewer paths than this: stat'ed here (a fork and its pipe would cost more)


def stat_all(paths: list[str]) -> list[tuple[int, int, int, int] | None]:
    """(size, mtime_ns, ctime_ns, inode) of each path, None for one that cannot be stat'ed, in order.

    Many paths (the memo's 217,000 folders and 101,500 files of a 100,000-file sweep: 2.1-2.3 s in
    two threads) are stat'ed half here and half in a forked child process, 1.0-1.1 s: threads take
    turns at the interpreter between one stat and the next, processes do not. Where a process
    cannot be forked safely (not Linux, or other threads running: a watcher's), in threads."""
    if len(paths) >= _STATS_TO_FORK and _can_fork():
        return _stats_forked(paths)
    n = min(STAT_THREADS, len(paths) // _STATS_PER_THREAD)
    if n < 2:
        return _stats(paths)
    from concurrent.futures import ThreadPoolExecutor
    size = -(-len(paths) // n)
    with ThreadPoolExecutor(n) as pool:
        parts = list(pool.map(_stats, [paths[i:i + size] for i in range(0, len(paths), size)]))
    return [st for part in parts for st in part]


def _can_fork() -> bool:
    """Can a child be forked here for a moment: Linux, and this the process's only thread (a fork
    beside other threads may find a lock one of them held)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


def _stats_forked(paths: list[str]) -> list[tuple[int, int, int, int] | None]:
    """`_stats(paths)`, the second half stat'ed by a forked child that sends them through a pipe
    (`_packed`) and exits; a child that fails or sends less has its half stat'ed here."""
    half = len(paths) // 2
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its half, to the pipe, and out without any of the parent's clean-up
        code = 1
        try:
            os.close(read_fd)
            with os.fdopen(write_fd, "wb") as pipe:
                pipe.write(_packed(_stats(paths[half:])))
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    pipe = os.fdopen(read_fd, "rb")
    try:
        mine = _stats(paths[:half])
        data = pipe.read()
    finally:
        pipe.close()  # on an error here the child's write fails and it exits: never waited on forever
        _, status = os.waitpid(pid, 0)
    theirs = _unpacked(data, len(paths) - half) if status == 0 else None
    return mine + (theirs if theirs is not None else _stats(paths[half:]))


def _packed(stats: list[tuple[int, int, int, int] | None]) -> bytes:
    """Stats as bytes: a found flag a path, then (size, mtime, ctime) of those found as signed and
    their inodes as unsigned 64-bit numbers."""
    found = [st for st in stats if st is not None]
    return (bytes(st is not None for st in stats) + array("q", [v for st in found for v in st[:3]]).tobytes()
            + array("Q", [st[3] for st in found]).tobytes())


def _unpacked(data: bytes, n: int) -> list[tuple[int, int, int, int] | None] | None:
    """`_packed`'s stats of `n` paths, or None when `data` is not that."""
    flags = data[:n]
    k = flags.count(1)
    if len(flags) != n or len(data) != n + 32 * k or flags.count(0) != n - k:
        return None
    numbers, inodes = array("q"), array("Q")
    numbers.frombytes(data[n:n + 24 * k])
    inodes.frombytes(data[n + 24 * k:])
    it = iter(numbers)
    found = list(zip(it, it, it, inodes))
    if k == n:
        return found
    at = iter(found)
    return [next(at) if flag else None for flag in flags]


def _stats(paths: list[str]) -> list[tuple[int, int, int, int] | None]:
    out: list[tuple[int, int, int, int] | None] = []
    stat = os.stat
    for path in paths:
        try:
            st = stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
    return out


def _stat_each(files: Iterable[tuple[str, str]]) -> list[Row]:
    files = list(files)
    return _rows(files, stat_all([path for path, _ in files]))


def _rows(files: list[tuple[str, str]], stats: list[tuple[int, int, int, int] | None]) -> list[Row]:
    """Each (path, rel) with its size and mtime from `stats` (None, None: gone before its stat)."""
    return [(path, rel, None, None) if st is None else (path, rel, st[0], st[1])
            for (path, rel), st in zip(files, stats)]


class FolderMemo:
    """What the last walk with this memo listed, one column per field, folders in walk order (a
    200,000-folder memo is a few large objects: it loads and saves in a fraction of a second).

    Saved as a pickle of builtins only (`save`, `load`) beside the parse cache; a memo that does not
    load is an empty one: every folder is listed."""

    def __init__(self) -> None:
        self.top: str | None = None  # the folder walked
        self.root: str | None = None  # its real path then
        self.paths: list[str] = []  # the folders it listed
        self.mtimes, self.ctimes = array("q"), array("q")  # of each folder, in ns
        self.inodes = array("Q")
        self.names: list[str] = []  # each folder's names, joined by NUL
        self.kinds: list[str] = []  # each folder's kinds (`_OURS`: one of our output folders)
        self.links: list[tuple[str, str | None]] = []  # each link it resolved: (path, real folder or None)
        self.rels: list[str] | None = None  # the files it found; None when a folder was not memoized
        self.dirty = False  # differs from what was loaded or saved
        self._index: dict[str, int] | None = None
        # folders `holds` listed and found changed, with the stat taken before: the walk after it
        # takes these listings instead of listing them twice
        self._relisted: dict[str, tuple[os.stat_result, list[os.DirEntry]]] = {}

    @classmethod
    def load(cls, path: Path) -> FolderMemo:
        """The memo saved at `path`; an empty one when there is none, or it is corrupt, foreign or
        of another version (logged)."""
        memo = cls()
        saved = read_builtins(path, "folder memo", "listing every folder")
        if saved is None:
            return memo
        if not (isinstance(saved, tuple) and saved and saved[0] == MEMO_VERSION):
            log.info("folder memo %s is from another version; listing every folder", path)
            return memo
        try:
            memo._unpack(saved[1:])
        except (TypeError, ValueError, AttributeError) as exc:
            log.warning("folder memo %s is malformed (%s); listing every folder", path, exc)
            return cls()
        return memo

    def _unpack(self, saved: tuple) -> None:
        top, root, paths, mtimes, ctimes, inodes, names, kinds, rels, links = saved
        self.top, self.root = str(top), str(root)
        self.paths = paths.split("\0") if paths else []
        self.mtimes.frombytes(mtimes)
        self.ctimes.frombytes(ctimes)
        self.inodes.frombytes(inodes)
        self.names = names.split("/") if self.paths else []
        self.kinds = kinds.split("/") if self.paths else []
        self.rels = None if rels is None else rels.split("\0") if rels else []
        self.links = [(str(p), None if t is None else str(t)) for p, t in links]
        n = len(self.paths)
        if not len(self.names) == len(self.kinds) == len(self.mtimes) == len(self.ctimes) == len(self.inodes) == n:
            raise ValueError("columns of different lengths")

    def save(self, path: Path) -> None:
        """Write the memo to `path` (atomically) if it changed since it was loaded or saved."""
        if not self.dirty:
            return
        rels = None if self.rels is None else "\0".join(self.rels)
        columns = ("\0".join(self.paths), self.mtimes.tobytes(), self.ctimes.tobytes(), self.inodes.tobytes(),
                   "/".join(self.names), "/".join(self.kinds))  # a name holds neither NUL nor "/"
        write_pickle(path, (MEMO_VERSION, self.top, self.root, *columns, rels, self.links))
        self.dirty = False

    def holds(self, top: str, stats: list[tuple[int, int, int, int] | None] | None = None) -> bool:
        """Would a walk of `top` find what the last one found: it was of `top`, memoized every folder
        it listed, each link is as it was then, and each folder is too or lists what it listed (a
        file replaced by a rename, as careful writers do: the folder's times change, its names not)?
        `stats`: each folder's `stat_all`, when the caller took them (with the files')."""
        self._relisted = {}  # this walk's only
        if self.rels is None or top != self.top or os.path.realpath(top) != self.root:
            return False
        if any(_resolve(path) != target for path, target in self.links):
            return False
        now = time.time()
        if stats is None:
            stats = stat_all(self.paths)  # every folder's, then compared
        for i, (path, mtime, ctime, ino, st) in enumerate(zip(self.paths, self.mtimes, self.ctimes, self.inodes,
                                                               stats)):
            if st is None:
                return False
            if (st[1] != mtime or st[2] != ctime or st[3] != ino) and not self._lists_alike(i, path, now):
                return False
        return True

    def _lists_alike(self, i: int, path: str, now: float) -> bool:
        """Does folder `i` (at `path`), whose times changed, hold the names and kinds it held? Then
        it keeps them with its new times, which vouch for them next time unless they are too recent
        (then it is listed again next time, as a walk would). Stat'ed again here, before listing, as
        the walk after it would (the stat `holds` took was taken before)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        entries = _entries(path)
        if entries is None:
            return False
        names = [e.name for e in entries]
        listing = _listing(path, entries, names)
        kinds = _OURS if listing is None else listing[1]
        if kinds != self.kinds[i] or ("" if listing is None else "\0".join(names)) != self.names[i]:
            self._relisted[path] = (st, entries)
            return False
        mtime, ctime = st.st_mtime_ns, st.st_ctime_ns
        settled = _vouches(names, mtime, ctime, st.st_ino, now)
        self.mtimes[i], self.ctimes[i], self.inodes[i] = (mtime, ctime, st.st_ino) if settled else (-1, -1, 0)
        self.dirty = True
        return True

    def index(self) -> dict[str, int]:
        """Each folder's position in the columns."""
        if self._index is None:
            self._index = {path: i for i, path in enumerate(self.paths)}
        return self._index

    def add(self, path: str, mtime: int, ctime: int, ino: int, names: str, kinds: str) -> None:
        """Remember a folder listed: its times, inode, names (joined by NUL) and their kinds."""
        self.paths.append(path)
        self.mtimes.append(mtime)
        self.ctimes.append(ctime)
        self.inodes.append(ino)
        self.names.append(names)
        self.kinds.append(kinds)

    def took(self, top: str, recorder: _Recorder, rels: list[str]) -> None:
        """Become what a walk of `top` recorded (the folders it did not list drop out); `rels`: the
        files it found."""
        new = recorder.new
        new.top, new.rels = top, None if recorder.unmemoized else rels
        # a folder's times and listing differ from the memo's only if it was listed afresh
        new.dirty = self.dirty or recorder.fresh > 0 or any(
            getattr(new, f) != getattr(self, f) for f in ("top", "root", "paths", "links", "rels"))
        vars(self).update(vars(new))


class _Recorder:
    """Lists a folder (`_scan`) unless the memo's mtime, ctime and inode of it are its own, and
    records it for the new memo; also records each link resolved."""

    def __init__(self, memo: FolderMemo, root: str, now: float) -> None:
        """`root`: the real path of the folder walked; a memo of another (a relative `--data` from
        another working folder) is not used."""
        self.old, self.now = memo, now
        self.index = memo.index() if memo.root == root else {}
        self.new = FolderMemo()  # what this walk lists, as the memo will hold it
        self.new.root = root
        self.fresh = 0  # folders recorded from a listing, not the memo
        self.unmemoized = 0  # folders listed but not recorded: the next walk lists them again

    def __call__(self, folder: str) -> Listing | None:
        early = self.old._relisted.pop(folder, None)
        if early is not None:  # listed just now by `holds`, after this stat: the times cannot be newer
            st, entries = early
            return self._list(folder, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, entries)
        try:
            st = os.stat(folder)
        except OSError:
            self.unmemoized += 1
            return _scan(folder)
        mtime, ctime, ino = st.st_mtime_ns, st.st_ctime_ns, st.st_ino
        i = self.index.get(folder)
        old = self.old
        if i is not None and old.mtimes[i] == mtime and old.ctimes[i] == ctime and old.inodes[i] == ino:
            names, kinds = old.names[i], old.kinds[i]
            self.new.add(old.paths[i], mtime, ctime, ino, names, kinds)  # the path kept, not this copy
            return None if kinds == _OURS else (names.split("\0"), kinds)
        return self._list(folder, mtime, ctime, ino)

    def _list(self, folder: str, mtime: int, ctime: int, ino: int,
              entries: list[os.DirEntry] | None = None) -> Listing | None:
        entries = _entries(folder) if entries is None else entries
        if entries is None:
            self.unmemoized += 1
            return None  # unreadable: skipped
        names = [e.name for e in entries]
        listing = _listing(folder, entries, names)
        if not _vouches(names, mtime, ctime, ino, self.now):
            self.unmemoized += 1
        else:
            self.fresh += 1
            if listing is None:
                self.new.add(folder, mtime, ctime, ino, "", _OURS)
            else:
                self.new.add(folder, mtime, ctime, ino, "\0".join(listing[0]), listing[1])
        return listing

    def resolve(self, path: str) -> str | None:
        target = _resolve(path)
        self.new.links.append((path, target))
        return target


def _walk(top: str, prefix: str, listing: Callable[[str], Listing | None],
          resolve: Callable[[str], str | None]) -> Iterator[tuple[str, str]]:
    """The traversal of `files_under`, each folder's listing from `listing`, each link's real
    folder (None: not a folder) from `resolve`."""
    root = os.path.realpath(top)
    seen: set[str] = set()  # the real paths of the linked folders walked so far
    first = listing(top)
    if first is None:
        return
    sep = os.sep
    # one frame for the whole walk (not a yield passed up through one generator per folder level):
    # per open folder, its (name, kind) left, its path with a trailing separator, the prefix of its
    # files, its real path when reached through a link (None in the root's own tree)
    stack: list[tuple[Iterator[tuple[str, str]], str, str, str | None]] = [
        (zip(*first), _base(top), prefix, None)]
    while stack:
        entries, base, pre, real = stack[-1]
        for name, kind in entries:
            if name[0] == "." and not name.startswith("..__"):  # lm-eval's `..__<path>` folders are not hidden
                continue
            path = base + name
            if kind == _FILE:
                if not name.endswith(".tmp"):
                    yield path, pre + name
                continue
            if kind == _LINK:
                target = resolve(path)
                if target is None:  # a link to a file, or a broken one: a file
                    if not name.endswith(".tmp"):
                        yield path, pre + name
                    continue
            elif real is not None:  # a plain folder inside a linked one: its real path without a syscall
                target = real + sep + name
            else:  # the root's own tree: walked once by construction
                target = None
            if target is not None:
                if _inside(target, root) or target in seen:
                    continue
                seen.add(target)
            inner = listing(path)
            if inner is not None:
                stack.append((zip(*inner), path + sep, pre + name + "/", target))
                break
        else:
            stack.pop()


_NAME = operator.attrgetter("name")


def _vouches(names: list[str], mtime: int, ctime: int, ino: int, now: float) -> bool:
    """Can these times of a folder holding `names` vouch for its listing next time? Not when they
    are too recent, nor for an older output folder (ours by a file below it, which they do not
    cover), nor when they do not fit the memo's columns."""
    return not is_racy(mtime if mtime > ctime else ctime, now) \
        and not (".cache" in names and "index.html" in names) \
        and mtime in _INT64 and ctime in _INT64 and ino in _UINT64


def _base(top: str) -> str:
    """What a path under `top` starts with: `top/`, or nothing under "." (a file's path is then
    "a/r.json", as `str(Path)` gives it, not "./a/r.json")."""
    return "" if top == "." else os.path.join(top, "")


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + os.sep)


def _resolve(path: str) -> str | None:
    """The real folder a link leads to; None when it leads to no folder."""
    return os.path.realpath(path) if os.path.isdir(path) else None


def _scan(folder: str) -> Listing | None:
    """A folder's listing; None for an unreadable folder or one of our output folders."""
    entries = _entries(folder)
    return None if entries is None else _listing(folder, entries, [e.name for e in entries])


def _listing(folder: str, entries: list[os.DirEntry], names: list[str]) -> Listing | None:
    """The listing of a folder's entries (`names`: theirs); None for one of our output folders."""
    if is_output_folder(folder, names):
        return None  # ours: outputs are not evaluations
    try:
        return names, "".join([_LINK if e.is_symlink() else _DIR if e.is_dir() else _FILE for e in entries])
    except OSError:  # an entry gone or unreadable since it was listed
        return names, "".join(map(_kind, entries))


def _entries(folder: str) -> list[os.DirEntry] | None:
    """A folder's entries by name; None for an unreadable folder."""
    try:
        with os.scandir(folder) as it:
            entries = list(it)
    except OSError:
        return None
    if len(entries) > 1:  # a sweep's folders mostly hold one entry (`evals/<task>/eval_data/`)
        entries.sort(key=_NAME)
    return entries


def _kind(entry: os.DirEntry) -> str:
    """A link whatever it leads to, a plain folder, or a file (anything else)."""
    try:
        if entry.is_symlink():
            return _LINK
    except OSError:
        pass
    try:
        return _DIR if entry.is_dir() else _FILE
    except OSError:  # as os.path.isdir: not a folder
        return _FILE
