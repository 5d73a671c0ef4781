"""The default reader and the loader: layout, order, statistics, malformed files, the parse cache."""
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from readers_helpers import rules
from testing_helpers import write_eval
from utils.errors import UserError
from utils.loading import COLUMNS, ParseCache, _frame_by_file, discover, load, pack, packed_len, unpack
from utils.readers import all_readers
from utils.labels import LABELS, plain
from utils.synthetic import write_tree


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
    ("", "empty file"),
    ("  \n", "empty file"),
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


# --- row order: the by-file build equals the full stable sort ------------------------------------

ORDER = ["experiment", "condition", "task", "metric", "statistic", "step"]
GLOBS = [{"reader": "evaluation_results", "glob": "*/evals/*/eval_data/evaluation_results.json"},
         {"reader": "tables", "glob": "**/*.csv"}]


def _shuffled_checkpoints(steps, rename=None):
    """Checkpoints out of step order, metric keys in a different order in each, a string among them;
    `rename` renames keys in the middle checkpoint only."""
    keys = ["eval_loss", "eval_angle_metric_std", "eval_angle_metric_mean", "eval_angle_metric_median"]
    out = {}
    for i, step in enumerate(steps):
        names = keys[i % 4:] + keys[:i % 4]
        if i == len(steps) // 2:
            names = [(rename or {}).get(k, k) for k in names]
        out[f"checkpoint-{step}"] = {**{k: float(i * 10 + j) for j, k in enumerate(names)},
                                     "model_name": "pt1"}
    return out


