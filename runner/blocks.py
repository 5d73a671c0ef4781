"""Tables written block by block: a rebuild formats only the blocks whose rows changed, and copies
the others' bytes from the file the last run wrote.

`tables/metrics.csv` holds every record (5.58 M rows, 770 MB for a 100,000-file sweep); formatting
it is the single most expensive output of a rebuild, yet one changed evaluation file changes the
rows of one experiment. A table registered with `blocks_by="experiment"` is the header followed by
each run of rows with the same experiment. Each block is named by a hash of its rows and of what
else its text depends on (the table's code, the rules, the pandas version). After writing the
table, the writer keeps its layout in `<out>/.cache/blocks/<table>/layout.json`: each block's
name and its byte range in the file, with the file's size, times and inode. A rebuild whose table
file is still the one that layout describes copies each unchanged block's bytes from it
(`os.copy_file_range` where the system has it: the bytes need not pass through this process) and
formats the rest; a table file changed or removed by anyone else is not read: every block is
formatted again.

The new file is written into the one the run before replaced, kept under the cache folder as
`spare`, and takes the table's name by exchanging names with it: the replaced file is the next
spare. Writing 770 MB over a file's own pages costs the system ~0.15 s; into a new file, with the old
one freed, 0.3-2.4 s of CPU (the pages are allocated, and on a virtual machine given back to the host
and faulted in again). A spare is overwritten only while no one else has it: a plain file with no
other name (a link a user made to an old table keeps its bytes) and open in no process (a reader of
the old table still reading it); else a new file takes its name. The cost: the cache holds the
table's previous version on disk.

The file written is byte for byte what the table function returns for the whole view: a block
whose text does not start with the header the function writes for no rows (so the table is not a
plain concatenation) makes the whole table render in one piece, and keeps no layout.
"""
from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from utils.atomic import exchange_names, write_text
from utils.hashing import row_hashes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

LAYOUT = "layout.json"
LAYOUT_VERSION = "layout-1"
SPARE = "spare"  # the table file the last run replaced: the next run writes into it
_LEGACY_SUFFIX = ".block"  # the block files of earlier versions, one per block: removed on sight
_ASIDE = "replaced-"  # a table file earlier versions linked here while discarding it: removed on sight


def runs(column: "pd.Series") -> list[tuple[int, int]]:
    """(start, stop) row positions of each run of equal consecutive values. A categorical without a
    missing value is compared on its codes: the sweep's 5.58 million records are not turned into an
    array of strings first (0.2 -> 0.015 s)."""
    import numpy as np
    import pandas as pd

    from utils.labels import codes_of  # lazily, as pandas: the no-op path imports this module
    values = codes_of(column) if isinstance(column.dtype, pd.CategoricalDtype) else None
    if values is None or (values < 0).any():
        values = column.to_numpy()
    if not len(values):
        return []
    cuts = (np.flatnonzero(values[1:] != values[:-1]) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(values)]))


@dataclass(frozen=True)
class Source:
    """The table file the last run wrote, as its layout recorded it: (size, mtime_ns, ctime_ns,
    inode). Any write, rename or replacement by someone else changes one of them."""

    path: str
    identity: tuple[int, int, int, int]


@dataclass(frozen=True)
class Blocks:
    """A blocked table as a run hands it to the worker that writes it: every block's name in the
    table's order; for a block whose bytes are in the last run's file (`source`), its byte range
    there (`ranges[i]`, else None); and the rows of only the other blocks (`rows`, in order;
    `spans[i]` is block i's (start, stop) in `rows`, or None when it is copied).

    Planned in the main process, which hashes the rows for the output's fingerprint anyway, so a
    worker receives a few hundred rows instead of the whole table (5.58 M rows in a 100,000-file
    sweep) and hashes nothing. A cold table of millions of rows goes through a file instead
    (`spool`, written by runner/spool.py; `rows` is then empty) and is read a slice at a time."""

    names: tuple[str, ...]
    spans: tuple[tuple[int, int] | None, ...]
    rows: "pd.DataFrame"
    spool: Path | None = None
    ranges: tuple[tuple[int, int] | None, ...] = ()
    source: Source | None = None

    @property
    def complete(self) -> bool:
        """Every block's rows are here: the table can be rendered whole if it must."""
        return all(span is not None for span in self.spans)


