"""Tables written in blocks (runner/blocks.py): the file is byte for byte the whole table's text,
and a rebuild formats only the blocks whose rows changed, copying the others from the last run's
file, and only while that file is the one it wrote."""
from __future__ import annotations

import contextlib
import errno
import json
import mmap
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import runner.blocks as blocks_module
from runner.blocks import LAYOUT, BlockCacheLost, plan_blocks, read_layout, render_in_blocks, runs, write_blocks


class Counting:
    """`to_csv` that counts the rows it formats, and how often it is called."""

    def __init__(self, render=lambda rows: rows.to_csv(index=False)) -> None:
        self.render, self.calls, self.rows = render, 0, 0

    def __call__(self, rows: pd.DataFrame) -> str:
        self.calls += 1
        self.rows += len(rows)
        return self.render(rows)


def records(experiments: list[str], per: int = 3) -> pd.DataFrame:
    n = len(experiments) * per
    return pd.DataFrame({
        "experiment": np.repeat(experiments, per),
        "step": np.tile(np.arange(per) * 1000, len(experiments)),
        "value": np.linspace(0.001, 12345.678, n),
        "source": [f"{e}/evals/x.json" for e in np.repeat(experiments, per)],
    })


def written(render, frame: pd.DataFrame, where: Path, salt: str = "s") -> str:
    """The table file `render_in_blocks` writes under `where`, as text exactly (no newline translation)."""
    render_in_blocks(render, frame, "experiment", where / "table.csv", where / "cache", salt)
    return (where / "table.csv").read_bytes().decode("utf-8")


def plan(frame: pd.DataFrame, where: Path, **kw):
    return plan_blocks(frame, "experiment", where / "table.csv", where / "cache", "s", **kw)


def write(render, blocks, where: Path) -> str:
    write_blocks(render, blocks, where / "table.csv", where / "cache")
    return (where / "table.csv").read_bytes().decode("utf-8")


def bump(frame: pd.DataFrame, experiments: list[str]) -> pd.DataFrame:
    changed = frame.copy()
    changed.loc[changed["experiment"].isin(experiments), "value"] += 1.0
    return changed


FRAMES = {
    "one run per experiment": records(["a", "b", "c"]),
    "an experiment in two runs": records(["a", "b", "a"]),
    "one experiment": records(["a"]),
    "missing values": records(["a", "b"]).assign(value=[1.5, np.nan, 3.0, np.nan, 0.1, 2e-9]),
    "quotes and commas": records(["a,b", 'say "c"']),
    "utf-8 and a line break": records(["naïve ✓", "cr\r\nlf", 'say "c"']),
    # cut from one call at byte positions: a block's range counts the bytes of its characters
    "utf-8": records(["naïve ✓", "ü,b", "c"]),
}


@pytest.mark.parametrize("name", FRAMES)
def test_the_file_is_the_whole_tables_text_cold_and_copied(name: str, tmp_path: Path) -> None:
    frame = FRAMES[name]
    whole = frame.to_csv(index=False)
    assert written(Counting(), frame, tmp_path) == whole
    cached = Counting()
    assert written(cached, frame, tmp_path) == whole
    assert (cached.calls, cached.rows) == (1, 0)  # the header only: every block copied


def _refused(*args) -> int:
    raise OSError(errno.EXDEV, "Invalid cross-device link")


@pytest.mark.parametrize("copy", ["kernel", "no copy_file_range", "copy refused"])
def test_one_changed_block_is_the_only_one_formatted(copy: str, tmp_path: Path, monkeypatch) -> None:
    if copy == "no copy_file_range":  # macOS, Windows: read and written, here in several reads
        monkeypatch.delattr(os, "copy_file_range", raising=False)
        monkeypatch.setattr(blocks_module, "_CHUNK", 7)
    elif copy == "copy refused":  # another file system, an old kernel
        monkeypatch.setattr(os, "copy_file_range", _refused, raising=False)
    frame = records(["a", "b", "c", "d"], per=5)
    written(Counting(), frame, tmp_path)
    changed = bump(frame, ["c"])
    counting = Counting()
    assert written(counting, changed, tmp_path) == changed.to_csv(index=False)
    assert counting.rows == 5
    kept, source = read_layout(tmp_path / "cache", tmp_path / "table.csv")
    assert len(kept) == 4 and source is not None  # the new file's layout: c's new block, not its old one
    text = (tmp_path / "table.csv").read_bytes()
    assert sorted(text[a:b].decode().split(",")[0] for a, b in kept.values()) == ["a", "b", "c", "d"]


