"""Reading a table row by row, for the few steps no vectorised pandas operation expresses."""
from __future__ import annotations

from typing import Iterator

import pandas as pd


def columns(frame: pd.DataFrame, *names: str) -> Iterator[tuple]:
    """The rows of some columns as tuples, read from plain arrays: iterating a pandas string column
    goes through one `__getitem__` a value (10 s of a 5-million-record log tree's overview)."""
    return zip(*(frame[n].to_numpy(dtype=object) for n in names))
