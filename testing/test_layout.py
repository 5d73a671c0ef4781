"""The floors of the code: imports run one way, run_all.py -> runner -> plots -> analysis -> utils, and
the organizer stands alone. Every import of every module is read (ast), those inside functions and
under TYPE_CHECKING too, so a lazy import cannot hide an arrow that runs back up."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from testing_helpers import REPO

FLOORS = {"utils": 0, "analysis": 1, "plots": 2, "runner": 3, "run_all": 4}
PACKAGES = (*FLOORS, "organizer")


def modules() -> list[Path]:
    """Every module of the product (not the tests or benchmarks)."""
    files = [REPO / "run_all.py"]
    for package in PACKAGES:
        files += sorted((REPO / package).rglob("*.py")) if (REPO / package).is_dir() else []
    return files


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, top-level name) of every absolute import in the module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def wrong_way(path: Path) -> list[str]:
    """The imports of `path` that run against the floors, each named with its line."""
    rel = path.relative_to(REPO)
    home = rel.parts[0].removesuffix(".py")
    bad = []
    for line, name in imported(path):
        if name not in PACKAGES or name == home:
            continue
        if home == "organizer" or name == "organizer":
            bad.append(f"{rel}:{line} imports {name} (the organizer stands alone)")
        elif FLOORS[name] > FLOORS[home]:
            bad.append(f"{rel}:{line} imports {name}, a floor above {home}")
    return bad


def test_every_import_runs_down_a_floor() -> None:
    files = modules()
    assert len(files) > 60  # the scan found the product's modules
    assert [b for f in files for b in wrong_way(f)] == []


@pytest.mark.parametrize("home, source, expected", [
    ("utils/x.py", "from analysis.views import VIEWS\n", "utils/x.py:1 imports analysis, a floor above utils"),
    ("analysis/x.py", "def f():\n    import plots.style\n", "analysis/x.py:2 imports plots, a floor above analysis"),
    ("plots/x.py", "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runner.render import Job\n",
     "plots/x.py:3 imports runner, a floor above plots"),
    ("organizer/x.py", "import utils.walk\n", "organizer/x.py:1 imports utils (the organizer stands alone)"),
    ("runner/x.py", "from organizer import tidy\n", "runner/x.py:1 imports organizer (the organizer stands alone)"),
])
def test_an_import_back_up_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, home: str, source: str,
                                    expected: str) -> None:
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / home
    path.parent.mkdir(parents=True)
    path.write_text(source)
    assert wrong_way(path) == [expected]


def test_imports_down_are_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    path = tmp_path / "runner" / "x.py"
    path.parent.mkdir()
    path.write_text("import plots.registry\nfrom analysis import views\nfrom utils.config import Config\n"
                    "from runner.render import Job\nimport pandas\n")
    assert wrong_way(path) == []
