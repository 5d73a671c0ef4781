"""``organizer check``: do the scripts a tidy moved still work from their new folder?

For each script the tidy moved, and each script that stayed in a folder files left:

* a Python file still compiles (``compile``, so also errors ``ast.parse`` lets through);
* every sibling it imports (``geo_helpers.py``, a package folder) is beside it now;
* every sibling it names in a string literal (``"cities.csv"``), or unquoted in a shell,
  job or Make script (``python compute_scores.py``), is beside it now;
* every symlink the tidy moved, or left behind, that resolved before still resolves.

"Sibling" means what was in the script's folder before the tidy (see
:mod:`organizer.references` for how names are found).  The end of every tidy runs
this on its own moves (the dry run on the planned layout, so it predicts the same
problems); ``organizer check DIR`` runs it on the moves recorded by the newest tidy
journal of DIR.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .errors import JournalError
from .fileinfo import MAX_CONTENT_BYTES, FileInfo
from .journal import StateDir, read_journal
from .planner import Move, Plan
from .references import Siblings, is_shell_like, script_refs
from .rules import RuleSet

_DEFAULTS = RuleSet(source="defaults", rules=())


@dataclass(frozen=True)
class Problem:
    """One way a script no longer works where it is; ``path`` is relative to the checked folder."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Tally:
    """What a check looked at: scripts, Python files compiled, imports, named files, shell references, links."""

    scripts: int = 0
    compiled: int = 0
    imports: int = 0
    names: int = 0
    shell: int = 0
    links: int = 0

    def describe(self) -> str:
        """``12 scripts (9 compiled), 4 imports, 7 named files, 2 shell references, 1 link``."""
        def n(k: int, word: str) -> str:
            return f"{k} {word}{'' if k == 1 else 's'}"
        return (f"{n(self.scripts, 'script')} ({self.compiled} compiled), {n(self.imports, 'import')}, "
                f"{n(self.names, 'named file')}, {n(self.shell, 'shell reference')}, {n(self.links, 'link')}")


@dataclass
class CheckResult:
    """What ``organizer check DIR`` looked at and found."""

    checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    journal: Path | None = None
    tally: Tally = field(default_factory=Tally)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class _Item:
    rel: str            # where the script is now (or will be, for a dry run)
    info: FileInfo      # its content
    before: Siblings    # its old folder as it was before the tidy
    old_folder: str


def _parent(rel: str) -> str:
    return rel.rsplit("/", 1)[0] if "/" in rel else ""


def compile_error(info: FileInfo) -> str | None:
    """Why a Python file does not compile (``"invalid syntax (line 3)"``), or ``None``; cached."""
    if "_compile_error" in info.__dict__:
        return info.__dict__["_compile_error"]
    text = info.text
    error = None
    if text is not None:
        if len(text) >= MAX_CONTENT_BYTES:  # truncated for matching; compile the whole file
            try:
                text = Path(info.path).read_bytes().decode("utf-8", errors="replace")
            except OSError:
                text = None
        if text is not None:
            try:
                compile(text, info.name, "exec", dont_inherit=True)
            except SyntaxError as exc:
                error = f"{exc.msg} (line {exc.lineno})"
            except ValueError as exc:
                error = str(exc)
    info.__dict__["_compile_error"] = error
    return error


class _LazyWhere:
    """``(old folder, name) -> new path`` of the moves, built only when a problem needs it."""

    def __init__(self, moves: list[Move]) -> None:
        self._moves = moves
        self._map: dict[tuple[str, str], str] | None = None

    def get(self, key: tuple[str, str]) -> str | None:
        if self._map is None:
            self._map = {(_parent(m.source), m.source.rsplit("/", 1)[-1]): m.destination for m in self._moves}
        return self._map.get(key)


def _check(items: Iterable[_Item], names_now: Callable[[str], frozenset[str]], fig_exts: tuple[str, ...],
           moved_to: "_LazyWhere | dict[tuple[str, str], str]", tally: Tally | None = None) -> list[Problem]:
    problems: list[Problem] = []
    tally = tally if tally is not None else Tally()
    for item in items:
        tally.scripts += 1
        if item.info.lower_name.endswith(".py"):
            tally.compiled += 1
            error = compile_error(item.info)
            if error is not None:
                problems.append(Problem(item.rel, f"does not compile: {error}"))
        refs = script_refs(item.info, item.before, fig_exts)
        if not refs:
            continue
        now = names_now(_parent(item.rel))
        shell = is_shell_like(item.info.name)
        for ref in refs:
            if shell:
                tally.shell += 1
            elif ref.kind == "import":
                tally.imports += 1
            else:
                tally.names += 1
            if ref.name in now:
                continue
            where = moved_to.get((item.old_folder, ref.name))
            shown = ref.name if ref.name in item.before.files else ref.name + "/"
            if ref.kind == "import":
                msg = f"imports {ref.name.removesuffix('.py')}, but {shown} is not beside it"
            else:
                msg = f"{'runs' if ref.kind == 'run' else 'names'} {shown}, which is not beside it"
            problems.append(Problem(item.rel, msg + (f" (it is at {where})" if where else "")))
    return problems


