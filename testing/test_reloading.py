"""Changed files read into the last load's table (utils/reloading.py): the result is what a full
load gives (same rows, order, categories, statuses, notes), or None where it could not be."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

from utils.hashing import row_hashes
from utils.loading import LoadResult, ParseCache, load
from utils.reloading import reload

FILE = "pt1_ft1-2/evals/{task}/eval_data/evaluation_results.json"


def rewrite(path: Path, change: Callable[[dict], None]) -> Path:
    """Rewrite an evaluation file through `change`, its mtime a second later (never the same)."""
    content = json.loads(path.read_text())
    change(content)
    before = path.stat().st_mtime_ns
    path.write_text(json.dumps(content))
    os.utime(path, ns=(before + 10**9, before + 10**9))
    return path


def _scaled(content: dict) -> None:
    for values in content.values():
        for key in values:
            values[key] *= 1.25


def _checkpoint_added(content: dict) -> None:
    last = list(content)[-1]
    content["checkpoint-9000"] = {k: v * 0.9 for k, v in content[last].items()}


def _checkpoint_dropped(content: dict) -> None:
    content.pop(list(content)[0])


def _value_missing(content: dict) -> None:
    last = content[list(content)[-1]]
    last[next(k for k in last if k.endswith("_metric_mean"))] = float("nan")


def _statistic_dropped(content: dict) -> None:
    """The median goes from this file; every other file still reports one: no label is lost."""
    for values in content.values():
        values.pop(next(k for k in values if k.endswith("_metric_median")))


def _metric_added(content: dict) -> None:
    for values in content.values():
        values["eval_brand_new_metric"] = 1.0


def _unreadable(content: dict) -> None:
    content.clear()
    content["checkpoint-1000"] = "not a mapping"


def _emptied(content: dict) -> None:
    content.clear()


def rows(root: Path, paths: list[Path]) -> list[tuple[str, str, int, int]]:
    """The listing's rows of these files: (path, root-relative path, size, mtime_ns)."""
    return [(str(p), p.relative_to(root).as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in paths]


def assert_same(got: LoadResult, full: LoadResult) -> None:
    pd.testing.assert_frame_equal(got.frame, full.frame, check_categorical=True, check_exact=True)
    for column in got.frame.columns:
        assert got.frame[column].dtype == full.frame[column].dtype, column
    assert got.statuses == full.statuses
    assert got.paths == full.paths
    for name in ("problems", "notes", "partial"):
        assert [str(p) for p in getattr(got, name)] == [str(p) for p in getattr(full, name)], name


@pytest.mark.parametrize("change", [_scaled, _checkpoint_added, _checkpoint_dropped, _value_missing,
                                    _statistic_dropped])
@pytest.mark.parametrize("tasks", [["angle"], ["angle", "atlantis_distance"]])
def test_a_file_whose_numbers_changed_is_read_into_the_table(small_tree: Path, config, change, tasks) -> None:
    cache = ParseCache()
    before = load(small_tree, config, cache)
    assert before.by_file
    changed = [rewrite(small_tree / FILE.format(task=t), change) for t in tasks]
    got = reload(before, small_tree, config, cache, rows(small_tree, changed))
    assert got is not None
    assert sorted(map(str, got.parsed)) == sorted(map(str, changed))
    assert not got.frame.equals(before.frame)
    assert_same(got, load(small_tree, config, ParseCache()))
    assert got.row_hashes is None  # the last load's were not known


@pytest.mark.parametrize("change", [_scaled, _checkpoint_added, _checkpoint_dropped])
def test_a_reload_splices_the_row_hashes_of_the_rows_it_keeps(small_tree: Path, config, change) -> None:
    """Only the changed files' rows are hashed; the spliced hashes are those of the new table."""
    cache = ParseCache()
    before = load(small_tree, config, cache)
    before.row_hashes = row_hashes(before.frame)
    changed = [rewrite(small_tree / FILE.format(task=t), change) for t in ("angle", "atlantis_distance")]
    got = reload(before, small_tree, config, cache, rows(small_tree, changed))
    assert got is not None and (len(got.frame) == len(before.frame)) == (change is _scaled)
    np.testing.assert_array_equal(got.row_hashes, row_hashes(got.frame))
    assert not np.array_equal(got.row_hashes, before.row_hashes)


def _saved(root: Path, config, tmp_path: Path):
    """The load of `root` saved as a run keeps it and read back (its arrays mapped from the file)."""
    from utils.table_snapshot import read_table, save_table, table_key
    cache = ParseCache()
    result = load(root, config, cache)
    result.row_hashes = row_hashes(result.frame)
    stamps = {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}
    save_table(tmp_path / "table.npz", result, stamps, {}, table_key(config, root))
    return read_table(tmp_path / "table.npz", table_key(config, root)), cache, result


@pytest.mark.parametrize("change, in_place", [(_scaled, True), (_value_missing, True), (_checkpoint_added, False),
                                              (_checkpoint_dropped, False)])
def test_a_reload_into_arrays_it_owns_writes_the_rows_in_place(small_tree: Path, config, tmp_path: Path,
                                                               change, in_place: bool) -> None:
    """A saved table's arrays are the reload's own: a file whose rows keep their number is written
    into them (no column copied), and the file they were read from is not written."""
    saved, cache, _ = _saved(small_tree, config, tmp_path)
    on_disk = (tmp_path / "table.npz").read_bytes()
    changed = [rewrite(small_tree / FILE.format(task=t), change) for t in ("angle", "atlantis_distance")]
    got = reload(saved.result, small_tree, config, cache, rows(small_tree, changed), saved.columns)
    assert got is not None
    full = load(small_tree, config, ParseCache())
    assert_same(got, full)
    np.testing.assert_array_equal(got.row_hashes, row_hashes(full.frame))
    for column in ("value", "source", "step"):
        backing = got.frame[column].array.codes if column == "source" else got.frame[column].to_numpy()
        assert np.shares_memory(backing, saved.columns[column]) == in_place, column
    assert np.shares_memory(got.row_hashes, saved.result.row_hashes) == in_place
    assert (tmp_path / "table.npz").read_bytes() == on_disk  # mapped copy-on-write: the file is as saved


def test_a_label_gone_from_rows_written_in_place_is_still_seen(small_tree: Path, config, tmp_path: Path) -> None:
    """The rows keep their number but the only rows of a metric now name another: the reload sees
    the label gone from the codes as they were before it wrote over them."""
    path = rewrite(small_tree / FILE.format(task="angle"), _metric_added)
    saved, cache, _ = _saved(small_tree, config, tmp_path)
    assert "brand_new_metric" in set(saved.result.frame["metric"])

    def renamed(content: dict) -> None:
        for values in content.values():
            values["eval_distance_metric_mean"] = values.pop("eval_brand_new_metric")  # labels the table has
    rewrite(path, renamed)
    assert reload(saved.result, small_tree, config, cache, rows(small_tree, [path]), saved.columns) is None


@pytest.mark.parametrize("change", [_metric_added, _unreadable, _emptied])
def test_a_file_that_reads_otherwise_is_left_to_the_full_load(small_tree: Path, config, change) -> None:
    cache = ParseCache()
    before = load(small_tree, config, cache)
    path = rewrite(small_tree / FILE.format(task="angle"), change)
    entries = dict(cache.entries)
    assert reload(before, small_tree, config, cache, rows(small_tree, [path])) is None
    assert cache.entries == entries  # untouched: the whole load parses the file and says so
    assert load(small_tree, config, cache).parsed == [path]


def test_a_label_no_row_holds_any_more_is_left_to_the_full_load(small_tree: Path, config) -> None:
    path = rewrite(small_tree / FILE.format(task="angle"), _metric_added)
    cache = ParseCache()
    before = load(small_tree, config, cache)
    assert "brand_new_metric" in set(before.frame["metric"])
    rewrite(path, lambda c: [v.pop("eval_brand_new_metric") for v in c.values()])
    assert reload(before, small_tree, config, cache, rows(small_tree, [path])) is None


def test_a_file_the_last_load_did_not_read_is_left_to_the_full_load(small_tree: Path, config) -> None:
    cache = ParseCache()
    before = load(small_tree, config, cache)
    other = small_tree / "pt1_ft1-2" / "notes.txt"
    other.write_text("not an evaluation")
    assert reload(before, small_tree, config, cache, rows(small_tree, [other])) is None
    assert reload(None, small_tree, config, cache, []) is None


def test_a_table_not_built_file_by_file_is_left_to_the_full_load(tmp_path: Path, config) -> None:
    """Training logs (many tasks in one file, coded columns) are sorted as a whole table."""
    root = tmp_path / "runs"
    log = root / "a" / "log.jsonl"
    log.parent.mkdir(parents=True)
    log.write_text("".join(json.dumps({"step": s, "loss": 1 / s, "lr": 0.1}) + "\n" for s in range(1, 6)))
    cache = ParseCache()
    before = load(root, config, cache)
    assert len(before.frame) == 10 and not before.by_file
    with open(log, "a") as fh:
        fh.write(json.dumps({"step": 6, "loss": 1 / 6, "lr": 0.1}) + "\n")
    assert reload(before, root, config, cache, rows(root, [log])) is None


@pytest.mark.parametrize("sources, expected", [
    (["a", "a", "b", "c", "c", "c"], {"a": (0, 2), "b": (2, 3), "c": (3, 6)}),
    (["c", "a", "a", "b"], {"c": (0, 1), "a": (1, 3), "b": (3, 4)}),  # runs in any order of the labels
    (["a", "b", "a"], None),  # a file's rows in two runs: no span says where its rows are
    (["a", None, "b"], None),  # a row of no file
])
def test_each_files_rows_are_found_as_one_run(sources: list, expected: dict | None) -> None:
    from utils.reloading import _spans
    frame = pd.DataFrame({"source": pd.Categorical(sources, categories=["a", "b", "c", "d"]),
                          "value": np.arange(len(sources), dtype=float)})
    spans = _spans(frame)
    if expected is None:
        assert spans is None
        return
    assert {rel: spans[rel] for rel in expected} == expected
    assert all(rel in spans for rel in expected)
    assert "d" not in spans and "elsewhere" not in spans  # a label no row holds, one the table does not know
    with pytest.raises(KeyError):
        spans["d"]