class BlockCacheLost(Exception):
    """The last run's table file changed between planning and writing, or the table stopped being
    a concatenation of its blocks while some were to be copied: the next run formats it whole."""


def plan_blocks(data: "pd.DataFrame", column: str, target: Path, cache: Path, salt: str,
                hashes: "np.ndarray | None" = None, fresh: bool = False) -> Blocks:
    """Which blocks of `data` (runs of equal `column` values) can be copied from the table file
    `target` as the last run wrote it (its layout kept under `cache`), and the rows of the others.
    `salt` identifies everything but the rows that the text depends on; `hashes`: `row_hashes(data)`
    when the caller has it; `fresh`: copy nothing (every block formatted, as `--force` asks)."""
    import pandas as pd
    if column not in data.columns or len(data) == 0:
        return Blocks((), (), data)
    hashes = row_hashes(data) if hashes is None else hashes
    kept, source = ({}, None) if fresh else read_layout(cache, target)
    columns = f"{salt}|{pd.__version__}|{list(data.columns)}|{list(map(str, data.dtypes))}".encode()
    names, spans, ranges, keep = [], [], [], []
    size = 0
    for start, stop in runs(data[column]):
        name = hashlib.blake2b(columns + hashes[start:stop].tobytes(), digest_size=16).hexdigest()
        names.append(name)
        copied = kept.get(name)
        ranges.append(copied)
        if copied is not None:
            spans.append(None)
        else:
            spans.append((size, size + stop - start))
            keep.append((start, stop))
            size += stop - start
    if len(keep) == len(names):
        rows, source = data, None
    else:
        import numpy as np
        index = np.concatenate([np.arange(a, b) for a, b in keep]) if keep else np.arange(0)
        rows = data.iloc[index]
    return Blocks(tuple(names), tuple(spans), rows, ranges=tuple(ranges) if source else (), source=source)


def write_blocks(render: Callable[["pd.DataFrame"], str], blocks: Blocks, target: Path, cache: Path) -> None:
    """Write the table into `target` (atomically): the header, then each block copied from the
    last run's file or its rows rendered; then keep its layout under `cache` for the next run. The
    text is written piece by piece: a table of millions of rows is never held whole in memory.

    A table whose blocks do not each start with the header it writes for no rows is not a
    concatenation: rendered whole when every row is at hand (always so on a cold run)."""
    layout, spare = cache / LAYOUT, cache / SPARE
    _forget_leftovers(cache)
    try:
        with _open_spare(spare) as fh:
            source = _open_source(blocks.source) if blocks.source is not None and any(blocks.ranges) else None
            try:
                if blocks.spool is None:
                    offsets = _write_rows(render, blocks, lambda a, b: blocks.rows.iloc[a:b], lambda: blocks.rows,
                                          source, fh)
                else:
                    from runner.spool import SpoolReader, read_spool
                    with SpoolReader(blocks.spool) as spool:
                        offsets = _write_rows(render, blocks, spool.rows, lambda: read_spool(blocks.spool), source, fh)
            finally:
                if source is not None:
                    source.close()  # before the new file replaces it (Windows cannot replace an open file)
            fh.truncate()  # a spare written over may have been longer
    except BlockCacheLost:
        _forget(layout)  # so the next run copies nothing and formats the table whole
        raise
    # One step, so a reader finds the old table or the new one, never none or half of one; the replaced
    # file is the next spare. Renaming over instead (no exchange here, or no table yet) frees it.
    target.parent.mkdir(parents=True, exist_ok=True)
    if not exchange_names(spare, target):
        os.replace(spare, target)
    if offsets is not None:
        st = os.stat(target)
        write_text(layout, json.dumps({"version": LAYOUT_VERSION, "file": _identity(st),
                                       "names": list(blocks.names), "offsets": offsets}))
    else:
        _forget(layout)


def render_in_blocks(render: Callable[["pd.DataFrame"], str], data: "pd.DataFrame", column: str,
                     target: Path, cache: Path, salt: str, hashes: "np.ndarray | None" = None) -> None:
    """`render(data)` written into `target`, with the blocks whose rows are unchanged copied from
    the last run's file (`plan_blocks`, then `write_blocks`, in one process)."""
    write_blocks(render, plan_blocks(data, column, target, cache, salt, hashes), target, cache)


