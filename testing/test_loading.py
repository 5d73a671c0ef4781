"""The default reader and the loader: layout, order, statistics, malformed files, the parse cache."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from readers_helpers import rules
from testing_helpers import write_eval
from utils.errors import UserError
from utils.labels import LABELS, categorical, plain
from utils.loading import (COLUMNS, WALL_TIME, ParseCache, _coded_frame, frame_by_file, discover, load,
                           merge_repeats, pack, packed_len, place_stepless, unpack)
from utils.readers import NO_STEP, all_readers
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
    rows = [(*rec[:-1], path.relative_to(root).as_posix()) for path, rname in discover(root, cfg)
            for rec in readers[rname].read(path, root, cfg)]  # rec[-1]: no wall time in these files
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
    assert (frame_by_file(blocks) is not None) == (extra == "one_key_per_file")


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
    ((["a"] * 3, ["s"] * 3, ["t"] * 3, [1, 2, 3], ["m", "m", "n"], ["mean"] * 3, [0.5, float("nan"), 2.0],
      [None] * 3), (tuple, tuple, tuple, bytes, list, tuple, bytes, type(None))),
    ((["a", "b"], ["s"] * 2, ["t"] * 2, [1, 10 ** 30], ["m"] * 2, ["mean"] * 2, [1, 2.5],  # a step beyond int64
      [1.7e9, None]), (list, tuple, tuple, list, tuple, tuple, bytes, bytes)),
    ((["a"], ["s"], ["t"], [True], ["m"], ["value"], ["x"], ["x"]),  # odd types stay as they are; no wall time
     (tuple, tuple, tuple, list, tuple, tuple, list, type(None))),
    (([], [], [], [], [], [], [], []), (list, list, list, bytes, list, list, bytes, type(None))),
    # a log's 300 records: its few conditions, tasks and metrics as codes; a column of mostly distinct
    # strings, or one holding a non-string, stays a list
    ((["run"] * 300, ["train", "eval"] * 150, ["loss", "acc", "lr"] * 100, list(range(300)),
      ["loss", "acc", "lr"] * 100, [f"s{i}" for i in range(300)], [i / 7 for i in range(300)], [None] * 300),
     (tuple, tuple, tuple, bytes, tuple, list, bytes, type(None))),
    ((["run"] * 300, ["train"] * 299 + [None], ["t"] * 300, list(range(300)), ["m"] * 300, ["value"] * 300,
      [1.0] * 300, [None] * 300), (tuple, list, tuple, bytes, tuple, tuple, bytes, type(None))),
], ids=["sweep file", "huge step, a wall time", "odd values", "empty", "a log", "a log with a missing label"])
def test_packed_columns_give_back_the_same_values(cols, packed_as):
    packed = pack(tuple(list(c) for c in cols))
    assert tuple(type(c) for c in packed) == packed_as
    assert pack(packed) == packed  # packing twice changes nothing
    assert pack(tuple(list(c) for c in cols[:7])) == packed[:7] + (None,)  # columns from before the wall time
    assert packed_len(packed) == len(cols[6])
    back = unpack(packed)
    for got, want in zip(back[:7], cols):
        assert [type(v) for v in got] == [type(float(v)) if isinstance(v, int) and not isinstance(v, bool)
                                          and got is back[6] else type(v) for v in want]
        assert all(g == w or g != g and w != w for g, w in zip(got, want))
    walls = [w if isinstance(w, float) else None for w in cols[7]]
    assert [None if w != w else w for w in back[7]] == (walls if any(walls) else [None] * len(walls))


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


# --- wall times: the column only when some file gives one (issue 21, item 2) ---------------------------

T0 = 1_714_000_000.0  # an epoch time (2024-04-24), as loggers stamp their lines


def _log(path, steps, t0=None, **extra):
    """A JSON Lines log: loss at each step, `timestamp` t0 + step when t0 is given (`extra` fields too)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        for s in steps:
            fh.write(json.dumps({"step": s, "loss": 1 / s, **({"timestamp": t0 + s} if t0 else {}), **extra}) + "\n")
    return path


def _mlflow(root, run, steps, t0_ms):
    """An MLflow run of one metric file (one experiment x condition x task per file): `<ts ms> <value> <step>`."""
    folder = root / "mlruns" / "0" / run
    (folder / "metrics").mkdir(parents=True)
    (folder / "meta.yaml").write_text(f"run_name: {run}\n")
    (folder / "metrics" / "accuracy").write_text("".join(f"{t0_ms + s} {s / 100} {s}\n" for s in steps))


