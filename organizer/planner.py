"""Decide which loose files move where; read-only, shared by ``--dry-run`` and the real run.

The plan is deterministic for a given tree and rule set: candidates are visited
in sorted order, collision names are chosen against what is on disk plus what the
plan already claimed, so the dry run shows exactly what the real run will do.
"""

from __future__ import annotations

import filecmp
import fnmatch
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .fileinfo import FigureRef, FileInfo, figure_literal_regex, split_extension
from .rules import Rule, RuleSet

#: Folder names never entered or moved, whatever the rules say.
ALWAYS_SKIPPED = frozenset({"__pycache__", ".ipynb_checkpoints", ".git", ".organizer"})
_MULTI_EXTENSIONS = (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst")
_NAME_MAX = 255


@dataclass(frozen=True)
class Move:
    """One planned move, paths relative to the tidied folder (POSIX separators)."""

    source: str
    destination: str
    rule: str
    duplicate_of: str | None = None
    figure_of: str | None = None

    def as_json(self) -> dict[str, str]:
        """The public JSON shape: source, destination, rule."""
        return {"source": self.source, "destination": self.destination, "rule": self.rule}


@dataclass(frozen=True)
class Blocked:
    """A file a rule matched but that cannot move (its destination folder is unusable)."""

    source: str
    destination: str
    rule: str
    reason: str


@dataclass
class Plan:
    """Everything a tidy will do, computed without touching the tree."""

    root: Path
    moves: list[Move] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)
    blocked: list[Blocked] = field(default_factory=list)
    new_dirs: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def duplicates(self) -> list[Move]:
        return [m for m in self.moves if m.duplicate_of]

    def touched_dirs(self) -> list[str]:
        """Existing folders whose entries the moves change ("" is the tidied folder)."""
        dirs = {""}  # the state folder .organizer/ lives here
        dirs |= {_parent(m.source) for m in self.moves}
        dirs |= {_parent(m.destination) for m in self.moves}
        dirs |= {_parent(d) for d in self.new_dirs}
        dirs -= set(self.new_dirs)
        return sorted(dirs)


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def _join(*parts: str) -> str:
    return "/".join(p for p in parts if p)


def collision_name(name: str, taken: set[str] | frozenset[str]) -> str:
    """``name`` if free, else ``"stem (2).ext"``, ``"stem (3).ext"``… kept within 255 bytes."""
    if name not in taken:
        return name
    lower = name.lower()
    ext = next((e for e in _MULTI_EXTENSIONS if lower.endswith(e) and len(name) > len(e)), None)
    if ext is not None:
        stem, ext = name[: -len(ext)], name[-len(ext):]
    else:
        stem, ext = split_extension(name)
    n = 2
    while True:
        suffix = f" ({n}){ext}"
        s = stem
        while s and len((s + suffix).encode("utf-8", "surrogateescape")) > _NAME_MAX:
            s = s[:-1]
        candidate = s + suffix
        if candidate not in taken:
            return candidate
        n += 1


def same_content(a: str, b: str) -> bool:
    """True when two entries are byte-identical files or symlinks with the same target."""
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except OSError:
        return False
    if stat.S_ISLNK(sa.st_mode) and stat.S_ISLNK(sb.st_mode):
        try:
            return os.readlink(a) == os.readlink(b)
        except OSError:
            return False
    if stat.S_ISREG(sa.st_mode) and stat.S_ISREG(sb.st_mode):
        if sa.st_size != sb.st_size:
            return False
        try:
            return filecmp.cmp(a, b, shallow=False)
        except OSError:
            return False
    return False


def protected_dirs(rules: RuleSet) -> set[str]:
    """Rule destinations and their parent folders: never scanned, never moved."""
    out: set[str] = set()
    for dest in rules.destinations():
        parts = dest.split("/")
        for i in range(1, len(parts) + 1):
            out.add("/".join(parts[:i]))
    return out


def scan(root: Path, rules: RuleSet, skip: frozenset[str] = frozenset()) -> list[tuple[FileInfo, bool]]:
    """Candidate entries as ``(info, nested)``, sorted by relative path.

    Top-level regular files and symlinks always; files in subfolders only when the
    rule set or a rule is recursive.  Hidden names, ``ALWAYS_SKIPPED`` folders,
    ``ignore`` globs, rule destinations and ``skip`` paths are left alone; symlinked
    folders are never entered.
    """
    recurse = rules.recursive or any(r.recursive for r in rules.rules)
    protected = protected_dirs(rules)
    out: list[tuple[FileInfo, bool]] = []

    def walk(abs_dir: str, rel_dir: str) -> None:
        try:
            entries = list(os.scandir(abs_dir))
        except OSError:
            return
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name in ALWAYS_SKIPPED:
                continue
            if rules.ignore and any(fnmatch.fnmatchcase(name, g) for g in rules.ignore):
                continue
            rel = _join(rel_dir, name)
            if rel in skip:
                continue
            try:
                if entry.is_symlink():
                    out.append((FileInfo(name, rel, entry.path, False, True), bool(rel_dir)))
                elif entry.is_dir(follow_symlinks=False):
                    if recurse and rel not in protected:
                        walk(entry.path, rel)
                elif entry.is_file(follow_symlinks=False):
                    out.append((FileInfo(name, rel, entry.path, True, False), bool(rel_dir)))
            except OSError:
                continue

    walk(str(root), "")
    out.sort(key=lambda item: item[0].rel)
    return out


