"""Atomic file writes: a viewer (or a crash) never sees half a file."""
from __future__ import annotations

import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_open(path: Path | str, mode: str = "w", encoding: str | None = "utf-8",
                vacate: bool = False) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success rename it over `path`, else remove it.

    `vacate`: remove `path` just before the rename, for files of hundreds of MB. Renaming over an
    existing file makes ext4 start writing the new file's data out then and there (its
    `auto_da_alloc` safeguard: 0.2-0.9 s for a 770 MB table), renaming to a free name does not. A
    reader may then find no file for the microseconds between the two, never a partial one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.chmod(tmp, 0o644)
        if vacate:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text(path: Path | str, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_pickle(path: Path | str, value: object) -> None:
    """Pickle `value` into `path` atomically, streamed: never the whole pickle in memory at once
    (the parse cache of 100,000 files is 160 MB: `pickle.dumps` would hold that much more)."""
    with atomic_open(path, "wb") as fh:
        pickle.dump(value, fh, pickle.HIGHEST_PROTOCOL)
