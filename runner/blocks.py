"""Tables written block by block: a rebuild reformats only the blocks whose rows changed.

`tables/metrics.csv` holds every record (333k rows at paper scale); formatting it is the single
most expensive output of a rebuild (1.4 s), yet one changed evaluation file changes the rows of
one experiment. A table registered with `blocks_by="experiment"` is the header followed by each
run of rows with the same experiment; each block's text is kept in `<out>/.cache/blocks/<table>/`
under a hash of its rows and of what else the text depends on (the table's code, the rules, the
pandas version), and reused while that holds. The file written is byte for byte what the table
function returns for the whole view: a block whose text does not start with the header the
function writes for no rows (so the table is not a plain concatenation) makes the whole table
render in one piece.
"""
from __future__ import annotations

import codecs
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable

from utils.atomic import write_text
from utils.hashing import row_hashes

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

_SUFFIX = ".block"


def runs(column: "pd.Series") -> list[tuple[int, int]]:
    """(start, stop) row positions of each run of equal consecutive values."""
    import numpy as np
    values = column.to_numpy()
    if not len(values):
        return []
    cuts = (np.flatnonzero(values[1:] != values[:-1]) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(values)]))


@dataclass(frozen=True)
class Blocks:
    """A blocked table as a run hands it to the worker that writes it: every block's cache file
    in the table's order, and the rows of only those blocks that are not cached (`rows`, in
    order; `spans[i]` is block i's (start, stop) in `rows`, or None when its text is cached).

    Planned in the main process, which hashes the rows for the output's fingerprint anyway, so a
    worker receives a few hundred rows instead of the whole table (333k rows at paper scale) and
    hashes nothing. A cold table of millions of rows goes through a file instead (`spool`, written
    by runner/spool.py; `rows` is then empty) and is read a slice at a time."""

    names: tuple[str, ...]
    spans: tuple[tuple[int, int] | None, ...]
    rows: "pd.DataFrame"
    spool: Path | None = None

    @property
    def complete(self) -> bool:
        """Every block's rows are here: the table can be rendered whole if it must."""
        return all(span is not None for span in self.spans)


class BlockCacheLost(Exception):
    """A cached block vanished between planning and writing (another process pruned the cache)."""


def plan_blocks(data: "pd.DataFrame", column: str, cache: Path, salt: str,
                hashes: "np.ndarray | None" = None) -> Blocks:
    """Which blocks of `data` (runs of equal `column` values) are cached under `cache`, and the
    rows of the others. `salt` identifies everything but the rows that the text depends on;
    `hashes`: `row_hashes(data)` when the caller has it."""
    import pandas as pd
    if column not in data.columns or len(data) == 0:
        return Blocks((), (), data)
    hashes = row_hashes(data) if hashes is None else hashes
    columns = f"{salt}|{pd.__version__}|{list(data.columns)}|{list(map(str, data.dtypes))}".encode()
    names, spans, keep = [], [], []
    size = 0
    for start, stop in runs(data[column]):
        name = hashlib.blake2b(columns + hashes[start:stop].tobytes(), digest_size=16).hexdigest() + _SUFFIX
        names.append(name)
        if _cached(cache / name):
            spans.append(None)
        else:
            spans.append((size, size + stop - start))
            keep.append((start, stop))
            size += stop - start
    if len(keep) == len(names):
        rows = data
    else:
        import numpy as np
        index = np.concatenate([np.arange(a, b) for a, b in keep]) if keep else np.arange(0)
        rows = data.iloc[index]
    return Blocks(tuple(names), tuple(spans), rows)


def write_blocks(render: Callable[["pd.DataFrame"], str], blocks: Blocks, cache: Path,
                 into: IO[str] | None = None) -> str | None:
    """The table's text: the header, then each block's cached text or its rows rendered (and
    cached). Blocks this table no longer uses are removed from `cache`. With `into` (a file open
    for writing, at its start) the text is written there piece by piece and None returned: a
    table of millions of rows is never held whole in memory.

    A table whose blocks do not each start with the header it writes for no rows is not a
    concatenation: rendered whole when every row is at hand (always so without a cache)."""
    if into is None:
        buf = io.StringIO()
        _write_blocks(render, blocks, cache, buf)
        return buf.getvalue()
    _write_blocks(render, blocks, cache, into)
    return None


_BATCH_ROWS = 100_000  # uncached blocks side by side are formatted together, up to this many rows


def _write_blocks(render: Callable[["pd.DataFrame"], str], blocks: Blocks, cache: Path, into: IO[str]) -> None:
    if blocks.spool is None:
        _write_rows(render, blocks, lambda a, b: blocks.rows.iloc[a:b], lambda: blocks.rows, cache, into)
        return
    from runner.spool import SpoolReader, read_spool
    with SpoolReader(blocks.spool) as spool:
        _write_rows(render, blocks, spool.rows, lambda: read_spool(blocks.spool), cache, into)


