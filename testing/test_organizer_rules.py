"""Loading, validating and matching rules."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from organizer.errors import RulesError
from organizer.fileinfo import FileInfo
from organizer.rules import (
    DEFAULT_RULES_DISPLAY,
    compile_keyword,
    default_rules_text,
    load_default_rules,
    load_rules_file,
    parse_tidy_section,
    resolve_rules,
)


def _info(tmp_path: Path, name: str, content: str | None = None, link: str | None = None) -> FileInfo:
    path = tmp_path / name
    if link is not None:
        os.symlink(link, path)
        return FileInfo(name, name, str(path), False, True)
    path.write_text(content or "", encoding="utf-8")
    return FileInfo(name, name, str(path), True, False)


def _rules(*rules: dict, **extra: object):
    return parse_tidy_section({"rules": list(rules), **extra}, "test.yaml")


# --------------------------------------------------------------------------- loading


def test_default_rules_ship_the_research_taxonomy() -> None:
    rules = load_default_rules()
    assert rules.source == DEFAULT_RULES_DISPLAY
    assert {r.destination for r in rules.rules} == {"analysis", "plots", "testing", "utils", "configs"}
    assert len({r.name for r in rules.rules}) == len(rules.rules)
    assert "tidy:" in default_rules_text()


def test_loader_reads_only_the_tidy_key(tmp_path: Path) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(textwrap.dedent("""\
        data: {root: examples}
        tasks: {distance: {kind: error, weird_key: 1}}
        baseline: pt1
        groups: [1, 2]
        readers: [{reader: x}]
        plots: {modules: []}
        conditions: {}
        seeds: 3
        outputs: figures
        tidy:
          rules:
            - name: notes
              destination: notes
              extension: .txt
        """), encoding="utf-8")
    rules = load_rules_file(f)
    assert rules is not None
    assert [(r.name, r.destination) for r in rules.rules] == [("notes", "notes")]
    assert rules.path == f


@pytest.mark.parametrize("text", ["", "data: {root: x}\n", "# only a comment\n"])
def test_file_without_tidy_means_defaults(tmp_path: Path, text: str) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(text, encoding="utf-8")
    assert load_rules_file(f) is None
    rules, why = resolve_rules(f, tmp_path, tmp_path)
    assert rules.source == DEFAULT_RULES_DISPLAY
    assert "has no 'tidy' section" in why


def test_resolve_order(tmp_path: Path) -> None:
    tidy = "tidy:\n  rules:\n    - {name: %s, destination: d, glob: '*'}\n"
    folder, cwd, explicit = tmp_path / "dir", tmp_path / "cwd", tmp_path / "x.yaml"
    folder.mkdir()
    cwd.mkdir()
    rules, why = resolve_rules(None, folder, cwd)
    assert rules.source == DEFAULT_RULES_DISPLAY and "no --rules" in why
    (cwd / "rules.yaml").write_text(tidy % "from-cwd")
    assert resolve_rules(None, folder, cwd)[0].rules[0].name == "from-cwd"
    (folder / "rules.yaml").write_text(tidy % "from-dir")
    assert resolve_rules(None, folder, cwd)[0].rules[0].name == "from-dir"
    explicit.write_text(tidy % "explicit")
    rules, why = resolve_rules(explicit, folder, cwd)
    assert rules.rules[0].name == "explicit" and why == str(explicit)


BAD_RULES = [
    # (tidy section text, expected message after "rules.yaml: ")
    ("""
     rules:
       - {name: a, destination: a, glob: "a*"}
       - {name: b, destination: b, glob: "b*"}
       - {name: c, destination: c, glob: "c*"}
       - {name: plots, destinaton: plots, glob: "plot_*"}
     """, 'tidy.rules[3] ("plots"): unknown key \'destinaton\' (did you mean \'destination\'?)'),
    ("""
     rules:
       - {name: analysis, destination: analysis, regex: "(unclosed"}
     """, 'tidy.rules[0] ("analysis"): key \'regex\': bad regular expression \'(unclosed\''),
    ("""
     rules:
       - {name: c, destination: c, content_regex: ["ok", "[z-a]"]}
     """, 'tidy.rules[0] ("c"): key \'content_regex\': bad regular expression \'[z-a]\''),
    ("""
     rules:
       - {name: g, destination: g, glob: 5}
     """, 'tidy.rules[0] ("g"): key \'glob\' must be a string or a list of strings, got a number'),
    ("""
     rules:
       - {name: g, destination: g, glob: ["a*", 3]}
     """, 'tidy.rules[0] ("g"): key \'glob\'[1] must be a string, got a number'),
    ("""
     rules:
       - {name: nodest, glob: "*.py"}
     """, 'tidy.rules[0] ("nodest"): missing key \'destination\''),
    ("""
     rules:
       - {name: up, destination: "../elsewhere", glob: "*"}
     """, 'tidy.rules[0] ("up"): destination \'../elsewhere\' escapes the tidied folder with \'..\''),
    ("""
     rules:
       - {name: sneaky, destination: "a/../../b", glob: "*"}
     """, 'tidy.rules[0] ("sneaky"): destination \'a/../../b\' escapes the tidied folder'),
    ("""
     rules:
       - {name: abs, destination: "/tmp/x", glob: "*"}
     """, 'tidy.rules[0] ("abs"): destination \'/tmp/x\' must be relative to the tidied folder, not absolute'),
    ("""
     rules:
       - {name: home, destination: "~/x", glob: "*"}
     """, 'must be relative to the tidied folder'),
    ("""
     rules:
       - {name: self, destination: ".", glob: "*"}
     """, 'tidy.rules[0] ("self"): destination \'.\' is the tidied folder itself'),
    ("""
     rules:
       - {name: empty, destination: "", glob: "*"}
     """, "key 'destination' must not be empty"),
    ("""
     rules:
       - {name: state, destination: ".organizer/x", glob: "*"}
     """, "is reserved"),
    ("""
     rules:
       - {name: num, destination: 7, glob: "*"}
     """, "key 'destination' must be a string"),
    ("""
     rules:
       - {name: nothing, destination: n}
     """, 'tidy.rules[0] ("nothing"): no match criteria'),
    ("""
     rules:
       - {name: m, destination: m, glob: "*", match: some}
     """, "key 'match' must be 'all' or 'any'"),
    ("""
     rules:
       - {name: r, destination: r, glob: "*", recursive: "yes"}
     """, "key 'recursive' must be true or false, got a string"),
    ("""
     rules:
       - {name: e, destination: e, extension: "a/b"}
     """, "is not a file extension"),
    ("""
     rules:
       - {name: k, destination: k, keywords: ["*"]}
     """, "key 'keywords': bad keyword '*'"),
    ("""
     rules:
       - {name: i, destination: i, imports: "not a module!"}
     """, "key 'imports': 'not a module!' is not a module name"),
    ("""
     rules:
       - {name: d, destination: d, defines: "test-"}
     """, "key 'defines': 'test-' is not a function/class name prefix"),
    ("""
     rules:
       - {name: s, destination: s, glob: "sub/*.py"}
     """, "globs match file names only"),
    ("""
     rules:
       - {name: l, destination: l, glob: []}
     """, "key 'glob' must not be an empty list"),
    ("""
     rules:
       - just a string
     """, "tidy.rules[0]: each rule must be a mapping"),
    ("""
     rules:
       - {destination: unnamed, glob: "*", bogus: 1}
     """, 'tidy.rules[0] ("unnamed"): unknown key \'bogus\''),
    ("""
     rules:
       - {name: 12, destination: x, glob: "*"}
     """, "tidy.rules[0]: key 'name' must be a non-empty string, got a number"),
    ("rules: {a: 1}\n", "tidy.rules: must be a list of rules, got a mapping"),
    ("rules: []\n", "tidy.rules: must not be empty"),
    ("ignore: ['*.tmp']\n", "tidy: missing key 'rules'"),
    ("""
     rulez: []
     """, "tidy: unknown key 'rulez' (did you mean 'rules'?)"),
    ("""
     version: 2
     rules: [{destination: x, glob: "*"}]
     """, "only version 1 is supported"),
    ("""
     ignore: ["a/b"]
     rules: [{destination: x, glob: "*"}]
     """, "ignore globs match names only"),
    ("""
     follow_figures: 1
     rules: [{destination: x, glob: "*"}]
     """, "key 'follow_figures' must be true or false"),
    ("""
     follow_references: "yes"
     rules: [{destination: x, glob: "*"}]
     """, "tidy: key 'follow_references' must be true or false, got a string"),
    ("""
     learn_subfolders: 0
     rules: [{destination: x, glob: "*"}]
     """, "tidy: key 'learn_subfolders' must be true or false, got a number"),
    ("""
     rules:
       - {name: an, destination: analysis, glob: "*", subfolders: [atlantis]}
     """, 'tidy.rules[0] ("an"): key \'subfolders\' must be a non-empty mapping of subfolder -> keywords'),
    ("""
     rules:
       - {name: an, destination: analysis, glob: "*", subfolders: {atlantis: []}}
     """, 'tidy.rules[0] ("an"): key \'subfolders.atlantis\' must not be an empty list'),
    ("""
     rules:
       - {name: an, destination: analysis, glob: "*", subfolders: {"../up": [x]}}
     """, 'tidy.rules[0] ("an"): key \'subfolders\': subfolder \'../up\' escapes the tidied folder'),
    ("""
     rules:
       - {name: an, destination: analysis, glob: "*", subfolders: {city_id: ["id*x"]}}
     """, "key 'subfolders': bad keyword 'id*x' for subfolder 'city_id'"),
    ("""
     rules:
       - {name: an, destination: analysis, glob: "*", subfolders: {city_id: 3}}
     """, "key 'subfolders.city_id' must be a string or a list of strings, got a number"),
]


@pytest.mark.parametrize(("tidy_text", "expected"), BAD_RULES, ids=[str(i) for i in range(len(BAD_RULES))])
def test_bad_rules_name_file_rule_and_key(tmp_path: Path, tidy_text: str, expected: str) -> None:
    f = tmp_path / "rules.yaml"
    body = textwrap.indent(textwrap.dedent(tidy_text).strip("\n"), "  ")
    f.write_text("data: {root: x}\ntidy:\n" + body + "\n", encoding="utf-8")
    with pytest.raises(RulesError) as err:
        load_rules_file(f, "rules.yaml")
    msg = str(err.value)
    assert msg.startswith("rules.yaml: "), msg
    assert expected in msg, msg
    assert "\n" not in msg


@pytest.mark.parametrize(("text", "expected"), [
    ("tidy: [1, 2]\n", "rules.yaml: tidy: must be a mapping with a 'rules' list, got a list"),
    ("tidy:\n", "rules.yaml: tidy: must be a mapping with a 'rules' list, got nothing (null)"),
    ("- a\n- b\n", "rules.yaml: top level must be a mapping of sections, got a list"),
    ("tidy: {rules: [\n", "rules.yaml: not valid YAML (line"),
    ("tidy:\n  rules:\n\t- x\n", "rules.yaml: not valid YAML"),
])
def test_malformed_files(tmp_path: Path, text: str, expected: str) -> None:
    f = tmp_path / "rules.yaml"
    f.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError, match=None) as err:
        load_rules_file(f, "rules.yaml")
    assert str(err.value).startswith(expected), str(err.value)


def test_missing_and_binary_rules_files(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="rules file not found"):
        load_rules_file(tmp_path / "nope.yaml")
    bad = tmp_path / "bin.yaml"
    bad.write_bytes(b"\xff\xfe\x00tidy")
    with pytest.raises(RulesError, match="not UTF-8"):
        load_rules_file(bad)
    with pytest.raises(RulesError, match="is a directory"):
        load_rules_file(tmp_path)


# --------------------------------------------------------------------------- matching


def test_all_criteria_must_hold_by_default(tmp_path: Path) -> None:
    rules = _rules({"name": "r", "destination": "d", "glob": "plot_*", "extension": ".py"})
    assert rules.first_match(_info(tmp_path, "plot_a.py")) is not None
    assert rules.first_match(_info(tmp_path, "plot_a.txt")) is None
    assert rules.first_match(_info(tmp_path, "a.py")) is None


def test_match_any_needs_one_criterion(tmp_path: Path) -> None:
    rules = _rules({"name": "r", "destination": "d", "glob": "plot_*", "extension": ".py", "match": "any"})
    assert rules.first_match(_info(tmp_path, "plot_a.txt")) is not None
    assert rules.first_match(_info(tmp_path, "a.py")) is not None
    assert rules.first_match(_info(tmp_path, "a.txt")) is None


def test_list_criteria_match_any_element_and_first_rule_wins(tmp_path: Path) -> None:
    rules = _rules(
        {"name": "first", "destination": "one", "glob": ["x*", "test_*"]},
        {"name": "second", "destination": "two", "glob": "test_*"},
    )
    hit = rules.first_match(_info(tmp_path, "test_a.py"))
    assert hit is not None and hit.name == "first"


def test_name_criteria_semantics(tmp_path: Path) -> None:
    rules = _rules({"name": "ext", "destination": "d", "extension": ["PNG", ".tar.gz"]})
    assert rules.first_match(_info(tmp_path, "A.Png"))
    assert rules.first_match(_info(tmp_path, "b.tar.gz"))
    assert not rules.first_match(_info(tmp_path, "png"))
    glob = _rules({"name": "g", "destination": "d", "glob": "Plot_*"})
    assert glob.first_match(_info(tmp_path, "Plot_x"))
    assert not glob.first_match(_info(tmp_path, "plot_y"))  # globs are case-sensitive
    regex = _rules({"name": "re", "destination": "d", "regex": r"ft\d+_"})
    assert regex.first_match(_info(tmp_path, "plot_ft12_heat.py"))  # search, not full match
    assert not regex.first_match(_info(tmp_path, "plot_ftx_heat.py"))


@pytest.mark.parametrize(("keyword", "name", "hit"), [
    ("atlantis", "analyze_atlantis_in_training.py", True),
    ("atlantis", "atlantisx.py", False),
    ("city_id", "analyze_clusters_by_city_id.py", True),
    ("city_id", "city_identity.py", False),
    ("city id", "CityID.py", True),
    ("city id", "cityId.py", True),
    ("cluster*", "analyze_clusters.py", True),
    ("cluster*", "subclusters.py", False),
    ("gradient", "test-Gradient-flow.py", True),
    ("ft1", "plotFT1Heatmap.py", True),
    ("ft1", "plotft1heatmap.py", False),
    ("plot", "plotFt1.py", True),
])
def test_keywords_match_whole_words(tmp_path: Path, keyword: str, name: str, hit: bool) -> None:
    pattern = compile_keyword(keyword)
    assert bool(pattern.search(_info(tmp_path, name).normalized_stem)) is hit


def test_content_criteria(tmp_path: Path) -> None:
    rules = _rules(
        {"name": "tests", "destination": "testing", "extension": ".py", "defines": "test_"},
        {"name": "mpl", "destination": "plots", "imports": "matplotlib"},
        {"name": "todo", "destination": "todo", "contains": "TODO"},
        {"name": "main", "destination": "scripts", "content_regex": r"^if __name__ == .__main__.:"},
    )
    def dest(name: str, text: str) -> str | None:
        r = rules.first_match(_info(tmp_path, name, text))
        return r.destination if r else None

    assert dest("a.py", "def test_x():\n    pass\n") == "testing"
    assert dest("b.py", "class TestX:\n    def test_y(self):\n        pass\n") == "testing"
    assert dest("c.py", "import matplotlib.pyplot as plt\n") == "plots"
    assert dest("d.py", "from matplotlib import pyplot\n") == "plots"
    assert dest("e.py", "import os, matplotlib as mpl\n") == "plots"
    assert dest("f.py", "# import matplotlib is mentioned in a comment only? no: it is not at line start\nx = 'import matplotlib'\n") is None
    assert dest("g.txt", "TODO: tidy\n") == "todo"
    assert dest("h.py", "def main():\n    pass\n\nif __name__ == '__main__':\n    main()\n") == "scripts"
    assert dest("i.py", "import matplotlibx\n") is None
    assert dest("j.bin", "def test_x():\x00") is None  # binary: content criteria never match


def test_content_criteria_never_follow_symlinks(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_text("import matplotlib\n")
    rules = _rules({"name": "mpl", "destination": "plots", "imports": "matplotlib"})
    assert rules.first_match(_info(tmp_path, "link.py", link=str(target))) is None
    by_name = _rules({"name": "py", "destination": "code", "extension": ".py"})
    assert by_name.first_match(_info(tmp_path, "link2.py", link="dangling-target")) is not None


def test_rule_without_name_uses_destination(tmp_path: Path) -> None:
    rules = _rules({"destination": "./figs/", "extension": "png"})
    assert rules.rules[0].name == "figs" and rules.rules[0].destination == "figs"
    nested = _rules({"destination": "a//b/./c", "extension": "png"})
    assert nested.rules[0].destination == "a/b/c"


def test_documented_example_and_error_messages_are_real(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "organizer.md").read_text(encoding="utf-8")
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    f = tmp_path / "rules.yaml"
    f.write_text(example, encoding="utf-8")
    rules = load_rules_file(f)
    assert rules is not None and [r.destination for r in rules.rules] == [
        "testing", "plots", "analysis/atlantis", "analysis", "plots", "testing"]
    assert [sub for sub, _ in rules.rules[3].subfolders] == ["atlantis", "city_id"]
    assert rules.follow_references and rules.learn_subfolders
    f.write_text("tidy:\n  rules:\n    - {name: analysis, destination: analysis, regex: '(unclosed'}\n")
    with pytest.raises(RulesError) as err:
        load_rules_file(f, "rules.yaml")
    assert f"organizer: error: {err.value}" in doc


def test_keyword_subfolders_pick_the_first_matching_subfolder(tmp_path: Path) -> None:
    rules = _rules({"name": "an", "destination": "analysis", "glob": "*.py",
                    "subfolders": {"atlantis": ["atlantis"], "city_id": ["id_removal", "id_directions"],
                                   "deep/er": "cka"}})
    rule = rules.rules[0]
    assert rules.destinations() == {"analysis", "analysis/atlantis", "analysis/city_id", "analysis/deep/er"}
    assert rule.subfolder_for(_info(tmp_path, "analyze_atlantis_in_training.py")) == ("analysis/atlantis", "atlantis")
    assert rule.subfolder_for(_info(tmp_path, "remove_id_directions.py")) == ("analysis/city_id", "id_directions")
    assert rule.subfolder_for(_info(tmp_path, "atlantis_id_removal.py")) == ("analysis/atlantis", "atlantis")
    assert rule.subfolder_for(_info(tmp_path, "computeCKA.py")) == ("analysis/deep/er", "cka")
    assert rule.subfolder_for(_info(tmp_path, "directions_id.py")) is None  # words out of order
