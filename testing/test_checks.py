"""The up-front checks of --data and --out (utils/checks.py), through the CLI: exit 2, one line
naming the path and what to do, nothing read or written before."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import run_all
from utils.checks import check_found, check_out
from utils.errors import DataPathError, OutputPathError
from utils.synthetic import write_tree


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """<tmp>/examples/experiments holding a small tree, as the repository's examples/ does."""
    root = tmp_path / "examples" / "experiments"
    write_tree(root, seeds=1, ft1=1, ft2=0, checkpoints=2)
    return root


@pytest.fixture
def no_loading(monkeypatch):
    """Fails the test if anything is parsed: the checks must come before any reading."""
    import utils.loading

    def refuse(*args, **kwargs):
        raise AssertionError("evaluation files were read before the path check")
    monkeypatch.setattr(utils.loading, "load", refuse)


def run(capsys, *args) -> tuple[int, str]:
    code = run_all.main([*map(str, args), "--jobs", "1", "-q"])
    return code, capsys.readouterr().err


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("where, hint", [
    ("empty", None),
    ("too_high", "the folder below, {experiments}"),
    ("too_low", "as seen from the folder above, {experiments}"),
])
def test_data_without_evaluation_files_exits_2_with_a_hint(tree, tmp_path, capsys, monkeypatch, where, hint):
    monkeypatch.chdir(tmp_path)
    data = {"empty": tmp_path / "empty", "too_high": tree.parent, "too_low": tree / "pt1_ft1-1"}[where]
    data.mkdir(exist_ok=True)
    out = tmp_path / "out"
    code, err = run(capsys, "--data", data, "--out", out)
    line = error_line(err)
    assert code == 2
    assert f"no evaluation files under {data} (readers: evaluation_results for " in line
    if hint is None:
        assert "try --data" not in line
    else:
        expected = hint.format(experiments=os.path.relpath(tree))
        assert expected in line and line.endswith(f"try --data {os.path.relpath(tree)}"), line
    assert not (out / "index.html").exists() and not list(out.rglob("*.png"))


def test_the_hint_names_a_root_that_works(tree, tmp_path, capsys):
    """Following the hint of a too-high --data renders the figures."""
    code, err = run(capsys, "--data", tree.parent, "--out", tmp_path / "out")
    suggested = Path(err.strip().rsplit("try --data ", 1)[1])
    assert code == 2 and suggested.resolve() == tree.resolve()
    code, err = run(capsys, "--data", suggested, "--out", tmp_path / "out", "--only", "scores_csv")
    assert code == 0, err
    assert (tmp_path / "out" / "tables" / "scores.csv").stat().st_size > 0


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_text("my notes\n"), "is a file, not a folder; --data takes the folder"),
    (lambda p: None, "evaluation folder not found"),
])
def test_data_that_is_not_a_folder(tmp_path, capsys, no_loading, make, words):
    data = tmp_path / "notes.txt"
    make(data)
    code, err = run(capsys, "--data", data, "--out", tmp_path / "out")
    line = error_line(err)
    assert code == 2 and line.startswith(f"error: {data}: ") and words in line
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("layout, in_the_way", [
    ("out is a file", "out"),
    ("a file above out", "parent"),
    ("cache is a file", "out/.cache"),
])
def test_out_with_a_file_in_the_way(tree, tmp_path, capsys, no_loading, layout, in_the_way):
    if layout == "out is a file":
        out = tmp_path / "out"
        out.write_text("x")
    elif layout == "a file above out":
        (tmp_path / "parent").write_text("x")
        out = tmp_path / "parent" / "figures"
    else:
        out = tmp_path / "out"
        out.mkdir()
        (out / ".cache").write_text("x")
    code, err = run(capsys, "--data", tree, "--out", out)
    line = error_line(err)
    assert code == 2
    assert line.startswith(f"error: {out}: cannot write the outputs: {tmp_path / in_the_way} is a file, not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders; see the os.access test below")
def test_read_only_out_exits_2_before_reading(tree, tmp_path, capsys, no_loading):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, err = run(capsys, "--data", tree, "--out", locked / "figures")
    finally:
        locked.chmod(0o755)
    assert code == 2 and f"{locked} is not writable" in error_line(err)


@pytest.mark.parametrize("existing", [False, True])
def test_unwritable_out_exits_2_before_reading(tree, tmp_path, capsys, monkeypatch, no_loading, existing):
    """A folder this process may not write (os.access says no; as root chmod cannot show it)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    out = locked if existing else locked / "figures"
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == locked else real(p, mode))
    code, err = run(capsys, "--data", tree, "--out", out)
    line = error_line(err)
    assert code == 2 and f"cannot write the outputs: {locked} is not writable" in line
    assert list(locked.iterdir()) == []


def test_check_out_creates_nothing(tmp_path):
    check_out(tmp_path / "a" / "b")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputPathError):
        check_out(tmp_path / "f" / "b")


def test_watch_mode_waits_for_an_empty_folder_but_not_a_wrong_one(tree, tmp_path, config):
    (tmp_path / "empty").mkdir()
    check_found(tmp_path / "empty", 0, config, allow_empty=True)  # files may still land
    with pytest.raises(DataPathError, match="the folder below"):
        check_found(tree.parent, 0, config, allow_empty=True)
    with pytest.raises(DataPathError, match="no evaluation files under"):
        check_found(tmp_path / "empty", 0, config)
