"""runner/memory.py: with the threshold fixed, an array a run frees leaves the process's memory."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from testing_helpers import REPO

PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from runner.memory import return_freed_memory
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    fixed = return_freed_memory() if sys.argv[1] == "fixed" else False
    a = np.ones(30 << 17)  # 30 MB, freed: glibc would raise its mmap threshold to this (the fixed one is 8 MB)
    del a
    b = np.ones(20 << 17)  # 20 MB, then something after it on the heap
    c = np.ones(1000)
    held = rss()
    del b
    print(fixed, held - rss())
""")


def freed(mode: str) -> tuple[str, int]:
    out = subprocess.run([sys.executable, "-c", PROBE, mode], cwd=REPO, capture_output=True, text=True, check=True)
    fixed, mb = out.stdout.split()
    return fixed, int(mb)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, /proc")
def test_a_freed_20_mb_array_is_returned_to_the_system():
    fixed, mb = freed("fixed")
    if fixed != "True":
        pytest.skip("a C library without mallopt's M_MMAP_THRESHOLD (musl)")
    assert mb >= 19
    _, kept = freed("default")
    assert kept < mb  # glibc's default keeps it in the heap: what the setting changes


TRIM_PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from runner.memory import return_freed_memory, trim_heap
    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) // 1024
    return_freed_memory()
    parts = [np.ones(4 << 17) for _ in range(20)]  # 20 x 4 MB, under the 8 MB threshold: on the heap
    top = np.ones(300 << 7)  # 300 KB after them: the heap cannot shrink from its top
    del parts
    held = rss()
    trimmed = trim_heap() if sys.argv[1] == "trim" else False
    print(trimmed, held - rss())
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc, /proc")
@pytest.mark.parametrize("mode, returned", [("trim", True), ("keep", False)])
def test_freed_arrays_inside_the_heap_are_returned_by_a_trim(mode: str, returned: bool):
    out = subprocess.run([sys.executable, "-c", TRIM_PROBE, mode], cwd=REPO, capture_output=True, text=True, check=True)
    trimmed, mb = out.stdout.split()
    if mode == "trim" and trimmed != "True":
        pytest.skip("a C library without malloc_trim (musl)")
    assert (int(mb) >= 60) is returned  # 80 MB freed under a live array
