"""Helpers shared by the runner's tests (importable: pytest puts testing/ on sys.path)."""
from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def write_eval(root: Path, experiment: str, folder: str, checkpoints: dict | str) -> Path:
    """Write one evaluation_results.json in the real layout (a str is written verbatim)."""
    path = root / experiment / "evals" / folder / "eval_data" / "evaluation_results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(checkpoints if isinstance(checkpoints, str) else json.dumps(checkpoints))
    return path
