"""Memory a run frees goes back to the system, so the next view does not count it twice.

glibc's malloc serves a request of 128 KB or more with its own mapping, returned to the system when
freed, but each such free raises that threshold to the size freed (up to 32 MB). After the first
big temporary array, every later array up to 32 MB (the codes and numbers of a few million rows)
comes from the heap, whose freed holes are kept by the process. Computing the overview of a log
tree of 5 million records left 230 MB of such holes. A fixed threshold (`MMAP_THRESHOLD`) keeps
big arrays in mappings of their own: freed, they are gone from the process's memory.

Each such array is mapped afresh, its pages zeroed by the system: at 1 MB the views of a one-file
rerun of the 100,000-file sweep took ~0.5 s longer; at 8 MB ~0.2 s, with the same peak memory
(cold peak PSS, medians: log tree 1,398 / 1,409 MB and 1,788 without; sweep 1,260-1,333 /
1,279-1,296 MB and 1,423-1,464 without).

Smaller arrays (a few million one-byte codes, a panel's rows) still come from the heap, and a
heap shrinks only from its top: `trim_heap` gives back the free pages inside it, once a view is
computed (log tree: 60-90 MB less at the next view's peak).
"""
from __future__ import annotations

import ctypes
import gc
import sys
from contextlib import contextmanager
from typing import Callable, Iterator

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
MMAP_THRESHOLD = 8 << 20  # arrays of 8 MB and more: a million numbers


def _glibc(name: str) -> Callable[..., int] | None:
    """The C library's function `name` on Linux, or None where there is none (macOS, musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD` for this process (and the workers it forks
    later); False where the C library has no such setting (macOS, musl): nothing changes there."""
    mallopt = _glibc("mallopt")
    return mallopt is not None and mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1


def trim_heap() -> bool:
    """Give the free pages inside the heap back to the system (glibc's `malloc_trim`); True when
    some were. False where the C library has no such call: nothing changes there."""
    malloc_trim = _glibc("malloc_trim")
    return malloc_trim is not None and malloc_trim(0) == 1


# The cyclic garbage collector, every 20,000 allocations instead of 700, while a run computes
# (main process) or an output is drawn (worker). A figure allocates ~10^5 objects that live until
# it is closed: at 700 the collector ran ~500 times over them while the 19 paper-scale figures
# were drawn, 8% of the drawing time; at 20,000, 17 times and 1%. A one-file rerun of the
# 100,000-file sweep (its listing, the saved table's 101,500 file statuses, the views) spent
# 0.8-1.3 s of its main process's CPU in 1,500 collections, 5-6 of them over the whole heap that
# found nothing; at 20,000, 0.45 s in 52.
FEWER_COLLECTIONS = (20000, 50, 50)


@contextmanager
def collecting_less() -> Iterator[None]:
    """The cyclic garbage collector at FEWER_COLLECTIONS for the duration; the process's own
    threshold after, also after an error."""
    before = gc.get_threshold()
    gc.set_threshold(*FEWER_COLLECTIONS)
    try:
        yield
    finally:
        gc.set_threshold(*before)
