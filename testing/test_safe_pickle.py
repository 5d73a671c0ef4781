"""utils/safe_pickle.py: builtins load, anything else is refused (a cache that does not load reads as
none, and is said), and the garbage collector is left as it was found (it is paused only while a
cache loads)."""
from __future__ import annotations

import gc
import io
import logging
import pickle
from collections import OrderedDict
from pathlib import Path

import pytest

from utils.safe_pickle import load_builtins, read_builtins

CACHE_LIKE = ("v8", {"a/r.json": (120, 10**18, "evaluation_results", None, ("ok", (("e",), b"\0" * 8)), None)})


@pytest.mark.parametrize("collecting", [True, False], ids=["gc on", "gc off"])
@pytest.mark.parametrize("payload, loads", [
    (CACHE_LIKE, True),
    ([1.5, "x", None, {"k": [b"b"]}], True),
    (OrderedDict(a=1), False),  # a class: refused
    (Path("x"), False),
])
def test_builtins_load_others_are_refused_and_gc_is_left_as_found(payload, loads, collecting):
    data = pickle.dumps(payload, pickle.HIGHEST_PROTOCOL)
    (gc.enable if collecting else gc.disable)()
    try:
        if loads:
            assert load_builtins(io.BytesIO(data)) == payload
        else:
            with pytest.raises(pickle.UnpicklingError, match="unexpected object"):
                load_builtins(io.BytesIO(data))
        assert gc.isenabled() is collecting
    finally:
        gc.enable()


def test_a_truncated_pickle_raises_and_gc_is_back_on():
    data = pickle.dumps(CACHE_LIKE)[:-7]
    with pytest.raises(Exception):
        load_builtins(io.BytesIO(data))
    assert gc.isenabled()


@pytest.mark.parametrize("content, said", [(None, False), (b"\x80\x04garbage", True),
                                           (pickle.dumps(Path("x")), True), (pickle.dumps((1, ["a"])), False)])
def test_a_cache_that_is_missing_or_does_not_load_reads_as_none_and_is_said(content, said, tmp_path, caplog) -> None:
    path = tmp_path / "cache.pickle"
    if content is not None:
        path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        got = read_builtins(path, "view memo", "computing every part")
    assert got == ((1, ["a"]) if content is not None and not said else None)
    assert (f"view memo {path} is unreadable" in caplog.text and "computing every part" in caplog.text) == said
