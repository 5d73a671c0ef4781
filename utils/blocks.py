"""Tables written block by block: a rebuild reformats only the blocks whose rows changed.

`tables/metrics.csv` holds every record (333k rows at paper scale); formatting it is the single
most expensive output of a rebuild (1.4 s), yet one changed evaluation file changes the rows of
one experiment. A table registered with `blocks_by="experiment"` is the header followed by each
run of rows with the same experiment; each block's text is kept in `<out>/.cache/blocks/<table>/`
under a hash of its rows and of what else the text depends on (the table's code, the rules, the
pandas version), and reused while that holds. The file written is byte for byte what the table
function returns for the whole view: a block whose text does not start with the header the
function writes for no rows (so the table is not a plain concatenation) makes the whole table
render in one piece.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from utils.atomic import write_text

if TYPE_CHECKING:
    import pandas as pd

_SUFFIX = ".block"


def runs(column: "pd.Series") -> list[tuple[int, int]]:
    """(start, stop) row positions of each run of equal consecutive values."""
    import numpy as np
    values = column.to_numpy()
    if not len(values):
        return []
    cuts = (np.flatnonzero(values[1:] != values[:-1]) + 1).tolist()
    return list(zip([0, *cuts], [*cuts, len(values)]))


def render_in_blocks(render: Callable[["pd.DataFrame"], str], data: "pd.DataFrame", column: str,
                     cache: Path, salt: str) -> str:
    """`render(data)`, put together from cached block texts where their rows are unchanged.

    `salt` identifies everything but the rows that the text depends on; blocks in `cache` that this
    table no longer uses are removed."""
    import pandas as pd
    if column not in data.columns or len(data) == 0:
        return render(data)
    header = render(data.iloc[:0])
    row_hashes = pd.util.hash_pandas_object(data, index=False).to_numpy()
    columns = f"{salt}|{pd.__version__}|{list(data.columns)}|{list(map(str, data.dtypes))}".encode()
    texts, used = [header], set()
    for start, stop in runs(data[column]):
        name = hashlib.blake2b(columns + row_hashes[start:stop].tobytes(), digest_size=16).hexdigest() + _SUFFIX
        text = _read(cache / name)
        if not text:  # missing, unreadable or emptied: a block of rows is never empty text
            whole = render(data.iloc[start:stop])
            if not whole.startswith(header):
                return render(data)
            text = whole[len(header):]
            write_text(cache / name, text)
        texts.append(text)
        used.add(name)
    _forget_others(cache, used)
    return "".join(texts)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _forget_others(cache: Path, used: set[str]) -> None:
    try:
        names = os.listdir(cache)
    except OSError:
        return
    for name in names:
        if name.endswith(_SUFFIX) and name not in used:
            try:
                os.unlink(cache / name)
            except OSError:
                pass
