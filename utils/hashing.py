"""Row hashes: one number per row of a table's values, what identifies a slice of rows (an output's
data, a block of a table written in blocks, a part of a partwise view) from run to run. Imports
pandas only when called: the no-op path imports this module and needs no pandas."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ROW_HASH_CHUNK = 1 << 21  # rows hashed at a time: a column's hashing makes a few arrays of its length


def row_hashes(data: pd.DataFrame, chunk: int = ROW_HASH_CHUNK) -> np.ndarray:
    """One uint64 per row of its values (not its index). A row's hash depends on that row alone
    (a label's text, not its categorical code), so long frames are hashed `chunk` rows at a time:
    ~110 MB less at once for a log tree's 5 million overview rows, ~20 ms more for the sweep's
    5.58 million records (each chunk hashes a categorical's labels again; 60-80 ms at a million
    rows a chunk); and the hashes of a table's rows can be kept beside it and spliced."""
    import numpy as np
    import pandas as pd
    if len(data) <= chunk:
        return pd.util.hash_pandas_object(data, index=False).to_numpy()
    out = np.empty(len(data), dtype="uint64")
    for start in range(0, len(data), chunk):
        out[start:start + chunk] = pd.util.hash_pandas_object(data.iloc[start:start + chunk], index=False).to_numpy()
    return out
