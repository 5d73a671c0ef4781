"""Learned subfolders: in a half-sorted folder, loose files join the subfolder of their neighbours."""

from __future__ import annotations

from pathlib import Path

import pytest

from organizer import load_default_rules, plan_tidy, run_tidy, run_undo
from organizer.layout import Layout, name_words
from organizer.rules import parse_tidy_section
from organizer_helpers import make_tree, snapshot

# What a researcher already sorted by hand (subfolders of the default destinations).
SORTED = {
    "analysis/atlantis/atlantis_training_curve.py": "pass\n",
    "analysis/atlantis/atlantis_mentions_by_step.csv": "s\n",
    "analysis/city_id/city_id_probe.py": "pass\n",
    "analysis/city_id/id_removal_eval.py": "pass\n",
    "analysis/cka/compute_cka_similarity.py": "pass\n",
    "analysis/summary_notes.md": "top-level file of analysis/\n",
    "plots/evaluation/plot_eval_metrics.py": "pass\n",
    "plots/evaluation/eval_metrics_over_time.png": "png\n",
    "plots/training/plot_training_curves.py": "pass\n",
    "testing/gradients/test_gradient_norms.py": "pass\n",
    "testing/circlecount/test_circlecount_basic.py": "pass\n",
}

# Loose file -> where its neighbours sit (written by hand, the way a person reads the names).
LOOSE = {
    "analyze_atlantis_in_training.py": "analysis/atlantis",
    "atlantis_token_frequency.py": "analysis/atlantis",
    "analyze_clusters_by_city_id.py": "analysis/city_id",
    "cka_layerwise_embeddings.py": "analysis/cka",
    "plot_eval_loss.py": "plots/evaluation",
    "plot_training_loss_curves.py": "plots/training",
    "test_gradient_flow.py": "testing/gradients",
    "check_gradients.py": "testing/gradients",
    "test_circlecount_metrics.py": "testing/circlecount",
    # No clear neighbour: the rule's folder.
    "plot_ft1_heatmap.py": "plots",
    "analyze_atlantis_city.py": "analysis",   # atlantis and city pull equally
    "test_io.py": "testing",
}


@pytest.fixture()
def half_sorted(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "scratch", {**SORTED, **{name: "pass\n" for name in LOOSE}})


def test_loose_files_join_their_neighbours_subfolder(half_sorted: Path) -> None:
    before = snapshot(half_sorted)
    plan = plan_tidy(half_sorted, load_default_rules())
    got = {m.source: m.destination.rsplit("/", 1)[0] for m in plan.moves}
    assert got == LOOSE
    rules = {m.source: m.label for m in plan.moves}
    # The rule column names the neighbour that decided it and the shared words.
    assert rules["analyze_atlantis_in_training.py"] == (
        "analysis-scripts (like atlantis/atlantis_training_curve.py: atlantis, training)")
    assert rules["test_gradient_flow.py"] == "tests (like gradients/test_gradient_norms.py: gradient)"
    assert rules["analyze_clusters_by_city_id.py"] == "analysis-scripts (like city_id/city_id_probe.py: city, id)"
    assert rules["plot_ft1_heatmap.py"] == "plot-scripts"
    assert plan.new_dirs == []

    dry = run_tidy(half_sorted, load_default_rules(), dry_run=True)
    result = run_tidy(half_sorted, load_default_rules())
    assert result.ok and result.done == plan.moves == dry.plan.moves  # dry run == run
    for name, folder in LOOSE.items():
        assert (half_sorted / folder / name).is_file()
    assert run_undo(half_sorted).ok
    assert snapshot(half_sorted) == before


def test_learning_can_be_switched_off(half_sorted: Path) -> None:
    text = {"rules": [{"name": "tests", "destination": "testing", "glob": "test_*.py"}], "learn_subfolders": False}
    plan = plan_tidy(half_sorted, parse_tidy_section(text, "t.yaml"))
    assert {m.destination for m in plan.moves} == {
        "testing/test_gradient_flow.py", "testing/test_circlecount_metrics.py", "testing/test_io.py"}


def test_keyword_subfolders_come_before_learned_ones(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {
        "analysis/atlantis/atlantis_probe.py": "pass\n",
        "analyze_atlantis_probe.py": "pass\n",
        "remove_id_directions.py": "pass\n",
        "analyze_misc.py": "pass\n",
    })
    rules = parse_tidy_section({"rules": [{
        "name": "analysis", "destination": "analysis", "extension": ".py",
        "subfolders": {"atlantis_kw": ["atlantis"], "city_id": ["id_removal", "id_directions"]}}]}, "t.yaml")
    plan = plan_tidy(root, rules)
    assert {m.source: (m.destination, m.label) for m in plan.moves} == {
        "analyze_atlantis_probe.py": ("analysis/atlantis_kw/analyze_atlantis_probe.py",
                                      "analysis (subfolder atlantis_kw: keyword atlantis)"),
        "remove_id_directions.py": ("analysis/city_id/remove_id_directions.py",
                                    "analysis (subfolder city_id: keyword id_directions)"),
        "analyze_misc.py": ("analysis/analyze_misc.py", "analysis"),
    }
    assert plan.new_dirs == ["analysis/atlantis_kw", "analysis/city_id"]