class _DestinationDirs:
    """Per-destination-folder state: is it usable, which names are taken, what must be created."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.taken: dict[str, set[str]] = {}
        self.occupant: dict[str, dict[str, str]] = {}
        self.problem: dict[str, str | None] = {}
        self.new_dirs: list[str] = []

    def check(self, dest: str) -> str | None:
        """``None`` when ``dest`` exists as a real folder or can be created; else the reason."""
        if dest in self.problem:
            return self.problem[dest]
        problem: str | None = None
        parts = dest.split("/")
        missing_from = None
        for i in range(1, len(parts) + 1):
            sub = "/".join(parts[:i])
            try:
                st = os.lstat(self.root / sub)
            except FileNotFoundError:
                missing_from = i
                break
            except OSError as exc:
                problem = f"cannot inspect destination folder '{sub}': {exc.strerror}"
                break
            if stat.S_ISLNK(st.st_mode):
                problem = f"destination folder '{sub}' is a symlink; the organizer never moves through links"
                break
            if not stat.S_ISDIR(st.st_mode):
                problem = f"destination folder '{sub}' exists and is not a folder"
                break
        names: set[str] = set()
        if problem is None:
            if missing_from is None:
                try:
                    names = set(os.listdir(self.root / dest))
                except OSError as exc:
                    problem = f"cannot list destination folder '{dest}': {exc.strerror}"
            else:
                for i in range(missing_from, len(parts) + 1):
                    sub = "/".join(parts[:i])
                    if sub not in self.new_dirs:
                        self.new_dirs.append(sub)
        self.problem[dest] = problem
        self.taken[dest] = names
        self.occupant[dest] = {n: str(self.root / dest / n) for n in names}
        return problem

    def claim(self, dest: str, name: str, source_path: str) -> tuple[str, str | None]:
        """Reserve a free name in ``dest`` for ``name``; return it and the duplicate it matches."""
        taken = self.taken[dest]
        final = collision_name(name, taken)
        duplicate_of = None
        if final != name:
            occupant = self.occupant[dest].get(name)
            if occupant is not None and same_content(source_path, occupant):
                duplicate_of = _join(dest, name)
        taken.add(final)
        self.occupant[dest][final] = source_path
        return final, duplicate_of


def plan_tidy(root: Path, rules: RuleSet, skip: frozenset[str] = frozenset()) -> Plan:
    """Compute the tidy plan for ``root`` (which must be an absolute, resolved path)."""
    candidates = scan(root, rules, skip)
    decisions: dict[str, Rule | None] = {}
    for info, nested in candidates:
        decisions[info.rel] = rules.first_match(info, nested)

    # A figure follows the script that names it (same folder only).
    figure_of: dict[str, FileInfo] = {}
    if rules.follow_figures:
        figure_of = _assign_figures(candidates, rules)

    plan = Plan(root=root)
    dirs = _DestinationDirs(root)
    for info, _nested in candidates:
        script = figure_of.get(info.rel)
        rule = decisions[info.rel] if script is None else decisions[script.rel]
        if rule is None:
            plan.unmatched.append(info.rel)
            if script is not None:
                plan.notes[info.rel] = f"figure of {script.rel}, which stays"
            continue
        label = rule.name if script is None else f"{rule.name} (figure of {script.name})"
        problem = dirs.check(rule.destination)
        if problem is not None:
            plan.blocked.append(Blocked(info.rel, _join(rule.destination, info.name), label, problem))
            continue
        final, duplicate_of = dirs.claim(rule.destination, info.name, info.path)
        plan.moves.append(Move(
            source=info.rel,
            destination=_join(rule.destination, final),
            rule=label,
            duplicate_of=duplicate_of,
            figure_of=script.rel if script is not None else None,
        ))
    plan.new_dirs = list(dirs.new_dirs)
    return plan


def _assign_figures(candidates: list[tuple[FileInfo, bool]], rules: RuleSet) -> dict[str, FileInfo]:
    """Map image rel path -> the script that names it (exact names beat patterns, then name order)."""
    fig_exts = rules.figure_extensions
    script_exts = rules.script_extensions
    by_dir: dict[str, list[FileInfo]] = {}
    for info, _ in candidates:
        by_dir.setdefault(_parent(info.rel), []).append(info)
    literal_re = figure_literal_regex(fig_exts)
    result: dict[str, FileInfo] = {}
    for infos in by_dir.values():
        images = [i for i in infos if i.lower_name.endswith(fig_exts)]
        if not images:
            continue
        scripts = [i for i in infos if i.is_regular and i.lower_name.endswith(script_exts)
                   and not i.lower_name.endswith(fig_exts)]
        exact: dict[str, FileInfo] = {}
        patterns: list[tuple[FileInfo, FigureRef]] = []
        for script in sorted(scripts, key=lambda i: i.rel):
            for ref in script.figure_refs(literal_re, fig_exts):
                if ref.exact:
                    exact.setdefault(ref.text, script)  # first script in name order wins
                else:
                    patterns.append((script, ref))
        for image in images:
            owner = exact.get(image.name)
            if owner is None:
                owner = next((script for script, ref in patterns if ref.matches(image.name)), None)
            if owner is not None and owner.rel != image.rel:
                result[image.rel] = owner
    return result
