"""analysis/overview.py: seeds averaged per model at each step, taken as they are when each model
has one run and the rows are in order, grouped otherwise: the same table either way."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.overview import _per_model
from utils.labels import categorical

KEYS = ["group", "model", "condition", "task"]


def _rows(models: list[str], seeds: int, shuffled: bool) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = [{"group": "runs", "model": m, "experiment": f"{m}_seed{s}" if seeds > 1 else m, "condition": c,
             "task": "loss", "step": step, "value": float(rng.normal()) if step != 20 else np.nan,
             "stderr": np.nan if c == "train" else 0.01 * step, "kind": "error"}
            for m in models for s in range(seeds) for c in ("eval", "train") for step in (10, 20, 30)]
    frame = categorical(pd.DataFrame(rows), KEYS + ["kind"])
    return frame.sample(frac=1.0, random_state=2) if shuffled else frame


@pytest.mark.parametrize("seeds, shuffled", [(1, False), (1, True), (2, False)])
def test_per_model_equals_the_group_means(seeds, shuffled):
    rows = _rows(["a", "b"], seeds, shuffled)
    expected = rows.groupby(KEYS + ["step"], sort=True).agg(
        value=("value", "mean"), n_seeds=("value", "size"), stderr=("stderr", "mean"),
        kind=("kind", "first")).reset_index()
    got = _per_model(rows, KEYS)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert (got["n_seeds"] == seeds).all() and len(got) == 2 * 2 * 3


@pytest.mark.parametrize("numbers", ["mixed radix", "too many labels for one number"])
def test_curve_rows_are_the_slices_with_two_finite_steps(numbers, monkeypatch):
    """A group (outer) is kept when some run and condition in it (inner) has two steps or more with a
    finite value; a missing label is a label like any other."""
    import analysis.overview as overview
    if numbers != "mixed radix":
        monkeypatch.setattr(overview, "label_numbers", lambda frame, names: None)
    rows = _rows(["a", "b", "c"], 1, True).rename(columns={"task": "name"})
    rows.loc[(rows["model"] == "b") & (rows["step"] != 10), "value"] = np.nan  # b: one finite step only
    rows["name"] = rows["name"].cat.add_categories(["acc"])
    rows.loc[rows["model"] == "b", "name"] = "acc"  # the slice (runs, acc) holds no curve
    rows.loc[rows.index[:2], "condition"] = np.nan
    finite = rows[np.isfinite(rows["value"])]
    steps = finite.groupby(["group", "name", "model", "condition"], observed=True, dropna=False)["step"].nunique()
    kept = {key[:2] for key, n in steps.items() if n > 1}
    expected = [(g, n) in kept for g, n in zip(rows["group"], rows["name"])]
    got = overview._curve_rows(rows, ["group", "name"], ["model", "condition"])
    assert got.tolist() == expected and 0 < sum(expected) < len(rows)
