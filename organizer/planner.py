"""Decide which loose files move where; read-only, shared by ``--dry-run`` and the real run.

The plan is deterministic for a given tree and rule set: candidates are visited
in sorted order, collision names are chosen against what is on disk plus what the
plan already claimed, so the dry run shows exactly what the real run will do.
"""

from __future__ import annotations

import filecmp
import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .fileinfo import FigureRef, FileInfo, figure_literal_regex, split_extension
from .layout import Layout
from .references import (_QUOTED_RE, MAKEFILE_NAMES, GroupDecision, Graph, Member, Siblings, decide_groups, is_shell_like,
                         script_refs)
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
    rule: str                      # the rule that decided (for a group member: the group leader's rule)
    duplicate_of: str | None = None
    figure_of: str | None = None
    why: str = ""                  # the evidence: "figure of plot_x.py", "follows plot_x.py", "like a/b.py: word"
    relink: str | None = None      # a relative symlink re-pointed after the move: its new text

    @property
    def label(self) -> str:
        """Rule and evidence in one: ``plot-scripts (figure of plot_x.py)``, ``follows plot_x.py``."""
        if not self.why:
            return self.rule
        if self.why.startswith(("follows ", "kept with ")) or not self.rule:
            return self.why
        return f"{self.rule} ({self.why})"

    def as_json(self) -> dict[str, str]:
        """The public JSON shape: source, destination, rule, why."""
        return {"source": self.source, "destination": self.destination, "rule": self.rule, "why": self.why}


@dataclass(frozen=True)
class Blocked:
    """A file a rule matched but that cannot move (its destination folder is unusable)."""

    source: str
    destination: str
    rule: str
    reason: str


@dataclass(frozen=True)
class Kept:
    """A file a rule matched that stays where it is, so that references between files keep working."""

    source: str
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
    kept: list[Kept] = field(default_factory=list)
    #: Entries of every scanned folder at planning time, and the candidates' facts (content cache).
    listing: dict[str, Siblings] = field(default_factory=dict, repr=False, compare=False)
    infos: dict[str, FileInfo] = field(default_factory=dict, repr=False, compare=False)

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


def scan(root: Path, rules: RuleSet, skip: frozenset[str] = frozenset(),
         listing: dict[str, Siblings] | None = None) -> list[tuple[FileInfo, bool]]:
    """Candidate entries as ``(info, nested)``, sorted by relative path.

    Top-level regular files and symlinks always; files in subfolders only when the
    rule set or a rule is recursive.  Hidden names, ``ALWAYS_SKIPPED`` folders,
    ``ignore`` globs, rule destinations and ``skip`` paths are left alone; symlinked
    folders are never entered.  ``listing`` (if given) receives every entry of each
    scanned folder, candidates or not (what scripts there can name).
    """
    recurse = rules.recursive or any(r.recursive for r in rules.rules)
    protected = protected_dirs(rules)
    # One regex for all ignore globs (fnmatchcase per glob per name was a tenth of the planning time).
    ignore_re = re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in rules.ignore)) if rules.ignore else None
    out: list[tuple[FileInfo, bool]] = []

    def walk(abs_dir: str, rel_dir: str) -> None:
        try:
            entries = list(os.scandir(abs_dir))
        except OSError:
            return
        if listing is not None:
            files, dirs = set(), set()
            for entry in entries:
                try:
                    (dirs if entry.is_dir(follow_symlinks=False) else files).add(entry.name)
                except OSError:
                    files.add(entry.name)
            listing[rel_dir] = Siblings(frozenset(files), frozenset(dirs))
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name in ALWAYS_SKIPPED:
                continue
            if ignore_re is not None and ignore_re.match(name):
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


@dataclass
class _Target:
    """Where one file goes: folder, the rule that decided, and the evidence."""

    folder: str
    rule_name: str
    why: str = ""


