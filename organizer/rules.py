"""Load and validate the ``tidy:`` section of a rules file.

A rules file is YAML.  Only its top-level ``tidy`` key is read (other keys belong
to other tools and are ignored); a file without ``tidy`` means "use the shipped
default rules".  Inside ``tidy`` every key is checked, and the first problem is
reported as ``FILE: tidy.rules[INDEX] ("NAME"): problem`` before anything moves.

Matching semantics (also in docs/organizer.md):

* rules are tried in order; the first rule that matches a file decides;
* within one rule, every criterion given must hold (``match: all``, the default),
  or at least one of them (``match: any``);
* a list-valued criterion holds if any of its elements does;
* name criteria (``glob``, ``regex``, ``extension``, ``keywords``) look at the
  file name only; content criteria (``imports``, ``defines``, ``contains``,
  ``content_regex``) read regular files only, never through a symlink.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterable

import yaml

from .errors import RulesError
from .fileinfo import FileInfo

DEFAULT_RULES_DISPLAY = "shipped default rules"
RULES_FILENAME = "rules.yaml"

NAME_CRITERIA = ("glob", "regex", "extension", "keywords")
CONTENT_CRITERIA = ("imports", "defines", "contains", "content_regex")
RULE_KEYS = ("name", "destination", "description", "match", "recursive", "subfolders") + NAME_CRITERIA \
    + CONTENT_CRITERIA
TIDY_KEYS = (
    "version",
    "description",
    "rules",
    "ignore",
    "recursive",
    "follow_figures",
    "figure_extensions",
    "script_extensions",
    "follow_references",
    "learn_subfolders",
)
RESERVED_DESTINATIONS = (".organizer", ".git")

_MODULE_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_PREFIX_RE = re.compile(r"^\w+$")


@dataclass(frozen=True)
class Rule:
    """One validated rule: criteria compiled, destination normalised."""

    index: int
    name: str
    destination: str
    match_all: bool = True
    recursive: bool = False
    globs: tuple[str, ...] = ()
    regexes: tuple[re.Pattern[str], ...] = ()
    extensions: tuple[str, ...] = ()
    keywords: tuple[re.Pattern[str], ...] = ()
    imports: tuple[str, ...] = ()
    defines: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    content_regexes: tuple[re.Pattern[str], ...] = ()
    #: Keyword subfolders of ``destination``: ``(subfolder, ((keyword, compiled), ...))`` in file order.
    subfolders: tuple[tuple[str, tuple[tuple[str, re.Pattern[str]], ...]], ...] = ()
    _checks: tuple[Callable[[FileInfo], bool], ...] = field(default=(), repr=False, compare=False)

    @property
    def needs_content(self) -> bool:
        """True when matching this rule may read the file's content."""
        return bool(self.imports or self.defines or self.contains or self.content_regexes)

    def subfolder_for(self, info: FileInfo) -> tuple[str, str] | None:
        """The first keyword subfolder whose keywords match the name: ``(folder, keyword)``, else ``None``."""
        for sub, keywords in self.subfolders:
            for text, pattern in keywords:
                if pattern.search(info.normalized_stem):
                    return f"{self.destination}/{sub}", text
        return None

    def matches(self, info: FileInfo) -> bool:
        """Whether this rule matches the file; cheap name checks run before content checks."""
        if self.match_all:
            return all(check(info) for check in self._checks)
        return any(check(info) for check in self._checks)

    def build_checks(self) -> "Rule":
        """Return a copy with the ordered check functions filled in (name checks first)."""
        checks: list[Callable[[FileInfo], bool]] = []
        if self.extensions:
            exts = self.extensions
            checks.append(lambda i: i.lower_name.endswith(exts) and not any(i.lower_name == e for e in exts))
        if self.globs:
            glob_re = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in self.globs))
            checks.append(lambda i: glob_re.match(i.name) is not None)
        if self.regexes:
            regexes = self.regexes
            checks.append(lambda i: any(r.search(i.name) for r in regexes))
        if self.keywords:
            keyword_re = re.compile("|".join(f"(?:{k.pattern})" for k in self.keywords))
            checks.append(lambda i: keyword_re.search(i.normalized_stem) is not None)
        if self.imports:
            imports = self.imports
            checks.append(lambda i: i.imports_any(imports))
        if self.defines:
            defines = self.defines
            checks.append(lambda i: i.defines_any(defines))
        if self.contains:
            contains = self.contains
            checks.append(lambda i: (t := i.text) is not None and any(c in t for c in contains))
        if self.content_regexes:
            cregexes = self.content_regexes
            checks.append(lambda i: (t := i.text) is not None and any(r.search(t) for r in cregexes))
        object.__setattr__(self, "_checks", tuple(checks))
        return self