def _csv(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("experiment,condition,task,step,value\n" + "".join(f"{r}\n" for r in rows))


# Extra files besides the synthetic tree: none (every file one experiment x condition x task), a CSV
# mixing experiments, conditions or tasks, and a CSV with one key some evaluation_results.json has
# too (its rows tie with that file's on every sort column: their order must stay file order).
EXTRAS = {
    "one_key_per_file": [],
    "csv_of_experiments": ["pt1_ft2-9,standard,distance,3000,1.5", "pt1,standard,distance,1000,2.5",
                           "pt1_ft2-9,standard,distance,1000,3.5", "pt1,standard,distance,1000,4.5"],
    "csv_of_conditions": ["pt1_ft2-9,standard,angle,1000,1.5", "pt1_ft2-9,atlantis,angle,1000,2.5",
                          "pt1_ft2-9,standard,angle,500,3.5"],
    "csv_of_tasks": ["pt1_ft2-9,atlantis,distance,1000,1.5", "pt1_ft2-9,atlantis,angle,1000,2.5",
                     "pt1_ft2-9,atlantis,distance,500,3.5"],
    "two_files_one_key": ["pt1,standard,distance,2000,9.5", "pt1,standard,distance,1000,8.5"],
}


def _reference(root, cfg):
    """Every file read on its own, concatenated in discovery order, then the full stable sort."""
    readers = all_readers()
    rows = [(*rec, path.relative_to(root).as_posix()) for path, rname in discover(root, cfg)
            for rec in readers[rname].read(path, root, cfg)]
    frame = pd.DataFrame(rows, columns=COLUMNS).astype({"step": "int64", "value": "float64"})
    return frame.sort_values(ORDER, kind="stable", ignore_index=True)


@pytest.mark.parametrize("extra", list(EXTRAS))
def test_frame_equals_the_full_stable_sort_cold_and_cached(tmp_path, extra):
    root = tmp_path / "experiments"
    write_tree(root, seeds=2, ft1=2, ft2=2, checkpoints=5)
    # files alike but for the steps, a metric or a statistic: one file's row order is not another's
    steps = [3000, 500, 10000, 1000, 2000]
    write_eval(root, "pt1_ft1-1", "atlantis_angle", _shuffled_checkpoints(steps))
    write_eval(root, "pt1_ft2-1", "atlantis_angle", _shuffled_checkpoints([3000, 10000, 500, 1000, 2000]))
    write_eval(root, "pt1_ft2-2", "atlantis_angle", _shuffled_checkpoints(steps, {"eval_loss": "eval_aaa"}))
    write_eval(root, "pt1_seed2", "atlantis_angle",
               _shuffled_checkpoints(steps, {"eval_angle_metric_std": "eval_angle_metric_max"}))
    if EXTRAS[extra]:
        _csv(root / "paper" / f"{extra}.csv", EXTRAS[extra])
    cfg = rules(tmp_path, readers=GLOBS)
    expected = _reference(root, cfg)
    assert list(expected.dtypes.astype(str)) == ["str", "str", "str", "int64", "str", "str", "float64", "str"]

    cache = ParseCache(tmp_path / "cache.pickle")
    cold = load(root, cfg, cache)
    cache.save()
    cached = load(root, cfg, ParseCache(tmp_path / "cache.pickle"))
    assert len(cold.parsed) == len(cold.files) and cached.parsed == [] and not cached.problems
    for result in (cold, cached):
        for name in LABELS:  # the repeated strings as codes of sorted categories (utils/labels.py)
            cats = list(result.frame[name].cat.categories)
            assert cats == sorted(set(expected[name])), name
        pd.testing.assert_frame_equal(plain(result.frame), expected, check_exact=True)
        assert isinstance(result.frame.index, pd.RangeIndex)

    # the by-file build runs exactly when each file holds one key of its own
    blocks = [(cache.entries[str(p)][4][1], p.relative_to(root).as_posix()) for p in cached.files]
    assert (_frame_by_file(blocks) is not None) == (extra == "one_key_per_file")


def test_discover_order_and_what_it_skips(tmp_path):
    """Path order (folder by folder, so `a/` before `a-b/`), hidden folders and files, `.tmp`,
    and links to folders (listed by os.walk but not entered) left out."""
    root = tmp_path / "exp"
    files = [write_eval(root, name, "distance", ck(1000, 2.0)) for name in ("pt1-b", "pt1", "pt1_a")]
    write_eval(root, ".hidden", "distance", ck(1000, 2.0))
    (files[1].parent / ".evaluation_results.json").write_text("{}")
    (files[1].parent / "evaluation_results.json.tmp").write_text("{}")
    (root / "linked").symlink_to(root / "pt1", target_is_directory=True)
    wide = [{"reader": "evaluation_results", "glob": "**/*evaluation_results.json*"}]
    for readers in (None, GLOBS[:1], wide):
        cfg = rules(tmp_path, readers=readers)
        found = discover(root, cfg)
        assert found == [(files[1], "evaluation_results"), (files[0], "evaluation_results"),
                         (files[2], "evaluation_results")]
        assert [p for p, _ in found] == sorted(p for p, _ in found)


@pytest.mark.parametrize("cols, packed_as", [
    ((["a"] * 3, ["s"] * 3, ["t"] * 3, [1, 2, 3], ["m", "m", "n"], ["mean"] * 3, [0.5, float("nan"), 2.0]),
     (tuple, tuple, tuple, bytes, list, tuple, bytes)),
    ((["a", "b"], ["s"] * 2, ["t"] * 2, [1, 10 ** 30], ["m"] * 2, ["mean"] * 2, [1, 2.5]),  # a step beyond int64
     (list, tuple, tuple, list, tuple, tuple, bytes)),
    ((["a"], ["s"], ["t"], [True], ["m"], ["value"], ["x"]),  # odd types stay as they are
     (tuple, tuple, tuple, list, tuple, tuple, list)),
    (([], [], [], [], [], [], []), (list, list, list, bytes, list, list, bytes)),
], ids=["sweep file", "huge step", "odd values", "empty"])
def test_packed_columns_give_back_the_same_values(cols, packed_as):
    packed = pack(tuple(list(c) for c in cols))
    assert tuple(type(c) for c in packed) == packed_as
    assert pack(packed) == packed  # packing twice changes nothing
    assert packed_len(packed) == len(cols[6])
    back = unpack(packed)
    for got, want in zip(back, cols):
        assert [type(v) for v in got] == [type(float(v)) if isinstance(v, int) and not isinstance(v, bool)
                                          and got is back[6] else type(v) for v in want]
        assert all(g == w or g != g and w != w for g, w in zip(got, want))


def test_the_parse_cache_holds_a_sweep_file_in_bytes(tmp_path, config):
    root = tmp_path / "exp"
    path = write_eval(root, "pt1", "distance", {**ck(2000, 2.0), **ck(1000, 3.0)})
    cache = ParseCache(tmp_path / "cache.pickle")
    load(root, config, cache)
    cols = cache.entries[str(path)][4][1]
    assert cols[:3] == (("pt1",), ("standard",), ("distance",))
    steps = np.frombuffer(cols[3], dtype="int64").tolist()
    assert len(steps) == packed_len(cols) > 0 and set(steps) == {1000, 2000}
    assert 3.0 in np.frombuffer(cols[6], dtype="float64").tolist()
    cache.save()
    again = ParseCache(tmp_path / "cache.pickle")
    assert again.entries[str(path)][4][1] == cols
    pd.testing.assert_frame_equal(load(root, config, again).frame, load(root, config).frame)


def test_a_listing_given_is_what_is_read_with_no_second_walk(tmp_path, config):
    """The run's one listing (the input stamp's walk and stat) is what discovery and the parse cache
    use: the same frame as a walk of its own, and a file the listing does not hold is not read."""
    from utils.walk import stat_files
    root = tmp_path / "exp"
    write_eval(root, "pt1", "distance", {**ck(2000, 2.0), **ck(1000, 3.0)})
    late = write_eval(root, "pt1_ft1-1", "distance", ck(1000, 1.0))
    listing = stat_files(str(root))
    assert [rel for _, rel, _, _ in listing] == ["pt1/evals/distance/eval_data/evaluation_results.json",
                                                 "pt1_ft1-1/evals/distance/eval_data/evaluation_results.json"]
    pd.testing.assert_frame_equal(load(root, config, listing=listing).frame, load(root, config).frame)
    without = [row for row in listing if row[0] != str(late)]
    result = load(root, config, listing=without)
    assert set(result.frame["experiment"]) == {"pt1"} and result.files == [Path(without[0][0])]
