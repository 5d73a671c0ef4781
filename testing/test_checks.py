"""The up-front checks of --data and --out (runner/checks.py), through the CLI: exit 2, one line
naming the path and what to do, nothing read or written before."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import run_all
from runner.checks import check_found, check_out
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


def test_an_empty_data_folder_exits_2_naming_the_readers(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "empty"
    data.mkdir()
    out = tmp_path / "out"
    code, err = run(capsys, "--data", data, "--out", out)
    line = error_line(err)
    assert code == 2
    assert f"no evaluation files under {data} (readers: evaluation_results for " in line
    assert "try --data" not in line
    assert not (out / "index.html").exists() and not list(out.rglob("*.png"))


def test_data_one_level_too_high_reads_the_runs_below(tree, tmp_path, capsys):
    """The default glob finds the layout at any depth: `examples` gives the scores `examples/experiments` does."""
    code, err = run(capsys, "--data", tree.parent, "--out", tmp_path / "high", "--only", "scores_csv")
    assert code == 0, err
    code, err = run(capsys, "--data", tree, "--out", tmp_path / "right", "--only", "scores_csv")
    assert code == 0, err
    high = (tmp_path / "high" / "tables" / "scores.csv").read_text()
    assert high == (tmp_path / "right" / "tables" / "scores.csv").read_text() and "pt1_ft1-1" in high


def test_data_at_one_experiment_reads_that_experiment(tree, tmp_path, capsys):
    """--data at one experiment's folder: its evaluations, named after that folder; the missing
    baseline is a gap line, not an error."""
    code, err = run(capsys, "--data", tree / "pt1_ft1-1", "--out", tmp_path / "out", "--only", "metrics_csv")
    assert code == 0, err
    metrics = (tmp_path / "out" / "tables" / "metrics.csv").read_text().splitlines()
    assert len(metrics) > 1 and all(line.startswith("pt1_ft1-1,") for line in metrics[1:])


def test_the_hint_names_a_root_that_works(tree, tmp_path, capsys):
    """A reader that only globs (no sniffer) and a --data one level too high: the hint names the
    folder whose runs the globs match, and following it renders the scores."""
    from utils.config import load_config
    config = load_config(_old_glob_rules(tmp_path))
    with pytest.raises(DataPathError) as raised:
        check_found(tree.parent, 0, config)
    message = str(raised.value)
    assert f"no evaluation files under {tree.parent}" in message and "the folder below" in message
    suggested = Path(message.rsplit("try --data ", 1)[1])
    assert suggested.resolve() == tree.resolve()
    code, err = run(capsys, "--data", suggested, "--out", tmp_path / "out", "--only", "scores_csv")
    assert code == 0, err
    assert (tmp_path / "out" / "tables" / "scores.csv").stat().st_size > 0


def _old_glob_rules(tmp_path: Path) -> Path:
    """The shipped rules with the top-level-only glob the hint is about."""
    text = (Path(run_all.__file__).parent / "rules.yaml").read_text()
    path = tmp_path / "rules_top_only.yaml"
    path.write_text(text.replace('"**/evals/*/eval_data/evaluation_results.json"',
                                 '"*/evals/*/eval_data/evaluation_results.json"').replace(
        "root: examples/experiments", f"root: {tmp_path}"))
    return path


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


def test_watch_mode_waits_for_an_empty_folder_but_not_a_wrong_one(tree, tmp_path):
    from utils.config import load_config
    config = load_config(_old_glob_rules(tmp_path))
    (tmp_path / "empty").mkdir()
    check_found(tmp_path / "empty", 0, config, allow_empty=True)  # files may still land
    with pytest.raises(DataPathError, match="the folder below"):
        check_found(tree.parent, 0, config, allow_empty=True)
    with pytest.raises(DataPathError, match="no evaluation files under"):
        check_found(tmp_path / "empty", 0, config)
