"""analysis/figure_data.py's one decision about runs: which runs rules.yaml describes (`training:` says
what they trained on, so trained / not trained means something), and the run index (colour, marker) of
the others, taken from a whole view so a run keeps it in every figure."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.figure_data import (cells, conditions_in, described, row_runs, run_index, seed_bars, tasks_in,
                                  with_run_index)
from testing_helpers import render_views


def test_described_is_where_training_names_tasks_or_a_baseline() -> None:
    frame = pd.DataFrame({
        "experiment": ["pt1", "pt1_ft1-1", "pt1_ft1-9", "bert-sst2", "gpt2"],
        "group": ["baseline", "ft1", "ft1", "hf", "baseline"],
        "trained_on": ["", "distance", "", "", None],
    })
    assert described(frame).tolist() == [True, True, False, False, True]
    # a hand-made frame with `trained` alone keeps the trained / not-trained meaning
    assert described(frame.drop(columns="trained_on")).tolist() == [True] * 5


def test_a_run_index_comes_from_the_whole_view_not_a_slice() -> None:
    """c is the third run of its group whether or not a figure's slice has b; another group counts on
    its own; described rows (and baselines) have none."""
    view = pd.DataFrame({
        "model": ["c", "b", "a", "x", "pt1_ft1-1", "base"],
        "group": ["hf", "hf", "hf", "lm", "ft1", "baseline"],
        "trained_on": ["", "", "", "", "distance", ""],
    })
    assert run_index(view) == {"a": 0, "b": 1, "c": 2, "x": 0}
    indexed = with_run_index(view)
    assert indexed["run_index"].tolist() == [2, 1, 0, 0, -1, -1]
    slice_ = indexed[indexed["model"].isin(["a", "c"])]
    assert row_runs(slice_, ["a", "c", "missing"]).tolist() == [0, 2, -1]
    # without the column (a hand-made slice), the slice's own order
    assert row_runs(slice_.drop(columns="run_index"), ["a", "c"]).tolist() == [0, 1]


def test_seed_bars_carry_each_rows_run_index(scored_runs) -> None:
    root, config = scored_runs
    _, views = render_views("comparison", root, config, extra=("seed_points",))
    points = views["seed_points"]
    bars = seed_bars(points[points["group"].isin(["hf", "baseline"])], "value", config)
    assert list(bars.mean.index) == ["alpha", "beta", "gamma"]
    assert bars.runs.tolist() == [0, 1, 2]
    # the baseline is drawn as the baseline (black), never in a run colour
    assert set(points.loc[points["group"] == "baseline", "run_index"]) == {-1}


@pytest.mark.parametrize("coded", [False, True], ids=["strings", "categorical"])
def test_distinct_pairs_and_run_rows_are_decided_as_on_strings(coded):
    """`distinct_pairs`, `described` and `without_baseline` work on codes (a log tree's views are
    millions of rows): the same answers as the string operations they replace, missing values included."""
    from analysis.figure_data import distinct_pairs
    from analysis.runs import without_baseline
    from utils.labels import categorical
    frame = pd.DataFrame({
        "group": ["runs", "runs", "baseline", "runs", None, "hf", "runs"],
        "model": ["b", "a", "pt1", "b", "x", None, "a"],
        "trained_on": ["", "distance", "", None, "", "", "angle"],
        "baseline_experiment": ["", "pt1", "", None, "pt1", "", ""],
    })
    if coded:
        frame = categorical(frame, ["group", "model", "trained_on", "baseline_experiment"])
    rows = np.array([True, True, False, True, True, True, False])
    want = frame.loc[rows, ["group", "model"]].dropna().astype(str).drop_duplicates()
    assert len(want) == 2  # (runs, b), (runs, a): the rows with a missing group or model have no colour
    assert sorted(distinct_pairs(frame, rows, "group", "model")) == sorted(map(tuple, want.to_numpy().tolist()))
    assert described(frame).tolist() == [False, True, True, False, False, False, True]
    assert without_baseline(frame).tolist() == [True, False, False, True, False, True, True]


@pytest.mark.parametrize("kind", ["str", "category"])
def test_the_conditions_and_tasks_in_a_frame_come_in_the_rules_order(config, kind: str) -> None:
    """Only what some row holds (an unused category or a missing value is none), in rules.yaml's order,
    not the rows' order; a name rules.yaml does not list is left out."""
    frame = pd.DataFrame({"condition": ["atlantis", "standard", None, "atlantis"],
                          "task": ["angle", "distance", "angle", "no_such_task"]})
    if kind == "category":
        frame = frame.astype({"condition": pd.CategoricalDtype(["atlantis", "elsewhere", "standard"]),
                              "task": pd.CategoricalDtype(["angle", "compass", "distance", "no_such_task"])})
    assert conditions_in(frame, config) == ["standard", "atlantis"]
    assert tasks_in(frame, config) == ["distance", "angle"]
    assert conditions_in(frame[frame["condition"] == "atlantis"], config) == ["atlantis"]


@pytest.mark.parametrize("kind", ["str", "category"])
@pytest.mark.parametrize("case", ["whole", "a_row_missing_a_task", "no_rows"])
def test_cells_are_what_a_pivot_table_reindexed_gives(kind: str, case: str) -> None:
    """One group-by for several columns, each laid out rows x columns as pivot_table then reindex lay it out:
    a first number skipping NaN, any, max; absent rows, tasks and keys NaN (an unused category's too: `any`
    gives NaN there, not False); a missing key's rows dropped."""
    frame = pd.DataFrame({
        "model": ["a", "a", "a", "a", "b", "b", None, "c", "c"],
        "task": ["angle", "angle", "angle", "distance", "angle", "distance", "angle", "distance", None],
        "value": [np.nan, 2.0, 8.0, 3.0, 4.0, np.nan, 9.0, 5.0, 6.0],
        "n": [1, 3, 1, 2, 2, 0, 7, 1, 1],
        "trained": [False, True, False, False, False, False, True, False, True],
    })
    if case == "a_row_missing_a_task":
        frame = frame[~((frame["model"] == "b") & (frame["task"] == "distance"))]
    elif case == "no_rows":
        frame = frame.iloc[:0]
    if kind == "category":
        frame = frame.astype({"model": pd.CategoricalDtype(["a", "b", "c", "unused"]),
                              "task": pd.CategoricalDtype(["angle", "distance", "compass"])})
    rows, cols = ["c", "a", "b", "nobody"], ["distance", "angle", "compass"]
    aggs = {"value": "first", "n": "max", "trained": "any"}
    got = cells(frame, "model", aggs, rows, cols)
    assert list(got) == list(aggs)
    for column, agg in aggs.items():
        want = frame.pivot_table(index="model", columns="task", values=column, aggfunc=agg, dropna=False,
                                 observed=True).reindex(index=rows, columns=cols)
        assert got[column].index.tolist() == rows and got[column].columns.tolist() == cols
        np.testing.assert_array_equal(got[column].to_numpy(dtype="float64"), want.to_numpy(dtype="float64"))
    if case == "whole":
        assert got["value"].loc["a", "angle"] == 2.0  # the first number, not the first row's NaN
        assert got["n"].loc["a", "angle"] == 3 and got["trained"].loc["a", "angle"]
        assert np.isnan(got["value"].loc["b", "distance"]) and got["n"].loc["b", "distance"] == 0
