"""Tables written in blocks (runner/blocks.py): the text is byte for byte the whole table's, and a
rebuild reformats only the blocks whose rows changed."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from runner.blocks import BlockCacheLost, plan_blocks, render_in_blocks, runs, write_blocks


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


FRAMES = {
    "one run per experiment": records(["a", "b", "c"]),
    "an experiment in two runs": records(["a", "b", "a"]),
    "one experiment": records(["a"]),
    "missing values": records(["a", "b"]).assign(value=[1.5, np.nan, 3.0, np.nan, 0.1, 2e-9]),
    "quotes and commas": records(["a,b", 'say "c"']),
}


@pytest.mark.parametrize("name", FRAMES)
def test_text_is_the_whole_tables_cold_and_cached(name: str, tmp_path: Path) -> None:
    frame = FRAMES[name]
    whole = frame.to_csv(index=False)
    assert render_in_blocks(Counting(), frame, "experiment", tmp_path, "s") == whole
    cached = Counting()
    assert render_in_blocks(cached, frame, "experiment", tmp_path, "s") == whole
    assert (cached.calls, cached.rows) == (1, 0)  # the header only


def test_one_changed_block_is_the_only_one_reformatted(tmp_path: Path) -> None:
    frame = records(["a", "b", "c", "d"], per=5)
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "s")
    changed = frame.copy()
    changed.loc[changed["experiment"] == "c", "value"] *= 1.1
    counting = Counting()
    assert render_in_blocks(counting, changed, "experiment", tmp_path, "s") == changed.to_csv(index=False)
    assert counting.rows == 5
    assert len(list(tmp_path.glob("*.block"))) == 4  # c's old block is gone


def test_a_plan_carries_only_the_uncached_rows(tmp_path: Path) -> None:
    frame = records(["a", "b", "c", "d"], per=5)
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "s")
    changed = frame.copy()
    changed.loc[changed["experiment"].isin(["b", "d"]), "value"] += 1.0
    plan = plan_blocks(changed, "experiment", tmp_path, "s")
    assert list(plan.rows["experiment"].unique()) == ["b", "d"] and len(plan.rows) == 10
    assert plan.spans == (None, (0, 5), None, (5, 10)) and not plan.complete
    assert write_blocks(Counting(), plan, tmp_path) == changed.to_csv(index=False)


def test_a_block_lost_after_planning_fails_the_table_by_name(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "s")
    plan = plan_blocks(frame, "experiment", tmp_path, "s")
    lost = tmp_path / plan.names[1]
    lost.unlink()
    with pytest.raises(BlockCacheLost, match=lost.name):
        write_blocks(Counting(), plan, tmp_path)
    assert render_in_blocks(Counting(), frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)


def test_a_table_that_stops_being_a_concatenation_clears_its_cache(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "s")
    changed = frame.assign(value=frame["value"].where(frame["experiment"] == "a", -1.0))
    counted = lambda rows: f"{len(rows)} rows\n" + rows.to_csv(index=False)  # noqa: E731
    with pytest.raises(BlockCacheLost, match="not a concatenation"):
        write_blocks(counted, plan_blocks(changed, "experiment", tmp_path, "s"), tmp_path)
    assert not list(tmp_path.glob("*.block"))
    assert render_in_blocks(counted, changed, "experiment", tmp_path, "s") == counted(changed)


@pytest.mark.parametrize("change", ["emptied", "deleted"])
def test_a_lost_block_is_reformatted(change: str, tmp_path: Path) -> None:
    frame = records(["a", "b"])
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "s")
    block = sorted(tmp_path.glob("*.block"))[0]
    block.write_text("") if change == "emptied" else block.unlink()
    counting = Counting()
    assert render_in_blocks(counting, frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)
    assert counting.rows == 3


def test_other_code_or_rules_reformat_every_block(tmp_path: Path) -> None:
    frame = records(["a", "b"])
    render_in_blocks(Counting(), frame, "experiment", tmp_path, "code v1")
    counting = Counting()
    render_in_blocks(counting, frame, "experiment", tmp_path, "code v2")
    assert counting.rows == len(frame)


@pytest.mark.parametrize("render", [
    lambda rows: "\\begin{tabular}\n" + rows.to_csv(index=False) + "\\end{tabular}\n",  # a begin and an end
    lambda rows: f"{len(rows)} rows\n" + rows.to_csv(index=False),  # a header that depends on the rows
], ids=["begin and end", "row count header"])
def test_a_table_that_is_not_a_concatenation_is_rendered_whole(render, tmp_path: Path) -> None:
    frame = records(["a", "b"])
    assert render_in_blocks(render, frame, "experiment", tmp_path, "s") == render(frame)
    assert not list(tmp_path.glob("*.block"))


@pytest.mark.parametrize("frame", [records(["a"]).iloc[:0], records(["a"]).drop(columns="experiment")],
                         ids=["no rows", "no such column"])
def test_without_blocks_the_table_is_rendered_whole(frame: pd.DataFrame, tmp_path: Path) -> None:
    assert render_in_blocks(lambda r: r.to_csv(index=False), frame, "experiment", tmp_path, "s") \
        == frame.to_csv(index=False)


@pytest.mark.parametrize("values, expected", [
    ([], []), (["a"], [(0, 1)]), (["a", "a", "b"], [(0, 2), (2, 3)]),
    (["a", "b", "a"], [(0, 1), (1, 2), (2, 3)]),
])
def test_runs(values: list[str], expected: list[tuple[int, int]]) -> None:
    assert runs(pd.Series(values, dtype=object)) == expected


@pytest.mark.parametrize("render", [
    lambda rows: rows.to_csv(index=False),
    lambda rows: "\\begin{tabular}\n" + rows.to_csv(index=False) + "\\end{tabular}\n",  # not a concatenation
], ids=["blocks", "not a concatenation"])
@pytest.mark.parametrize("experiments", [["a", "b", "c"], ["naïve ✓", "cr\r\nlf", 'say "c"']], ids=["ascii", "utf-8"])
def test_written_into_a_file_the_bytes_are_the_returned_text(render, experiments, tmp_path: Path) -> None:
    """Cached blocks are copied into the file as bytes: the file is still the text, byte for byte."""
    frame = records(experiments)
    for run in ("cold", "cached"):
        target = tmp_path / f"{run}.csv"
        with open(target, "w", encoding="utf-8", newline="") as fh:
            assert render_in_blocks(render, frame, "experiment", tmp_path / "cache", "s", into=fh) is None
        assert target.read_bytes() == render(frame).encode("utf-8")


@pytest.mark.parametrize("name", FRAMES)
def test_a_cold_table_is_formatted_in_one_call_and_cut_into_its_blocks(name: str, tmp_path: Path) -> None:
    frame = FRAMES[name]
    counting = Counting()
    assert render_in_blocks(counting, frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)
    assert (counting.calls, counting.rows) == (2, len(frame))  # the header, then every row at once
    assert counting.calls == 2
    cached = Counting()  # the blocks cut from the one call are the blocks' own texts
    assert render_in_blocks(cached, frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)
    assert cached.rows == 0


def test_rows_with_line_breaks_are_formatted_block_by_block(tmp_path: Path) -> None:
    frame = records(["a", "b", "c"]).assign(source=["x\ny", "z", "w", "v\r\nu", "t", "s", "r", "q", "p"])
    counting = Counting()
    assert render_in_blocks(counting, frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)
    assert counting.calls == 2 + 3  # the header, the batch that had more lines than rows, each block
    assert render_in_blocks(Counting(), frame, "experiment", tmp_path, "s") == frame.to_csv(index=False)