@pytest.mark.parametrize("tree", ["sweep", "log without a time", "relative time"])
def test_a_frame_without_wall_times_has_exactly_the_old_columns(tmp_path, config, tree):
    root = tmp_path / "data"
    if tree == "sweep":
        write_eval(root, "pt1", "distance", {**ck(2000, 2.0), **ck(1000, 3.0)})
    else:  # detectron2's `time` is an iteration's seconds, not a wall time
        _log(root / "run" / "log.jsonl", range(1, 4), **({"time": 0.35} if tree == "relative time" else {}))
    cache = ParseCache(tmp_path / "cache.pickle")
    frame = load(root, config, cache).frame
    assert list(frame.columns) == COLUMNS and len(frame)
    assert all(entry[4][1][7] is None for entry in cache.entries.values())  # nothing stored for it


def test_a_tree_mixing_files_with_and_without_wall_times(tmp_path, config):
    root = tmp_path / "data"
    _log(root / "timed" / "log.jsonl", range(1, 4), T0)
    _log(root / "untimed" / "log.jsonl", range(1, 4))
    frame = load(root, config).frame
    assert list(frame.columns) == COLUMNS + [WALL_TIME] and frame[WALL_TIME].dtype == "float64"
    walls = frame.set_index(["experiment", "step"])[WALL_TIME]
    assert [walls[("timed", s)] for s in (1, 2, 3)] == [T0 + 1, T0 + 2, T0 + 3]
    assert walls.loc["untimed"].isna().all() and len(walls.loc["untimed"]) == 3


@pytest.mark.parametrize("by_file", [True, False], ids=["by file", "full sort"])
def test_the_parse_cache_round_trips_wall_times(tmp_path, config, monkeypatch, by_file):
    """Cold and cached runs give one frame, whichever way it is built: sweep files and MLflow metric files
    (one experiment x condition x task each) go by file; a JSON Lines log makes it the full sort."""
    root = tmp_path / "data"
    write_eval(root, "pt1", "distance", {**ck(2000, 2.0), **ck(1000, 3.0)})
    _mlflow(root, "adam", [0, 1, 2], 1_664_364_007_310)
    _mlflow(root, "sgd", [0, 1], 1_664_364_100_000)
    if not by_file:  # two metrics in one file
        _log(root / "run" / "log.jsonl", range(1, 4), T0, val_acc=0.5)
    cache = ParseCache(tmp_path / "cache.pickle")
    cold = load(root, config, cache)
    cache.save()
    again = ParseCache(tmp_path / "cache.pickle")
    cached = load(root, config, again)
    assert cached.parsed == [] and not cached.problems
    pd.testing.assert_frame_equal(cold.frame, cached.frame, check_exact=True)
    blocks = [(again.entries[str(p)][4][1], p.relative_to(root).as_posix()) for p in cached.files]
    assert (frame_by_file(blocks) is not None) == by_file
    monkeypatch.setattr("utils.loading.frame_by_file", lambda blocks: None)  # the full sort gives the same
    pd.testing.assert_frame_equal(load(root, config, again).frame, cold.frame, check_exact=True)
    frame = cold.frame.set_index(["experiment", "step"])
    assert frame.loc[("adam", 1), WALL_TIME] == 1_664_364_007.311  # milliseconds -> seconds
    assert frame.loc[("sgd", 1), WALL_TIME] == 1_664_364_100.001
    assert frame.loc["pt1", WALL_TIME].isna().all()  # the sweep's files have none
    kinds = {p.name: type(again.entries[str(p)][4][1][7]) for p in cached.files}
    assert kinds["accuracy"] is bytes and kinds["evaluation_results.json"] is type(None)


def _two_logs(root):
    _log(root / "a" / "log.jsonl", range(1, 401), T0, val_acc=0.5, lr=0.1)
    _log(root / "b" / "log.jsonl", range(1, 301), None, val_acc=0.25, grad_norm=2.0)


def _repeated_csv(root):
    rows = [f"run{i % 3},{'standard' if i % 2 else 'atlantis'},t{i % 5},{i},{i / 3}" for i in range(400)]
    _csv(root / "one" / "results.csv", rows)
    # a checkpoint's copy of 7 of the run's records (merged) and one of its own
    _csv(root / "one" / "checkpoint-5" / "results.csv", rows[:7] + ["run9,standard,t1,1,0.5"])