def _relink(info: FileInfo, new_folder: str) -> str | None:
    """The text a relative symlink needs in ``new_folder`` to reach what it reaches now (``None``: keep it).

    Links to a sibling move with it (a reference group) and keep their text; absolute links keep theirs.
    """
    try:
        text = os.readlink(info.path)
    except OSError:
        return None
    if os.path.isabs(text) or "/" not in text.rstrip("/").removeprefix("./"):
        return None
    old_folder = _parent(info.rel)
    target = os.path.normpath(os.path.join(old_folder or ".", text))
    new = os.path.relpath(target, new_folder or ".")
    if text.endswith("/") and not new.endswith("/"):
        new += "/"
    return new if new != text else None


def _label(t: _Target) -> str:
    return Move("", "", t.rule_name, why=t.why).label


def plan_tidy(root: Path, rules: RuleSet, skip: frozenset[str] = frozenset(),
              only: frozenset[str] | None = None) -> Plan:
    """Compute the tidy plan for ``root`` (which must be an absolute, resolved path).

    ``only`` (``organizer watch``): move only these files (relative paths), and none of them
    whose reference group or figure script would move without it; the others are still read,
    so references to and from them count.

    Steps: scan; first matching rule per file; figures follow the script naming them;
    reference groups (files that import or read each other move together or stay);
    the destination's own subfolders (keyword ``subfolders`` of the rule, then learned
    from the files already there); finally collision names, reference groups first so
    that a file another one names keeps its exact name (else the group stays).
    """
    listing: dict[str, Siblings] = {}
    candidates = scan(root, rules, skip, listing)
    infos = {info.rel: info for info, _ in candidates}
    decisions: dict[str, Rule | None] = {}
    for info, nested in candidates:
        decisions[info.rel] = rules.first_match(info, nested)

    # A figure follows the script that names it (same folder only).
    figure_of: dict[str, FileInfo] = {}
    if rules.follow_figures:
        figure_of = _assign_figures(candidates, rules)
        # A link to a figure goes where the figure goes; so does a link to such a link, whatever the name order.
        links = [(info.rel, _join(_parent(info.rel), t)) for info, _ in candidates
                 if info.is_symlink and (t := sibling_link_target(info)) is not None]
        while True:
            found = {rel: figure_of[to] for rel, to in links if rel not in figure_of and to in figure_of}
            if not found:
                break
            figure_of.update(found)
    groups: dict[str, GroupDecision] = {}
    if rules.follow_references:
        groups = _reference_groups(candidates, listing, rules, decisions, root, figure_of)
        # A figure in a reference group (it is a link to a sibling, or a link a script reads, or their target)
        # goes where its group goes, or stays with it: a link never moves away from what it links to.
        figure_of = {rel: script for rel, script in figure_of.items() if rel not in groups}

    plan = Plan(root=root, listing=listing, infos=infos)
    dirs = _DestinationDirs(root)
    layout = Layout(root) if rules.learn_subfolders else None

    def own_target(info: FileInfo) -> _Target | None:
        rule = decisions[info.rel]
        if rule is None:
            return None
        keyword = rule.subfolder_for(info)
        if keyword is not None:
            folder, word = keyword
            return _Target(folder, rule.name, f"subfolder {folder[len(rule.destination) + 1:]}: keyword {word}")
        if layout is not None and dirs.check(rule.destination) is None:
            place = layout.place(rule.destination, info.name)
            if place is not None:
                return _Target(place.folder, rule.name, f"like {place.neighbour}: {', '.join(place.words)}")
        return _Target(rule.destination, rule.name)

    # Where every file goes (None: it stays), before any name is claimed.
    target: dict[str, _Target | None] = {}
    stay_reason: dict[str, str] = {}
    leaders: dict[str, _Target | None] = {}
    far = _far_users(root, candidates, figure_of, groups, rules) if rules.follow_figures else {}
    for info, _nested in candidates:
        rel = info.rel
        if rel in figure_of:
            continue
        group = groups.get(rel)
        if group is None and rel in far:
            folder, script, verb = far[rel]
            if dirs.check(folder) is None and (info.name not in dirs.taken[folder] or same_content(
                    info.path, dirs.occupant[folder][info.name])):
                rule = decisions[rel]
                target[rel] = _Target(folder, rule.name if rule is not None else "follows", f"{verb} by {script}")
                continue
        if group is None:
            target[rel] = own_target(info)
            continue
        if group.leader not in leaders:
            leaders[group.leader] = own_target(infos[group.leader]) if group.moves else None
        lead = leaders[group.leader]
        if lead is None:
            target[rel] = None
            if group.reason:
                stay_reason[rel] = group.reason
        elif rel == group.leader:
            target[rel] = lead
        else:
            target[rel] = _Target(lead.folder, lead.rule_name, group.reason)
    for info, _nested in candidates:
        script = figure_of.get(info.rel)
        if script is None:
            continue
        of = target.get(script.rel)
        if of is None:
            target[info.rel] = None
            stay_reason[info.rel] = f"figure of {script.rel}, which stays"
        else:
            target[info.rel] = _Target(of.folder, of.rule_name, f"figure of {script.name}")

    # Claim names: moving reference groups first (names others use must stay exact), then the rest.
    final: dict[str, tuple[str, str | None]] = {}
    blocked: dict[str, Blocked] = {}
    members_of: dict[str, list[str]] = {}
    for rel, group in groups.items():
        if target.get(rel) is not None:
            members_of.setdefault(group.leader, []).append(rel)
    for leader in sorted(members_of):
        members = sorted(members_of[leader])
        folder = target[leader].folder  # type: ignore[union-attr]
        problem = dirs.check(folder)
        if problem is not None:
            for rel in members:
                blocked[rel] = Blocked(rel, _join(folder, infos[rel].name), _label(target[rel]), problem)  # type: ignore[arg-type]
            continue
        taken = [infos[rel].name for rel in members if groups[rel].needs_exact_name
                 and infos[rel].name in dirs.taken[folder]
                 and not same_content(infos[rel].path, dirs.occupant[folder][infos[rel].name])]
        if taken:
            for rel in members:
                target[rel] = None
                stay_reason[rel] = (f"kept with {infos[leader].name}: {taken[0]} is taken in {folder}/, "
                                    f"and {'its users need' if rel != leader else 'it needs'} that exact name")
            continue
        for rel in members:
            final[rel] = dirs.claim(folder, infos[rel].name, infos[rel].path)
    # A figure whose script's group stayed (name taken) stays too.
    for image, script in figure_of.items():
        if target.get(image) is not None and target.get(script.rel) is None and script.rel in groups:
            target[image] = None
            stay_reason[image] = f"figure of {script.rel}, which stays"

    for info, _nested in candidates:
        rel = info.rel
        tgt = target.get(rel)
        if tgt is None:
            if decisions[rel] is None or (rel in figure_of and decisions[figure_of[rel].rel] is None):
                plan.unmatched.append(rel)
                if rel in stay_reason:
                    plan.notes[rel] = stay_reason[rel]
            else:
                rule = decisions[rel]
                plan.kept.append(Kept(rel, rule.name if rule else "", stay_reason.get(rel, "")))
            continue
        if rel in blocked:
            plan.blocked.append(blocked[rel])
            continue
        if rel not in final:
            problem = dirs.check(tgt.folder)
            if problem is not None:
                plan.blocked.append(Blocked(rel, _join(tgt.folder, info.name), _label(tgt), problem))
                continue
            final[rel] = dirs.claim(tgt.folder, info.name, info.path)
        name, duplicate_of = final[rel]
        script = figure_of.get(rel)
        relink = _relink(info, tgt.folder) if info.is_symlink else None
        why = tgt.why
        if relink is not None:
            why = (why + "; " if why else "") + f"link re-pointed to {relink}"
        plan.moves.append(Move(
            source=rel,
            destination=_join(tgt.folder, name),
            rule=tgt.rule_name,
            duplicate_of=duplicate_of,
            figure_of=script.rel if script is not None else None,
            why=why,
            relink=relink,
        ))
    if only is not None:
        _restrict(plan, only, groups, figure_of)
    used = {_parent(m.destination) for m in plan.moves}
    plan.new_dirs = [d for d in dirs.new_dirs if any(u == d or u.startswith(d + "/") for u in used)]
    return plan