def test_a_plan_carries_only_the_rows_it_cannot_copy(tmp_path: Path) -> None:
    frame = records(["a", "b", "c", "d"], per=5)
    cold = written(Counting(), frame, tmp_path)
    changed = bump(frame, ["b", "d"])
    blocks = plan(changed, tmp_path)
    assert list(blocks.rows["experiment"].unique()) == ["b", "d"] and len(blocks.rows) == 10
    assert blocks.spans == (None, (0, 5), None, (5, 10)) and not blocks.complete
    header = len(cold.split("\n")[0]) + 1
    a, c = blocks.ranges[0], blocks.ranges[2]
    assert cold[a[0]:a[1]] == frame.iloc[:5].to_csv(index=False)[header:] and a[0] == header
    assert cold[c[0]:c[1]] == frame.iloc[10:15].to_csv(index=False)[header:]
    assert write(Counting(), blocks, tmp_path) == changed.to_csv(index=False)
    assert plan(changed, tmp_path, fresh=True).complete  # --force: nothing copied


@pytest.mark.parametrize("change", ["rewritten, same size", "appended to", "replaced", "removed", "layout broken"])
def test_a_table_file_not_as_the_last_run_left_it_is_never_read(change: str, tmp_path: Path) -> None:
    """Someone else's table (edited, replaced, removed) or a layout that does not read: every block
    is formatted again, and nothing of that file ends up in the new one."""
    frame = records(["a", "b"])
    target = tmp_path / "table.csv"
    cold = written(Counting(), frame, tmp_path)
    if change == "rewritten, same size":
        target.write_text(cold.replace("a", "x"))
    elif change == "appended to":
        with open(target, "a") as fh:
            fh.write("x,0,0,x\n")
    elif change == "replaced":
        target.unlink()
        target.write_text(cold)
    elif change == "removed":
        target.unlink()
    else:
        (tmp_path / "cache" / LAYOUT).write_text("{not json")
    assert read_layout(tmp_path / "cache", target) == ({}, None)
    counting = Counting()
    assert written(counting, frame, tmp_path) == cold
    assert counting.rows == len(frame)


