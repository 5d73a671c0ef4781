"""The command line: output shapes, rules-file discovery, dry run == real run, exit codes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from organizer_helpers import Link, make_tree, run_cli, run_module, snapshot

SCRATCH = {
    "plot_ft1_heatmap.py": "import matplotlib\nplt.savefig('ft1_performance_heatmap.png')\n",
    "ft1_performance_heatmap.png": b"\x89PNG",
    "plot_ft2_normalized_scores.py": "plt.savefig(f'{out}/ft2_{t}_scores.pdf')\n",
    "ft2_distance_scores.pdf": b"%PDF",
    "test_gradient_flow.py": "def test_a(): pass\n",
    "test_circlecount_metrics.py": "def test_b(): pass\n",
    "analyze_atlantis_in_training.py": "atlantis\n",
    "generate_exp4_cka_configs.py": "cfg\n",
    "migrate_paths_v2.py": "paths\n",
    "atlantis_metrics.csv": "a,b\n",
    "atlantis_same.csv": "identical\n",
    "notes.txt": "n\n",
    "link.csv": Link("atlantis_same.csv"),
    "plots/plot_ft1_heatmap.py": "older\n",
    "analysis/atlantis_same.csv": "identical\n",
}


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no rules.yaml in the current folder
    return make_tree(tmp_path / "scratch", SCRATCH)


def test_help_and_version() -> None:
    r = run_cli("--help")
    assert r.code == 0 and "tidy" in r.out and "undo" in r.out
    r = run_cli("tidy", "--help")
    assert r.code == 0 and "--dry-run" in r.out and "--json" in r.out and "--rules" in r.out
    assert run_cli("undo", "--help").code == 0
    assert run_cli("--version").code == 0


def test_python_dash_m_entry_point(tmp_path: Path) -> None:
    proc = run_module("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "organizer" in proc.stdout
    root = make_tree(tmp_path / "s", {"test_x.py": "def test_x(): pass\n"})
    proc = run_module("tidy", str(root), "--json", cwd=tmp_path)
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == [{"source": "test_x.py", "destination": "testing/test_x.py", "rule": "tests",
                                         "why": ""}]


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["tidy"], ["tidy", "a", "b"], ["tidy", "--bogus", "x"],
                                  ["undo"]])
def test_usage_errors_exit_2_with_one_line(args: list[str]) -> None:
    r = run_cli(*args)
    assert r.code == 2
    assert "Traceback" not in r.err
    if args:
        assert len(r.err.strip().splitlines()) == 1 and "error:" in r.err


def test_missing_or_non_folder_dir(tmp_path: Path) -> None:
    r = run_cli("tidy", str(tmp_path / "nope"))
    assert (r.code, r.err.strip()) == (2, f"organizer: error: {tmp_path / 'nope'}: no such folder")
    f = tmp_path / "file"
    f.write_text("")
    assert run_cli("undo", str(f)).code == 2


def test_dry_run_moves_nothing_and_prints_a_table(scratch: Path) -> None:
    before = snapshot(scratch)
    r = run_cli("tidy", str(scratch), "--dry-run")
    assert r.code == 0
    assert snapshot(scratch) == before
    assert not (scratch / ".organizer").exists()
    lines = r.out.splitlines()
    assert lines[0] == "dry run: nothing was moved"
    assert lines[1].split() == ["SOURCE", "DESTINATION", "RULE", "NOTE"]
    assert any(line.split()[:2] == ["test_gradient_flow.py", "testing/test_gradient_flow.py"] for line in lines)
    assert "duplicate of analysis/atlantis_same.csv" in r.out
    assert "notes.txt" in r.out
    assert lines[-1].startswith("would move 12, unmatched 1")
    assert "organizer: rules: shipped default rules" in r.err


def test_dry_run_json_equals_real_run_json(scratch: Path) -> None:
    dry = run_cli("tidy", str(scratch), "--dry-run", "--json")
    assert dry.code == 0
    planned = json.loads(dry.out)  # stdout is pure JSON
    real = run_cli("tidy", str(scratch), "--json")
    assert real.code == 0
    done = json.loads(real.out)
    assert planned == done
    by_src = {d["source"]: d for d in done}
    assert by_src["plot_ft1_heatmap.py"]["destination"] == "plots/plot_ft1_heatmap (2).py"
    assert by_src["atlantis_same.csv"]["destination"] == "analysis/atlantis_same (2).csv"
    assert by_src["ft2_distance_scores.pdf"] == {
        "source": "ft2_distance_scores.pdf", "destination": "plots/ft2_distance_scores.pdf",
        "rule": "plot-scripts", "why": "figure of plot_ft2_normalized_scores.py"}
    assert set(done[0]) == {"source", "destination", "rule", "why"}
    for d in done:
        assert not os.path.lexists(scratch / d["source"]) and os.path.lexists(scratch / d["destination"])
    assert "moved 12, unmatched 1" in real.err and "duplicates 1" in real.err
    # Idempotent: the second run plans nothing.
    again = run_cli("tidy", str(scratch), "--json")
    assert (again.code, json.loads(again.out)) == (0, [])


def test_real_run_table_and_summary(scratch: Path) -> None:
    r = run_cli("tidy", str(scratch))
    assert r.code == 0
    assert r.out.splitlines()[0].split() == ["SOURCE", "DESTINATION", "RULE", "NOTE"]
    assert r.out.splitlines()[-1] == "moved 12, unmatched 1 (listed, left in place), duplicates 1, failures 0"
    r2 = run_cli("tidy", str(scratch))
    assert r2.code == 0 and "nothing to move" in r2.out and "moved 0" in r2.out


def test_undo_via_cli(scratch: Path) -> None:
    before = snapshot(scratch)
    assert run_cli("tidy", str(scratch)).code == 0
    r = run_cli("undo", str(scratch))
    assert r.code == 0 and "restored 12" in r.out
    assert snapshot(scratch) == before
    r = run_cli("undo", str(scratch))
    assert r.code == 2 and "nothing to undo" in r.err and "Traceback" not in r.err


def test_exit_1_when_some_moves_cannot_happen(scratch: Path, tmp_path: Path) -> None:
    os.symlink(tmp_path, scratch / "testing")  # destination folder is a symlink: refused
    (scratch / "utils").write_text("a FILE called utils")  # destination folder is a file
    before = snapshot(scratch)
    dry = run_cli("tidy", str(scratch), "--dry-run")
    assert dry.code == 1 and "would fail" in dry.out
    assert snapshot(scratch) == before
    r = run_cli("tidy", str(scratch))
    assert r.code == 1
    assert "test_gradient_flow.py: destination folder 'testing' is a symlink" in r.out
    assert "generate_exp4_cka_configs.py: destination folder 'utils' exists and is not a folder" in r.out
    assert "failures 4" in r.out.splitlines()[-1]
    assert (scratch / "test_gradient_flow.py").exists() and (scratch / "migrate_paths_v2.py").exists()
    assert not (tmp_path / "test_gradient_flow.py").exists()
    assert (scratch / "analysis/analyze_atlantis_in_training.py").exists()


def test_json_output_stays_pure_when_moves_fail(scratch: Path) -> None:
    (scratch / "utils").write_text("a FILE called utils")
    dry = run_cli("tidy", str(scratch), "--dry-run", "--json")
    real = run_cli("tidy", str(scratch), "--json")
    assert (dry.code, real.code) == (1, 1)
    assert json.loads(dry.out) == json.loads(real.out)
    assert "utils" not in {d["destination"].split("/")[0] for d in json.loads(real.out)}
    assert "migrate_paths_v2.py: destination folder 'utils' exists and is not a folder" in real.err


BAD = """\
data: {root: examples}
tidy:
  rules:
    - {name: a, destination: a, glob: "a*"}
    - {name: b, destination: b, glob: "b*"}
    - {name: c, destination: c, glob: "c*"}
    - {name: plots, destinaton: plots, glob: "plot_*"}