def test_a_reference_group_goes_to_its_leaders_subfolder(half_sorted: Path) -> None:
    (half_sorted / "analyze_atlantis_in_training.py").write_text("import geo_helpers\n")
    (half_sorted / "geo_helpers.py").write_text("pass\n")
    plan = plan_tidy(half_sorted, load_default_rules())
    got = {m.source: (m.destination, m.label) for m in plan.moves}
    assert got["geo_helpers.py"] == ("analysis/atlantis/geo_helpers.py", "follows analyze_atlantis_in_training.py")


def test_symlinked_and_hidden_subfolders_are_not_places(tmp_path: Path) -> None:
    outside = make_tree(tmp_path / "outside", {"atlantis_x.py": ""})
    root = make_tree(tmp_path / "s", {"analysis/.atlantis/atlantis_y.py": "", "analyze_atlantis.py": ""})
    (root / "analysis/linked").symlink_to(outside)
    plan = plan_tidy(root, load_default_rules())
    assert [m.destination for m in plan.moves] == ["analysis/analyze_atlantis.py"]


@pytest.mark.parametrize(("name", "words"), [
    ("analyze_atlantis_in_training.py", {"atlantis", "training"}),
    ("plotFT1Heatmap_v2.py", {"ft1", "heatmap"}),
    ("test_gradients_2024.py", {"gradient"}),
    ("cka_class.npy", {"cka", "class"}),
])
def test_name_words(name: str, words: set[str]) -> None:
    assert name_words(name) == words


def test_places_need_a_clear_winner(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "s", {"d/a/alpha_one.py": "", "d/a/shared_x.py": "", "d/b/beta_two.py": "",
                                      "d/b/shared_y.py": ""})
    layout = Layout(root)
    assert layout.place("d", "alpha_new.py").folder == "d/a"
    assert layout.place("d", "shared_new.py") is None        # in both places: weight 0.5 each, no winner
    assert layout.place("d", "alpha_beta.py") is None        # 1 vs 1
    assert layout.place("d", "alpha_shared_beta.py") is None
    assert layout.place("missing", "alpha.py") is None


# The shipped defaults plus the keyword subfolders a researcher would add (see docs/organizer.md).
SUBFOLDERS = {
    "analysis-scripts": {"atlantis": ["atlantis"], "city_id": ["city_id", "id_removal", "id_directions"],
                         "clusters": ["cluster*"]},
    "analysis-topics": {"atlantis": ["atlantis"], "city_id": ["city_id", "id_removal", "id_directions"],
                        "clusters": ["cluster*"], "cka": ["cka"]},
    "plot-scripts": {"evaluation": ["eval*", "metric*"], "training": ["training", "loss"]},
    "tests": {"gradients": ["gradient*", "grad"], "circlecount": ["circlecount*"]},
    "testing-topics": {"gradients": ["gradient*", "grad"], "circlecount": ["circlecount*"]},
    "checks": {"gradients": ["gradient*", "grad"], "circlecount": ["circlecount*"]},
    "compute-scripts": {"cka": ["cka"]},
}

FRESH = {  # loose file -> where a careful person files it (written by hand)
    "analyze_atlantis_in_training.py": "analysis/atlantis",
    "atlantis_token_frequency.py": "analysis/atlantis",
    "analyze_clusters_by_city_id.py": "analysis/city_id",
    "cluster_city_embeddings.py": "analysis/clusters",
    "remove_id_directions.py": "analysis/city_id",
    "compute_cka_similarity.py": "analysis/cka",
    "plot_eval_metrics.py": "plots/evaluation",
    "plot_training_loss.py": "plots/training",
    "plot_ft1_heatmap.py": "plots",
    "test_gradient_flow.py": "testing/gradients",
    "check_gradients.py": "testing/gradients",
    "test_circlecount_metrics.py": "testing/circlecount",
    "test_city_lookup.py": "testing",
}


def test_keyword_subfolders_on_top_of_the_defaults_sort_a_fresh_folder(tmp_path: Path) -> None:
    import yaml

    from organizer.rules import default_rules_text

    tidy = yaml.safe_load(default_rules_text())["tidy"]
    for rule in tidy["rules"]:
        if rule["name"] in SUBFOLDERS:
            rule["subfolders"] = SUBFOLDERS[rule["name"]]
    rules = parse_tidy_section(tidy, "rules.yaml")
    root = make_tree(tmp_path / "fresh", {name: "pass\n" for name in FRESH})
    plan = plan_tidy(root, rules)
    assert {m.source: m.destination.rsplit("/", 1)[0] for m in plan.moves} == FRESH
