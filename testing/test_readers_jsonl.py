"""JSON Lines records: fields and defaults, NaN and text values, a bad line named by number."""
import math

import pandas as pd
import pytest

from readers_helpers import FIXTURES, value
from utils.errors import EvalFileError
from utils.readers import PartialRead
from utils.readers.jsonl import _sniff, read_jsonl

V04_SAMPLES = ("lm_eval/v04/__scratch__runs__pt1_ft1-1__checkpoint-500/"
               "samples_arc_easy_2024-06-10T12-34-56.412823.jsonl")


def test_records(config):
    root = FIXTURES / "jsonl"
    f = pd.DataFrame(read_jsonl(root / "records.jsonl", root, config))
    assert value(f, experiment="pt1", condition="standard") == 3.1
    assert value(f, experiment="pt1", condition="atlantis") == 61.5
    assert value(f, experiment="pt1_ft1-1", task="distance", condition="standard") == 1.7  # default condition
    assert math.isnan(value(f, experiment="pt1_ft1-1", condition="atlantis"))  # atlantis_ task, null
    assert math.isnan(value(f, task="compass", step=1000))                    # "N/A"
    assert value(f, task="compass", step=2000) == 0.75                        # "0.75" is a number
    assert set(f["statistic"]) == {"mean"}  # "looks fine" is text: skipped; default statistic
    assert set(f["metric"]) == {"distance_metric", "compass_metric"}
    assert len(f) == 6


@pytest.mark.parametrize("bad, reason", [
    ('{"experiment": "pt1", "task": "distance", "value": 3', "line 2: not valid JSON"),
    ('["pt1", "distance", 3]', "line 2: expected an object, got list"),
    ('{"task": "distance", "value": 3}', "line 2: no experiment"),
    ('{"experiment": 7, "task": "distance", "value": 3}', "line 2: no experiment"),
    ('{"experiment": "pt1", "task": "distance"}', "line 2: no value"),
    ('{"experiment": "pt1", "task": "distance", "value": 3, "step": 1.5}', "line 2: step 1.5 is not a whole"),
])
def test_a_bad_line_is_named_and_the_good_ones_kept(tmp_path, config, bad, reason):
    path = tmp_path / "e.jsonl"
    path.write_text('{"experiment": "pt1", "task": "distance", "value": 3}\n' + bad + "\n")
    with pytest.raises(PartialRead) as err:
        read_jsonl(path, tmp_path, config)
    assert str(err.value).startswith(f"{path}: ") and reason in str(err.value)
    assert [(r.experiment, r.value) for r in err.value.records] == [("pt1", 3.0)]


def test_a_line_cut_mid_write_keeps_every_complete_line(tmp_path, config, caplog):
    """A log being appended to, as `print(json.dumps(rec), file=fh, flush=True)` leaves it mid-write."""
    import json
    import logging
    from utils.loading import load
    lines = [json.dumps({"experiment": "pt1", "task": "distance", "step": s, "value": v})
             for s, v in [(100, 3.0), (200, 2.5), (300, 2.1)]]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n" + lines[0][:25])  # the fourth line is half written
    with caplog.at_level(logging.WARNING, logger="utils.loading"):
        result = load(tmp_path, config)
    assert list(result.frame["step"]) == [100, 200, 300] and list(result.frame["value"]) == [3.0, 2.5, 2.1]
    assert not result.problems
    [partial] = result.partial
    assert "line 4: not valid JSON" in str(partial) and "kept the 3 record(s)" in str(partial)
    assert any("line 4" in r.getMessage() for r in caplog.records)


def test_only_bad_lines_is_unreadable(tmp_path, config):
    path = tmp_path / "e.jsonl"
    path.write_text('{"experiment": "pt1", "task"\n[1]\n')
    with pytest.raises(EvalFileError) as err:
        read_jsonl(path, tmp_path, config)
    assert not isinstance(err.value, PartialRead)
    assert "line 1: not valid JSON" in str(err.value) and "1 more bad line" in str(err.value)


def test_no_numeric_record(tmp_path, config):
    path = tmp_path / "e.jsonl"
    path.write_text('{"experiment": "pt1", "task": "distance", "value": "pending"}\n')
    with pytest.raises(EvalFileError, match="no records with a numeric value"):
        read_jsonl(path, tmp_path, config)


@pytest.mark.parametrize("fixture, expected", [("jsonl/records.jsonl", True), (V04_SAMPLES, False)])
def test_sniff_takes_records_not_per_sample_logs(fixture, expected):
    assert _sniff(FIXTURES / fixture) is expected
