"""rules.yaml: the shipped file is valid; every kind of mistake fails fast naming file and key."""
from pathlib import Path

import pytest
import yaml

from testing_helpers import REPO
from utils.config import load_config
from utils.errors import ConfigError


def test_shipped_rules_describe_the_real_sweep(config):
    assert {t: config.tasks[t].kind for t in ("distance", "crossing")} == {"distance": "error",
                                                                           "crossing": "accuracy"}
    assert config.training["ft1"][4] == ("compass",)
    assert config.training["ft2"][21] == ("angle", "crossing")
    assert len(config.training["ft2"]) == 21
    assert config.data_root == REPO / "examples" / "experiments"


@pytest.mark.parametrize("name, baseline, group, index, seed, model", [
    ("pt1", "pt1", "baseline", None, 0, "pt1"),  # no seed part: seed 0, its own seed
    ("pt1_ft1-3", "pt1", "ft1", 3, 0, "pt1_ft1-3"),
    ("pt1_seed1_ft1-3", "pt1_seed1", "ft1", 3, 1, "pt1_ft1-3"),
    ("pt1_seed2", "pt1_seed2", "baseline", None, 2, "pt1"),
    ("pt1_seed2_ft2-9", "pt1_seed2", "ft2", 9, 2, "pt1_ft2-9"),
])
def test_experiment_names(config, name, baseline, group, index, seed, model):
    e = config.parse_experiment(name)
    assert (e.baseline, e.group, e.index, e.seed, e.model) == (baseline, group, index, seed, model)


def test_unmatched_name_is_none(config):
    assert config.parse_experiment("other_run") is None


@pytest.mark.parametrize("folder, expected", [
    ("distance", ("standard", "distance")),
    ("atlantis_distance", ("atlantis", "distance")),
    ("atlantis_", ("standard", "atlantis_")),
])
def test_condition_from_folder(config, folder, expected):
    assert config.condition_for_folder(folder) == expected


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load((REPO / "rules.yaml").read_text())
    mutate(raw)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize("mutate, key, words", [
    (lambda r: r.update(colours=1), "colours", "unknown key"),
    (lambda r: r["tasks"]["distance"].pop("kind"), "tasks.distance.kind", "accuracy"),
    (lambda r: r["tasks"]["distance"].update(kind="lower"), "tasks.distance.kind", "accuracy or error"),
    (lambda r: r["tasks"]["distance"].update(log="yes"), "tasks.distance.log", "true or false"),
    (lambda r: r["tasks"]["angle"].update(colour="red"), "tasks.angle.colour", "unknown key"),
    (lambda r: r.update(tasks=["distance"]), "tasks", "mapping"),
    (lambda r: r["experiments"].update(pattern="(unclosed"), "experiments.pattern", "regular expression"),
    (lambda r: r["experiments"].update(pattern="^(?P<x>.*)$"), "experiments.pattern", "named groups"),
    (lambda r: r["training"]["ft1"].update({8: ["juggling"]}), "training.ft1.8", "unknown task"),
    (lambda r: r["conditions"]["atlantis"].update(role="ood"), "conditions.atlantis.role", "must be one of"),
    (lambda r: r["readers"][0].pop("glob"), "readers[0].glob", "missing"),
    (lambda r: r["plots"].update(dpi="high"), "plots.dpi", "integer"),
    (lambda r: r["plots"].update(width="wide"), "plots.width", "double, single or inches"),
    (lambda r: r["plots"].update(width=40), "plots.width", "between 2.5 and 20"),
    (lambda r: r["data"].update(skip="multi_task"), "data.skip", "list"),
])
def test_bad_rules_name_file_and_key(tmp_path, mutate, key, words):
    path = _write(tmp_path, mutate)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and key in message and words in message


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("tasks:\n  distance: {kind: error\n")
    with pytest.raises(ConfigError, match=r"rules.yaml: line \d+"):
        load_config(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "nope.yaml")


def test_relative_paths_resolve_against_the_rules_file(tmp_path):
    path = _write(tmp_path, lambda r: r["data"].update(root="evals"))
    assert load_config(path).data_root == tmp_path / "evals"


@pytest.mark.parametrize("width, inches", [("double", 7.5), ("single", 3.5), (5, 5.0), (4.25, 4.25)])
def test_plots_width_is_page_inches(tmp_path, width, inches):
    path = _write(tmp_path, lambda r: r["plots"].update(width=width))
    assert load_config(path).plot_width == inches