def _resolves(root: Path, folder: str, target: str) -> bool:
    """Whether a link text ``target`` resolves from ``folder`` (relative to ``root``); absolute targets as they are."""
    base = root / folder if folder else root
    return os.path.exists(target if os.path.isabs(target) else base / target)


def _inside(folder: str, target: str) -> str | None:
    """The path (relative to the checked folder) that a relative link text reaches from ``folder``; ``None``
    when it is absolute or leaves the folder."""
    if os.path.isabs(target):
        return None
    path = os.path.normpath(os.path.join(folder or ".", target))
    return None if path == ".." or path.startswith("../") else path


def _check_links(root: Path, links: list[tuple[str, str, tuple[str, str]]], exists_now: Callable[[str, str], bool],
                 moved_to: "_LazyWhere | dict[tuple[str, str], str]", tally: Tally) -> list[Problem]:
    """``links``: (where the link is now, its text now, (a folder, a text) that reached its target before the
    tidy: its old folder and old text, or for a re-pointed link its new ones).  A link that resolved before
    must resolve from where it is now."""
    problems = []
    for rel, text, (old_folder, old_text) in links:
        tally.links += 1
        if exists_now(_parent(rel), text):
            continue
        # Where its target went, if the tidy moved it (the tidy moves files, so not for a text naming a folder).
        path = _inside(old_folder, old_text) if not old_text.endswith("/") else None
        where = moved_to.get((_parent(path), path.rsplit("/", 1)[-1])) if path not in (None, ".") else None
        # Did it resolve before the tidy?  (Its target, wherever that is now, still resolves.)
        if where is not None:
            resolved = exists_now(_parent(where), where.rsplit("/", 1)[-1])
        else:
            resolved = _resolves(root, old_folder, old_text)
        if not resolved:
            continue  # dangling before the tidy too
        problems.append(Problem(rel, f"link to {text} does not resolve from here"
                                     + (f" (it is at {where})" if where else "")))
    return problems


def _link_text(path: Path) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


def _is_script(info: FileInfo, rules: RuleSet) -> bool:
    low = info.lower_name
    return info.is_regular and low.endswith(rules.script_extensions) and not low.endswith(rules.figure_extensions)


def _listdir(root: Path) -> Callable[[str], frozenset[str]]:
    cache: dict[str, frozenset[str]] = {}

    def names(folder: str) -> frozenset[str]:
        if folder not in cache:
            try:
                cache[folder] = frozenset(os.listdir(root / folder))
            except OSError:
                cache[folder] = frozenset()
        return cache[folder]

    return names


def plan_problems(plan: Plan, moves: list[Move], rules: RuleSet, after: bool,
                  tally: Tally | None = None) -> list[Problem]:
    """Problems of a tidy's moves: on disk (``after=True``, the real run) or on the planned layout (dry run)."""
    if not moves:
        return []
    tally = tally if tally is not None else Tally()
    moved_from = {m.source for m in moves}
    moved_to = _LazyWhere(moves)
    items: list[_Item] = []
    links: list[tuple[str, str, tuple[str, str]]] = []
    for m in moves:
        info = plan.infos.get(m.source)
        if info is not None and info.is_symlink:
            text = _link_text(plan.root / (m.destination if after else m.source))
            if text is None:
                pass
            elif not after:  # the real run writes a re-pointed link's new text
                links.append((m.destination, m.relink if m.relink is not None else text, (_parent(m.source), text)))
            elif m.relink is not None and text == m.relink:  # re-pointed: reaches from here what it reached before
                links.append((m.destination, text, (_parent(m.destination), text)))
            else:
                links.append((m.destination, text, (_parent(m.source), text)))
        if info is None or not _is_script(info, rules):
            continue
        if after and "text" not in info.__dict__:  # not read while planning; read it where it is now
            info = FileInfo(info.name, m.destination, str(plan.root / m.destination), True, False)
        folder = _parent(m.source)
        items.append(_Item(m.destination, info, plan.listing.get(folder, Siblings(frozenset(), frozenset())), folder))
    left = {_parent(m.source) for m in moves}
    for rel in sorted(plan.infos.keys() - moved_from):
        info = plan.infos[rel]
        if _parent(rel) in left and _is_script(info, rules):
            items.append(_Item(rel, info, plan.listing[_parent(rel)], _parent(rel)))
        elif _parent(rel) in left and info.is_symlink and (text := _link_text(plan.root / rel)) is not None:
            links.append((rel, text, (_parent(rel), text)))
    if after:
        names_now = _listdir(plan.root)
    else:
        on_disk = _listdir(plan.root)
        outs: dict[str, set[str]] = {}
        ins: dict[str, set[str]] = {}
        for m in moves:
            outs.setdefault(_parent(m.source), set()).add(m.source.rsplit("/", 1)[-1])
            ins.setdefault(_parent(m.destination), set()).add(m.destination.rsplit("/", 1)[-1])
        new_dirs = set(plan.new_dirs)

        planned: dict[str, frozenset[str]] = {}

        def names_now(folder: str) -> frozenset[str]:
            if folder not in planned:
                planned[folder] = _planned_names(folder)
            return planned[folder]

        def _planned_names(folder: str) -> frozenset[str]:
            if folder in plan.listing:
                base = plan.listing[folder].files | plan.listing[folder].dirs
            else:
                base = frozenset() if folder in new_dirs else on_disk(folder)
            extra_dirs = {d.rsplit("/", 1)[-1] for d in new_dirs if _parent(d) == folder}
            return frozenset((set(base) - outs.get(folder, set())) | ins.get(folder, set()) | extra_dirs)

    source_of = {(_parent(m.destination), m.destination.rsplit("/", 1)[-1]): m.source for m in moves}

    def exists_now(folder: str, target: str) -> bool:
        if after:
            return _resolves(plan.root, folder, target)
        path = _inside(folder, target)
        if path is None or path == ".":  # absolute, the tidied folder or outside it: the moves change nothing
            return os.path.exists(target if os.path.isabs(target) else os.path.normpath(plan.root / folder / target))
        parent, name = _parent(path), path.rsplit("/", 1)[-1]
        src = source_of.get((parent, name))
        if src is None and name not in outs.get(parent, ()) and (plan.root / folder).is_dir():
            return _resolves(plan.root, folder, target)  # nothing moves there: as the disk says
        if name not in names_now(parent):
            return False
        # The entry that will be there: moved in (resolve it where it is now) or staying.
        return os.path.exists(plan.root / src) if src is not None else os.path.exists(plan.root / path)

    problems = _check(items, names_now, rules.figure_extensions, moved_to, tally)
    return problems + _check_links(plan.root, links, exists_now, moved_to, tally)