"""


@pytest.mark.parametrize("where", ["dir", "cwd", "explicit"])
def test_bad_rules_exit_2_before_anything_moves(scratch: Path, tmp_path: Path, where: str) -> None:
    rules_path = {"dir": scratch / "rules.yaml", "cwd": tmp_path / "rules.yaml", "explicit": tmp_path / "my.yaml"}[where]
    rules_path.write_text(BAD)
    before = snapshot(scratch)
    extra = ["--rules", str(rules_path)] if where == "explicit" else []
    r = run_cli("tidy", str(scratch), *extra)
    assert r.code == 2
    assert r.err.strip() == (f'organizer: error: {rules_path}: tidy.rules[3] ("plots"): '
                             f"unknown key 'destinaton' (did you mean 'destination'?)")
    assert r.out == ""
    assert snapshot(scratch) == before


def test_missing_rules_file_exits_2(scratch: Path) -> None:
    r = run_cli("tidy", str(scratch), "--rules", "no/such.yaml")
    assert r.code == 2 and "no/such.yaml: rules file not found" in r.err


def test_rules_file_discovery_and_the_rules_file_never_moves(scratch: Path, tmp_path: Path) -> None:
    custom = "tidy:\n  rules:\n    - {name: everything-csv, destination: tables, extension: [.csv, .yaml]}\n"
    (scratch / "rules.yaml").write_text(custom)
    r = run_cli("tidy", str(scratch), "--json")
    assert r.code == 0
    assert f"organizer: rules: {scratch / 'rules.yaml'}" in r.err
    done = json.loads(r.out)
    assert {d["rule"] for d in done} == {"everything-csv"}
    assert (scratch / "rules.yaml").exists()  # the rules file itself stays
    assert (scratch / "tables/atlantis_metrics.csv").exists()


def test_project_rules_yaml_without_tidy_means_defaults(scratch: Path, tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text("data: {root: x}\ntasks: {}\n")
    r = run_cli("tidy", str(scratch), "--dry-run", "--json")
    assert r.code == 0
    assert "shipped default rules" in r.err and "has no 'tidy' section" in r.err
    assert json.loads(r.out)


def test_unicode_names_in_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = make_tree(tmp_path / "s", {"test_ünïcødé 日本.py": "def test_x(): pass\n"})
    r = run_cli("tidy", str(root), "--json")
    assert r.code == 0
    assert json.loads(r.out)[0]["destination"] == "testing/test_ünïcødé 日本.py"


def test_recursive_flag_moves_files_from_subfolders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = make_tree(tmp_path / "s", {"old/test_deep.py": "def test_d(): pass\n", "test_top.py": "def test_t(): pass\n",
                                      ".hidden/test_h.py": "h", "testing/sub/test_done.py": "done"})
    flat = run_cli("tidy", str(root), "--dry-run", "--json")
    assert [d["source"] for d in json.loads(flat.out)] == ["test_top.py"]
    before = snapshot(root)
    deep = run_cli("tidy", str(root), "--recursive", "--json")
    assert deep.code == 0
    assert {d["source"]: d["destination"] for d in json.loads(deep.out)} == {
        "old/test_deep.py": "testing/test_deep.py", "test_top.py": "testing/test_top.py"}
    assert (root / "old").is_dir()  # emptied folders stay: undo needs them, and they may matter
    assert run_cli("undo", str(root)).code == 0
    assert snapshot(root) == before


def test_closed_stdout_is_not_a_traceback(scratch: Path, tmp_path: Path) -> None:
    import subprocess
    import sys

    from organizer_helpers import REPO_ROOT

    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "organizer", "tidy", str(scratch), "--dry-run"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `organizer tidy DIR | head -0`
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141
    assert "Traceback" not in err and "Exception ignored" not in err


def test_references_in_the_table_json_and_kept_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = make_tree(tmp_path / "refs", {
        "plot_ft1_heatmap.py": "open('scores_ft1.csv')\n",
        "scores_ft1.csv": "s\n",
        "train_model.py": "import io_utils\n",       # no rule: goes with the helper it imports
        "io_utils.py": "pass\n",
        "compute_totals.py": "open('shared.txt')\n",  # analysis and plots disagree: the group stays
        "plot_totals.py": "open('shared.txt')\n",
        "shared.txt": "1\n",
    })
    dry = run_cli("tidy", str(root), "--dry-run")
    assert dry.code == 0
    rows = [line.split() for line in dry.out.splitlines()[3:7]]
    assert rows == [["io_utils.py", "utils/io_utils.py", "helpers"],
                    ["plot_ft1_heatmap.py", "plots/plot_ft1_heatmap.py", "plot-scripts"],
                    ["scores_ft1.csv", "plots/scores_ft1.csv", "plot-scripts"],
                    ["train_model.py", "utils/train_model.py", "helpers"]]
    why = run_cli("tidy", str(root), "--dry-run", "--why")
    assert why.out.splitlines()[1].split() == ["SOURCE", "DESTINATION", "RULE", "WHY"]
    assert ["scores_ft1.csv", "plots/scores_ft1.csv", "plot-scripts", "follows", "plot_ft1_heatmap.py"] in [
        line.split() for line in why.out.splitlines()]
    kept = dry.out.splitlines().index("kept in place (a rule matched, but moving them would break references):")
    assert dry.out.splitlines()[kept + 1].startswith(
        "  compute_totals.py  (compute-scripts; kept with plot_totals.py: both read shared.txt; "
        "plot_totals.py (plot-scripts: plots/) and compute_totals.py (compute-scripts: analysis/) disagree; "
        "to move the group, add a rule")
    assert dry.out.splitlines()[-1] == ("would move 4, unmatched 1 (listed, left in place), duplicates 0, "
                                        "failures 0, kept for references 2")
    real = run_cli("tidy", str(root), "--json")
    assert real.code == 0
    assert json.loads(real.out)[2] == {"source": "scores_ft1.csv", "destination": "plots/scores_ft1.csv",
                                       "rule": "plot-scripts", "why": "follows plot_ft1_heatmap.py"}
    assert "kept for references 2" in real.err
    check = run_cli("check", str(root))
    # Moved: four files; left in the folder they left: compute_totals.py and plot_totals.py.
    assert check.code == 0 and "5 scripts" in check.out.splitlines()[-1]
