"""The CLI end to end: files written, exit codes 0 / 1 / 2, --list, --only."""
import textwrap

import pytest
import yaml

import run_all
from testing_helpers import REPO, write_eval

PNG = b"\x89PNG\r\n\x1a\n"


def rules_with(tmp_path, **changes):
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    for key, value in changes.items():
        raw[key] = value
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run(*args):
    return run_all.main([*map(str, args), "--jobs", "1", "-q"])


def test_renders_figures_and_tables(small_tree, tmp_path):
    out = tmp_path / "out"
    assert run("--data", small_tree, "--out", out, "--only", "comparison", "scores_csv",
               "raw_metrics_tex", "metrics_csv") == 0
    for name in ["ft1_standard", "ft1_atlantis", "ft2_standard", "ft2_atlantis"]:
        assert (out / "comparison" / f"{name}.png").read_bytes()[:8] == PNG
    assert (out / "tables" / "scores.csv").stat().st_size > 0
    tex = (out / "tables" / "raw_metrics.tex").read_text()
    assert tex.count(r"\\") >= 5 + 2 and "\nft1-1 & " in tex  # short row names (the LaTeX tests: test_latex)
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporary files


def test_parallel_run_writes_the_same_files(small_tree, tmp_path):
    code = run_all.main(["--data", str(small_tree), "--out", str(tmp_path / "p"), "--only", "comparison",
                         "--jobs", "2", "-q"])
    assert code == 0 and len(list((tmp_path / "p" / "comparison").glob("*.png"))) == 4


def test_a_malformed_file_is_skipped_and_the_rest_renders(small_tree, tmp_path, capsys):
    bad = write_eval(small_tree, "pt1_ft1-1", "angle", '{"checkpoint-1000": {"eval_angle')
    out = tmp_path / "out"
    assert run("--data", small_tree, "--out", out, "--only", "comparison") == 0
    assert len(list((out / "comparison").glob("*.png"))) == 4
    assert str(bad) in capsys.readouterr().err
    assert run("--data", small_tree, "--out", out, "--only", "comparison", "--strict") == 1


def test_a_failing_module_exits_1_and_the_others_still_render(small_tree, tmp_path, capsys):
    mod = tmp_path / "boom.py"
    mod.write_text(textwrap.dedent("""
        from plots.registry import figure

        @figure("boom", needs="scores", per=("group",))
        def draw(data, ctx):
            raise ValueError("no luck")
    """))
    rules = rules_with(tmp_path, plots={"modules": [str(mod)], "format": "png", "dpi": 60})
    out = tmp_path / "out"
    code = run("--config", rules, "--data", small_tree, "--out", out, "--only", "boom", "comparison")
    assert code == 1
    assert len(list((out / "comparison").glob("*.png"))) == 4
    err = capsys.readouterr().err
    assert "boom/ft1.png" in err and "ValueError: no luck" in err


@pytest.mark.parametrize("args, message", [
    (["--only", "nonexistent"], "unknown output"),
    (["--data", "/nonexistent/folder"], "evaluation folder not found"),
])
def test_usage_errors_exit_2(small_tree, tmp_path, capsys, args, message):
    base = ["--data", str(small_tree), "--out", str(tmp_path / "o")]
    assert run(*base, *args) == 2
    assert message in capsys.readouterr().err


def test_bad_config_exits_2_naming_file_and_key(tmp_path, capsys):
    rules = tmp_path / "rules.yaml"
    rules.write_text("tasks:\n  distance: {label: Distance}\nconditions: {standard: {prefix: ''}}\n")
    assert run("--config", rules) == 2
    err = capsys.readouterr().err
    assert str(rules) in err and "tasks.distance.kind" in err


@pytest.mark.parametrize("argv", [["--jobs", "-1"], ["--poll", "2"], ["--bogus"]])
def test_bad_flags_exit_2(argv):
    with pytest.raises(SystemExit) as exc:
        run_all.main(argv)
    assert exc.value.code == 2


def test_help_and_list(capsys):
    with pytest.raises(SystemExit) as exc:
        run_all.main(["--help"])
    assert exc.value.code == 0
    assert run_all.main(["--list"]) == 0
    listing = capsys.readouterr().out
    assert "comparison" in listing and "comparison/{group}_{condition}.png" in listing


def test_ctrl_c_exits_130_without_traceback(small_tree, tmp_path, monkeypatch, capsys):
    from runner.pipeline import Pipeline

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(Pipeline, "run", interrupted)
    assert run("--data", small_tree, "--out", tmp_path / "o", "--only", "scores_csv") == 130
    assert "interrupted" in capsys.readouterr().err


@pytest.mark.parametrize("late_thread", [False, True])
def test_exit_at_once_keeps_the_code_and_what_was_printed(tmp_path, late_thread):
    """The CLI leaves without the interpreter's teardown: its exit code and its unflushed output
    still arrive, and a thread still writing is waited for (the process then ends the usual way)."""
    import subprocess
    import sys
    marker = tmp_path / "written"
    script = textwrap.dedent(f"""
        import sys, threading, time
        import run_all
        if {late_thread}:
            threading.Thread(target=lambda: (time.sleep(0.3), open({str(marker)!r}, "w").write("done"))).start()
        print("to stdout", end="")
        print("to stderr", end="", file=sys.stderr)
        run_all.exit_at_once(3)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert (done.stdout, done.stderr) == ("to stdout", "to stderr")
    assert marker.is_file() == late_thread
    if late_thread:
        assert marker.read_text() == "done"