def _restrict(plan: Plan, only: frozenset[str], groups: dict[str, GroupDecision],
              figure_of: dict[str, FileInfo]) -> None:
    """Keep the moves of ``only`` that take no partner (group member, figure script) outside it along."""
    moving = {m.source for m in plan.moves}
    members: dict[str, set[str]] = {}
    for rel, g in groups.items():
        members.setdefault(g.leader, set()).add(rel)

    def partners(rel: str) -> set[str]:
        out = set(members.get(groups[rel].leader, ())) if rel in groups else set()
        script = figure_of.get(rel)
        if script is not None:
            out.add(script.rel)
            out |= members.get(groups[script.rel].leader, set()) if script.rel in groups else set()
        out |= {img for img, s in figure_of.items() if s.rel == rel}
        return out & moving

    plan.moves = [m for m in plan.moves if m.source in only and partners(m.source) <= only]
    plan.unmatched = [u for u in plan.unmatched if u in only]
    plan.kept = [k for k in plan.kept if k.source in only]
    plan.blocked = [b for b in plan.blocked if b.source in only]


_TEST_RE = re.compile(r"^(?:test_.*|.*_tests?|conftest)\.py$")


def _role(info: FileInfo, rules: RuleSet) -> str:
    """``follower`` (a test, a shell or job script), ``code`` (another script) or ``data``."""
    low = info.lower_name
    if not info.is_regular or not low.endswith(rules.script_extensions) or low.endswith(rules.figure_extensions):
        return "data"
    if _TEST_RE.match(info.name) or is_shell_like(info.name):
        return "follower"
    return "code"


