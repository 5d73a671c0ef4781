"""The default reader and the loader: layout, order, statistics, malformed files, the parse cache."""
import os

import pytest

from testing_helpers import write_eval
from utils.errors import UserError
from utils.loading import COLUMNS, ParseCache, discover, load


def ck(step, mean, std=0.1):
    return {f"checkpoint-{step}": {"eval_distance_metric_mean": mean, "eval_distance_metric_std": std,
                                   "eval_loss": 1.5, "epoch": 2.0, "model_name": "pt1"}}


def test_tidy_table_from_the_real_layout(tmp_path, config):
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", {**ck(2000, 2.0), **ck(1000, 3.0)})
    write_eval(root, "pt1", "atlantis_distance", ck(1000, 30.0))
    result = load(root, config)
    frame = result.frame
    assert list(frame.columns) == COLUMNS
    assert not result.problems
    mean = frame[(frame["statistic"] == "mean") & (frame["condition"] == "standard")]
    assert mean["step"].tolist() == [1000, 2000]          # sorted by integer step
    assert mean["value"].tolist() == [3.0, 2.0]
    assert set(frame["condition"]) == {"standard", "atlantis"}
    assert set(frame["statistic"]) == {"mean", "std", "value"}  # eval_loss -> statistic "value"
    assert "model_name" not in set(frame["metric"])             # strings are not metrics
    assert frame["source"].iloc[0].startswith("pt1/evals/")


def test_steps_sort_numerically_not_as_text(tmp_path, config):
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", {**ck(10000, 1.0), **ck(9000, 2.0), **ck(500, 3.0)})
    frame = load(root, config).frame
    assert frame[frame["statistic"] == "mean"]["step"].tolist() == [500, 9000, 10000]


@pytest.mark.parametrize("content, reason", [
    ('{"checkpoint-1000": {"eval_distance_metric_mean": 2.', "not valid JSON"),   # half-written
    ("", "not valid JSON"),
    ("[1, 2]", "expected an object"),
    ('{"checkpoint-1000": 5}', "expected an object of metrics"),
    ('{"summary": {"eval_distance_metric_mean": 1}}', "no 'checkpoint-<step>'"),
])
def test_malformed_file_is_reported_and_skipped(tmp_path, config, content, reason):
    root = tmp_path / "exp"
    good = write_eval(root, "pt1", "distance", ck(1000, 2.0))
    bad = write_eval(root, "pt1", "angle", content)
    result = load(root, config)
    assert len(result.problems) == 1
    assert str(bad) in str(result.problems[0]) and reason in str(result.problems[0])
    assert set(result.frame["source"]) == {good.relative_to(root).as_posix()}


def test_other_files_beside_results_are_ignored(tmp_path, config):
    root = tmp_path / "exp"
    path = write_eval(root, "pt1", "distance", ck(1000, 2.0))
    (path.parent / "eval_config.yaml").write_text("x: 1\n")
    (path.parent / "detailed_results_1000.jsonl").write_text("{}\n")
    (path.parent / "evaluation_results.json.tmp").write_text("{")
    assert [p for p, _ in discover(root, config)] == [path]


def test_multi_task_is_skipped_with_one_log_line(tmp_path, config, caplog):
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", ck(1000, 2.0))
    write_eval(root, "pt1", "multi_task", {"checkpoint-1000": {"eval_distance_metric_mean": 1,
                                                               "eval_angle_metric_mean": 2}})
    with caplog.at_level("INFO"):
        result = load(root, config)
    assert len(result.skipped) == 1 and not result.problems
    assert set(result.frame["task"]) == {"distance"}
    assert sum("multi_task" in r.message for r in caplog.records) == 1


def test_missing_root_is_a_user_error(tmp_path, config):
    with pytest.raises(UserError, match="evaluation folder not found"):
        load(tmp_path / "nowhere", config)


def test_each_file_parsed_once_then_from_cache(tmp_path, config):
    root = tmp_path / "exp"
    a = write_eval(root, "pt1", "distance", ck(1000, 2.0))
    write_eval(root, "pt1", "angle", ck(1000, 9.0))
    cache = ParseCache(tmp_path / "cache.pickle")
    assert len(load(root, config, cache).parsed) == 2
    cache.save()
    again = ParseCache(tmp_path / "cache.pickle")
    assert load(root, config, again).parsed == []
    write_eval(root, "pt1", "distance", ck(1000, 4.0))
    st = a.stat()
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000_000))
    result = load(root, config, again)
    assert result.parsed == [a]
    assert 4.0 in result.frame["value"].tolist()


def test_same_size_same_mtime_rewrite_is_caught_by_content_hash(tmp_path, config):
    root = tmp_path / "exp"
    a = write_eval(root, "pt1", "distance", ck(1000, 2.0))
    cache = ParseCache()
    load(root, config, cache)
    st = a.stat()
    write_eval(root, "pt1", "distance", ck(1000, 3.0))  # same length, written within the racy window
    os.utime(a, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert load(root, config, cache).frame.query("statistic == 'mean'")["value"].tolist() == [3.0]


def test_corrupt_cache_is_rebuilt(tmp_path, config):
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", ck(1000, 2.0))
    (tmp_path / "cache.pickle").write_bytes(b"garbage")
    result = load(root, config, ParseCache(tmp_path / "cache.pickle"))
    assert len(result.parsed) == 1 and len(result.frame) == 4  # mean, std, loss, epoch


def test_changed_reading_rules_drop_the_parse_cache(tmp_path, config):
    """The same file reads differently under other conditions: old parses must not be reused."""
    import dataclasses

    from utils.loading import reading_rules
    root = tmp_path / "exp"
    write_eval(root, "pt1", "atlantis_distance", ck(1000, 2.0))
    cache = ParseCache(tmp_path / "cache.pickle", reading_rules(config))
    assert set(load(root, config, cache).frame["condition"]) == {"atlantis"}
    cache.save()
    raw = {**config.raw, "conditions": {"standard": {"prefix": "", "role": "in_distribution"}}}
    other = dataclasses.replace(config, raw=raw, conditions=config.conditions[:1])
    assert reading_rules(other) != reading_rules(config)
    again = ParseCache(tmp_path / "cache.pickle", reading_rules(other))
    result = load(root, other, again)
    assert len(result.parsed) == 1 and set(result.frame["task"]) == {"atlantis_distance"}
    again.save()
    same = ParseCache(tmp_path / "cache.pickle", reading_rules(other))
    assert load(root, other, same).parsed == []
