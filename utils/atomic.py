"""Atomic file writes: a viewer (or a crash) never sees half a file."""
from __future__ import annotations

import ctypes
import functools
import os
import pickle
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator


@contextmanager
def atomic_open(path: Path | str, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside `path`; on success rename it over `path`, else remove it. A
    reader finds the old file or the new one, never half of one (a table of hundreds of MB is
    written by runner/blocks.py, which keeps the file it replaces: `exchange_names`)."""
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


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


@functools.lru_cache(maxsize=1)
def _renameat2() -> Callable[..., int] | None:
    """The C library's renameat2 (glibc 2.28 and later, on Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    return fn


def exchange_names(a: Path | str, b: Path | str) -> bool:
    """Swap the names `a` and `b` in one step; False, nothing done, where that cannot be done (no
    renameat2, a kernel or file system without the flag, `b` not there). Replacing a file this way
    keeps it (under `a`) and does not make ext4 start writing the new one out then and there, as
    renaming over an existing file does (its `auto_da_alloc` safeguard: 0.2-0.9 s for 770 MB)."""
    fn = _renameat2()
    return fn is not None and fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0


def write_text(path: Path | str, text: str) -> None:
    with atomic_open(path, "w") as fh:
        fh.write(text)


def write_pickle(path: Path | str, value: object) -> None:
    """Pickle `value` into `path` atomically, streamed: never the whole pickle in memory at once
    (the parse cache of 100,000 files is 160 MB: `pickle.dumps` would hold that much more)."""
    with atomic_open(path, "wb") as fh:
        pickle.dump(value, fh, pickle.HIGHEST_PROTOCOL)