def sibling_link_target(info: FileInfo) -> str | None:
    """The sibling a relative symlink points at (``latest.csv -> raw.csv``), else ``None``."""
    if not info.is_symlink:
        return None
    try:
        target = os.readlink(info.path)
    except OSError:
        return None
    target = target[2:] if target.startswith("./") else target
    if not target or "/" in target or target in (".", ".."):
        return None
    return target


def _reference_groups(candidates: list[tuple[FileInfo, bool]], listing: dict[str, Siblings], rules: RuleSet,
                      decisions: dict[str, Rule | None], root: Path,
                      figure_of: dict[str, FileInfo]) -> dict[str, GroupDecision]:
    """Reference groups of every scanned folder, decided (see :mod:`organizer.references`)."""
    fig_exts = rules.figure_extensions
    script_exts = rules.script_extensions
    by_folder: dict[str, dict[str, str]] = {}
    infos: dict[str, FileInfo] = {}
    for info, _ in candidates:
        by_folder.setdefault(_parent(info.rel), {})[info.name] = info.rel
        infos[info.rel] = info
    graphs: dict[str, Graph] = {}
    to_figures: dict[str, list[tuple[str, str]]] = {}  # folder -> links to a figure (or to such a link)
    for info, _ in candidates:
        folder = _parent(info.rel)
        target = sibling_link_target(info)
        if target is not None:
            rel = by_folder[folder].get(target)
            if rel is not None and rel in figure_of:
                to_figures.setdefault(folder, []).append((info.rel, rel))
                continue  # a link to a figure goes with the figure (see plan_tidy), unless one is in a group
            graph = graphs.setdefault(folder, Graph())
            if rel is not None:
                graph.add(info.rel, rel, "link")
            elif target in listing[folder].files or target in listing[folder].dirs:
                graph.anchors.setdefault(info.rel, []).append((target, "link"))
            continue
        if not (info.is_regular and info.lower_name.endswith(script_exts)) or info.lower_name.endswith(fig_exts):
            continue
        refs = script_refs(info, listing[folder], fig_exts)
        if not refs:
            continue
        graph = graphs.setdefault(folder, Graph())
        names = by_folder[folder]
        for ref in refs:
            rel = names.get(ref.name)
            if rel is not None:
                graph.add(info.rel, rel, ref.kind)
            else:
                graph.anchors.setdefault(info.rel, []).append((ref.name, ref.kind))
    # Makefiles (never moved) pin what they run: moving it would break `make`.
    for folder, sib in listing.items():
        names = by_folder.get(folder)
        if not names:
            continue
        for make in sorted(MAKEFILE_NAMES & sib.files):
            if make in names:
                continue
            mk = FileInfo(make, _join(folder, make), str(root / folder / make) if folder else str(root / make),
                          True, False)
            for ref in script_refs(mk, sib, fig_exts):
                rel = names.get(ref.name)
                if rel is not None:
                    graphs.setdefault(folder, Graph()).anchors.setdefault(rel, []).append((make, "pin"))
    # A figure and the links to it go together: when one of them is in a group, the group takes the others along.
    for folder, pairs in to_figures.items():
        graph = graphs.get(folder)
        if graph is None:
            continue
        nodes = set(graph.uses) | set(graph.anchors) | {t for used in graph.uses.values() for t, _ in used}
        while True:
            tied = [(link, fig) for link, fig in pairs if link in nodes or fig in nodes]
            if not tied:
                break
            for link, fig in tied:
                graph.add(link, fig, "link")
                nodes |= {link, fig}
            pairs = [p for p in pairs if p not in tied]
    out: dict[str, GroupDecision] = {}

    def member(rel: str) -> Member:
        d = decisions[rel]
        return Member(_role(infos[rel], rules), d.destination if d is not None else None,
                      d.name if d is not None else "", d.index if d is not None else 1 << 30)

    for graph in graphs.values():
        out.update(decide_groups(graph, member))
    return out


