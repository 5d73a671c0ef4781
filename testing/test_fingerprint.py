"""Fingerprints (runner/fingerprint.py): a slice's hash sees exactly its content; the input stamp's
scan sees every file discovery could read and nothing a writer is still producing."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from runner.fingerprint import files_hash, hash_frame, scan_tree, selection_key

BASE = pd.DataFrame({"experiment": ["a", "b"], "value": [1.0, 2.0]})


@pytest.mark.parametrize("other, same", [
    (BASE.set_axis([7, 9]), True),  # the index is not content
    (BASE.copy(), True),
    (BASE.assign(value=[1.0, 2.5]), False),
    (BASE.assign(value=[1, 2]), False),  # same numbers, another dtype
    (BASE.rename(columns={"value": "score"}), False),
    (BASE.iloc[::-1], False),  # row order is part of what a figure draws
    (BASE.iloc[:0], False),
])
def test_hash_frame_sees_content_not_index(other: pd.DataFrame, same: bool) -> None:
    assert (hash_frame(other) == hash_frame(BASE)) is same


def test_scan_tree_lists_every_candidate_file_and_skips_hidden_and_partial_ones(tmp_path: Path) -> None:
    (tmp_path / "exp" / "evals").mkdir(parents=True)
    (tmp_path / ".git").mkdir()
    kept = tmp_path / "exp" / "evals" / "evaluation_results.json"
    kept.write_text("{}")
    (tmp_path / "exp" / "notes.txt").write_text("x" * 5)
    (tmp_path / "exp" / "evals" / "results.json.tmp").write_text("{")  # an atomic writer's temp file
    (tmp_path / "exp" / ".hidden.json").write_text("{}")
    (tmp_path / ".git" / "HEAD").write_text("ref")
    rows = scan_tree(tmp_path)
    assert set(rows) == {str(kept), str(tmp_path / "exp" / "notes.txt")}
    assert rows[str(kept)] == (2, kept.stat().st_mtime_ns)
    assert scan_tree(tmp_path / "missing") is None


def test_files_hash_is_order_free_and_sees_size_and_mtime() -> None:
    rows = [("a", (1, 10)), ("b", (2, 20))]
    assert files_hash(rows) == files_hash(rows[::-1])
    assert files_hash(rows) != files_hash([("a", (1, 11)), ("b", (2, 20))])
    assert files_hash(rows) != files_hash(rows[:1])


@pytest.mark.parametrize("one, other", [
    ([("ab", (1, 2)), ("c", (3, 4))], [("a", (1, 2)), ("bc", (3, 4))]),  # a name's letters moved over
    ([("a", (1, 2)), ("b", (3, 4))], [("a", (1, 3)), ("b", (2, 4))]),  # a number moved over
    ([("a", (12, 3))], [("a", (1, 23))]),
    ([("a\udcff", (1, 2))], [("a\udcfe", (1, 2))]),  # undecodable bytes in a file name
])
def test_files_hash_tells_apart_rows_that_join_alike(one, other) -> None:
    assert files_hash(one) != files_hash(other)


def test_selection_key_differs_per_data_root_and_selection(tmp_path: Path, config) -> None:
    key = selection_key(config, tmp_path, ["comparison", "heatmap"])
    assert key == selection_key(config, tmp_path, ["heatmap", "comparison"])
    assert key != selection_key(config, tmp_path / "other", ["comparison", "heatmap"])
    assert key != selection_key(config, tmp_path, ["heatmap"])
