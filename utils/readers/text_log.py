"""Plain-text training logs (nanoGPT's `step 500: train loss 2.1, val loss 2.2`, fairseq's
`| epoch 001 | loss 9.12`), only where a rules.yaml `readers:` entry gives their line pattern: a
regular expression whose named groups are the step (`step`, else `epoch`) and one per metric
(`train_loss`, `val_loss`: the name's split marker gives the condition). Lines the pattern does not
match are not metric lines. Without an entry, text logs are listed as not read: no guessing.

    readers:
      - reader: text_log
        glob: "**/train.log"
        pattern: 'step (?P<step>\\d+): train loss (?P<train_loss>[\\d.]+), val loss (?P<val_loss>[\\d.]+)'
"""
from __future__ import annotations

from pathlib import Path

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import Record, reader, rule_for
from utils.readers.logs import own_name, row_records

NAME = "text_log"


@reader(NAME, "plain-text logs, by the regular expression of a rules.yaml readers: entry (pattern:)")
def read_text_log(path: Path, root: Path, config: Config) -> list[Record]:
    """Read one text log with its rule's pattern: every match's named groups at its step."""
    rule = rule_for(path, root, config)
    pattern = rule.pattern if rule is not None else None
    if pattern is None:
        raise EvalFileError(f"{path}: the text_log reader needs a pattern in its rules.yaml readers: entry")
    key = "step" if "step" in pattern.groupindex else "epoch"
    rows = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                m = pattern.search(line)
                if m:
                    rows.append({k: v for k, v in m.groupdict().items() if v is not None})
    except OSError as exc:
        raise EvalFileError(f"{path}: cannot read: {exc}") from None
    records, _ = row_records(rows, own_name(path, root, lambda n: False), config, key=key)
    return records
