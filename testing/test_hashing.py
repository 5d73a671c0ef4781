"""Row hashes (utils/hashing.py): a row's hash is of its values alone."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from utils.hashing import row_hashes


@pytest.mark.parametrize("chunk", [1, 3, 7, 1000])
def test_row_hashes_are_the_same_hashed_a_chunk_at_a_time(chunk: int) -> None:
    rng = np.random.default_rng(0)
    n = 23
    frame = pd.DataFrame({
        "label": pd.Categorical(rng.choice(["a", "b", None], n)),
        "text": rng.choice(["x", "y", "zz"], n).astype(object),
        "step": rng.integers(0, 5, n), "value": np.where(rng.random(n) < 0.2, np.nan, rng.random(n)),
    }, index=rng.permutation(n))
    whole = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    hashed = row_hashes(frame, chunk=chunk)
    assert hashed.dtype == np.uint64 and len(hashed) == n
    np.testing.assert_array_equal(hashed, whole)
