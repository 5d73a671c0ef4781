"""The last load saved beside the manifest (utils/table_snapshot.py): read back as it was saved,
under its key only, and a damaged file is ignored with a warning, never trusted."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from testing_helpers import write_eval
from utils.hashing import row_hashes
from utils.loading import ParseCache, load
from utils.table_snapshot import read_table, save_table, table_key


@pytest.fixture
def loaded(small_tree: Path, config):
    """The small tree with one unreadable file and one with a missing value, loaded."""
    write_eval(small_tree, "pt1_ft1-1", "broken", "{not json")
    write_eval(small_tree, "pt1_ft1-2", "angle", {"checkpoint-1000": {"eval_angle_metric_mean": float("nan")},
                                                  "checkpoint-2000": {"eval_angle_metric_mean": 3.5}})
    result = load(small_tree, config, ParseCache())
    assert result.problems and result.notes and result.by_file
    stamps = {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in small_tree.rglob("*") if p.is_file()}
    return result, stamps, table_key(config, small_tree)


def test_a_saved_table_reads_back_as_it_was(loaded, tmp_path: Path) -> None:
    result, stamps, key = loaded
    racy = {next(iter(stamps)): "abc123"}
    save_table(tmp_path / "table.npz", result, stamps, racy, key)
    got_stamps, got_racy, got = read_table(tmp_path / "table.npz", key)
    assert got_stamps == stamps and got_racy == racy
    pd.testing.assert_frame_equal(got.frame, result.frame, check_exact=True, check_categorical=True)
    assert [got.frame[c].dtype for c in got.frame] == [result.frame[c].dtype for c in result.frame]
    assert got.statuses == result.statuses and got.paths == result.paths and got.by_file
    for name in ("problems", "notes", "partial", "skipped"):
        assert list(map(str, getattr(got, name))) == list(map(str, getattr(result, name))), name
    assert got.row_hashes is None  # none known, none kept


def test_the_row_hashes_are_kept_with_the_table(loaded, tmp_path: Path) -> None:
    result, stamps, key = loaded
    result.row_hashes = row_hashes(result.frame)
    save_table(tmp_path / "table.npz", result, stamps, {}, key)
    np.testing.assert_array_equal(read_table(tmp_path / "table.npz", key)[2].row_hashes, row_hashes(result.frame))


def test_a_table_saved_under_other_rules_or_another_root_is_not_read(loaded, tmp_path: Path, config) -> None:
    result, stamps, key = loaded
    save_table(tmp_path / "table.npz", result, stamps, {}, key)
    assert read_table(tmp_path / "table.npz", table_key(config, tmp_path)) is None
    assert read_table(tmp_path / "missing.npz", key) is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pickled object", "short column", "short hashes",
                                    "unsorted categories"])
def test_a_damaged_table_is_ignored_and_said(loaded, tmp_path: Path, damage: str, caplog) -> None:
    result, stamps, key = loaded
    target = tmp_path / "table.npz"
    result.row_hashes = row_hashes(result.frame)
    save_table(target, result, stamps, {}, key)
    if damage == "garbage":
        target.write_bytes(b"PK\x03\x04" + bytes(200))
    elif damage == "truncated":
        target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    else:
        with np.load(target, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        if damage == "pickled object":
            arrays["values:value"] = np.array([object()] * len(result.frame), dtype=object)
        elif damage == "short column":
            arrays["values:step"] = arrays["values:step"][:-1]
        elif damage == "unsorted categories":  # the codes would name other labels
            meta = json.loads(arrays["meta"].tobytes().decode())
            meta["categories"]["experiment"].reverse()
            arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        else:
            arrays["row_hashes"] = arrays["row_hashes"][:-1]
        with open(target, "wb") as fh:
            np.savez(fh, **arrays)
    with caplog.at_level(logging.WARNING):
        assert read_table(target, key) is None
    assert str(target) in caplog.text and "loading every file" in caplog.text
