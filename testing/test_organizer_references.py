"""References: files a script imports or names move with it, tied groups move (or stay) as one.

Each scratch folder below is small and written the way researchers write scripts; the tests
assert the plan (destination and the rule column's reason), the tree after the real tidy, and
run the moved scripts from their new folder to prove they still find what they name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from organizer import load_default_rules, plan_tidy, run_tidy, run_undo
from organizer.fileinfo import FileInfo
from organizer.references import Siblings, script_refs
from organizer.rules import parse_tidy_section
from organizer_helpers import files_only, make_tree, run_module, run_script, snapshot


def planned(root: Path) -> dict[str, tuple[str, str]]:
    return {m.source: (m.destination, m.label) for m in plan_tidy(root, load_default_rules()).moves}


def tidy(root: Path):
    before = snapshot(root)
    result = run_tidy(root, load_default_rules())
    assert result.ok, result.failed
    return result, before


def notebook(*cells: tuple[str, str]) -> str:
    return json.dumps({"cells": [{"cell_type": kind, "source": src.splitlines(keepends=True)} for kind, src in cells],
                       "nbformat": 4, "nbformat_minor": 5, "metadata": {}})


# --------------------------------------------------------------------------- each kind of reference


def test_data_file_named_by_a_literal_follows_its_script(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_ft1_heatmap.py": "from pathlib import Path\nrows = Path('scores_ft1.csv').read_text().splitlines()\n"
                               "print(len(rows) - 1, 'rows')\n",
        "scores_ft1.csv": "model,score\nft1,0.5\nft2,0.7\n",
        "eval_metrics_summary.csv": "nobody reads me\n",
    })
    plan = planned(root)
    # Without its reader, a CSV stays; read by the plot script, it follows it.
    assert plan == {
        "plot_ft1_heatmap.py": ("plots/plot_ft1_heatmap.py", "plot-scripts"),
        "scores_ft1.csv": ("plots/scores_ft1.csv", "follows plot_ft1_heatmap.py"),
    }
    result, _ = tidy(root)
    assert result.problems == []
    assert sorted(files_only(root)) == ["eval_metrics_summary.csv", "plots/plot_ft1_heatmap.py",
                                        "plots/scores_ft1.csv"]
    run = run_script(root / "plots/plot_ft1_heatmap.py")
    assert (run.returncode, run.stdout) == (0, "2 rows\n"), run.stderr


def test_a_test_goes_with_the_module_it_imports(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "test_formulas.py": "from compute_scores import normalized\n\n"
                            "def test_normalized():\n    assert normalized(3, 1, 5) == 0.5\n\n"
                            "if __name__ == '__main__':\n    test_normalized()\n    print('ok')\n",
        "compute_scores.py": "def normalized(x, lo, hi):\n    return (x - lo) / (hi - lo)\n",
    })
    # The test's own rule (testing/) does not pull the module away from analysis/.
    assert planned(root) == {
        "compute_scores.py": ("analysis/compute_scores.py", "compute-scripts"),
        "test_formulas.py": ("analysis/test_formulas.py", "kept with compute_scores.py: imports compute_scores.py"),
    }
    tidy(root)
    run = run_script(root / "analysis/test_formulas.py")
    assert (run.returncode, run.stdout) == (0, "ok\n"), run.stderr


def test_notebook_code_cells_pull_their_files_but_markdown_does_not(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "atlantis_exploration.ipynb": notebook(
            ("markdown", "We used to read `old_atlantis.csv` here: open(\"old_atlantis.csv\")\n"),
            ("code", "%matplotlib inline\nimport geo_helpers\nids = open(\"atlantis_ids.txt\").read().split()\n"),
            ("code", "!ls\nprint(geo_helpers.mean_distance(ids))\n"),
        ),
        "geo_helpers.py": "def mean_distance(ids):\n    return len(ids)\n",
        "atlantis_ids.txt": "a1 a2 a3\n",
        "old_atlantis.csv": "x\n",
    })
    plan = planned(root)
    assert plan["atlantis_exploration.ipynb"] == ("analysis/atlantis_exploration.ipynb", "analysis-topics")
    # geo_helpers.py alone would go to utils/ (helpers rule); imported by the notebook it follows it.
    assert plan["geo_helpers.py"] == ("analysis/geo_helpers.py", "follows atlantis_exploration.ipynb")
    assert plan["atlantis_ids.txt"] == ("analysis/atlantis_ids.txt", "follows atlantis_exploration.ipynb")
    assert plan["old_atlantis.csv"] == ("analysis/old_atlantis.csv", "analysis-topics")  # its own rule
    tidy(root)
    # Run the notebook's code cells (magics dropped) from its new folder.
    cells = json.loads((root / "analysis/atlantis_exploration.ipynb").read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    script = root / "analysis/_cells.py"
    script.write_text("\n".join(line for line in code.splitlines() if not line.startswith(("%", "!"))))
    run = run_script(script)
    assert (run.returncode, run.stdout) == (0, "3\n"), run.stderr


def test_file_shared_by_two_scripts_keeps_the_group_together(tmp_path: Path) -> None:
    read = "rows = open('cities.csv').read().splitlines()\nprint('{}', len(rows))\n"
    root = make_tree(tmp_path / "s", {
        "analyze_cities.py": read.format("analysis"),
        "analyze_city_sizes.py": read.format("sizes"),
        "cities.csv": "city\nparis\nrome\n",
    })
    assert planned(root) == {
        "analyze_cities.py": ("analysis/analyze_cities.py", "analysis-scripts"),
        "analyze_city_sizes.py": ("analysis/analyze_city_sizes.py", "kept with analyze_cities.py: both read cities.csv"),
        "cities.csv": ("analysis/cities.csv",
                       "kept with analyze_cities.py: read by analyze_cities.py and analyze_city_sizes.py"),
    }
    tidy(root)
    for name, word in (("analyze_cities.py", "analysis"), ("analyze_city_sizes.py", "sizes")):
        run = run_script(root / "analysis" / name)
        assert (run.returncode, run.stdout) == (0, f"{word} 3\n"), run.stderr


def test_scripts_that_disagree_on_the_top_folder_keep_their_group_and_say_how_to_settle_it(tmp_path: Path) -> None:
    read = "open('cities.csv')\n"
    root = make_tree(tmp_path / "s", {"analyze_cities.py": read, "plot_cities.py": read, "cities.csv": "c\n"})
    plan = plan_tidy(root, load_default_rules())
    assert plan.moves == []
    kept = {k.source: k.reason for k in plan.kept}
    settle = ("plot_cities.py (plot-scripts: plots/) and analyze_cities.py (analysis-scripts: analysis/) disagree; "
              "to move the group, add a rule above theirs (or a `subfolders:` entry) sending analyze_cities.py "
              "to plots/, or plot_cities.py to analysis/")
    assert kept == {"plot_cities.py": settle,
                    "analyze_cities.py": "kept with plot_cities.py: both read cities.csv; " + settle}
    assert plan.unmatched == ["cities.csv"] and plan.notes["cities.csv"].endswith(settle)


def test_chain_a_imports_b_which_reads_c(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analyze_chain.py": "import chain_loader\nprint(sum(chain_loader.values()))\n",
        "chain_loader.py": "def values():\n    return [int(x) for x in open('chain_values.txt').read().split()]\n",
        "chain_values.txt": "1 2 3 4\n",
    })
    assert planned(root) == {
        "analyze_chain.py": ("analysis/analyze_chain.py", "analysis-scripts"),
        "chain_loader.py": ("analysis/chain_loader.py", "follows analyze_chain.py"),
        "chain_values.txt": ("analysis/chain_values.txt", "follows chain_loader.py"),
    }
    result, _ = tidy(root)
    assert sorted(files_only(root)) == ["analysis/analyze_chain.py", "analysis/chain_loader.py",
                                        "analysis/chain_values.txt"]
    assert result.problems == []
    run = run_script(root / "analysis/analyze_chain.py")
    assert (run.returncode, run.stdout) == (0, "10\n"), run.stderr


@pytest.mark.parametrize(("script", "content", "folder", "rule"), [
    ("analyze_survey.R", 'df <- read.csv("survey_answers.csv")\nsummary(df)\n', "analysis", "analysis-scripts"),
    ("make_survey_configs.sh", '#!/bin/sh\nwc -l "survey_answers.csv"\n', "utils", "config-generators"),
    ("analyze_survey.jl", 'using CSV\ndf = CSV.read("./survey_answers.csv")\n', "analysis", "analysis-scripts"),
])
def test_shell_r_and_julia_scripts_by_string_literals(tmp_path: Path, script: str, content: str, folder: str,
                                                      rule: str) -> None:
    root = make_tree(tmp_path / "s", {script: content, "survey_answers.csv": "q,a\n", "survey_notes.txt": "x\n"})
    plan = planned(root)
    assert plan[script] == (f"{folder}/{script}", rule)
    assert plan["survey_answers.csv"] == (f"{folder}/survey_answers.csv", f"follows {script}")
    assert "survey_notes.txt" not in plan


# --------------------------------------------------------------------------- staying together


def test_an_unmatched_script_no_longer_pins_its_group(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "train_model.py": "import data_helpers\nopen('cities.csv')\n",      # no rule: goes with the group
        "analyze_cities.py": "open('cities.csv')\n",
        "cities.csv": "city\n",
        "data_helpers.py": "pass\n",                                           # a helper, used by train_model.py
        "plot_alone.py": "pass\n",
    })
    plan = plan_tidy(root, load_default_rules())
    assert {m.source: m.destination for m in plan.moves} == {
        "analyze_cities.py": "analysis/analyze_cities.py", "cities.csv": "analysis/cities.csv",
        "data_helpers.py": "analysis/data_helpers.py", "train_model.py": "analysis/train_model.py",
        "plot_alone.py": "plots/plot_alone.py"}
    assert plan.unmatched == [] and plan.kept == []


def test_a_group_no_rule_decides_stays(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"train_model.py": "open('io.txt')\n", "io.txt": "pass\n"})
    plan = plan_tidy(root, load_default_rules())
    assert plan.moves == [] and plan.unmatched == ["io.txt", "train_model.py"]
    assert plan.notes["io.txt"] == "follows train_model.py; no rule matches train_model.py, which decides where the group goes"


def test_a_script_naming_a_file_that_never_moves_stays(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_requirements.py": "deps = open('requirements.txt').read()\n",  # requirements*.txt is ignored
        "requirements.txt": "torch\n",
        "analyze_runs.py": "import os\nos.listdir('old_runs')\nimport run_pkg\n",  # a package folder
        "run_pkg/__init__.py": "",
        "old_runs/x.txt": "",
    })
    plan = plan_tidy(root, load_default_rules())
    assert plan.moves == []
    kept = {k.source: k.reason for k in plan.kept}
    assert kept == {"plot_requirements.py": "plot_requirements.py names requirements.txt, which does not move",
                    "analyze_runs.py": "analyze_runs.py imports run_pkg, which does not move"}


def test_group_stays_when_a_name_it_needs_is_taken(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_scores.py": "open('scores.csv')\n",
        "scores.csv": "new\n",
        "plots/scores.csv": "older, different\n",
        "plot_same.py": "open('same.csv')\n",
        "same.csv": "identical\n",
        "plots/same.csv": "identical\n",
    })
    plan = plan_tidy(root, load_default_rules())
    # same.csv: the taken name holds identical bytes, so the script still reads the same data.
    assert {m.source: m.destination for m in plan.moves} == {"plot_same.py": "plots/plot_same.py",
                                                             "same.csv": "plots/same (2).csv"}
    kept = {k.source: k.reason for k in plan.kept}
    assert kept["plot_scores.py"] == ("kept with plot_scores.py: scores.csv is taken in plots/, "
                                      "and it needs that exact name")
    assert plan.notes["scores.csv"].startswith("kept with plot_scores.py: scores.csv is taken in plots/")


def test_comments_docstrings_and_patterns_are_not_references(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_clean.py": '"""Reads scores.csv (see notes.txt)."""\n# df = read_csv("scores.csv")\n'
                         'name = f"{run}_scores.csv"\nprint("notes.txt is not opened")\n',
        "scores.csv": "x\n",
        "notes.txt": "n\n",
    })
    plan = planned(root)
    assert "scores.csv" not in plan and "notes.txt" not in plan  # nobody reads them: they stay


def test_unparsable_python_falls_back_to_literals(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_broken.py": "open('broken_input.csv')\nif x\n", "broken_input.csv": "x\n"})
    plan = plan_tidy(root, load_default_rules())
    assert {m.source: m.label for m in plan.moves}["broken_input.csv"] == "follows plot_broken.py"


def test_references_can_be_switched_off(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "open('a_scores.csv')\n", "a_scores.csv": "x\n"})
    rules = parse_tidy_section({"follow_references": False, "rules": [
        {"name": "plots", "destination": "plots", "glob": "plot_*"},
        {"name": "tables", "destination": "analysis", "extension": ".csv"}]}, "t.yaml")
    assert {m.source: m.destination for m in plan_tidy(root, rules).moves} == {
        "plot_a.py": "plots/plot_a.py", "a_scores.csv": "analysis/a_scores.csv"}


def test_figures_of_a_following_script_go_where_it_goes(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analyze_losses.py": "import loss_plotting\n",
        "loss_plotting.py": "import matplotlib\nsavefig('loss_curve.png')\n",
        "loss_curve.png": b"\x89PNG",
    })
    plan = planned(root)
    assert plan["loss_plotting.py"] == ("analysis/loss_plotting.py", "follows analyze_losses.py")
    assert plan["loss_curve.png"] == ("analysis/loss_curve.png", "analysis-scripts (figure of loss_plotting.py)")


def test_recursive_groups_are_per_folder(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "a/plot_x.py": "open('x_data.csv')\n", "a/x_data.csv": "a\n",
        "b/plot_y.py": "open('x_data.csv')\n", "b/x_data.csv": "b\n",
    })
    rules = parse_tidy_section({"recursive": True, "rules": [
        {"name": "plots", "destination": "plots", "glob": "plot_*"},
        {"name": "tables", "destination": "analysis", "extension": ".csv"}]}, "t.yaml")
    plan = plan_tidy(root, rules)
    # a/ goes first and claims plots/x_data.csv; b's CSV would have to be renamed, so b's group stays.
    assert {m.source: m.destination for m in plan.moves} == {"a/plot_x.py": "plots/plot_x.py",
                                                             "a/x_data.csv": "plots/x_data.csv"}
    assert sorted(k.source for k in plan.kept) == ["b/plot_y.py", "b/x_data.csv"]


# --------------------------------------------------------------------------- safety stays the same


def test_tidy_then_undo_is_exact_and_dry_run_equals_run_with_groups(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analyze_cities.py": "open('cities.csv')\n", "plot_cities.py": "open('cities.csv')\n", "cities.csv": "c\n",
        "analyze_chain.py": "import chain_loader\n", "chain_loader.py": "open('chain_values.txt')\n",
        "chain_values.txt": "1\n", "train_model.py": "open('train.csv')\n", "train.csv": "t\n",
        "plot_ft1_heatmap.py": "open('scores_ft1.csv')\nsavefig('ft1.png')\n", "scores_ft1.csv": "s\n",
        "ft1.png": b"\x89PNG",
    })
    dry = run_tidy(root, load_default_rules(), dry_run=True)
    result, before = tidy(root)
    assert result.done == dry.plan.moves == result.plan.moves
    assert result.plan.kept == dry.plan.kept and result.plan.unmatched == dry.plan.unmatched
    assert result.problems == dry.problems == []
    assert run_undo(root).ok
    assert snapshot(root) == before


def test_dry_run_and_run_in_separate_processes_agree(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analyze_runs.py": "import run_utils, geo_helpers, io_utils\nopen('runs.csv')\n",
        "summarize_runs.py": "import io_utils\nopen('runs.csv')\n",
        "run_utils.py": "", "geo_helpers.py": "", "io_utils.py": "", "runs.csv": "r\n",
        "plot_extra.py": "import missing_pkg\nopen('requirements.txt')\nimport old_pkg\n", "requirements.txt": "",
        "old_pkg/__init__.py": "",
    })
    dry = run_module("tidy", str(root), "--dry-run", "--json", cwd=tmp_path, env={"PYTHONHASHSEED": "1"})
    real = run_module("tidy", str(root), "--json", cwd=tmp_path, env={"PYTHONHASHSEED": "2"})
    assert (dry.returncode, real.returncode) == (0, 0), dry.stderr + real.stderr
    assert json.loads(dry.stdout) == json.loads(real.stdout) != []
    assert dry.stderr.replace("would move", "moved") == real.stderr
    assert "plot_extra.py  (plot-scripts; plot_extra.py imports old_pkg, which does not move)" in real.stderr


# --------------------------------------------------------------------------- the reader itself


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("a.py", "import geo\nfrom geo import f\nimport pkg.sub\n", [("geo.py", "import"), ("pkg", "import")]),
    ("a.py", "x = './data.csv'\ny = 'sub/data.csv'\n", [("data.csv", "read")]),
    ("a.py", "from . import geo\nimport os\n", []),
    ("a.py", "open('a.py')\n", []),  # itself
    ("a.py", "open('fig.png')\n", []),  # images are left to the figure logic
    ("a.sh", "cat 'data.csv'\ncat data.txt  # not geo.py\n", [("data.csv", "read"), ("data.txt", "read")]),
    ("a.sh", "python ./a.py && source data.txt\nRscript data.csv > out.txt\n",
     [("a.py", "run"), ("data.txt", "read"), ("data.csv", "read")]),
    ("a.ipynb", notebook(("code", "import geo\n")), [("geo.py", "import")]),
    ("a.ipynb", "not json 'data.csv'", [("data.csv", "read")]),
])
def test_script_refs(tmp_path: Path, name: str, content: str, expected: list[tuple[str, str]]) -> None:
    (tmp_path / name).write_text(content)
    info = FileInfo(name, name, str(tmp_path / name), True, False)
    files = frozenset({"a.py", "geo.py", "data.csv", "data.txt", "fig.png", name})
    siblings = Siblings(files, frozenset({"pkg", "sub"}))
    assert [(r.name, r.kind) for r in script_refs(info, siblings, (".png",))] == expected
