"""CSV/TSV tables: long and wide form told apart by the header, defaults, NaN and text cells,
spreadsheet quirks (BOM, CRLF, semicolons, labels as headers), bad rows named by line."""
import math

import pandas as pd
import pytest

from readers_helpers import FIXTURES, value
from utils.errors import EvalFileError
from utils.readers.tables import _sniff, read_table


def frame_of(name, config, root=FIXTURES / "tables"):
    return pd.DataFrame(read_table(root / name, root, config))


def test_long_form_with_every_column(config):
    f = frame_of("long.csv", config)
    assert value(f, experiment="pt1", condition="atlantis", task="distance", statistic="mean") == 61.5
    assert value(f, experiment="pt1", task="distance", statistic="std") == 0.9
    assert value(f, experiment="pt1_ft1-1", condition="standard", task="distance", step=1000) == 2.2
    assert math.isnan(value(f, experiment="pt1_ft1-1", condition="atlantis", task="distance"))  # N/A
    assert math.isnan(value(f, experiment="pt1_ft1-1", task="compass", statistic="mean"))     # nan
    assert set(f["statistic"]) == {"mean", "std"}  # "diverged" is text, the empty max cell is nothing
    assert len(f) == 7


def test_long_form_minimal_columns_take_the_rules_defaults(config):
    f = frame_of("long_minimal.tsv", config)
    assert set(f["metric"]) == {"distance_metric"} and set(f["statistic"]) == {"mean"}  # rules.yaml
    assert set(f["step"]) == {0}
    assert value(f, experiment="pt1", condition="atlantis") == 61.5   # task atlantis_distance
    assert set(f["task"]) == {"distance"}


def test_wide_form_as_a_spreadsheet_exports_it(config):
    f = frame_of("wide.csv", config)  # BOM, CRLF, "Triangle area" (a label) and a notes column
    assert value(f, experiment="pt1_ft1-1", task="trianglearea") == 1850.5
    assert value(f, experiment="pt1", condition="atlantis", task="distance") == 61.5
    assert math.isnan(value(f, experiment="pt1_ft1-1", condition="atlantis"))  # N/A
    assert math.isnan(value(f, experiment="pt1_ft1-2", task="compass"))        # NaN
    assert f[(f["experiment"] == "pt1_ft1-2") & (f["task"] == "trianglearea")].empty  # empty cell: missing
    assert set(f["task"]) == {"distance", "trianglearea", "compass"}            # notes are text
    assert set(f["metric"]) == {f"{t}_metric" for t in set(f["task"])}
    assert len(f) == 4 + 4 + 3


def test_wide_form_with_condition_and_step_columns(config):
    f = frame_of("wide.tsv", config)
    assert value(f, experiment="pt1", condition="atlantis", task="compass") == 0.3
    assert set(f["step"]) == {2000}
    assert math.isnan(value(f, experiment="pt1_ft1-1", task="compass"))
    assert len(f) == 6


def test_semicolon_separated_csv(tmp_path, config):
    (tmp_path / "t.csv").write_text("experiment;distance;compass\npt1;3.5;0.8\n")
    f = frame_of("t.csv", config, tmp_path)
    assert value(f, task="distance") == 3.5 and value(f, task="compass") == 0.8


@pytest.mark.parametrize("content, reason", [
    ("model,distance\npt1,3\n", "no 'experiment' column"),
    ("experiment,distance\npt1,3\npt1_ft1-1,2,9\n", "line 3: 3 fields, the header has 2"),
    ("experiment,task,step,value\npt1,distance,late,3\n", "line 2: step 'late' is not a whole number"),
    ("experiment,task,value\n,distance,3\n", "line 2: no experiment"),
    ("experiment,distance,Distance\npt1,3,4\n", "column 'distance' appears twice"),
    ("", "empty table"),
    ("experiment,distance\npt1,n/a?\n", "no numbers in the table"),
])
def test_bad_tables_name_the_line(tmp_path, config, content, reason):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(EvalFileError) as err:
        read_table(path, tmp_path, config)
    assert str(err.value).startswith(f"{path}: ") and reason in str(err.value)


@pytest.mark.parametrize("name, content, expected", [
    ("a.csv", "experiment,distance\n", True),
    ("a.tsv", "Experiment\ttask\tvalue\n", True),
    ("a.csv", "step,loss\n", False),          # some other log
    ("a.txt", "experiment,distance\n", False),
])
def test_sniff(tmp_path, name, content, expected):
    (tmp_path / name).write_text(content)
    assert _sniff(tmp_path / name) is expected
