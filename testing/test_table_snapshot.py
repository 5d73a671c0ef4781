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
    saved = read_table(tmp_path / "table.npz", key)
    got = saved.result
    assert saved.stamp_dict() == stamps and saved.racy == racy and saved.stamp_paths == list(stamps)
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
    np.testing.assert_array_equal(read_table(tmp_path / "table.npz", key).result.row_hashes,
                                  row_hashes(result.frame))


def test_a_table_saved_under_other_rules_or_another_root_is_not_read(loaded, tmp_path: Path, config) -> None:
    result, stamps, key = loaded
    save_table(tmp_path / "table.npz", result, stamps, {}, key)
    assert read_table(tmp_path / "table.npz", table_key(config, tmp_path)) is None
    assert read_table(tmp_path / "missing.npz", key) is None


@pytest.mark.parametrize("damage", ["garbage", "truncated", "pickled object", "short column", "short hashes",
                                    "unsorted categories", "flipped byte", "compressed"])
def test_a_damaged_table_is_ignored_and_said(loaded, tmp_path: Path, damage: str, caplog) -> None:
    result, stamps, key = loaded
    target = tmp_path / "table.npz"
    result.row_hashes = row_hashes(result.frame)
    save_table(target, result, stamps, {}, key)
    if damage == "garbage":
        target.write_bytes(b"PK\x03\x04" + bytes(200))
    elif damage == "flipped byte":  # inside the values: only the member's CRC tells
        data = bytearray(target.read_bytes())
        # in the values' data, not a third into the file: where that falls moves with the length of
        # the paths kept (the temporary folder's name), and the alignment padding is not checked
        data[_data_offsets(target)["values:value"] + 8 * (len(result.frame) // 2) + 3] ^= 0x01
        target.write_bytes(bytes(data))
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
        elif damage == "short hashes":
            arrays["row_hashes"] = arrays["row_hashes"][:-1]
        with open(target, "wb") as fh:
            (np.savez_compressed if damage == "compressed" else np.savez)(fh, **arrays)
    with caplog.at_level(logging.WARNING):
        assert read_table(target, key) is None
    assert str(target) in caplog.text and "loading every file" in caplog.text


ARRAYS = {"codes:a": np.arange(-3, 300, dtype=np.int16), "values:v": np.array([0.5, np.nan, -np.inf]),
          "row_hashes": np.array([2 ** 64 - 1, 0], dtype=np.uint64), "stamps": np.arange(10).reshape(5, 2),
          "empty": np.array([], dtype=np.int64), "text": np.frombuffer("é\0b".encode(), dtype=np.uint8),
          "odd": np.arange(7, dtype=np.int8), "after": np.array([1.5, 2.5])}  # every dtype and shape the table has


def _data_offsets(path: Path) -> dict[str, int]:
    """Where each member's array data starts in the file (past its local header and .npy header)."""
    import struct
    import zipfile
    offsets = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
        for info in archive.infolist():
            fh.seek(info.header_offset)
            _, name_len, extra_len = struct.unpack("<4s22xHH", fh.read(30))
            fh.seek(info.header_offset + 30 + name_len + extra_len)
            np.lib.format.read_array_header_1_0(fh) if np.lib.format.read_magic(fh) == (1, 0) \
                else np.lib.format.read_array_header_2_0(fh)
            offsets[info.filename[:-4]] = fh.tell()
    return offsets


def test_write_arrays_writes_an_npz_with_each_array_aligned(tmp_path: Path) -> None:
    """np.load reads what write_arrays writes; each array's data starts at a multiple of 64 bytes,
    whatever the sizes of the members before it."""
    from utils.table_snapshot import ALIGN, write_arrays
    write_arrays(tmp_path / "t.npz", ARRAYS)
    with np.load(tmp_path / "t.npz", allow_pickle=False) as back:
        assert back.files == list(ARRAYS)
        for name, array in ARRAYS.items():
            assert back[name].dtype == array.dtype and back[name].shape == array.shape, name
            np.testing.assert_array_equal(back[name], array)
    offsets = _data_offsets(tmp_path / "t.npz")
    assert {name: at % ALIGN for name, at in offsets.items()} == dict.fromkeys(ARRAYS, 0)
    np.savez(tmp_path / "plain.npz", **ARRAYS)  # numpy's own writer does not align them
    assert any(at % ALIGN for at in _data_offsets(tmp_path / "plain.npz").values())


@pytest.mark.parametrize("mapped", [True, False])
@pytest.mark.parametrize("writer", ["write_arrays", "np.savez"])
def test_read_arrays_gives_what_np_load_gives(tmp_path: Path, mapped: bool, writer: str) -> None:
    """Mapped or read, aligned (ours) or not (numpy's own writer: read into arrays of their own)."""
    from utils.table_snapshot import read_arrays, write_arrays
    if writer == "np.savez":
        np.savez(tmp_path / "t.npz", **ARRAYS)
    else:
        write_arrays(tmp_path / "t.npz", ARRAYS)
    aligned = {name: at % 64 == 0 for name, at in _data_offsets(tmp_path / "t.npz").items()}
    got = read_arrays(tmp_path / "t.npz", mapped=mapped)
    assert list(got) == list(ARRAYS)
    for name, array in ARRAYS.items():
        assert got[name].dtype == array.dtype and got[name].shape == array.shape, name
        np.testing.assert_array_equal(got[name], array)
        assert got[name].flags.writeable and got[name].flags.aligned, name
        # an aligned array of a mapped file lies in the mapping; any other is an array of its own
        assert (got[name].base is not None) == (mapped and aligned[name] and array.size > 0), name
    assert all(aligned.values()) == (writer == "write_arrays")


def test_a_file_that_cannot_be_mapped_is_read(tmp_path: Path, monkeypatch) -> None:
    """A file system without mmap: each array is read into its own memory, nothing is lost."""
    import mmap

    from utils.table_snapshot import read_arrays, write_arrays

    def refuse(*args, **kwargs):
        raise OSError(19, "No such device")
    monkeypatch.setattr(mmap, "mmap", refuse)
    write_arrays(tmp_path / "t.npz", ARRAYS)
    got = read_arrays(tmp_path / "t.npz", mapped=True)
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(got[name], array)
        assert got[name].base is None and got[name].flags.writeable, name


def test_a_mapped_array_written_to_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """The mapping is copy-on-write: a reload splicing rows into the arrays changes this process's
    pages, never the saved table (another run may be reading it)."""
    from utils.table_snapshot import read_arrays, write_arrays
    write_arrays(tmp_path / "t.npz", ARRAYS)
    before = (tmp_path / "t.npz").read_bytes()
    got = read_arrays(tmp_path / "t.npz", mapped=True)
    got["codes:a"][:] = 7
    got["values:v"][1] = 1.0
    assert (got["codes:a"] == 7).all() and got["values:v"][1] == 1.0
    assert (tmp_path / "t.npz").read_bytes() == before
    np.testing.assert_array_equal(read_arrays(tmp_path / "t.npz")["codes:a"], ARRAYS["codes:a"])


def _listing(stamps: dict[str, tuple[int, int]]) -> list[tuple]:
    return [(p, Path(p).name, size, mtime) for p, (size, mtime) in stamps.items()]


@pytest.mark.parametrize("order", ["saved", "another"])
def test_the_changed_files_are_those_of_another_stamp_or_racy_content(loaded, tmp_path: Path, order: str) -> None:
    """Listed in the saved order (compared as arrays) or not (by path), the same rows; a file
    added, or gone before its stat, means the table cannot be spliced (None)."""
    result, stamps, key = loaded
    paths = list(stamps)
    racy_path = Path(paths[1])
    racy = {paths[1]: "not its digest"}
    save_table(tmp_path / "table.npz", result, stamps, racy, key)
    saved = read_table(tmp_path / "table.npz", key)
    now = dict(stamps)
    now[paths[3]] = (stamps[paths[3]][0] + 1, stamps[paths[3]][1])
    now[paths[5]] = (stamps[paths[5]][0], stamps[paths[5]][1] + 7)
    listing = _listing(now)
    if order == "another":
        listing = listing[::-1]
    changed = saved.changed(listing)
    assert sorted(row[0] for row in changed) == sorted([paths[1], paths[3], paths[5]])
    assert [row[0] for row in changed] == [row[0] for row in listing if row[0] in {paths[1], paths[3], paths[5]}]
    assert racy_path.is_file()
    assert saved.changed(listing + [(str(tmp_path / "new.json"), "new.json", 1, 1)]) is None
    gone = list(listing)
    gone[0] = (*gone[0][:2], None, None)
    assert saved.changed(gone) is None
    assert saved.changed(listing[1:]) is None
