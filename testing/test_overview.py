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