def read_layout(cache: Path, target: Path) -> tuple[dict[str, tuple[int, int]], Source | None]:
    """Each block's byte range in `target` as the layout kept under `cache` records it, and the
    file's `Source`; nothing when there is no layout, it does not read, or `target` is not the
    file it describes (changed, replaced or removed since)."""
    try:
        with open(cache / LAYOUT, encoding="utf-8") as fh:
            saved = json.load(fh)
        st = os.stat(target)
    except (OSError, ValueError):
        return {}, None
    if not isinstance(saved, dict) or saved.get("version") != LAYOUT_VERSION:
        return {}, None
    names, offsets, identity = saved.get("names"), saved.get("offsets"), saved.get("file")
    if not (isinstance(names, list) and isinstance(offsets, list) and len(offsets) == len(names) + 1
            and all(isinstance(n, int) for n in offsets) and all(isinstance(n, str) for n in names)
            and offsets == sorted(offsets) and offsets[0] >= 0 and offsets[-1] == st.st_size
            and identity == list(_identity(st))):
        return {}, None
    return dict(zip(names, zip(offsets, offsets[1:]))), Source(os.fspath(target), _identity(st))


def _identity(st: os.stat_result) -> tuple[int, int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


_BATCH_ROWS = 100_000  # uncached blocks side by side are formatted together, up to this many rows


def _write_rows(render: Callable[["pd.DataFrame"], str], blocks: Blocks, take: Callable[[int, int], "pd.DataFrame"],
                whole: Callable[[], "pd.DataFrame"], source: IO[bytes] | None, into: IO[bytes]) -> list[int] | None:
    """`write_blocks`' text, UTF-8 encoded, into `into`, with the copied blocks' bytes from
    `source` and the others' rows `take(start, stop)`, asked for in ascending order, or `whole()`
    at once (a table that is not a concatenation of its blocks). Returns the byte offset in `into`
    of each block's start and of the end; None when written whole."""
    if not blocks.names:
        into.write(render(whole()).encode())
        return None
    header = render(take(0, 0))
    into.write(header.encode())
    offsets = [into.tell()]
    i = 0
    while i < len(blocks.names):
        if blocks.spans[i] is None:
            j = i + 1  # the copied blocks from i on whose bytes lie side by side in the source
            while j < len(blocks.names) and blocks.spans[j] is None \
                    and blocks.ranges[j][0] == blocks.ranges[j - 1][1]:
                j += 1
            _copy_range(source, blocks.ranges[i][0], blocks.ranges[j - 1][1], into)
            for a, b in blocks.ranges[i:j]:
                offsets.append(offsets[-1] + b - a)
            i = j
            continue
        span = blocks.spans[i]
        j = i + 1  # the uncached blocks from i on, formatted in one call (a cold run: all of them)
        while j < len(blocks.names) and blocks.spans[j] is not None and blocks.spans[j][1] - span[0] <= _BATCH_ROWS:
            j += 1
        first = span[0]
        texts = _render_batch(render, take(first, blocks.spans[j - 1][1]), blocks.spans[i:j], header, first)
        if texts is None:  # not a concatenation of its blocks
            if blocks.complete:
                into.seek(0)
                into.truncate()
                into.write(render(whole()).encode())
                return None
            raise BlockCacheLost("the table is no longer a concatenation of its blocks; the next run "
                                 "writes it whole")
        for text in texts:
            into.write(text)
            offsets.append(offsets[-1] + len(text))
        i = j
    return offsets


def _open_spare(spare: Path) -> IO[bytes]:
    """The file a table is written into: the spare, to be written over from its start, where it is
    ours alone (`_ours_alone`); else a new file under its name (the old name let go, not its file)."""
    spare.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(spare, flags)
    except OSError:  # none yet, or a link
        fd = -1
    if fd >= 0:
        if _ours_alone(fd):
            return os.fdopen(fd, "wb")  # not truncated: the pages are written over, not freed
        os.close(fd)
    _forget(spare)
    fd = os.open(spare, flags | os.O_CREAT | os.O_EXCL, 0o644)
    os.chmod(spare, 0o644)  # as every output (utils/atomic.py), whatever the umask
    return os.fdopen(fd, "wb")


def _ours_alone(fd: int) -> bool:
    """May this spare be written over: a plain file without another name, that no process has
    open? Asked by taking a write lease, which Linux grants only while no other descriptor of the
    file is open or mapped, and giving it back at once; where there are no leases, never."""
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        return False
    try:
        import fcntl
        import signal
        setlease = fcntl.F_SETLEASE
        # should anyone open it in the moment the lease is held, the kernel tells the holder with a
        # signal: one ignored by default (SIGIO, the default, would end this process)
        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGWINCH)
        fcntl.fcntl(fd, setlease, fcntl.F_WRLCK)
    except (ImportError, AttributeError, OSError):  # not Linux; someone has it open; a file system without leases
        return False
    fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)
    return True