def _write_rows(render: Callable[["pd.DataFrame"], str], blocks: Blocks, take: Callable[[int, int], "pd.DataFrame"],
                whole: Callable[[], "pd.DataFrame"], cache: Path, into: IO[str]) -> None:
    """`_write_blocks` with the uncached rows `take(start, stop)`, asked for in ascending order, or
    `whole()` at once (a table that is not a concatenation of its blocks)."""
    if not blocks.names:
        into.write(render(whole()))
        return
    header = render(take(0, 0))
    into.write(header)
    i = 0
    while i < len(blocks.names):
        name, span = blocks.names[i], blocks.spans[i]
        if span is None:
            if not _copy(cache / name, into):
                raise BlockCacheLost(f"cached block {cache / name} vanished while this run wrote the table; "
                                     "the next run writes it again")
            i += 1
            continue
        j = i + 1  # the uncached blocks from i on, formatted in one call (a cold run: all of them)
        while j < len(blocks.names) and blocks.spans[j] is not None and blocks.spans[j][1] - span[0] <= _BATCH_ROWS:
            j += 1
        first = span[0]
        texts = _render_batch(render, take(first, blocks.spans[j - 1][1]), blocks.spans[i:j], header, first)
        if texts is None:  # not a concatenation of its blocks
            _forget_others(cache, set())  # so no later run finds some blocks cached
            if blocks.complete:
                into.seek(0)
                into.truncate()
                into.write(render(whole()))
                return
            raise BlockCacheLost(f"the table is not a concatenation of its blocks; its block cache "
                                 f"{cache} was cleared, the next run writes it whole")
        for block, text in zip(blocks.names[i:j], texts):
            write_text(cache / block, text)
            into.write(text)
        i = j
    _forget_others(cache, set(blocks.names))


def _render_batch(render: Callable[["pd.DataFrame"], str], rows: "pd.DataFrame", spans: tuple,
                  header: str, first: int) -> list[str] | None:
    """The texts of consecutive blocks (`spans`, adjacent, in positions from `first`: `rows` holds
    exactly them), formatted in one call and cut at their row boundaries when each row is one line;
    else formatted one block at a time (a value holding a line break). None when a block's text does
    not start with the header."""
    start, stop = spans[0][0], spans[-1][1]
    if len(spans) > 1:
        whole = render(rows)
        body = whole[len(header):]
        if whole.startswith(header) and body.count("\n") == stop - start and body.endswith("\n"):
            lines = body.split("\n")
            return ["\n".join(lines[a - start:b - start]) + "\n" for a, b in spans]
    texts = []
    for a, b in spans:
        whole = render(rows.iloc[a - first:b - first])
        if not whole.startswith(header):
            return None
        texts.append(whole[len(header):])
    return texts


def render_in_blocks(render: Callable[["pd.DataFrame"], str], data: "pd.DataFrame", column: str,
                     cache: Path, salt: str, hashes: "np.ndarray | None" = None,
                     into: IO[str] | None = None) -> str | None:
    """`render(data)`, put together from cached block texts where their rows are unchanged
    (`plan_blocks`, then `write_blocks`, in one process); written to `into` when given."""
    return write_blocks(render, plan_blocks(data, column, cache, salt, hashes), cache, into)


def _cached(path: Path) -> bool:
    """A non-empty block file: a block of rows is never empty text."""
    try:
        return path.stat().st_size > 0
    except OSError:
        return False


def _copy(path: Path, into: IO[str]) -> bool:
    """Append a cached block's text to `into`; False when it is gone or empty. Into a UTF-8 file the
    bytes go as they are (a 770 MB metrics.csv of cached blocks is not decoded and encoded again)."""
    buffer = getattr(into, "buffer", None)
    if buffer is None or codecs.lookup(getattr(into, "encoding", None) or "ascii").name != "utf-8":
        text = _read(path)
        if text:
            into.write(text)
        return bool(text)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return False
    if data:
        into.flush()
        buffer.write(data)
    return bool(data)


def _read(path: Path) -> str | None:
    """A cached block's text exactly as written (a "\r\n" inside a quoted value stays one)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            return fh.read()
    except (OSError, UnicodeDecodeError):
        return None


def _forget_others(cache: Path, used: set[str]) -> None:
    try:
        names = os.listdir(cache)
    except OSError:
        return
    for name in names:
        if name.endswith(_SUFFIX) and name not in used:
            try:
                os.unlink(cache / name)
            except OSError:
                pass