def check_folder(root: Path) -> CheckResult:
    """Check the moves recorded by the newest tidy journal of ``root`` (an absolute, resolved folder)."""
    state = StateDir(root)
    latest = state.latest() if state.exists() else None
    if latest is None:
        raise JournalError(f"nothing to check in {root}: no tidy journal in {root / '.organizer'} "
                           f"(check looks at the files the latest tidy moved)")
    data = read_journal(latest)
    result = CheckResult(journal=latest)
    names_now = _listdir(root)
    moved = []
    for rec in data.moves:
        try:
            st = os.lstat(root / rec.dst)
        except OSError:
            continue
        if not os.path.lexists(root / rec.src):
            moved.append((rec, st))
    outs: dict[str, set[str]] = {}
    ins: dict[str, set[str]] = {}
    for rec in data.moves:  # what the folders held before the tidy (also what was moved on since)
        if rec.status == "failed":
            continue
        outs.setdefault(_parent(rec.src), set()).add(rec.src.rsplit("/", 1)[-1])
        ins.setdefault(_parent(rec.dst), set()).add(rec.dst.rsplit("/", 1)[-1])
    before_cache: dict[str, Siblings] = {}

    def before(folder: str) -> Siblings:
        if folder not in before_cache:
            files, dirs = set(), set()
            for name in (names_now(folder) - ins.get(folder, set())) | outs.get(folder, set()):
                try:
                    is_dir = stat.S_ISDIR(os.lstat(root / folder / name).st_mode)
                except OSError:
                    is_dir = False  # moved away: it was a file (tidy moves files only)
                (dirs if is_dir else files).add(name)
            before_cache[folder] = Siblings(frozenset(files), frozenset(dirs))
        return before_cache[folder]

    items: list[_Item] = []
    links: list[tuple[str, str, str]] = []
    for rec, st in moved:
        name = rec.dst.rsplit("/", 1)[-1]
        info = FileInfo(name, rec.dst, str(root / rec.dst), stat.S_ISREG(st.st_mode), stat.S_ISLNK(st.st_mode))
        if info.is_symlink and (text := _link_text(root / rec.dst)) is not None:
            links.append((rec.dst, text, (_parent(rec.src), rec.link_old if rec.link_old is not None else text)))
        if _is_script(info, _DEFAULTS):
            items.append(_Item(rec.dst, info, before(_parent(rec.src)), _parent(rec.src)))
    for folder in sorted(outs):
        for name in sorted(names_now(folder)):
            rel = f"{folder}/{name}" if folder else name
            try:
                st = os.lstat(root / rel)
            except OSError:
                continue
            info = FileInfo(name, rel, str(root / rel), stat.S_ISREG(st.st_mode), stat.S_ISLNK(st.st_mode))
            if _is_script(info, _DEFAULTS):
                items.append(_Item(rel, info, before(folder), folder))
            elif info.is_symlink and (text := _link_text(root / rel)) is not None:
                links.append((rel, text, (folder, text)))
    moved_to = {(_parent(rec.src), rec.src.rsplit("/", 1)[-1]): rec.dst for rec, _ in moved}
    result.checked = len(items)
    result.problems = _check(items, names_now, _DEFAULTS.figure_extensions, moved_to, result.tally)
    result.problems += _check_links(root, links, lambda folder, target: _resolves(root, folder, target),
                                    moved_to, result.tally)
    return result