#: How deep and how many entries the search for a loose file's writer in sorted folders goes.
FAR_MAX_DEPTH = 4
FAR_MAX_ENTRIES = 20_000


def _far_users(root: Path, candidates: list[tuple[FileInfo, bool]], figure_of: dict[str, FileInfo],
               groups: dict[str, GroupDecision], rules: RuleSet) -> dict[str, tuple[str, str, str]]:
    """Loose top-level files no script beside them uses, that a script in a subfolder writes or reads by name.

    ``{rel: (that script's folder, its path, "written" | "read")}``: a figure joins the script that
    writes it wherever that script lives, a data file the one that reads it.  Exact names only;
    a writer beats a reader, then the first script by path.
    """
    fig_exts = rules.figure_extensions
    script_exts = rules.script_extensions
    wanted: dict[str, str] = {}
    for info, _ in candidates:
        if "/" in info.rel or info.rel in figure_of or info.rel in groups:
            continue
        low = info.lower_name
        if info.is_regular and low.endswith(script_exts) and not low.endswith(fig_exts):
            continue
        wanted[info.name] = info.rel
    if not wanted:
        return {}
    found: dict[str, tuple[int, str, str, str]] = {}
    literal_re = figure_literal_regex(fig_exts)
    seen = 0
    stack: list[tuple[str, int]] = []
    try:
        stack = [(e.name, 1) for e in os.scandir(root) if not e.name.startswith(".")
                 and e.name not in ALWAYS_SKIPPED and e.is_dir(follow_symlinks=False)]
    except OSError:
        return {}
    if not stack:
        return {}
    stack.sort(reverse=True)
    while stack and seen < FAR_MAX_ENTRIES:
        folder, depth = stack.pop()
        try:
            entries = sorted(os.scandir(root / folder), key=lambda e: e.name)
        except OSError:
            continue
        subdirs = []
        for e in entries:
            seen += 1
            if e.name.startswith(".") or e.name in ALWAYS_SKIPPED:
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    if depth < FAR_MAX_DEPTH:
                        subdirs.append((f"{folder}/{e.name}", depth + 1))
                    continue
                if not e.is_file(follow_symlinks=False):
                    continue
            except OSError:
                continue
            low = e.name.lower()
            if not low.endswith(script_exts) or low.endswith(fig_exts):
                continue
            info = FileInfo(e.name, f"{folder}/{e.name}", e.path, True, False)
            text = info.text
            if not text:
                continue
            for ref in info.figure_refs(literal_re, fig_exts):
                if ref.exact and ref.text in wanted:
                    best = found.get(ref.text)
                    if best is None or best[0] > 0:
                        found[ref.text] = (0, folder, info.rel, "written")
            for m in _QUOTED_RE.finditer(text):
                name = m.group(2).removeprefix("./")
                if name in wanted and name not in found:
                    found[name] = (1, folder, info.rel, "read")
        stack.extend(reversed(subdirs))
    return {wanted[name]: (folder, script, verb) for name, (_, folder, script, verb) in found.items()}


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
