"""When a file's size and mtime can vouch for its content, and its content digest when they cannot.

Shared by the parse cache and the no-op check, which compare each other's digests; kept free of
pandas so the no-op check stays cheap.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

RACY_SECONDS = 2.0  # an mtime this recent may hide a same-size rewrite: hash the content too


def is_racy(mtime_ns: int, now: float) -> bool:
    """True when the mtime is too recent (relative to `now`, in seconds) to vouch for the content."""
    return now - mtime_ns / 1e9 < RACY_SECONDS


def content_digest(path: Path) -> str | None:
    """Digest of the file's bytes; None if it cannot be read."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
    except OSError:
        return None
