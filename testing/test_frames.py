"""analysis/frames.py: the column-at-a-time sort and concatenation give exactly what pandas' own do."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.frames import concat_rows, narrowest_ints, sorted_by


def frame(n: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "group": pd.Categorical(rng.choice(["b", "a", "c"], n), categories=["a", "b", "c"]),
        "page": rng.integers(1, 3, n).astype("int32"),
        "step": rng.integers(0, 4, n),  # many ties: the order among them must be pandas'
        "value": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
        "best": rng.random(n) < 0.5,
        "name": rng.choice(["x", "y"], n).astype(object),
        # categories not in alphabetical order, and missing labels: sorted by category, missing last
        "label": pd.Categorical(rng.choice(["u", "t", None], n), categories=["u", "t"]),
        "note": rng.choice(["p", "q", None], n).astype(object),  # missing text sorts last too
    })


@pytest.mark.parametrize("keys", [["group", "page", "step"], ["step", "value"], ["name", "group"],
                                  ["label", "step"], ["note", "best", "value"]])
@pytest.mark.parametrize("index", ["range", "filtered"])
def test_sorted_by_is_sort_values(keys, index):
    data = frame()
    if index == "filtered":  # the rows a filter kept: labels are not positions
        data = data[data["best"]]
    expected = data.sort_values(keys, ignore_index=True)
    mine = data.copy()
    got = sorted_by(mine, keys)
    pd.testing.assert_frame_equal(got, expected)
    assert mine.shape[1] == 0  # each column let go of as it was taken


def test_sorted_by_keeps_only_the_columns_asked_for_in_their_order():
    data = frame()
    keep = ["value", "group", "step"]
    mine = data.copy()
    got = sorted_by(mine, ["group", "step"], keep=keep)
    pd.testing.assert_frame_equal(got, data.sort_values(["group", "step"], ignore_index=True)[keep])
    assert mine.shape[1] == 0  # the columns not kept are let go of too


@pytest.mark.parametrize("case", ["same order", "other column order", "int and float", "categoricals"])
def test_concat_rows_is_pd_concat(case):
    a, b = frame(10, 1), frame(7, 2)
    if case == "other column order":
        b = b[list(reversed(b.columns))]
    elif case == "int and float":
        b = b.assign(step=b["step"].astype(float))
    elif case == "categoricals":
        b = b.assign(group=b["group"].cat.set_categories(["a", "b", "c", "d"]))
    expected = pd.concat([a, b], ignore_index=True)
    parts = [a.copy(), b.copy()]
    got = concat_rows(parts)
    pd.testing.assert_frame_equal(got, expected)
    assert parts == []


def test_concat_rows_of_other_columns_is_pd_concat():
    a, b = frame(5, 1), frame(4, 2).drop(columns="best").assign(extra=1.5)
    parts = [a, b]
    pd.testing.assert_frame_equal(concat_rows(parts), pd.concat([a, b], ignore_index=True))
    assert parts == []


@pytest.mark.parametrize("values, dtype", [
    ([-1, 0, 127], "int8"), ([0, 128], "int16"), ([-129, 3], "int16"), ([0, 40_000], "int32"),
    ([0, 2 ** 40], "int64"), ([], "int64"),
])
def test_narrowest_ints_hold_every_value(values, dtype):
    column = pd.Series(values, dtype="int64")
    got = narrowest_ints(column)
    assert str(got.dtype) == dtype
    assert got.tolist() == values


def _groups_frame(rows: list[tuple[str, int]], categories=("a", "b", "c")) -> pd.DataFrame:
    return pd.DataFrame({"g": pd.Categorical([g for g, _ in rows], categories=list(categories)),
                         "step": np.array([s for _, s in rows], dtype="int64")})


@pytest.mark.parametrize("rows, expected", [
    ([("a", 1), ("a", 2), ("b", 0), ("c", 5)], True),
    ([("a", 1), ("a", 1), ("b", 0)], False),  # a repeated key
    ([("a", 2), ("a", 1), ("b", 0)], False),  # steps out of order
    ([("b", 0), ("a", 1)], False),  # labels out of order
    ([("a", 1)], True), ([], True),
])
def test_strictly_sorted_is_sorting_and_deduplicating_changing_nothing(rows, expected):
    from analysis.frames import strictly_sorted
    data = _groups_frame(rows)
    assert strictly_sorted(data, ["g", "step"]) is expected
    same = data.drop_duplicates(["g", "step"]).sort_values(["g", "step"], ignore_index=True).equals(data)
    assert same is expected


def test_strictly_sorted_declines_what_it_cannot_compare_as_numbers():
    from analysis.frames import strictly_sorted
    data = _groups_frame([("a", 1), ("b", 2)])
    assert not strictly_sorted(data.astype({"g": object}), ["g", "step"])  # text: the caller sorts
    assert not strictly_sorted(data.astype({"step": float}), ["g", "step"])
    missing = data.copy()
    missing.loc[1, "g"] = np.nan  # a group-by leaves a missing label out
    assert not strictly_sorted(missing, ["g", "step"])


@pytest.mark.parametrize("rows", [[("a", 1), ("a", 2), ("b", 0), ("c", 5), ("c", 6)], [("b", 3)], []])
def test_group_ends_are_what_groupby_tail_takes(rows):
    from analysis.frames import group_ends
    data = _groups_frame(rows)
    expected = data.groupby("g", sort=True, observed=True).tail(1)
    pd.testing.assert_frame_equal(data.iloc[group_ends(data, ["g"])], expected)


@pytest.mark.parametrize("keys", [["group", "page"], ["label", "group"], ["name"]])
def test_group_rows_are_the_groups_a_groupby_gives(keys):
    from analysis.frames import group_rows
    data = frame(60, seed=4)
    got = [data.iloc[rows] for rows in group_rows(data, keys)]
    expected = [part for _, part in data.groupby(keys, sort=True, observed=True)]
    assert len(got) == len(expected) > 1
    for mine, theirs in zip(got, expected):
        pd.testing.assert_frame_equal(mine, theirs)
    assert group_rows(data.iloc[:0], keys) == []


def _wide(n: int = 70_000) -> pd.DataFrame:
    """Four columns of ~n distinct labels each: their codes' product does not fit in 62 bits."""
    rng = np.random.default_rng(7)
    return pd.DataFrame({k: rng.permutation(n) for k in "wxyz"}).astype(str)


@pytest.mark.parametrize("keys", [["group", "page"], ["label", "note"], ["name", "label", "step"], ["value"],
                                  ["note"], "wide"])
@pytest.mark.parametrize("rows", ["all", "none"])
def test_group_numbers_are_what_ngroup_gives(keys, rows):
    """Missing labels (categorical and text) are groups of their own; groups numbered as first seen;
    labels whose codes do not fit one number are grouped by the group-by itself."""
    from analysis.frames import group_numbers, label_numbers
    data, keys = (_wide(), list("wxyz")) if keys == "wide" else (frame(80, seed=5), keys)
    assert (label_numbers(data, keys) is None) == (list(keys) == list("wxyz"))
    data = data if rows == "all" else data.iloc[:0]
    expected = data.groupby(keys, sort=False, observed=True, dropna=False).ngroup().to_numpy()
    got = group_numbers(data, keys)
    assert got.tolist() == expected.tolist()
    assert len(got) == 0 or got.max() + 1 == len(data.drop_duplicates(keys)) > 1
