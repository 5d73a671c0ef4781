"""Inference of what rules.yaml does not say: direction from the metric's name, scale from the
values, the reported metric per format, bookkeeping left out, unplaceable tasks listed."""
import logging

import pandas as pd
import pytest

from readers_helpers import rules
from utils.config import TaskInfo
from utils.inference import direction, infer, with_inferred
from utils.loading import COLUMNS as COLS


def frame(rows):
    """Tidy rows (experiment, condition, task, step, metric, statistic, value)."""
    return pd.DataFrame([(*r, "x.json") for r in rows], columns=COLS)


@pytest.mark.parametrize("name, kind", [
    ("loss", "error"), ("wer", "error"), ("cer", "error"), ("word_perplexity", "error"), ("mse", "error"),
    ("rmse", "error"), ("mae", "error"), ("error_rate", "error"), ("bits_per_byte", "error"),
    ("accuracy", "accuracy"), ("acc_norm", "accuracy"), ("f1", "accuracy"), ("exact_match,strict-match", "accuracy"),
    ("bleu", "accuracy"), ("rouge1", "accuracy"), ("rougeLsum", "accuracy"), ("mcc", "accuracy"),
    ("matthews_correlation", "accuracy"), ("precision", "accuracy"), ("recall", "accuracy"), ("roc_auc", "accuracy"),
    ("gen_len", None), ("likelihood_difference", None), ("llm_judge", None),
    ("mem_cpu_alloc_delta", None), ("runtime", None), ("samples_per_second", None), ("sample_len", None),
    ("epoch", None),
])
def test_direction_from_the_name(name, kind):
    assert direction(name) == kind


def test_scale_from_the_values_and_one_log_line_per_task(config, caplog):
    f = frame([("t5", "standard", "rouge1", 900, "rouge1", "value", 41.6),
               ("bert", "standard", "accuracy", 100, "accuracy", "value", 0.81),
               ("bert", "standard", "accuracy", 200, "accuracy", "value", 0.86),
               ("whisper", "standard", "wer", 100, "wer", "value", 32.0),
               ("whisper", "standard", "loss", 100, "loss", "value", 2.7),
               ("t5", "standard", "gen_len", 900, "gen_len", "value", 73.5)])
    with caplog.at_level(logging.INFO, logger="utils.inference"):
        cfg = with_inferred(config, f)
    t = cfg.tasks
    assert (t["rouge1"].kind, t["rouge1"].scale) == ("accuracy", 100.0)
    assert (t["accuracy"].kind, t["accuracy"].scale, t["accuracy"].unit) == ("accuracy", 1.0, "accuracy (0-1)")
    assert (t["wer"].kind, t["wer"].scale) == ("error", 100.0)
    assert (t["loss"].kind, t["loss"].scale, t["loss"].unit) == ("error", 1.0, "loss")
    assert "gen_len" not in t and set(config.tasks) < set(t)
    lines = [r.getMessage() for r in caplog.records]
    assert [m.split(":")[0] for m in lines if m.startswith("inferred task")] == [
        "inferred task accuracy", "inferred task loss", "inferred task rouge1", "inferred task wer"]
    assert "inferred task wer: lower is better (metric wer, statistic value), values 0-100" in lines
    assert "inferred task rouge1: higher is better (metric rouge1, statistic value), values 0-100" in lines
    [left] = [m for m in lines if "left out" in m]
    assert left.startswith("1 task(s) left out") and "gen_len" in left


def test_known_tasks_are_not_inferred(config):
    f = frame([("pt1", "standard", "distance", 0, "distance_metric", "mean", 3.0)])
    assert infer(f, config) == [] and with_inferred(config, f) is config


def lm(task, metrics):
    return [("m", "standard", task, 0, f"{task}_{k}", "stderr" if k.endswith("_stderr") else "value", v)
            for k, v in metrics.items()]


def test_lm_eval_default_metric_per_task(config):
    f = frame(lm("hellaswag", {"acc": 0.3, "acc_norm": 0.35})
              + lm("gsm8k", {"exact_match,flexible-extract": 0.5, "exact_match,strict-match": 0.4})
              + lm("wikitext", {"word_perplexity": 30.0, "byte_perplexity": 1.7, "bits_per_byte": 0.8}))
    got = {i.task: (i.metric, i.info.kind) for i in infer(f, config)}
    assert got == {"hellaswag": ("hellaswag_acc", "accuracy"),
                   "gsm8k": ("gsm8k_exact_match,strict-match", "accuracy"),
                   "wikitext": ("wikitext_word_perplexity", "error")}


@pytest.mark.parametrize("metric, chosen", [("acc_norm", "hellaswag_acc_norm"),
                                            ("exact_match,flexible-extract", "hellaswag_exact_match,flexible-extract")])
def test_per_task_metric_choice_in_rules(tmp_path, metric, chosen):
    cfg = rules(tmp_path, training={}, tasks={"hellaswag": {"kind": "accuracy", "metric": metric,
                                                            "statistic": "value"}})
    assert cfg.task_metric("hellaswag") == (chosen, "value")
    assert cfg.task_metric("distance") == ("distance_metric", "mean")  # not listed: the top-level template


def test_per_task_metric_is_what_scores_use(tmp_path):
    from analysis.scores import primary
    cfg = rules(tmp_path, training={}, tasks={"arc": {"kind": "accuracy", "metric": "acc_norm", "statistic": "value"},
                                 "gsm8k": {"kind": "accuracy", "metric": "exact_match,strict-match",
                                           "statistic": "value"}})
    f = frame(lm("arc", {"acc": 0.3, "acc_norm": 0.35, "acc_norm_stderr": 0.01})
              + lm("gsm8k", {"exact_match,flexible-extract": 0.5, "exact_match,strict-match": 0.4}))
    f.loc[f["metric"] == "arc_acc_norm_stderr", "metric"] = "arc_acc_norm"
    got = primary(f, cfg).set_index("task")["value"].to_dict()
    assert got == {"arc": 0.35, "gsm8k": 0.4}


def test_a_task_metric_must_be_a_string(tmp_path):
    from utils.errors import ConfigError
    with pytest.raises(ConfigError, match=r"tasks\.arc\.metric: expected a metric name"):
        rules(tmp_path, training={}, tasks={"arc": {"kind": "accuracy", "metric": 3}})


def test_inferred_info_is_a_task_info(config):
    [inf] = infer(frame([("r", "standard", "f1", 1, "f1", "value", 0.5)]), config)
    assert isinstance(inf.info, TaskInfo) and inf.info.higher_is_better and inf.info.metric == "f1"


@pytest.mark.parametrize("name, kind, scale, said", [
    ("matthews_correlation", "accuracy", 1.0, " (-1 to 1)"),  # MCC runs from -1 to 1, not 0-1
    ("mcc", "accuracy", 1.0, " (-1 to 1)"),
    ("accuracy", "accuracy", 1.0, " (0-1)"),
    ("rouge1", "accuracy", 100.0, " (0-100)"),
    ("wer", "error", 100.0, " (%)"),  # a word error rate in percent can pass 100: no upper bound said
    ("wer", "error", 1.0, ""),
    ("loss", "error", 1.0, ""),
])
def test_units_say_the_range_a_metric_really_has(name, kind, scale, said):
    from utils.inference import value_range
    assert value_range(name, kind, scale) == said
