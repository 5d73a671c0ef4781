"""The shipped default rules on a realistic research scratch folder.

The expected destinations below were written the way a careful researcher would
file things (analysis/, plots/, testing/, utils/, or "." = leave at the top), not
copied from what the rules do; a few are deliberately hard and the defaults miss
them (see MISSES_ALLOWED).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from organizer import load_default_rules, plan_tidy, run_tidy, run_undo
from organizer_helpers import Dir, make_tree, snapshot

MPL = "import matplotlib.pyplot as plt\nimport numpy as np\n"

# name -> (content, expected folder)
SEED: dict[str, tuple[str, str]] = {
    # --- analysis -------------------------------------------------------------
    "analyze_atlantis_in_training.py": (
        MPL + "for step in (1000, 2000):\n    plt.savefig(f\"atlantis_{step}_probe_accuracy.png\")\n", "analysis"),
    "atlantis_1000_probe_accuracy.png": ("PNG1000", "analysis"),
    "atlantis_2000_probe_accuracy.png": ("PNG2000", "analysis"),
    "analyze_clusters_by_city_id.py": ("import pandas as pd\ndf = pd.read_csv('cluster_assignments.csv')\n", "analysis"),
    "cluster_city_embeddings.py": ("from sklearn.cluster import KMeans\n", "analysis"),
    "remove_id_directions.py": ("import torch\n\ndef project_out(h, d):\n    return h - (h @ d) * d\n", "analysis"),
    "atlantis_token_frequency.py": ("from collections import Counter\n", "analysis"),
    "compute_cka_similarity.py": ("import numpy as np\n\ndef cka(a, b):\n    return 0.0\n", "analysis"),
    "atlantis_exploration.ipynb": ('{"cells": [{"source": ["import matplotlib.pyplot as plt\\n"]}]}', "analysis"),
    "city_id_probe_results.csv": ("city,acc\nparis,0.9\n", "analysis"),
    "cluster_assignments.csv": ("id,cluster\n1,3\n", "analysis"),
    "atlantis_mentions_by_step.csv": ("step,count\n1000,4\n", "analysis"),
    "eval_metrics_summary.csv": ("task,metric\ndistance,0.3\n", "analysis"),
    "sweep_results_raw.json": ('{"runs": []}', "analysis"),  # hard: JSON could be config or results
    # --- plots ----------------------------------------------------------------
    "plot_ft1_heatmap.py": (MPL + "plt.savefig(\"ft1_performance_heatmap.png\", dpi=200)\n", "plots"),
    "ft1_performance_heatmap.png": ("PNGHEAT", "plots"),
    "plot_ft2_normalized_scores.py": (MPL + "out_dir = 'figs'\nplt.savefig(f\"{out_dir}/ft2_normalized_scores.pdf\")\n", "plots"),
    "ft2_normalized_scores.pdf": ("%PDF-1.4 ft2", "plots"),
    "plot_eval_metrics.py": (MPL + "fig.savefig('eval_metrics_over_time.png')\n", "plots"),
    "eval_metrics_over_time.png": ("PNGEVAL", "plots"),
    "visualize_cluster_centroids.py": (MPL + "plt.savefig('cluster_centroids.svg')\n", "plots"),
    "cluster_centroids.svg": ("<svg/>", "plots"),
    "make_training_curves.py": (MPL + "plt.savefig(\"training_curves.svg\")\n", "plots"),
    "training_curves.svg": ("<svg>curves</svg>", "plots"),
    "plot_analysis_summary.py": (MPL + "plt.savefig('analysis_summary_%s.png' % 'v2')\n", "plots"),
    "analysis_summary_v2.png": ("PNGSUM", "plots"),
    "loss_landscape.png": ("PNGLOSS", "plots"),
    "metrics_comparison_bar.png": ("PNGBAR", "plots"),
    "paper_figure_draft.pdf": ("%PDF-1.4 draft", "plots"),  # hard: PDFs are not always figures
    # --- testing --------------------------------------------------------------
    "test_gradient_flow.py": ("import torch\n\ndef test_grad_nonzero():\n    assert True\n", "testing"),
    "test_circlecount_metrics.py": ("def test_count():\n    assert 1 == 1\n", "testing"),
    "test_metrics_aggregation.py": ("def test_mean():\n    pass\n", "testing"),
    "test_city_id_lookup.py": ("def test_lookup():\n    pass\n", "testing"),
    "check_gradients.py": ("import torch\n\ndef check(model):\n    pass\n", "testing"),
    "circlecount_sanity_test.py": ("def test_sanity():\n    pass\n", "testing"),
    "gradient_norm_debug.py": ("print('grad norms')\n", "testing"),
    "verify_metric_values.py": ("import pytest\n\ndef test_values():\n    pass\n", "testing"),
    # --- utils ----------------------------------------------------------------
    "generate_exp4_cka_configs.py": ("import yaml\nfor i in range(4):\n    yaml.safe_dump({})\n", "utils"),
    "generate_sweep_configs.py": ("import json\n", "utils"),
    "make_ft_configs.sh": ("#!/bin/sh\necho cfg\n", "utils"),
    "migrate_paths_v2.py": ("import shutil\n", "utils"),
    "fix_checkpoint_paths.py": ("import os\n", "utils"),
    "rename_run_dirs.py": ("import os\n", "utils"),
    "config_helpers.py": ("def load(p):\n    pass\n", "utils"),
    "io_utils.py": ("def read(p):\n    pass\n", "utils"),
    "data_helpers.py": ("def batches(xs):\n    pass\n", "utils"),
    "plot_utils.py": ("import matplotlib\n\ndef style():\n    pass\n", "utils"),  # hard: plot_ prefix, but a helper
    "metrics.py": ("def accuracy(a, b):\n    pass\n", "utils"),  # hard: nothing in the name says helper
    # --- stays at the top -----------------------------------------------------
    "README.md": ("# scratch\n", "."),
    "notes.txt": ("todo\n", "."),
    "requirements.txt": ("torch\n", "."),
    "train_model.py": ("import torch\n", "."),
    "run_all_experiments.sh": ("#!/bin/sh\n", "."),
    "scratch.py": ("x = 1\n", "."),
}

MIN_ACCURACY = 0.85


@pytest.fixture()
def seed_dir(tmp_path: Path) -> Path:
    spec: dict = {name: content for name, (content, _) in SEED.items()}
    spec[".DS_Store"] = b"\0mac"
    spec["__pycache__/x.cpython-311.pyc"] = b"\0pyc"
    spec[".ipynb_checkpoints/a-checkpoint.ipynb"] = "{}"
    spec["old_runs"] = Dir()
    return make_tree(tmp_path / "scratch", spec)


def _where(root: Path) -> dict[str, str]:
    found = {}
    for name in SEED:
        hits = [p for p in root.rglob(name) if ".organizer" not in p.parts]
        assert len(hits) == 1, f"{name} must exist exactly once, found {hits}"
        parent = hits[0].parent.relative_to(root).as_posix()
        found[name] = parent
    return found


def test_fixture_is_seed_like() -> None:
    assert 45 <= len(SEED) <= 60
    assert {dest for _, dest in SEED.values()} == {"analysis", "plots", "testing", "utils", "."}


def test_default_rules_accuracy_on_seed_folder(seed_dir: Path) -> None:
    before = snapshot(seed_dir, dir_times=False)
    result = run_tidy(seed_dir, load_default_rules())
    assert result.ok, result.failed
    found = _where(seed_dir)
    misses = {n: (found[n], SEED[n][1]) for n in SEED if found[n] != SEED[n][1]}
    accuracy = 1 - len(misses) / len(SEED)
    print(f"default-rules accuracy: {accuracy:.1%} ({len(SEED) - len(misses)}/{len(SEED)}); misses: {misses}")
    assert accuracy >= MIN_ACCURACY, misses
    # Every byte is still there, hidden and skipped entries did not move.
    after = snapshot(seed_dir, exclude=(".organizer",), dir_times=False)
    assert sorted(v[3] for v in before.values() if v[0] == "file") == sorted(v[3] for v in after.values() if v[0] == "file")
    for kept in (".DS_Store", "__pycache__/x.cpython-311.pyc", ".ipynb_checkpoints/a-checkpoint.ipynb"):
        assert after[kept] == before[kept]
    assert after["old_runs"][0] == "dir"


def test_figures_land_next_to_their_scripts(seed_dir: Path) -> None:
    run_tidy(seed_dir, load_default_rules())
    found = _where(seed_dir)
    pairs = {
        "ft1_performance_heatmap.png": "plot_ft1_heatmap.py",
        "ft2_normalized_scores.pdf": "plot_ft2_normalized_scores.py",
        "eval_metrics_over_time.png": "plot_eval_metrics.py",
        "cluster_centroids.svg": "visualize_cluster_centroids.py",
        "training_curves.svg": "make_training_curves.py",
        "analysis_summary_v2.png": "plot_analysis_summary.py",
        "atlantis_1000_probe_accuracy.png": "analyze_atlantis_in_training.py",
        "atlantis_2000_probe_accuracy.png": "analyze_atlantis_in_training.py",
    }
    for image, script in pairs.items():
        assert found[image] == found[script], (image, found[image], script, found[script])
    # The f-string figure follows the analysis script, not the generic figures rule.
    assert found["atlantis_1000_probe_accuracy.png"] == "analysis"


def test_seed_plan_lists_unmatched_and_is_idempotent(seed_dir: Path) -> None:
    rules = load_default_rules()
    plan = plan_tidy(seed_dir, rules)
    assert "notes.txt" in plan.unmatched and "train_model.py" in plan.unmatched
    assert "README.md" not in plan.unmatched  # ignored by the defaults, not "unmatched"
    run_tidy(seed_dir, rules)
    again = plan_tidy(seed_dir, rules)
    assert again.moves == []
    assert again.unmatched == [u for u in plan.unmatched if u in again.unmatched]


def test_seed_tidy_then_undo_restores_everything(seed_dir: Path) -> None:
    before = snapshot(seed_dir)
    run_tidy(seed_dir, load_default_rules())
    assert snapshot(seed_dir) != before
    assert run_undo(seed_dir).ok
    assert snapshot(seed_dir) == before