@dataclass(frozen=True)
class RuleSet:
    """All settings of the ``tidy`` section, validated."""

    source: str
    rules: tuple[Rule, ...]
    ignore: tuple[str, ...] = ()
    recursive: bool = False
    follow_figures: bool = True
    figure_extensions: tuple[str, ...] = (".png", ".pdf", ".svg", ".jpg", ".jpeg")
    script_extensions: tuple[str, ...] = (".py", ".ipynb", ".r", ".jl", ".sh", ".bash", ".slurm", ".sbatch", ".m")
    follow_references: bool = True
    learn_subfolders: bool = True
    path: Path | None = None

    def destinations(self) -> set[str]:
        """Every rule destination and keyword subfolder, as normalised relative POSIX paths."""
        out = {r.destination for r in self.rules}
        out |= {f"{r.destination}/{sub}" for r in self.rules for sub, _ in r.subfolders}
        return out

    def first_match(self, info: FileInfo, nested: bool = False) -> Rule | None:
        """The first rule that matches ``info``; for files below the top, only recursive rules."""
        for rule in self.rules:
            if nested and not (rule.recursive or self.recursive):
                continue
            if rule.matches(info):
                return rule
        return None


# --------------------------------------------------------------------------- helpers


class _Ctx:
    """Where we are in the file, for error messages."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, msg: str) -> None:
        raise RulesError(f"{self.source}: {where}: {msg}")


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return {bool: "true/false", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a mapping"}.get(type(value), type(value).__name__)


def _str_list(ctx: _Ctx, where: str, key: str, value: Any) -> list[str]:
    """A string or a non-empty list of non-empty strings."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        ctx.fail(where, f"key '{key}' must be a string or a list of strings, got {_type_name(value)}")
    if not items:
        ctx.fail(where, f"key '{key}' must not be an empty list")
    for n, item in enumerate(items):
        if not isinstance(item, str):
            ctx.fail(where, f"key '{key}'[{n}] must be a string, got {_type_name(item)}")
        if not item.strip():
            ctx.fail(where, f"key '{key}'[{n}] must not be empty")
    return list(items)


