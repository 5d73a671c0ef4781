"""Choosing readers: rules.yaml globs (several readers over one tree) or, without `readers:`,
file name and content sniffing; one log line per reader; bad reader rules fail fast."""
import logging

import pytest

from readers_helpers import place, rules, write_rules
from testing_helpers import write_eval
from utils.config import load_config
from utils.errors import ConfigError, UserError
from utils.loading import discover, load
from utils.readers import to_value

V04 = "lm_eval/v04/__scratch__runs__pt1_ft1-1__checkpoint-500/results_2024-06-10T12-34-56.412823.json"


@pytest.fixture
def mixed_tree(tmp_path):
    """One tree holding every format, plus files that are no evaluation at all."""
    root = tmp_path / "data"
    write_eval(root, "pt1", "distance", {"checkpoint-10": {"eval_distance_metric_mean": 3.0}})
    place("hf_trainer/pt1_ft1-1/trainer_state.json", root / "pt1_ft1-1" / "trainer_state.json")
    place(V04, root / "lm" / "results_2024-06-10T12-34-56.412823.json")
    place(V04.rsplit("/", 1)[0] + "/samples_arc_easy_2024-06-10T12-34-56.412823.jsonl",
          root / "lm" / "samples_arc_easy_2024-06-10T12-34-56.412823.jsonl")
    place("tables/wide.csv", root / "paper" / "table2.csv")
    place("jsonl/records.jsonl", root / "more" / "records.jsonl")
    (root / "pt1_ft1-1" / "config.json").write_text('{"hidden_size": 8}')
    (root / "pt1_ft1-1" / "model.safetensors").write_bytes(b"\0" * 64)
    (root / "paper" / "losses.csv").write_text("step,loss\n1,2.0\n")
    return root


def test_without_readers_files_are_recognised_by_name_and_content(tmp_path, mixed_tree, caplog):
    cfg = rules(tmp_path, readers=None)
    assert cfg.readers == ()
    with caplog.at_level(logging.INFO, logger="utils.loading"):
        found = {p.relative_to(mixed_tree).as_posix(): r for p, r in discover(mixed_tree, cfg)}
    assert found == {
        "pt1/evals/distance/eval_data/evaluation_results.json": "evaluation_results",
        "pt1_ft1-1/trainer_state.json": "hf_trainer",
        "lm/results_2024-06-10T12-34-56.412823.json": "lm_eval",
        "paper/table2.csv": "tables",
        "more/records.jsonl": "jsonl",
    }
    lines = [r.getMessage() for r in caplog.records]
    assert sorted(m for m in lines if m.startswith("reader ")) == [
        f"reader {r}: 1 file(s) recognised by name and content"
        for r in ("evaluation_results", "hf_trainer", "jsonl", "lm_eval", "tables")]
    [left] = [m for m in lines if m.startswith("4 other file(s)")]  # one line, not one per file
    assert all(name in left for name in ("pt1_ft1-1/config.json", "pt1_ft1-1/model.safetensors",
                                         "paper/losses.csv"))  # few: named


def test_the_mixed_tree_loads_into_one_table(tmp_path, mixed_tree):
    result = load(mixed_tree, rules(tmp_path, readers=None))
    assert not result.problems
    sources = result.frame.groupby("source").size()
    assert len(sources) == 5 and (sources > 0).all()


