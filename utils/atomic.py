"""Atomic file writes: a viewer (or a crash) never sees half a file."""
from __future__ import annotations

import os
import pickle
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator


@contextmanager
def atomic_open(path: Path | str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success rename it over `path`, else remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
        os.chmod(tmp, 0o644)
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
