"""Which sibling files a script names, and which files must therefore move together.

A script *uses* a sibling (an entry in its own folder) when it

* imports it as a module (``import geo_helpers``, ``from compute_scores import f``:
  ``geo_helpers.py`` or a folder ``geo_helpers/``) - Python and notebooks, by ``ast``;
* names it in a string literal (``read_csv("scores_ft1.csv")``, ``np.load("cka.npy")``,
  ``source("helpers.R")``) - Python and notebook code cells by ``ast``, shell, R, Julia
  and the rest by quoted strings.

Only bare names count (``"cities.csv"`` or ``"./cities.csv"``), and only names of
entries that exist.  Images are left to the figure logic (they follow the script that
writes them).  Reading is cheap first: a regex over the text finds quoted names and
imports that match a sibling; ``ast`` runs only when it found one and the text has a
comment or a triple-quoted string, to drop mentions there.  Results are cached on the :class:`FileInfo`.

:func:`decide_groups` then turns the "uses" graph of one folder into decisions: a file
used by exactly one script follows it (also along a chain a -> b -> c); files tied
together (a CSV read by two scripts, a helper imported by several) go to one
destination, chosen by the scripts nobody uses, or all stay when one of those stays.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

from .fileinfo import FileInfo

#: Quoted bare names with a dot (an optional ``./``, no other ``/``); JSON-escaped quotes too (notebooks).
_QUOTED_RE = re.compile(r"""(["'])((?:\./)?[^"'\n\\/]{0,254}\.[^"'\n\\/]{0,254}?)\\?\1""")
_MAGIC_RE = re.compile(r"^[ \t]*[%!?].*$", re.M)
#: Unquoted words of shell-like scripts (``python compute_scores.py``, ``source env.sh``, ``Rscript x.R``).
_SHELL_WORD_RE = re.compile(r"""[^\s;&|()<>`'"=]+""")
_SHELL_COMMENT_RE = re.compile(r"(?:^|(?<=\s))#.*$", re.M)
#: Scripts read by the shell, Make or a job scheduler: unquoted names count too.
SHELL_EXTENSIONS = (".sh", ".bash", ".zsh", ".slurm", ".sbatch", ".pbs", ".job")
MAKEFILE_NAMES = frozenset({"Makefile", "makefile", "GNUmakefile"})


_RUNNABLE = (".py", ".sh", ".bash", ".r", ".jl", ".m", ".pl", ".slurm", ".sbatch", ".ipynb")


def is_shell_like(name: str) -> bool:
    """Shell, job and Make scripts: names in them count quoted or not."""
    return name in MAKEFILE_NAMES or name.lower().endswith(SHELL_EXTENSIONS) or name.lower().endswith(".mk")


def shell_words(text: str) -> list[str]:
    """Unquoted words of a shell-like text outside comments (``./x.sh`` -> ``x.sh``)."""
    return [_bare(w) for w in _SHELL_WORD_RE.findall(_SHELL_COMMENT_RE.sub("", text))]


@dataclass(frozen=True)
class Ref:
    """One sibling a script uses: the entry's name and how (``import`` or ``read``)."""

    name: str
    kind: str  # "import" | "read"


@dataclass(frozen=True)
class Siblings:
    """The entries of one folder: file names (incl. symlinks) and folder names."""

    files: frozenset[str]
    dirs: frozenset[str]

    def module_entry(self, module: str) -> str | None:
        """The sibling an ``import module`` would load: ``module.py`` or the folder ``module``."""
        top = module.split(".", 1)[0]
        if f"{top}.py" in self.files:
            return f"{top}.py"
        if top in self.dirs:
            return top
        return None


def _bare(literal: str) -> str:
    return literal[2:] if literal.startswith("./") else literal


def _looks_like_file(name: str) -> bool:
    dot = name.rfind(".")
    return 0 < dot < len(name) - 1


def _python_sources(info: FileInfo, text: str) -> list[str] | None:
    """Python source(s) to parse: the file itself, or a notebook's code cells (magics blanked)."""
    if info.lower_name.endswith(".py"):
        return [text]
    if info.lower_name.endswith(".ipynb"):
        try:
            nb = json.loads(text)
        except ValueError:
            return None
        cells = nb.get("cells") if isinstance(nb, dict) else None
        if not isinstance(cells, list):
            return None
        out = []
        for cell in cells:
            if not isinstance(cell, dict) or cell.get("cell_type", "code") != "code":
                continue
            src = cell.get("source", "")
            src = "".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src)
            out.append(_MAGIC_RE.sub("", src))
        return out
    return None


def _ast_refs(sources: list[str], siblings: Siblings, own: str) -> list[Ref] | None:
    """Refs found by ``ast`` in ``sources``; ``None`` when none of them parses."""
    refs: list[Ref] = []
    parsed = False
    for src in sources:
        try:
            tree = ast.parse(src)
        except (SyntaxError, ValueError):
            continue
        parsed = True
        in_fstring: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                in_fstring.update(id(v) for v in node.values)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    entry = siblings.module_entry(alias.name)
                    if entry is not None and entry != own:
                        refs.append(Ref(entry, "import"))
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and node.module:
                    entry = siblings.module_entry(node.module)
                    if entry is not None and entry != own:
                        refs.append(Ref(entry, "import"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in in_fstring:
                name = _bare(node.value)
                if name != own and name in siblings.files and _looks_like_file(name):
                    refs.append(Ref(name, "read"))
    return refs if parsed else None


def script_refs(info: FileInfo, siblings: Siblings, skip_exts: tuple[str, ...]) -> tuple[Ref, ...]:
    """The siblings ``info`` uses, in order of first appearance, without names ending in ``skip_exts``.

    Cached on ``info`` (a planning run lists each folder once, so ``siblings`` is fixed).
    """
    cached = info.__dict__.get("_refs")
    if cached is not None:
        return cached
    refs = _script_refs(info, siblings, skip_exts)
    info.__dict__["_refs"] = refs
    return refs


def _script_refs(info: FileInfo, siblings: Siblings, skip_exts: tuple[str, ...]) -> tuple[Ref, ...]:
    text = info.text
    if not text:
        return ()
    own = info.name
    # Cheap prefilter: any quoted sibling name, or any import of a sibling module?
    quoted = []
    for m in _QUOTED_RE.finditer(text):
        name = _bare(m.group(2))
        if name in siblings.files and name != own and _looks_like_file(name) and not name.lower().endswith(skip_exts):
            quoted.append(name)
    if is_shell_like(info.name):
        seen_q = set(quoted)
        for word in shell_words(text):
            if (word not in seen_q and word in siblings.files and word != own and _looks_like_file(word)
                    and not word.lower().endswith(skip_exts)):
                seen_q.add(word)
                quoted.append(word)
        runs = tuple(e for e in _RUNNABLE if e not in skip_exts)
        return tuple(Ref(n, "run" if n.lower().endswith(runs) else "read") for n in dict.fromkeys(quoted))
    is_python = info.lower_name.endswith((".py", ".ipynb"))
    imported = []
    if is_python:
        for module in sorted(info.imported_modules):  # a frozenset: sort, so every process sees one order
            entry = siblings.module_entry(module)
            if entry is not None and entry != own and not entry.lower().endswith(skip_exts):
                imported.append(entry)
    is_notebook = info.lower_name.endswith(".ipynb")  # JSON: imports are not at line starts, so always parse
    if not quoted and not imported and not is_notebook:
        return ()
    found: list[Ref] | None = None
    # ast confirms the hits when a comment or docstring could hold a mere mention (or for notebooks);
    # without '#' and triple quotes every quoted name and import line the regexes saw is real code.
    if is_python and (is_notebook or "#" in text or '"""' in text or "'''" in text):
        sources = _python_sources(info, text)
        if sources is not None:
            found = _ast_refs(sources, siblings, own)
    if found is None:  # not Python, or it does not parse: fall back to what the regexes saw
        found = [Ref(n, "import") for n in imported] + [Ref(n, "read") for n in quoted]
    out: list[Ref] = []
    seen: set[str] = set()
    for ref in found:
        if ref.name in seen or ref.name.lower().endswith(skip_exts):
            continue
        seen.add(ref.name)
        out.append(ref)
    return tuple(out)


# --------------------------------------------------------------------------- groups


@dataclass
class GroupDecision:
    """What happens to one member of a reference group.

    ``leader`` is the file whose destination the member shares; ``moves`` says whether
    the group moves; ``reason`` is the plan's explanation (``follows a.py``, ``kept with
    a.py: both read cities.csv``; for the leader of a moving group it is empty).
    """

    leader: str
    moves: bool
    reason: str
    needs_exact_name: bool = False  # another member imports or reads it by this name


@dataclass
class Graph:
    """The "uses" graph of one folder's candidates (rel paths) and what they name that never moves."""

    uses: dict[str, list[tuple[str, str]]] = field(default_factory=dict)   # user -> [(used rel, kind)]
    anchors: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # user -> [(name that stays put, kind)]

    def add(self, user: str, used: str, kind: str) -> None:
        self.uses.setdefault(user, []).append((used, kind))


def _name(rel: str) -> str:
    return rel.rsplit("/", 1)[-1]


def _verb(kind: str, third_person: bool) -> str:
    if kind == "import":
        return "imports" if third_person else "import"
    if kind == "link":
        return "links to" if third_person else "link to"
    if kind == "run":
        return "runs" if third_person else "run"
    return "reads" if third_person else "read"


def _components(graph: Graph) -> list[list[str]]:
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for user, used in graph.uses.items():
        find(user)
        for target, _ in used:
            ru, rt = find(user), find(target)
            if ru != rt:
                parent[max(ru, rt)] = min(ru, rt)
    for user in graph.anchors:
        find(user)
    groups: dict[str, list[str]] = {}
    for node in parent:
        groups.setdefault(find(node), []).append(node)
    return [sorted(g) for g in sorted(groups.values(), key=min)]


@dataclass(frozen=True)
class Member:
    """What the group logic needs to know about one file: its role and its own rule's verdict.

    ``role``: ``"code"`` (a script that decides where it goes), ``"follower"`` (a test or a
    shell/job script: it goes with the code it uses) or ``"data"`` (anything else).
    ``destination`` is ``None`` when no rule matches the file.
    """

    role: str
    destination: str | None
    rule: str = ""
    index: int = 1 << 30


def _top(folder: str) -> str:
    return folder.split("/", 1)[0]


def decide_groups(graph: Graph, member: Callable[[str], Member]) -> dict[str, GroupDecision]:
    """Decide every member of every reference group of one folder.

    A group moves as one.  Its destination is chosen by the scripts that decide
    (the *code* no other code uses: a helper imported by plots goes with the plots;
    a test or a shell script goes with the code it uses, its own rule does not pull
    the group apart; with no code, the followers, then the data decide).  Members
    no rule matches go along.  The group stays when the deciding members disagree
    on the top folder, when none of them matches a rule, or when a member names a
    file that never moves (``graph.anchors``).
    """
    users_of: dict[str, list[tuple[str, str]]] = {}
    for user, used in graph.uses.items():
        for target, kind in used:
            users_of.setdefault(target, []).append((user, kind))
    out: dict[str, GroupDecision] = {}
    for members in _components(graph):
        info = {m: member(m) for m in members}
        roots = [m for m in members if m not in users_of]
        anchored = [m for m in members if graph.anchors.get(m)]
        is_tree = len(roots) == 1 and all(len(users_of.get(m, ())) == 1 for m in members if m != roots[0])
        code = [m for m in members if info[m].role == "code"]
        tops = [m for m in code if not any(info[u].role == "code" for u, _ in users_of.get(m, ()))]
        followers = [m for m in members if info[m].role == "follower"]
        data = [m for m in members if info[m].role == "data"]
        # Who decides: the code nobody else's code uses, else any code, else tests and shell scripts, else data.
        tier, voters = members, []
        for tier in (tops, code, followers, data):
            voters = [m for m in tier if info[m].destination is not None]
            if voters:
                break
        else:
            tier = tops or code or followers or data
        disagree = ""
        if anchored:
            leader, moves = anchored[0], False
        elif not voters:
            leader, moves = tier[0], False
            names = ", ".join(_name(m) for m in tier[:3]) + (f" and {len(tier) - 3} more" if len(tier) > 3 else "")
            disagree = f"no rule matches {names}, which {'decide' if len(tier) > 1 else 'decides'} where the group goes"
        else:
            folders = Counter(_top(info[m].destination or "") for m in voters)
            if len(folders) > 1:
                # One member per top folder, in rule order: the ones that disagree.
                firsts: dict[str, str] = {}
                for m in sorted(voters, key=lambda m: (info[m].index, m)):
                    firsts.setdefault(_top(info[m].destination or ""), m)
                shown = sorted(firsts.values(), key=lambda m: (info[m].index, m))
                leader, moves = shown[0], False
                parts = [f"{_name(m)} ({info[m].rule}: {info[m].destination}/)" for m in shown]
                disagree = (" and ".join(parts) + " disagree; to move the group, add a rule above theirs "
                            f"(or a `subfolders:` entry) sending {_name(shown[1])} to "
                            f"{info[shown[0]].destination}/, or {_name(shown[0])} to {info[shown[1]].destination}/")
            else:
                # Most votes; ties: the votes of the other members, then rule order.
                votes = Counter(info[m].destination for m in voters)
                side = Counter(info[m].destination for m in members
                               if m not in voters and info[m].destination is not None)
                leader = min(voters, key=lambda m: (-votes[info[m].destination], -side[info[m].destination],
                                                    info[m].index, m))
                moves = True
        for m in members:
            reason = _reason(m, leader, is_tree and leader == roots[0], moves, graph, users_of, anchored, disagree)
            out[m] = GroupDecision(leader=leader, moves=moves, reason=reason, needs_exact_name=m in users_of)
    return out


def _reason(m: str, leader: str, is_tree: bool, moves: bool, graph: Graph,
            users_of: dict[str, list[tuple[str, str]]], anchored: list[str], disagree: str = "") -> str:
    """Why ``m`` goes (or stays) with ``leader``, in the words of the plan's rule column."""
    tail = ""
    if not moves:
        if anchored:
            a = anchored[0]
            name, kind = graph.anchors[a][0]
            verb = {"import": "imports", "pin": "is run by"}.get(kind, "names")
            tail = f"; {_name(a)} {verb} {name}, which does not move"
        elif disagree:
            tail = f"; {disagree}"
        else:
            tail = f"; {_name(leader)} stays"
    if m == leader:
        return tail[2:] if not moves else ""
    users = users_of.get(m, [])
    if is_tree and len(users) == 1:
        return f"follows {_name(users[0][0])}" + tail
    mine = dict(graph.uses.get(m, []))
    theirs = dict(graph.uses.get(leader, []))
    if any(u == leader for u, _ in users):
        names = sorted({_name(u) for u, _ in users})
        kind = next(k for u, k in users if u == leader)
        by = {"import": "imported by", "link": "linked to by", "run": "run by"}.get(kind, "read by")
        why = f"{by} {' and '.join(names)}" if len(names) <= 3 else f"{by} {names[0]} and {len(names) - 1} others"
    elif leader in mine:
        why = f"{_verb(mine[leader], True)} {_name(leader)}"
    else:
        shared = sorted(set(mine) & set(theirs))
        if shared:
            kind = theirs[shared[0]]
            why = f"both {_verb(kind, False)} {_name(shared[0])}"
        else:
            why = "linked through " + ", ".join(_name(x) for x in _path(m, leader, graph, users_of)[1:-1])
    return f"kept with {_name(leader)}: {why}" + tail


def _path(a: str, b: str, graph: Graph, users_of: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Shortest undirected path a .. b in the group (breadth first, names in order)."""
    prev: dict[str, str | None] = {a: None}
    queue = [a]
    for node in queue:
        if node == b:
            break
        nbrs = sorted({t for t, _ in graph.uses.get(node, [])} | {u for u, _ in users_of.get(node, [])})
        for n in nbrs:
            if n not in prev:
                prev[n] = node
                queue.append(n)
    path = [b]
    while prev.get(path[-1]) is not None:
        path.append(prev[path[-1]])  # type: ignore[arg-type]
    return path[::-1]