def test_readers_rules_choose_by_glob_and_several_run_over_one_tree(tmp_path, mixed_tree, caplog):
    cfg = rules(tmp_path, readers=[
        {"reader": "evaluation_results", "glob": "*/evals/*/eval_data/evaluation_results.json"},
        {"reader": "tables", "glob": "paper/*.csv"},
        {"reader": "hf_trainer", "glob": "**/trainer_state.json"},
    ])
    with caplog.at_level(logging.INFO, logger="utils.loading"):
        result = load(mixed_tree, cfg)
    files = {p.relative_to(mixed_tree).as_posix() for p in result.files}
    # files no glob matches are offered to the sniffers: the lm-eval results and the JSON Lines file
    assert files == {"pt1/evals/distance/eval_data/evaluation_results.json", "paper/table2.csv",
                       "paper/losses.csv", "pt1_ft1-1/trainer_state.json",
                       "lm/results_2024-06-10T12-34-56.412823.json", "more/records.jsonl"}
    # a file the glob gives a reader that cannot read it is one clear problem line; the rest loads
    assert [str(p) for p in result.problems] == [
        f"{mixed_tree / 'paper' / 'losses.csv'}: no 'experiment' column in the header (long form: "
        "experiment, task, value[, condition, step, metric, statistic]; wide form: experiment and one "
        "column per task)"]
    assert {"pt1", "pt1_ft1-1", "pt1_ft1-2"} <= set(result.frame["experiment"])
    lines = [r.getMessage() for r in caplog.records]
    assert "reader tables: 2 file(s) matched by the readers: globs" in lines
    assert "reader lm_eval: 1 file(s) recognised by name and content" in lines


def test_unknown_reader_is_a_user_error(tmp_path, mixed_tree):
    cfg = rules(tmp_path, readers=[{"reader": "comet", "glob": "**/*.comet"}])
    with pytest.raises(UserError, match=r"readers\[0\].reader: unknown reader 'comet' \(known: "
                                        r"evaluation_results, hf_trainer, json_summary, jsonl, jsonl_log, keras, "
                                        r"lightning, lm_eval, mlflow, ray_tune, sacred, tables, tensorboard, text_log, "
                                        r"ultralytics, wandb\)"):
        discover(mixed_tree, cfg)


@pytest.mark.parametrize("rule, words", [
    ({"reader": "tables", "glob": "*.csv", "experiment": "top"}, "names experiments from the files"),
    ({"reader": "hf_trainer", "glob": "*.json", "experiment": "model"}, "takes top or run, not 'model'"),
])
def test_experiment_option_the_reader_does_not_take(tmp_path, mixed_tree, rule, words):
    cfg = rules(tmp_path, readers=[rule])
    with pytest.raises(UserError, match=r"readers\[0\].experiment: reader") as err:
        discover(mixed_tree, cfg)
    assert words in str(err.value) and str(cfg.path) in str(err.value)


def test_experiment_option_is_validated_with_the_rules(tmp_path):
    path = write_rules(tmp_path, readers=[{"reader": "hf_trainer", "glob": "*", "experiment": "parent"}])
    with pytest.raises(ConfigError, match=r"readers\[0\].experiment: must be one of top, run, model"):
        load_config(path)


@pytest.mark.parametrize("raw, expected", [
    (1, 1.0), (0.25, 0.25), (None, "nan"), ("NaN", "nan"), ("nan", "nan"), ("N/A", "nan"),
    (" 2.5 ", 2.5), ("1e-3", 0.001), ("diverged", None), ("", None), (True, None), ([1], None),
])
def test_to_value(raw, expected):
    got = to_value(raw)
    if expected == "nan":
        assert got != got
    else:
        assert got == expected


def test_many_files_no_reader_takes_are_counted_and_not_opened(tmp_path, config, monkeypatch, caplog):
    """A Trainer tree is mostly weights, tokenizer and config files: passed over by name."""
    import utils.readers.lm_eval as lm_eval
    opened = []
    monkeypatch.setattr(lm_eval, "head", lambda path, size=4096: opened.append(path) or b"")
    for i in range(12):
        run = tmp_path / f"run{i}"
        run.mkdir()
        for name in ("config.json", "tokenizer_config.json", "special_tokens_map.json", "model.safetensors"):
            (run / name).write_text("{}")
    with caplog.at_level(logging.INFO, logger="utils.loading"):
        assert discover(tmp_path, config) == []
    assert opened == []
    lines = [r.getMessage() for r in caplog.records]
    assert (f"48 other file(s) under {tmp_path} are not evaluation files any reader knows; left alone (e.g. "
            "run0/config.json, run0/model.safetensors, run0/special_tokens_map.json; each is listed in "
            "tables/files.csv)") in lines