def _open_source(source: Source) -> IO[bytes]:
    """The last run's table file, opened for copying: still the file its layout describes?"""
    try:
        fh = open(source.path, "rb", buffering=0)
    except OSError as exc:
        raise BlockCacheLost(f"{source.path} vanished while this run rewrote it ({exc}); "
                             "the next run writes it whole") from None
    if _identity(os.fstat(fh.fileno())) != source.identity:
        fh.close()
        raise BlockCacheLost(f"{source.path} changed while this run rewrote it; the next run writes it whole")
    return fh


_CHUNK = 1 << 24  # bytes read at a time where the system cannot copy between files itself


def _copy_range(source: IO[bytes], start: int, stop: int, into: IO[bytes]) -> None:
    """Write bytes [start, stop) of `source` at `into`'s position (flushed first, then moved past
    them). In the kernel where it can (`os.copy_file_range`: Linux, same file system), else read
    and written a chunk at a time."""
    into.flush()
    at, base, copy = start, into.tell() - start, getattr(os, "copy_file_range", None)
    while at < stop and copy is not None:
        try:
            n = copy(source.fileno(), into.fileno(), stop - at, at, base + at)
        except OSError:  # another file system, or a kernel without it: copied by hand from here
            break
        if n == 0:
            raise BlockCacheLost(f"{source.name} ended before its layout said: the next run writes it whole")
        at += n
    into.seek(base + at)
    if at < stop:
        source.seek(at)
        while at < stop:
            data = source.read(min(_CHUNK, stop - at))
            if not data:
                raise BlockCacheLost(f"{source.name} ended before its layout said: the next run writes it whole")
            into.write(data)
            at += len(data)


def _render_batch(render: Callable[["pd.DataFrame"], str], rows: "pd.DataFrame", spans: tuple,
                  header: str, first: int) -> list[bytes] | None:
    """The UTF-8 texts of consecutive blocks (`spans`, adjacent, in positions from `first`: `rows`
    holds exactly them), formatted in one call and cut at their row boundaries when each row is one
    line (found as the positions of the line ends in the bytes, not by splitting the text into
    lines); else formatted one block at a time (a value holding a line break). None when a block's
    text does not start with the header."""
    import numpy as np
    start, stop = spans[0][0], spans[-1][1]
    if len(spans) > 1:
        whole = render(rows)
        if whole.startswith(header):
            body = whole[len(header):].encode()
            ends = np.flatnonzero(np.frombuffer(body, dtype=np.uint8) == ord("\n"))
            if len(ends) == stop - start and body.endswith(b"\n"):
                cuts = [0, *(ends[[b - start - 1 for _, b in spans]] + 1).tolist()]
                return [body[a:b] for a, b in zip(cuts, cuts[1:])]
    texts = []
    for a, b in spans:
        whole = render(rows.iloc[a - first:b - first])
        if not whole.startswith(header):
            return None
        texts.append(whole[len(header):].encode())
    return texts


def _forget(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _forget_leftovers(cache: Path) -> None:
    """Remove what earlier versions left under `cache`: the block files (one per block) and a table
    set aside by a killed writer."""
    try:
        names = os.listdir(cache)
    except OSError:
        return
    for name in names:
        if name.endswith(_LEGACY_SUFFIX) or name.startswith(_ASIDE):
            _forget(cache / name)