def _bool(ctx: _Ctx, where: str, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        ctx.fail(where, f"key '{key}' must be true or false, got {_type_name(value)}")
    return value


def _unknown_key(ctx: _Ctx, where: str, key: Any, allowed: Iterable[str]) -> None:
    hint = difflib.get_close_matches(str(key), list(allowed), n=1)
    suffix = f" (did you mean '{hint[0]}'?)" if hint else f" (allowed: {', '.join(allowed)})"
    ctx.fail(where, f"unknown key '{key}'{suffix}")


def normalize_extension(ext: str) -> str:
    """``"PNG"`` -> ``".png"``; extensions compare case-insensitively."""
    ext = ext.strip().lower()
    return ext if ext.startswith(".") else "." + ext


def _extensions(ctx: _Ctx, where: str, key: str, value: Any) -> tuple[str, ...]:
    out = []
    for n, raw in enumerate(_str_list(ctx, where, key, value)):
        ext = normalize_extension(raw)
        if "/" in ext or ext == "." or any(c.isspace() for c in ext):
            ctx.fail(where, f"key '{key}'[{n}]: {raw!r} is not a file extension (write e.g. '.png')")
        out.append(ext)
    return tuple(out)


def compile_keyword(keyword: str) -> re.Pattern[str]:
    """Compile a keyword into a regex over a normalised stem (tokens joined by ``_``).

    ``"city_id"`` matches the consecutive tokens ``city``, ``id``; a token ending in
    ``*`` matches any token starting with it (``"cluster*"`` matches ``clusters``).
    """
    tokens = [t for t in re.split(r"[^\w*]+|_", keyword.lower()) if t]
    parts = []
    for tok in tokens:
        star = tok.endswith("*")
        core = tok.rstrip("*")
        if not core or "*" in core:
            raise ValueError("'*' is allowed only at the end of a word, after at least one letter")
        parts.append(re.escape(core) + ("[^_]*" if star else ""))
    if not parts:
        raise ValueError("needs at least one letter or digit")
    return re.compile(r"(?:^|_)" + "_".join(parts) + r"(?:_|$)")


def _destination(ctx: _Ctx, where: str, value: Any, what: str = "destination") -> str:
    if not isinstance(value, str):
        ctx.fail(where, f"key '{what}' must be a string (a folder relative to the tidied one), got {_type_name(value)}")
    raw = value.strip()
    if not raw:
        ctx.fail(where, f"key '{what}' must not be empty")
    if "\\" in raw:
        ctx.fail(where, f"{what} {value!r}: use '/' to separate folders")
    if raw.startswith("/") or re.match(r"^[A-Za-z]:", raw) or raw.startswith("~"):
        ctx.fail(where, f"{what} {value!r} must be relative to the tidied folder, not absolute")
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    if ".." in parts:
        ctx.fail(where, f"{what} {value!r} escapes the tidied folder with '..'")
    if not parts:
        ctx.fail(where, f"{what} {value!r} is the tidied folder itself; name a subfolder")
    if parts[0] in RESERVED_DESTINATIONS:
        ctx.fail(where, f"{what} {value!r} is reserved ({parts[0]} belongs to the organizer or git)")
    return "/".join(parts)


def _subfolders(ctx: _Ctx, where: str, value: Any) -> tuple[tuple[str, tuple[tuple[str, re.Pattern[str]], ...]], ...]:
    """``subfolders: {atlantis: [atlantis], city_id: [id_removal, id_directions]}`` -> compiled, in order."""
    if not isinstance(value, dict) or not value:
        ctx.fail(where, "key 'subfolders' must be a non-empty mapping of subfolder -> keywords "
                        f"(e.g. {{atlantis: [atlantis]}}), got {_type_name(value)}")
    out = []
    for sub, keywords in value.items():
        if not isinstance(sub, str):
            ctx.fail(where, f"key 'subfolders': subfolder names must be strings, got {_type_name(sub)}")
        sub_where = f"{where}: key 'subfolders'"
        folder = _destination(ctx, sub_where, sub, what="subfolder")
        compiled = []
        for kw in _str_list(ctx, where, f"subfolders.{sub}", keywords):
            try:
                compiled.append((kw, compile_keyword(kw)))
            except ValueError as exc:
                ctx.fail(sub_where, f"bad keyword {kw!r} for subfolder {sub!r}: {exc}")
        out.append((folder, tuple(compiled)))
    return tuple(out)


def _compile_regexes(ctx: _Ctx, where: str, key: str, value: Any, flags: int = 0) -> tuple[re.Pattern[str], ...]:
    out = []
    for pattern in _str_list(ctx, where, key, value):
        try:
            out.append(re.compile(pattern, flags))
        except re.error as exc:
            ctx.fail(where, f"key '{key}': bad regular expression {pattern!r}: {exc}")
    return tuple(out)


# --------------------------------------------------------------------------- parsing


def _parse_rule(ctx: _Ctx, index: int, raw: Any) -> Rule:
    where = f"tidy.rules[{index}]"
    if not isinstance(raw, dict):
        ctx.fail(where, f"each rule must be a mapping with a 'destination', got {_type_name(raw)}")
    name_val = raw.get("name")
    if isinstance(name_val, str) and name_val.strip():
        where = f'{where} ("{name_val.strip()}")'
    elif isinstance(raw.get("destination"), str) and "name" not in raw:
        where = f'{where} ("{raw["destination"]}")'
    for key in raw:
        if key not in RULE_KEYS:
            _unknown_key(ctx, where, key, RULE_KEYS)
    if "name" in raw and not (isinstance(name_val, str) and name_val.strip()):
        ctx.fail(where, f"key 'name' must be a non-empty string, got {_type_name(name_val)}")
    if "description" in raw and not isinstance(raw["description"], str):
        ctx.fail(where, f"key 'description' must be a string, got {_type_name(raw['description'])}")
    if "destination" not in raw:
        ctx.fail(where, "missing key 'destination' (the folder, relative to the tidied one, that matching files go to)")
    destination = _destination(ctx, where, raw["destination"])
    name = name_val.strip() if isinstance(name_val, str) and name_val.strip() else destination

    match = raw.get("match", "all")
    if match not in ("all", "any"):
        ctx.fail(where, f"key 'match' must be 'all' or 'any', got {match!r}")
    recursive = _bool(ctx, where, "recursive", raw["recursive"]) if "recursive" in raw else False

    if not any(k in raw for k in NAME_CRITERIA + CONTENT_CRITERIA):
        ctx.fail(where, "no match criteria; give at least one of " + ", ".join(NAME_CRITERIA + CONTENT_CRITERIA))

    kwargs: dict[str, Any] = {}
    if "glob" in raw:
        globs = _str_list(ctx, where, "glob", raw["glob"])
        for g in globs:
            if "/" in g:
                ctx.fail(where, f"key 'glob': {g!r} contains '/'; globs match file names only")
        kwargs["globs"] = tuple(globs)
    if "regex" in raw:
        kwargs["regexes"] = _compile_regexes(ctx, where, "regex", raw["regex"])
    if "extension" in raw:
        kwargs["extensions"] = _extensions(ctx, where, "extension", raw["extension"])
    if "keywords" in raw:
        compiled = []
        for kw in _str_list(ctx, where, "keywords", raw["keywords"]):
            try:
                compiled.append(compile_keyword(kw))
            except ValueError as exc:
                ctx.fail(where, f"key 'keywords': bad keyword {kw!r}: {exc}")
        kwargs["keywords"] = tuple(compiled)
    if "imports" in raw:
        mods = _str_list(ctx, where, "imports", raw["imports"])
        for m in mods:
            if not _MODULE_RE.match(m):
                ctx.fail(where, f"key 'imports': {m!r} is not a module name (e.g. 'matplotlib' or 'matplotlib.pyplot')")
        kwargs["imports"] = tuple(mods)
    if "defines" in raw:
        prefixes = _str_list(ctx, where, "defines", raw["defines"])
        for p in prefixes:
            if not _PREFIX_RE.match(p):
                ctx.fail(where, f"key 'defines': {p!r} is not a function/class name prefix (e.g. 'test_')")
        kwargs["defines"] = tuple(prefixes)
    if "contains" in raw:
        kwargs["contains"] = tuple(_str_list(ctx, where, "contains", raw["contains"]))
    if "content_regex" in raw:
        kwargs["content_regexes"] = _compile_regexes(ctx, where, "content_regex", raw["content_regex"], re.MULTILINE)
    if "subfolders" in raw:
        kwargs["subfolders"] = _subfolders(ctx, where, raw["subfolders"])
    return Rule(index=index, name=name, destination=destination, match_all=(match == "all"),
                recursive=recursive, **kwargs).build_checks()


def parse_tidy_section(tidy: Any, source: str, path: Path | None = None) -> RuleSet:
    """Validate the value of the ``tidy`` key and build a :class:`RuleSet`."""
    ctx = _Ctx(source)
    if not isinstance(tidy, dict):
        ctx.fail("tidy", f"must be a mapping with a 'rules' list, got {_type_name(tidy)}")
    for key in tidy:
        if key not in TIDY_KEYS:
            _unknown_key(ctx, "tidy", key, TIDY_KEYS)
    if "version" in tidy and tidy["version"] != 1:
        ctx.fail("tidy", f"key 'version': only version 1 is supported, got {tidy['version']!r}")
    if "description" in tidy and not isinstance(tidy["description"], str):
        ctx.fail("tidy", f"key 'description' must be a string, got {_type_name(tidy['description'])}")
    if "rules" not in tidy:
        ctx.fail("tidy", "missing key 'rules' (an ordered list of rules)")
    raw_rules = tidy["rules"]
    if not isinstance(raw_rules, list):
        ctx.fail("tidy.rules", f"must be a list of rules, got {_type_name(raw_rules)}")
    if not raw_rules:
        ctx.fail("tidy.rules", "must not be empty")
    rules = tuple(_parse_rule(ctx, i, r) for i, r in enumerate(raw_rules))

    kwargs: dict[str, Any] = {}
    if "ignore" in tidy:
        ignore = _str_list(ctx, "tidy", "ignore", tidy["ignore"])
        for g in ignore:
            if "/" in g:
                ctx.fail("tidy", f"key 'ignore': {g!r} contains '/'; ignore globs match names only")
        kwargs["ignore"] = tuple(ignore)
    for key in ("recursive", "follow_figures", "follow_references", "learn_subfolders"):
        if key in tidy:
            kwargs[key] = _bool(ctx, "tidy", key, tidy[key])
    for key in ("figure_extensions", "script_extensions"):
        if key in tidy:
            kwargs[key] = _extensions(ctx, "tidy", key, tidy[key])
    return RuleSet(source=source, rules=rules, path=path, **kwargs)


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        loc = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise RulesError(f"{source}: not valid YAML{loc}: {problem}") from None


def load_rules_file(path: Path, display: str | None = None) -> RuleSet | None:
    """Load ``path``; return ``None`` when it has no ``tidy`` key (use defaults)."""
    source = display or str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RulesError(f"{source}: rules file not found") from None
    except IsADirectoryError:
        raise RulesError(f"{source}: is a directory, expected a YAML rules file") from None
    except UnicodeDecodeError as exc:
        raise RulesError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RulesError(f"{source}: cannot read rules file: {exc.strerror}") from None
    data = _read_yaml(text, source)
    if data is None:
        return None
    if not isinstance(data, dict):
        raise RulesError(f"{source}: top level must be a mapping of sections, got {_type_name(data)}")
    if "tidy" not in data:
        return None
    return parse_tidy_section(data["tidy"], source, Path(path))


def default_rules_text() -> str:
    """The text of the shipped ``default_rules.yaml`` (works from a wheel or a checkout)."""
    return resources.files("organizer").joinpath("default_rules.yaml").read_text(encoding="utf-8")


def load_default_rules() -> RuleSet:
    """The shipped default rules (research taxonomy: analysis, plots, testing, utils)."""
    data = _read_yaml(default_rules_text(), DEFAULT_RULES_DISPLAY)
    return parse_tidy_section(data["tidy"], DEFAULT_RULES_DISPLAY)


def resolve_rules(explicit: Path | None, directory: Path, cwd: Path) -> tuple[RuleSet, str]:
    """Pick the rules to use and say why.

    Order: ``--rules FILE``; else ``DIR/rules.yaml``; else ``./rules.yaml``; else the
    shipped defaults.  The first file found is used; if it has no ``tidy`` key the
    shipped defaults apply.  Returns the rules and a one-line description.
    """
    candidates: list[tuple[Path, str]] = []
    if explicit is not None:
        candidates.append((explicit, str(explicit)))
    else:
        for base in (directory, cwd):
            p = base / RULES_FILENAME
            if p.is_file():
                candidates.append((p, str(p)))
                break
    if not candidates:
        return load_default_rules(), f"{DEFAULT_RULES_DISPLAY} (no --rules and no {RULES_FILENAME} in DIR or the current folder)"
    path, display = candidates[0]
    loaded = load_rules_file(path, display)
    if loaded is None:
        return load_default_rules(), f"{DEFAULT_RULES_DISPLAY} ({display} has no 'tidy' section)"
    return loaded, display