@pytest.mark.parametrize("tree", [_two_logs, _repeated_csv], ids=["logs, one with wall times", "repeated records"])
def test_the_coded_table_equals_the_table_built_from_lists(tmp_path, monkeypatch, tree):
    """Files of many keys (logs, tables) build the table from their packed codes (`_coded_frame`),
    long string columns cached as codes: the same frame, categories and all, as from lists."""
    root = tmp_path / "data"
    tree(root)
    cfg = rules(tmp_path, readers=GLOBS[1:] if tree is _repeated_csv else None)
    cache = ParseCache(tmp_path / "cache.pickle")
    cold = load(root, cfg, cache)
    cache.save()
    again = ParseCache(tmp_path / "cache.pickle")
    cached = load(root, cfg, again)
    assert cached.parsed == [] and not cached.problems and len(cold.frame) > 400
    blocks = [(again.entries[str(p)][4][1], p.relative_to(root).as_posix()) for p in cached.files]
    long = [cols for cols, _ in blocks if packed_len(cols) >= 256]
    assert long and all(type(cols[4]) is tuple and len(cols[4]) == 2 for cols in long)  # metric names coded
    assert frame_by_file(blocks) is None and _coded_frame(blocks) is not None
    monkeypatch.setattr("utils.loading._coded_frame", lambda blocks: None)
    from_lists = load(root, cfg, again).frame
    for frame in (cold.frame, cached.frame):
        pd.testing.assert_frame_equal(frame, from_lists, check_exact=True)
        assert all(isinstance(frame[c].dtype, pd.CategoricalDtype) for c in LABELS)
    if tree is _repeated_csv:  # the 7 copies merged, the checkpoint's own record kept
        assert len(cold.frame) == 401 and "run9" in set(cold.frame["experiment"])


@pytest.mark.parametrize("kept_wall", [T0 + 5, math.nan], ids=["kept copy has a time", "kept copy has none"])
def test_merged_repeats_keep_the_kept_rows_wall_time(kept_wall):
    """A checkpoint copy and the run's own file repeat a number: the run's own copy is kept, with its
    own wall time; when it has none, with the dropped copy's (the same number, logged then: a Trainer
    curve kept from trainer_state.json gets its event file's times)."""
    row = ["run", "train", "loss", 10, "loss", "value", 0.5]
    frame = pd.DataFrame([row + ["run/checkpoint-10/log.jsonl", T0], row + ["run/log.jsonl", kept_wall],
                          ["run", "train", "loss", 20, "loss", "value", 0.4, "run/log.jsonl", T0 + 9]],
                         columns=COLUMNS + [WALL_TIME])
    merged, count = merge_repeats(frame)
    assert count == 1 and len(merged) == 2
    kept = merged[merged["step"] == 10].iloc[0]
    assert kept["source"] == "run/log.jsonl"
    assert kept[WALL_TIME] == (T0 if math.isnan(kept_wall) else kept_wall)
    assert merged.loc[merged["step"] == 20, WALL_TIME].tolist() == [T0 + 9]


def test_a_stepless_summary_keeps_its_wall_time_where_it_is_filed():
    frame = pd.DataFrame([["run", "eval", "acc", 100, "acc", "value", 0.7, "run/log.jsonl", T0 + 100],
                          ["run", "eval", "f1", NO_STEP, "f1", "value", 0.6, "run/summary.json", T0 + 200]],
                         columns=COLUMNS + [WALL_TIME])
    placed, _ = place_stepless(frame)
    assert placed.set_index("metric").loc["f1", ["step", WALL_TIME]].tolist() == [100, T0 + 200]


def _table(rows: list[list]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS).astype({c: "category" for c in LABELS})


@pytest.mark.parametrize("rows, repeats", [
    ([["b", "train", "loss", 20, "loss", "value", 0.4, "b/log.jsonl"],
      ["a", "train", "loss", 10, "loss", "value", 0.5, "a/log.jsonl"],
      ["a", "train", "loss", 10, "acc", "value", 0.9, "a/log.jsonl"]], False),  # neighbours differ in one label
    ([["a", "train", "loss", 10, "loss", "value", 0.5, "a/checkpoint-10/log.jsonl"],
      ["b", "train", "loss", 20, "loss", "value", 0.4, "b/log.jsonl"],
      ["a", "train", "loss", 10, "loss", "value", 0.5, "a/log.jsonl"]], True),  # apart before the sort
    ([["a", "train", "loss", 10, "loss", "value", 0.5, "a/log.jsonl"],
      ["a", "train", "loss", 10, "loss", "value", 0.6, "a/runs/x/events"]], True),  # disagreeing: another run
], ids=["no repeats", "a copy", "another training"])
def test_the_table_is_merged_then_sorted_whether_or_not_it_repeats(rows, repeats, monkeypatch):
    """Repeats are looked for among sorted neighbours; the table is what merging and then sorting gives."""
    from utils.loading import _ORDER, _no_repeats, _sorted_and_merged
    frame = _table(rows)
    monkeypatch.setattr("utils.loading.frame_by_file", lambda blocks: None)  # not one file per cell
    monkeypatch.setattr("utils.loading._coded_frame", lambda blocks: frame.copy())  # the table the blocks make
    got, merged, by_file = _sorted_and_merged([])
    expected, count = merge_repeats(frame.copy())
    expected = categorical(expected).sort_values(_ORDER, kind="stable", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert merged == count and not by_file
    assert _no_repeats(frame.sort_values(_ORDER, kind="stable", ignore_index=True)) is not repeats