def test_a_table_changed_after_planning_fails_by_name_and_is_whole_next_time(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    target = tmp_path / "table.csv"
    written(Counting(), frame, tmp_path)
    blocks = plan(bump(frame, ["b"]), tmp_path)
    target.write_text("the user's own text\n")
    with pytest.raises(BlockCacheLost, match="table.csv changed"):
        write(Counting(), blocks, tmp_path)
    assert target.read_text() == "the user's own text\n"  # not replaced by a table missing its blocks
    counting = Counting()
    assert written(counting, frame, tmp_path) == frame.to_csv(index=False) and counting.rows == len(frame)


def test_a_table_that_stops_being_a_concatenation_forgets_its_layout(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    cold = written(Counting(), frame, tmp_path)
    changed = frame.assign(value=frame["value"].where(frame["experiment"] == "a", -1.0))
    counted = lambda rows: f"{len(rows)} rows\n" + rows.to_csv(index=False)  # noqa: E731
    with pytest.raises(BlockCacheLost, match="no longer a concatenation"):
        write(counted, plan(changed, tmp_path), tmp_path)
    assert (tmp_path / "table.csv").read_text() == cold and not (tmp_path / "cache" / LAYOUT).exists()
    assert written(counted, changed, tmp_path) == counted(changed)


def test_other_code_or_rules_format_every_block(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    written(Counting(), frame, tmp_path, salt="code v1")
    counting = Counting()
    written(counting, frame, tmp_path, salt="code v2")
    assert counting.rows == len(frame)


@pytest.mark.parametrize("render", [
    lambda rows: "\\begin{tabular}\n" + rows.to_csv(index=False) + "\\end{tabular}\n",  # a begin and an end
    lambda rows: f"{len(rows)} rows\n" + rows.to_csv(index=False),  # a header that depends on the rows
], ids=["begin and end", "row count header"])
def test_a_table_that_is_not_a_concatenation_is_rendered_whole(render, tmp_path: Path) -> None:
    frame = records(["a", "b"])
    for _ in range(2):
        assert written(render, frame, tmp_path) == render(frame)
        assert not (tmp_path / "cache" / LAYOUT).exists()


@pytest.mark.parametrize("frame", [records(["a"]).iloc[:0], records(["a"]).drop(columns="experiment")],
                         ids=["no rows", "no such column"])
def test_without_blocks_the_table_is_rendered_whole(frame: pd.DataFrame, tmp_path: Path) -> None:
    assert written(lambda r: r.to_csv(index=False), frame, tmp_path) == frame.to_csv(index=False)


@pytest.mark.parametrize("values, expected", [
    ([], []), (["a"], [(0, 1)]), (["a", "a", "b"], [(0, 2), (2, 3)]),
    (["a", "b", "a"], [(0, 1), (1, 2), (2, 3)]),
])
@pytest.mark.parametrize("dtype", [object, "category"])  # a categorical: compared on its codes
def test_runs(values: list[str], expected: list[tuple[int, int]], dtype) -> None:
    assert runs(pd.Series(values, dtype=dtype)) == expected


def test_runs_of_a_categorical_with_a_missing_label_are_those_of_its_values() -> None:
    column = pd.Series(["a", None, None, "a", "a"], dtype="category")
    assert runs(column) == runs(pd.Series(column.to_numpy())) == [(0, 1), (1, 2), (2, 3), (3, 5)]


@pytest.mark.parametrize("name", FRAMES)
def test_a_cold_table_is_formatted_in_one_call_and_cut_into_its_blocks(name: str, tmp_path: Path) -> None:
    frame = FRAMES[name]
    counting = Counting()
    assert written(counting, frame, tmp_path) == frame.to_csv(index=False)
    if "line break" not in name:
        assert (counting.calls, counting.rows) == (2, len(frame))  # the header, then every row at once
    cached = Counting()  # the blocks cut from the one call are the blocks' own texts
    assert written(cached, frame, tmp_path) == frame.to_csv(index=False)
    assert cached.rows == 0


def test_rows_with_line_breaks_are_formatted_block_by_block(tmp_path: Path) -> None:
    frame = records(["a", "b", "c"]).assign(source=["x\ny", "z", "w", "v\r\nu", "t", "s", "r", "q", "p"])
    counting = Counting()
    assert written(counting, frame, tmp_path) == frame.to_csv(index=False)
    assert counting.calls == 2 + 3  # the header, the batch that had more lines than rows, each block
    assert written(Counting(), bump(frame, ["b"]), tmp_path) == bump(frame, ["b"]).to_csv(index=False)


def test_what_earlier_writers_left_is_removed(tmp_path: Path) -> None:
    """The block files of earlier versions and a table they set aside before a kill are removed;
    nothing else in the cache folder is."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "0123abcd.block").write_text("x,1\n")
    (cache / "replaced-4242-1").write_text("a killed writer's")
    (cache / "notes.txt").write_text("not ours to remove")
    frame = records(["a", "b"])
    assert written(Counting(), frame, tmp_path) == frame.to_csv(index=False)
    assert sorted(p.name for p in cache.iterdir()) == [LAYOUT, "notes.txt"]
    assert (cache / "notes.txt").read_text() == "not ours to remove"


LINUX = sys.platform.startswith("linux")


@pytest.mark.skipif(not LINUX, reason="names are exchanged, and a spare known unused, on Linux only")
def test_the_replaced_table_is_the_next_spare_and_is_written_over(tmp_path: Path, monkeypatch) -> None:
    """Each rebuild writes into the file the one before replaced (two files take turns, none is
    freed), whether the table grows or shrinks; the file is the table's text exactly every time."""
    cache, target = tmp_path / "cache", tmp_path / "table.csv"
    versions = [records(["a", "b", "c"]), bump(records(["a", "b", "c"]), ["b"]), records(["a", "c"]),
                records(["a", "c", "d", "e"], per=5)]
    created, real_open = [], os.open

    def counting_open(path, flags, *args, **kwargs):
        created.append(bool(flags & os.O_CREAT) and Path(path).name == blocks_module.SPARE)
        return real_open(path, flags, *args, **kwargs)
    monkeypatch.setattr(blocks_module.os, "open", counting_open)
    inodes, new_files = [], []
    for at, frame in enumerate(versions):
        created.clear()
        assert written(Counting(), frame, tmp_path) == frame.to_csv(index=False)
        new_files.append(sum(created))
        inodes.append(target.stat().st_ino)
        assert target.stat().st_nlink == 1 and oct(target.stat().st_mode & 0o777) == oct(0o644)
        if at:
            assert (cache / blocks_module.SPARE).stat().st_ino == inodes[at - 1]
    assert new_files == [1, 1, 0, 0]  # no spare yet, none yet (no table to exchange with), then written over
    assert inodes[2] == inodes[0] and inodes[3] == inodes[1] and inodes[0] != inodes[1]
    saved = json.loads((cache / LAYOUT).read_text())
    assert saved["offsets"][-1] == target.stat().st_size and len(saved["names"]) == 4


@pytest.mark.parametrize("exchange", [True, False], ids=["names exchanged", "no exchange: renamed over"])
def test_the_table_is_never_missing_while_it_is_rewritten(exchange: bool, tmp_path: Path, monkeypatch) -> None:
    """A watcher reading the table while a rebuild rewrites it finds the old file or the new one:
    its name is never removed, not even for a moment (exchanged with the spare's, or renamed over)."""
    import utils.atomic as atomic
    if not exchange:
        monkeypatch.setattr(atomic, "_renameat2", lambda: None)
    target = tmp_path / "table.csv"
    frames = [records(["a", "b"]), bump(records(["a", "b"]), ["a"]), bump(records(["a", "b"]), ["b"])]
    written(Counting(), frames[0], tmp_path)
    removed, unlink = [], os.unlink

    def watched(path, *args, **kwargs):
        removed.append(Path(path))
        assert target.exists(), "the table was gone while it was rewritten"
        return unlink(path, *args, **kwargs)
    monkeypatch.setattr(blocks_module.os, "unlink", watched)
    for frame in frames[1:]:
        assert written(Counting(), frame, tmp_path) == frame.to_csv(index=False)
    assert target not in removed
    assert (tmp_path / "cache" / blocks_module.SPARE).exists() == (exchange and LINUX)


@pytest.mark.parametrize("hold", ["a second name", "open for reading", "mapped", "a link to a user's file"])
def test_a_spare_someone_else_holds_is_never_written_over(hold: str, tmp_path: Path) -> None:
    """A spare that is someone's (a hard link a user made to an old table, a reader still reading
    it, a symbolic link in its place) keeps its bytes: the rebuild writes a new file."""
    cache, target = tmp_path / "cache", tmp_path / "table.csv"
    first, second, third = records(["a", "b"]), bump(records(["a", "b"]), ["a"]), records(["a", "b", "c"])
    written(Counting(), first, tmp_path)
    written(Counting(), second, tmp_path)  # the first table is the spare now
    spare = cache / blocks_module.SPARE
    old = first.to_csv(index=False).encode()
    assert spare.read_bytes() == old
    with contextlib.ExitStack() as stack:
        if hold == "a second name":
            os.link(spare, tmp_path / "kept.csv")
            view = lambda: (tmp_path / "kept.csv").read_bytes()  # noqa: E731
        elif hold == "open for reading":
            fh = stack.enter_context(open(spare, "rb"))
            view = lambda: (fh.seek(0), fh.read())[1]  # noqa: E731
        elif hold == "mapped":
            fh = stack.enter_context(open(spare, "rb"))
            mapped = stack.enter_context(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ))
            view = lambda: bytes(mapped[:len(old)])  # noqa: E731
        else:
            (tmp_path / "mine.csv").write_bytes(b"the user's own file\n")
            spare.unlink()
            spare.symlink_to(tmp_path / "mine.csv")
            old = b"the user's own file\n"
            view = lambda: (tmp_path / "mine.csv").read_bytes()  # noqa: E731
        assert written(Counting(), third, tmp_path) == third.to_csv(index=False)
        assert view() == old
    assert target.stat().st_nlink == 1
