"""``organizer check`` and the check at the end of every tidy: moved scripts still work from their folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from organizer import load_default_rules, run_tidy
from organizer.check import check_folder
from organizer.errors import JournalError
from organizer.rules import parse_tidy_section
from organizer_helpers import Link, make_tree, run_cli, run_script

# A rules file that splits scripts from what they use (references switched off), to make problems.
SPLIT_RULES = """\
tidy:
  follow_references: false
  rules:
    - {name: plots, destination: plots, glob: "plot_*"}
    - {name: tables, destination: analysis, extension: .csv}
    - {name: helpers, destination: utils, glob: "*_utils.py"}
    - {name: tests, destination: testing, glob: "test_*.py"}
"""

SCRATCH = {
    "plot_scores.py": "rows = open('x_scores.csv').read().splitlines()\nprint(len(rows))\n",
    "x_scores.csv": "a\n1\n",
    "test_stats.py": "from stat_utils import mean\nassert mean([1, 3]) == 2\nprint('ok')\n",
    "stat_utils.py": "def mean(xs):\n    return sum(xs) / len(xs)\n",
    "train_model.py": "open('x_scores.csv')\n",            # no rule: stays, but its CSV leaves
    "plot_broken.py": "def f(:\n    pass\n",
    "plot_fine.py": "print('fine')\n",
}

EXPECTED = [
    "plots/plot_broken.py: does not compile: invalid syntax (line 1)",
    "plots/plot_scores.py: names x_scores.csv, which is not beside it (it is at analysis/x_scores.csv)",
    "testing/test_stats.py: imports stat_utils, but stat_utils.py is not beside it (it is at utils/stat_utils.py)",
    "train_model.py: names x_scores.csv, which is not beside it (it is at analysis/x_scores.csv)",
]


@pytest.fixture()
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    root = make_tree(tmp_path / "scratch", SCRATCH)
    (tmp_path / "split.yaml").write_text(SPLIT_RULES)
    return root


def test_tidy_that_breaks_references_reports_them_and_exits_1(scratch: Path) -> None:
    dry = run_cli("tidy", str(scratch), "--rules", "split.yaml", "--dry-run")
    real = run_cli("tidy", str(scratch), "--rules", "split.yaml")
    assert (dry.code, real.code) == (1, 1)
    for r, header in ((dry, "check of the planned layout: 4 problems"), (real, "check after the moves: 4 problems")):
        lines = r.out.splitlines()
        start = lines.index(header + " (scripts that may not run from their folder):")
        assert sorted(line.strip() for line in lines[start + 1:start + 5]) == EXPECTED
        assert lines[-1].endswith("failures 0, check problems 4")
    # The moves all happened (exit 1 is about the check, nothing was lost or refused).
    assert (scratch / "plots/plot_scores.py").exists() and (scratch / "utils/stat_utils.py").exists()
    # And the problems are real: the scripts fail where they now are.
    assert run_script(scratch / "plots/plot_scores.py").returncode != 0
    assert "ModuleNotFoundError" in run_script(scratch / "testing/test_stats.py").stderr

    check = run_cli("check", str(scratch))
    assert check.code == 1
    assert sorted(line.strip() for line in check.out.splitlines()[1:5]) == EXPECTED
    assert check.out.splitlines()[-1] == "checked 6 scripts moved by (or left behind by) tidy 000001.jsonl: 4 problems"


def test_with_references_the_same_folder_checks_clean(scratch: Path) -> None:
    (scratch / "plot_broken.py").unlink()
    r = run_cli("tidy", str(scratch))  # shipped defaults: references follow
    assert r.code == 0, r.out + r.err
    assert "check" not in r.out
    check = run_cli("check", str(scratch))
    assert (check.code, check.out.splitlines()[-1][-10:]) == (0, "0 problems")
    assert run_script(scratch / "utils/test_stats.py").stdout == "ok\n"  # a test goes with the code it imports


def test_check_api_matches_the_tidy_result(scratch: Path) -> None:
    from organizer import load_rules_file

    rules = load_rules_file(scratch.parent / "split.yaml")
    result = run_tidy(scratch, rules)
    found = check_folder(scratch)
    assert [str(p) for p in found.problems] == [str(p) for p in result.problems]
    assert sorted(str(p) for p in found.problems) == EXPECTED


def test_check_without_a_tidy_is_a_usage_error(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "x = (\n"})
    r = run_cli("check", str(root))
    assert r.code == 2 and "nothing to check" in r.err and "Traceback" not in r.err
    with pytest.raises(JournalError):
        check_folder(root)
    assert run_cli("check", str(tmp_path / "missing")).code == 2


def test_check_after_undo_has_nothing_to_check(scratch: Path) -> None:
    assert run_cli("tidy", str(scratch), "--rules", "split.yaml").code == 1
    assert run_cli("undo", str(scratch)).code == 0
    assert run_cli("check", str(scratch)).code == 2


def test_moving_nothing_checks_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"notes.txt": "x", "broken.py": "def ("})
    result = run_tidy(root, load_default_rules())
    assert result.ok and result.problems == [] and result.done == []


# Links: the dry run's check must predict exactly what the real run's check finds, and `organizer check` too.
LINK_RULES = {"follow_references": False, "rules": [
    {"name": "plots", "destination": "plots", "glob": "plot_*"},
    {"name": "tables", "destination": "analysis", "extension": ".csv"},
]}


def _link_check(root: Path, tidy: dict) -> tuple[list[str], list[str], list[str]]:
    rules = parse_tidy_section(tidy, "links.yaml")
    dry = run_tidy(root, rules, dry_run=True)
    real = run_tidy(root, rules)
    found = check_folder(root)
    return [str(p) for p in dry.problems], [str(p) for p in real.problems], [str(p) for p in found.problems]


def test_dry_run_check_sees_a_link_whose_target_moves_elsewhere(tmp_path: Path) -> None:
    # Bug (check.py:180, `os.path.exists(root / where)`): the dry run asked whether the target existed at its
    # planned destination, which it does not yet, took the link for dangling before the tidy, and reported
    # nothing; the real run reported it.
    root = make_tree(tmp_path / "s", {"plot_latest.csv": Link("scores.csv"), "scores.csv": "a\n1\n"})
    expected = ["plots/plot_latest.csv: link to scores.csv does not resolve from here (it is at analysis/scores.csv)"]
    assert _link_check(root, LINK_RULES) == (expected, expected, expected)


def test_dry_run_check_of_a_repointed_link_reads_its_new_text(tmp_path: Path) -> None:
    # Bug: the dry run checked a re-pointed link's old text from its new folder: a problem the real run,
    # which writes the new text first, does not have.
    root = make_tree(tmp_path / "s", {"runs/metrics.csv": "a\n", "latest.csv": Link("runs/metrics.csv")})
    assert _link_check(root, LINK_RULES) == ([], [], [])
    assert os.readlink(root / "analysis/latest.csv") == "../runs/metrics.csv"


def test_check_sees_a_repointed_link_whose_target_moved_too(tmp_path: Path) -> None:
    # latest.csv is re-pointed to where runs/metrics.csv was, but that moves too (recursive): the link is
    # broken, and every check says so (they used to take it for dangling before the tidy).
    root = make_tree(tmp_path / "s", {"runs/metrics.csv": "a\n", "latest.csv": Link("runs/metrics.csv")})
    expected = ["analysis/latest.csv: link to ../runs/metrics.csv does not resolve from here "
                "(it is at analysis/metrics.csv)"]
    assert _link_check(root, {**LINK_RULES, "recursive": True}) == (expected,) * 3


def test_dry_run_check_sees_a_staying_link_whose_nested_target_moves(tmp_path: Path) -> None:
    # The dry run resolved a link text with a folder part on the disk as it is, before the moves.  (The link is
    # checked because a file leaves its folder: a.csv.)
    root = make_tree(tmp_path / "s", {"runs/metrics.csv": "a\n", "latest": Link("runs/metrics.csv"), "a.csv": "b\n"})
    expected = ["latest: link to runs/metrics.csv does not resolve from here (it is at analysis/metrics.csv)"]
    assert _link_check(root, {**LINK_RULES, "recursive": True}) == (expected,) * 3
