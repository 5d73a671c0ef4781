"""JSON Lines records: fields and defaults, NaN and text values, a bad line named by number."""
import math

import pandas as pd
import pytest

from readers_helpers import FIXTURES, value
from utils.errors import EvalFileError
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
def test_a_bad_line_is_named(tmp_path, config, bad, reason):
    path = tmp_path / "e.jsonl"
    path.write_text('{"experiment": "pt1", "task": "distance", "value": 3}\n' + bad + "\n")
    with pytest.raises(EvalFileError) as err:
        read_jsonl(path, tmp_path, config)
    assert str(err.value).startswith(f"{path}: ") and reason in str(err.value)


def test_no_numeric_record(tmp_path, config):
    path = tmp_path / "e.jsonl"
    path.write_text('{"experiment": "pt1", "task": "distance", "value": "pending"}\n')
    with pytest.raises(EvalFileError, match="no records with a numeric value"):
        read_jsonl(path, tmp_path, config)


@pytest.mark.parametrize("fixture, expected", [("jsonl/records.jsonl", True), (V04_SAMPLES, False)])
def test_sniff_takes_records_not_per_sample_logs(fixture, expected):
    assert _sniff(FIXTURES / fixture) is expected
