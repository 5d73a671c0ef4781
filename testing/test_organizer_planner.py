"""Planning: what is a candidate, which rule wins, figures, collision names, blocked folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from organizer import run_tidy
from organizer.planner import collision_name, plan_tidy, same_content
from organizer.rules import parse_tidy_section
from organizer_helpers import Dir, Link, make_tree, snapshot

RULES = {
    "rules": [
        {"name": "tests", "destination": "testing", "glob": "test_*.py"},
        {"name": "plots", "destination": "plots", "glob": "plot_*.py"},
        {"name": "analysis", "destination": "analysis", "glob": "analyze_*.py"},
        {"name": "figures", "destination": "plots", "extension": [".png", ".svg"]},
        {"name": "deep", "destination": "deep/er", "glob": "deep_*"},
    ]
}


def rules(**extra: object):
    return parse_tidy_section({**RULES, **extra}, "test.yaml")


def moves(plan) -> dict[str, str]:
    return {m.source: m.destination for m in plan.moves}


def test_only_loose_top_level_files_are_candidates(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_a.py": "x",
        ".hidden_plot_b.py": "x",
        ".hidden/plot_c.py": "x",
        "__pycache__/plot_d.py": "x",
        ".ipynb_checkpoints/plot_e.py": "x",
        ".git/plot_f.py": "x",
        "sub/plot_g.py": "x",
        "plots/plot_h.py": "x",
        "unmatched.txt": "x",
        "emptydir": Dir(),
    })
    plan = plan_tidy(root, rules())
    assert moves(plan) == {"plot_a.py": "plots/plot_a.py"}
    assert plan.unmatched == ["unmatched.txt"]
    assert plan.new_dirs == []


def test_ignore_globs_and_skip(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"plot_a.py": "x", "plot_keep.py": "x", "rules.yaml": "tidy: {}", "notes.md": ""})
    plan = plan_tidy(root, rules(ignore=["*keep*", "*.md"]), skip=frozenset({"rules.yaml"}))
    assert moves(plan) == {"plot_a.py": "plots/plot_a.py"}
    assert plan.unmatched == []


def test_nested_destination_folders_are_planned_parents_first(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"deep_x.txt": "1", "deep_y.txt": "2"})
    plan = plan_tidy(root, rules())
    assert plan.new_dirs == ["deep", "deep/er"]
    assert moves(plan) == {"deep_x.txt": "deep/er/deep_x.txt", "deep_y.txt": "deep/er/deep_y.txt"}


def test_figure_follows_the_script_that_names_it(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analyze_atlantis.py": "plt.savefig(f'{out}/atlantis_{step}_probe.png')\n",
        "atlantis_100_probe.png": "p1",
        "plot_heat.py": "plt.savefig('heat.png')\nplt.savefig('shared_probe.png')\n",
        "heat.png": "p2",
        "shared_probe.png": "p3",
        "analyze_other.py": "savefig(f'shared_{x}.png')\n",
        "orphan.svg": "p4",
    })
    plan = plan_tidy(root, rules())
    got = {m.source: (m.destination, m.label) for m in plan.moves}
    assert got["atlantis_100_probe.png"] == ("analysis/atlantis_100_probe.png", "analysis (figure of analyze_atlantis.py)")
    assert got["heat.png"] == ("plots/heat.png", "plots (figure of plot_heat.py)")
    # An exact name beats a pattern from another script.
    assert got["shared_probe.png"] == ("plots/shared_probe.png", "plots (figure of plot_heat.py)")
    assert got["orphan.svg"] == ("plots/orphan.svg", "figures")


def test_figure_of_a_script_that_stays_stays_too(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"train.py": "plt.savefig('loss.png')\n", "loss.png": "p"})
    plan = plan_tidy(root, rules())
    assert plan.moves == []
    assert plan.unmatched == ["loss.png", "train.py"]
    assert plan.notes["loss.png"] == "figure of train.py, which stays"


def test_figure_following_can_be_switched_off(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"analyze_a.py": "savefig('a_fig.png')", "a_fig.png": "p"})
    plan = plan_tidy(root, rules(follow_figures=False))
    assert moves(plan)["a_fig.png"] == "plots/a_fig.png"


def test_collisions_get_new_names_and_duplicates_are_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "plot_a.py": "new content",
        "plot_b.py": "same",
        "plot_c.py": "third",
        "plots/plot_a.py": "old content",
        "plots/plot_b.py": "same",
        "plots/plot_c.py": "x",
        "plots/plot_c (2).py": "y",
    })
    plan = plan_tidy(root, rules())
    by_src = {m.source: m for m in plan.moves}
    assert by_src["plot_a.py"].destination == "plots/plot_a (2).py"
    assert by_src["plot_a.py"].duplicate_of is None
    assert by_src["plot_b.py"].destination == "plots/plot_b (2).py"
    assert by_src["plot_b.py"].duplicate_of == "plots/plot_b.py"
    assert by_src["plot_c.py"].destination == "plots/plot_c (3).py"
    assert [m.source for m in plan.duplicates] == ["plot_b.py"]


def test_collision_name_rules() -> None:
    assert collision_name("a.py", set()) == "a.py"
    assert collision_name("a.py", {"a.py"}) == "a (2).py"
    assert collision_name("a.py", {"a.py", "a (2).py"}) == "a (3).py"
    assert collision_name("data.tar.gz", {"data.tar.gz"}) == "data (2).tar.gz"
    assert collision_name("v1.2_results.csv", {"v1.2_results.csv"}) == "v1.2_results (2).csv"
    assert collision_name("Makefile", {"Makefile"}) == "Makefile (2)"
    long = "é" * 120 + ".py"  # 243 bytes
    new = collision_name(long, {long})
    assert new.endswith(" (2).py") and len(new.encode()) <= 255


def test_same_content(tmp_path: Path) -> None:
    make_tree(tmp_path, {"a": "x", "b": "x", "c": "y", "la": Link("t"), "lb": Link("t"), "lc": Link("u")})
    p = lambda n: str(tmp_path / n)  # noqa: E731
    assert same_content(p("a"), p("b")) and not same_content(p("a"), p("c"))
    assert same_content(p("la"), p("lb")) and not same_content(p("la"), p("lc"))
    assert not same_content(p("a"), p("la"))


def test_blocked_destinations_are_failures_not_moves(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root = make_tree(tmp_path / "s", {
        "plots": "I am a file named plots",
        "plot_a.py": "a",
        "analysis": Link(str(outside)),
        "analyze_b.py": "b",
        "test_c.py": "c",
    })
    plan = plan_tidy(root, rules())
    assert moves(plan) == {"test_c.py": "testing/test_c.py"}
    reasons = {b.source: b.reason for b in plan.blocked}
    assert "exists and is not a folder" in reasons["plot_a.py"]
    assert "is a symlink" in reasons["analyze_b.py"]


def test_recursive_rules_and_protected_folders(tmp_path: Path) -> None:
    spec = {"sub/plot_x.py": "x", "sub/inner/test_y.py": "y", "plots/old/plot_z.py": "z", "plot_top.py": "t",
            "linked": Link("sub")}
    root = make_tree(tmp_path / "s", spec)
    assert moves(plan_tidy(root, rules())) == {"plot_top.py": "plots/plot_top.py"}
    everything = moves(plan_tidy(root, rules(recursive=True)))
    assert everything == {
        "plot_top.py": "plots/plot_top.py",
        "sub/plot_x.py": "plots/plot_x.py",
        "sub/inner/test_y.py": "testing/test_y.py",
    }
    one = dict(RULES)
    one["rules"] = [dict(r, recursive=True) if r["name"] == "tests" else r for r in RULES["rules"]]
    only_tests = moves(plan_tidy(root, parse_tidy_section(one, "t.yaml")))
    assert only_tests == {"plot_top.py": "plots/plot_top.py", "sub/inner/test_y.py": "testing/test_y.py"}


def test_recursive_collisions_between_sources(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"a/plot_x.py": "1", "b/plot_x.py": "1", "c/plot_x.py": "2"})
    plan = plan_tidy(root, rules(recursive=True))
    assert moves(plan) == {"a/plot_x.py": "plots/plot_x.py", "b/plot_x.py": "plots/plot_x (2).py",
                           "c/plot_x.py": "plots/plot_x (3).py"}
    assert [(m.source, m.duplicate_of) for m in plan.duplicates] == [("b/plot_x.py", "plots/plot_x.py")]


def test_planning_is_read_only_and_deterministic(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {f"plot_{i}.py": str(i) for i in range(30)} | {"plots/plot_3.py": "old"})
    before = snapshot(root)
    p1, p2 = plan_tidy(root, rules()), plan_tidy(root, rules())
    assert p1.moves == p2.moves and len(p1.moves) == 30
    assert snapshot(root) == before


@pytest.mark.parametrize("name", ["plot_with some spaces.py", "plot_ünïcødé_日本.py", "plot_" + "x" * 193 + ".py"])
def test_awkward_names_are_planned(tmp_path: Path, name: str) -> None:
    root = make_tree(tmp_path / "s", {name: "x", f"plots/{name}": "y"})
    plan = plan_tidy(root, rules())
    (move,) = plan.moves
    assert move.source == name
    assert move.destination.startswith("plots/") and move.destination.endswith(" (2).py")
    assert len(os.path.basename(move.destination).encode()) <= 255


# A figure that is itself a symlink to a sibling is also in that sibling's reference group.  The group
# decides for it (a link must not move away from what it links to), not the script that writes it.
LINK_RULES = {
    "rules": [
        {"name": "tests", "destination": "testing", "glob": "test_*"},
        {"name": "analysis", "destination": "analysis", "glob": "analyze_*.py"},
        {"name": "figures", "destination": "plots", "extension": ".png"},
        {"name": "data", "destination": "data", "extension": ".csv"},
    ]
}


def _link_rules():
    return parse_tidy_section(LINK_RULES, "links.yaml")


def test_figure_linking_into_a_group_whose_other_member_leads_and_stays(tmp_path: Path) -> None:
    # Bug: plan_tidy raised AttributeError ('NoneType' object has no attribute 'folder'): the figure got its
    # script's target while its group's leader (test_notes.txt, rule tests) stayed.
    root = make_tree(tmp_path / "s", {
        "analyze_a.py": "plt.savefig('fig.png')\n",
        "fig.png": Link("test_notes.txt"),
        "test_notes.txt": "n",
    })
    plan = plan_tidy(root, _link_rules())
    assert moves(plan) == {"analyze_a.py": "analysis/analyze_a.py"}
    kept = {k.source: k.reason for k in plan.kept}
    assert sorted(kept) == ["fig.png", "test_notes.txt"]
    assert "disagree" in kept["fig.png"] and kept["fig.png"].startswith("kept with test_notes.txt")


def test_figure_leading_a_group_that_stays_stays_with_it(tmp_path: Path) -> None:
    # Bug: the figure led its (staying) group yet moved alone with its script, breaking its link; the next
    # plan then moved raw.csv, which the first had kept: tidy was not idempotent.
    root = make_tree(tmp_path / "s", {
        "analyze_a.py": "plt.savefig('fig.png')\n",
        "fig.png": Link("raw.csv"),
        "raw.csv": "1,2\n",
    })
    plan = plan_tidy(root, _link_rules())
    assert moves(plan) == {"analyze_a.py": "analysis/analyze_a.py"}
    assert sorted(k.source for k in plan.kept) == ["fig.png", "raw.csv"]
    result = run_tidy(root, _link_rules())
    assert result.problems == []
    assert os.readlink(root / "fig.png") == "raw.csv"
    assert plan_tidy(root, _link_rules()).moves == []


def test_figure_in_a_moving_group_goes_where_the_group_goes(tmp_path: Path) -> None:
    # Bug: the name was claimed in the group's folder (testing/) but the move went to the script's
    # (analysis/fig.png), away from the file it links to; the dry run's check did not see it, the real one did.
    root = make_tree(tmp_path / "s", {
        "analyze_a.py": "plt.savefig('fig.png')\n",
        "fig.png": Link("test_fig.py"),
        "test_fig.py": "def test_fig():\n    pass\n",
    })
    plan = plan_tidy(root, _link_rules())
    assert moves(plan) == {"analyze_a.py": "analysis/analyze_a.py", "fig.png": "testing/fig.png",
                           "test_fig.py": "testing/test_fig.py"}
    dry = run_tidy(root, _link_rules(), dry_run=True)
    result = run_tidy(root, _link_rules())
    assert dry.problems == result.problems == []
    assert os.readlink(root / "testing/fig.png") == "test_fig.py" and (root / "testing/fig.png").exists()


def test_link_read_by_a_script_takes_the_figure_it_links_to_along(tmp_path: Path) -> None:
    # latest.csv links to a figure and is read by test_c.py: the figure joins that group rather than
    # following its writer away from the link.
    root = make_tree(tmp_path / "s", {
        "analyze_a.py": "plt.savefig('fig.png')\n",
        "fig.png": "png",
        "latest.csv": Link("fig.png"),
        "test_c.py": "open('latest.csv')\n",
    })
    plan = plan_tidy(root, _link_rules())
    assert moves(plan) == {"analyze_a.py": "analysis/analyze_a.py", "fig.png": "testing/fig.png",
                           "latest.csv": "testing/latest.csv", "test_c.py": "testing/test_c.py"}
    assert run_tidy(root, _link_rules()).problems == []


def test_a_chain_of_links_to_a_figure_goes_with_the_figure(tmp_path: Path) -> None:
    # a.png -> b.png -> fig.png: a.png sorts before b.png, and used to be planned by its own rule.
    root = make_tree(tmp_path / "s", {
        "analyze_a.py": "plt.savefig('fig.png')\n",
        "fig.png": "png",
        "a.png": Link("b.png"),
        "b.png": Link("fig.png"),
    })
    plan = plan_tidy(root, _link_rules())
    assert moves(plan) == {name: f"analysis/{name}" for name in ("a.png", "analyze_a.py", "b.png", "fig.png")}
    dry = run_tidy(root, _link_rules(), dry_run=True)
    result = run_tidy(root, _link_rules())
    assert dry.problems == result.problems == []
