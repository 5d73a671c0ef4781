"""The tidy table's label columns as categorical codes (utils/labels.py): sorted categories, so the
table orders and groups as its strings did; plain strings back for the derived views; and slice
fingerprints that see values, not which other names the whole table holds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from runner.fingerprint import hash_frame
from utils.labels import LABELS, categorical, joined, mapped, per_value, plain, present, run_starts

FRAME = pd.DataFrame({
    "experiment": ["pt1_ft2-1", "pt1", "pt1_ft1-1", "pt1"], "condition": ["standard", "atlantis"] * 2,
    "task": ["angle", "distance", "angle", "Zeta"], "step": [2000, 1000, 1000, 3000],
    "metric": ["angle_metric", "distance_metric", "angle_metric", "zeta"], "statistic": ["mean"] * 4,
    "value": [1.5, 2.5, 3.5, 4.5], "source": ["b.json", "a.json", "c.json", "a.json"],
}).astype({c: "str" for c in LABELS})


def test_categorical_codes_the_labels_with_sorted_categories_and_leaves_numbers() -> None:
    cat = categorical(FRAME)
    for name in LABELS:
        assert isinstance(cat[name].dtype, pd.CategoricalDtype), name
        assert list(cat[name].cat.categories) == sorted(set(FRAME[name])), name
    assert cat["step"].dtype == "int64" and cat["value"].dtype == "float64"
    assert categorical(cat) is cat  # already coded: nothing to do
    pd.testing.assert_frame_equal(plain(cat), FRAME)
    assert plain(FRAME) is FRAME


@pytest.mark.parametrize("by", [["experiment"], ["experiment", "condition", "task", "step"], ["task", "source"]])
def test_coded_table_sorts_and_groups_as_its_strings(by: list[str]) -> None:
    cat = categorical(FRAME)
    pd.testing.assert_frame_equal(plain(cat.sort_values(by, ignore_index=True)),
                                  FRAME.sort_values(by, ignore_index=True))
    grouped = cat.groupby(by, sort=True)["value"].sum().reset_index()
    pd.testing.assert_frame_equal(plain(grouped), FRAME.groupby(by, sort=True)["value"].sum().reset_index())


def test_a_slice_fingerprint_does_not_see_the_other_names_of_the_table() -> None:
    """A new experiment adds a category to the whole table: the other experiments' slices (and so
    their figures' fingerprints) must not change, nor may the coded slice hash unlike its strings."""
    grown = pd.concat([FRAME, FRAME.iloc[:1].assign(experiment="pt1_ft2-9", source="d.json")], ignore_index=True)
    before, after = categorical(FRAME), categorical(grown)
    assert len(after["experiment"].cat.categories) == len(before["experiment"].cat.categories) + 1
    one, two = (f[f["experiment"] == "pt1"].reset_index(drop=True) for f in (before, after))
    assert hash_frame(one) == hash_frame(two)
    assert hash_frame(one) != hash_frame(before[before["experiment"] == "pt1_ft1-1"])


@pytest.mark.parametrize("values, coded", [
    (["b", None, "a", "b"], True),  # a missing label is no category: it stays missing
    (["b", float("nan"), "a", "b"], True),
    (["b", 3, "a", "b"], False),  # a reader's odd value: the column is left as it is
])
def test_missing_and_odd_labels(values: list, coded: bool) -> None:
    frame = pd.DataFrame({"experiment": pd.Series(values, dtype=object), "value": [1.0, 2.0, 3.0, 4.0]})
    out = categorical(frame)
    assert isinstance(out["experiment"].dtype, pd.CategoricalDtype) is coded
    if coded:
        assert list(out["experiment"].cat.categories) == ["a", "b"]
        assert out["experiment"].isna().tolist() == [False, True, False, False]
    else:
        assert out["experiment"].tolist() == values


@pytest.mark.parametrize("columns, starts", [
    (([0, 0, 1, 1, 0],), [True, False, True, False, True]),
    (([0, 0, 0, 0], [5, 5, 6, 6]), [True, False, True, False]),
    (([2], [3]), [True]),
])
def test_run_starts_mark_the_first_row_of_each_run(columns, starts):
    assert run_starts(*(np.array(c) for c in columns)).tolist() == starts


@pytest.mark.parametrize("coded", [False, True], ids=["strings", "categorical"])
def test_per_value_is_the_function_of_each_row_missing_ones_apart(coded):
    column = pd.Series(["b", None, "a", "b", "", "a"], dtype="str")
    if coded:
        column = column.astype("category")
    got = per_value(column, lambda v: f"<{v}>", "missing", object)
    assert got.tolist() == ["<b>", "missing", "<a>", "<b>", "<>", "<a>"]


@pytest.mark.parametrize("coded", [False, True], ids=["strings", "categorical"])
def test_mapped_is_the_function_of_each_value_coded_only_for_the_values_found(coded):
    column = pd.Series(["hendrycksTest-x", None, "mmlu_y", "arc"], dtype="str")
    if coded:
        column = column.astype(pd.CategoricalDtype(["arc", "hendrycksTest-x", "mmlu_y", "unused"]))
    seen = []
    got = mapped(column, lambda v: seen.append(v) or v.replace("hendrycksTest-", "mmlu_"))
    assert got.isna().tolist() == [False, True, False, False]
    assert got.astype(object)[got.notna()].tolist() == ["mmlu_x", "mmlu_y", "arc"]
    assert "unused" not in seen  # a category no row has is not worked out, nor kept
    if coded:
        assert list(got.cat.categories) == ["arc", "mmlu_x", "mmlu_y"]


@pytest.mark.parametrize("coded", [False, True], ids=["strings", "categorical"])
def test_joined_is_the_inner_merge_with_the_tables_strings_as_codes(coded):
    """The experiments' table beside each curve row: what `merge(on=key)` gives, in the rows' order,
    a key the table lacks left out, numbers as they are and strings (a missing one too) as codes."""
    rows = pd.DataFrame({"experiment": ["b", "a", "z", "b", None, "a"], "step": [1, 2, 3, 4, 5, 6]})
    rows["experiment"] = rows["experiment"].astype("category" if coded else "str")
    table = pd.DataFrame({"experiment": ["a", "b", "c"], "group": ["g1", "g0", "g2"], "seed": [1, 2, 3],
                          "trained_on": ["", "x", None]})
    got = joined(rows, table, "experiment")
    want = plain(rows).merge(table, on="experiment")
    assert got["step"].tolist() == want["step"].tolist() == [1, 2, 4, 6]
    for name in ("group", "trained_on"):
        assert isinstance(got[name].dtype, pd.CategoricalDtype)
        assert got[name].astype(object).tolist() == want[name].astype(object).tolist()
    assert got["seed"].dtype == np.int64 and got["seed"].tolist() == [2, 1, 2, 1]
    assert list(got.index) == [0, 1, 2, 3]


@pytest.mark.parametrize("column", [
    pd.Series(pd.Categorical(["b", None, "a", "b"], categories=["a", "b", "c"])),  # "c": no row has it
    pd.Series(pd.Categorical([None, None], categories=["a"])),
    pd.Series(["y", None, "x", "y"], dtype=object),
    pd.Series([], dtype="category"),
])
def test_present_is_the_distinct_values_without_the_missing(column):
    expected = sorted(map(str, column.dropna().unique()))
    assert sorted(map(str, present(column))) == expected
    if isinstance(column.dtype, pd.CategoricalDtype):
        assert "c" not in present(column)  # a category no row has is not shown
