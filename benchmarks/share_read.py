"""What share of the numbers in a tree of result files zero-config reads (issue 21's yardstick).

Run: ``python -m benchmarks.share_read [DIR]`` (default: ../shared/real_formats/tree beside the clone)

Counts, independently of the readers, every number in every file (JSON and JSON Lines leaves, CSV
cells, MLflow metric lines, TensorBoard scalars, text-log numbers are not counted: they need a
rules.yaml pattern), leaving out what is not a metric by the one bookkeeping rule (epochs, runtime,
throughput, counts, steps) and configuration files (config/params/hparams/args/tokenizer/adapter
files, MLflow params/ and tags/, meta.yaml); then the records each file gave (tables/files.csv's
`records`, before repeats across files are merged). Prints per top folder and overall."""
from __future__ import annotations

import csv
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

from utils.config import load_config
from utils.loading import load
from utils.readers import is_bookkeeping

CONFIG = re.compile(r"(^|/)(config|params|hparams|args|training_args|adapter_config|tokenizer_config|"
                    r"special_tokens_map|generation_config|preprocessor_config|meta)\.(json|yaml)$|/params/|/tags/|"
                    r"\.yaml$")
STEPS = {"step", "global_step", "iter", "iteration", "current_steps", "_step", "training_iteration", "epoch"}


def _leaves(data, key=""):
    if isinstance(data, dict):
        for k, v in data.items():
            if str(k) in ("config", "steps", "groups", "versions", "n-shot", "n-samples", "higher_is_better",
                          "configs", "heartbeat", "resources", "meta", "host") or str(k).startswith("_"):
                continue  # Sacred's step lists, lm-eval's repeated groups and settings, run metadata
            yield from _leaves(v, str(k))
    elif isinstance(data, list):
        for v in data:
            yield from _leaves(v, key)
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        yield key


def numbers(path: Path) -> int | None:
    """Numbers in a file that are metrics or diagnostics; None for a file not counted."""
    raw = path.read_bytes()
    if raw.startswith(b"version https://git-lfs"):
        return None
    name = path.name
    if "tfevents" in name:
        try:
            from utils.readers.tensorboard import scalars
            return sum(1 for _, tag, *_ in scalars(path) if not is_bookkeeping(tag.split("/")[-1]))
        except Exception:  # noqa: BLE001
            return None
    if "/metrics/" in path.as_posix() and "." not in name.replace("mAP50-95B", ""):
        return len(raw.splitlines())
    text = raw.decode("utf-8", "replace")
    try:
        data = json.loads(text)
        keys = list(_leaves(data))
    except ValueError:
        keys = []
        lines = text.splitlines()
        objs = []
        for line in lines:
            try:
                objs.append(json.loads(line))
            except ValueError:
                objs = []
                break
        if objs:
            keys = [k for o in objs for k in _leaves(o)]
        elif name.endswith((".csv", ".log")) and "," in (lines[0] if lines else ""):
            rows = list(csv.reader(lines, skipinitialspace=True))
            header = [c.strip() for c in rows[0]]
            for row in rows[1:]:
                for col, cell in zip(header, row):
                    try:
                        float(cell)
                    except ValueError:
                        continue
                    if cell.strip().lower() in ("true", "false"):
                        continue
                    keys.append(col)
        else:
            return None
    return sum(1 for k in keys if k not in STEPS and not is_bookkeeping(k))


def shares(root: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(numbers read, numbers in the files) per top folder under root."""
    result = load(root, load_config(None))
    records = {f.path: f.records for f in result.statuses}
    total: dict[str, int] = defaultdict(int)
    read: dict[str, int] = defaultdict(int)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if CONFIG.search("/" + rel):
            continue
        n = numbers(path)
        if not n:
            continue
        top = rel.split("/")[0]
        total[top] += n
        read[top] += min(records.get(rel, 0), n)
    return dict(read), dict(total)


def main(argv: list[str] | None = None) -> None:
    args = argv if argv is not None else sys.argv[1:]
    root = Path(args[0]) if args else Path(__file__).resolve().parents[2] / "shared" / "real_formats" / "tree"
    read, total = shares(root)
    for top in sorted(total):
        print(f"{top:20s} {read[top]:7d} / {total[top]:7d} = {read[top] / total[top]:.1%}")
    print(f"{'all':20s} {sum(read.values()):7d} / {sum(total.values()):7d} = "
          f"{sum(read.values()) / sum(total.values()):.1%}")


if __name__ == "__main__":
    main()
