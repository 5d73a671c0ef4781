"""What the planner knows about one candidate file: its name and (lazily) its content.

Content is read at most once, only when a rule or the figure-follows-script logic
needs it, never through a symlink, and only the first ``MAX_CONTENT_BYTES``.
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass
from functools import cached_property

MAX_CONTENT_BYTES = 1 << 20  # 1 MiB is plenty for scripts; bigger files are data
_BINARY_SNIFF = 8192

_IMPORT_RE = re.compile(r"""^[\s"']*import[ \t]+([\w.]+(?:[ \t]+as[ \t]+\w+)?(?:[ \t]*,[ \t]*[\w.]+(?:[ \t]+as[ \t]+\w+)?)*)""", re.M)
_FROM_RE = re.compile(r"""^[\s"']*from[ \t]+([\w.]+)[ \t]+import[ \t]+\(?[ \t]*([\w \t,]*)""", re.M)
_DEF_RE = re.compile(r"""^[\s"']*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)""", re.M)
_CAMEL_RE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_TOKEN_SPLIT_RE = re.compile(r"[\W_]+")
_PRINTF_RE = re.compile(r"%(?:\([^)]*\))?[-#0 +]*\d*(?:\.\d+)?[sdifgeExXr]")
_BRACES_RE = re.compile(r"\{[^{}]*\}")
_MIN_PATTERN_LITERAL = 3


def split_extension(name: str) -> tuple[str, str]:
    """``"a.b.png"`` -> ``("a.b", ".png")``; a leading dot is not an extension."""
    dot = name.rfind(".")
    if dot <= 0:
        return name, ""
    return name[:dot], name[dot:]


def normalize_stem(name: str) -> str:
    """Lower-case word tokens of the name without its extension, joined by ``_``.

    ``"plotFT1-Heatmap v2.py"`` -> ``"plot_ft1_heatmap_v2"``; used by keyword matching.
    """
    stem, _ = split_extension(name)
    stem = _CAMEL_RE.sub("_", stem)
    return "_".join(t for t in _TOKEN_SPLIT_RE.split(stem.lower()) if t)


@dataclass(frozen=True)
class FigureRef:
    """An image file name a script mentions: exact, or a pattern from an f-string/format string."""

    text: str
    regex: re.Pattern[str] | None  # None: exact name

    @property
    def exact(self) -> bool:
        return self.regex is None

    def matches(self, name: str) -> bool:
        return name == self.text if self.regex is None else bool(self.regex.fullmatch(name))


def figure_ref_from_literal(literal: str, extensions: tuple[str, ...]) -> FigureRef | None:
    """Turn a string literal such as ``f"{out}/ft1_{task}_heatmap.png"`` into a :class:`FigureRef`.

    Placeholders (``{...}``, ``%s``) become wildcards; the directory part is dropped
    (scripts usually prefix an output folder).  Patterns with fewer than three literal
    characters before the extension are ignored, so ``f"{name}.png"`` claims nothing.
    """
    base = literal.replace("\\\\", "/").rsplit("/", 1)[-1]
    if base.startswith(".") or not base.lower().endswith(extensions):
        return None
    templ = _BRACES_RE.sub("\0", base)
    templ = _PRINTF_RE.sub("\0", templ)
    if "\0" not in templ and "*" not in templ:
        stem, _ = split_extension(base)
        if not stem or "{" in base or "}" in base:
            return None
        return FigureRef(base, None)
    templ = templ.replace("*", "\0")
    stem, _ = split_extension(templ)
    if len(stem.replace("\0", "")) < _MIN_PATTERN_LITERAL:
        return None
    pieces = [re.escape(p) for p in templ.split("\0")]
    regex = re.compile(".*".join(pieces))
    return FigureRef(re.sub(r"\0+", "*", templ), regex)


def figure_literal_regex(extensions: tuple[str, ...]) -> re.Pattern[str]:
    """Regex finding quoted strings that end with one of ``extensions`` (JSON-escaped quotes too)."""
    alts = "|".join(re.escape(e.lstrip(".")) for e in sorted(extensions, key=len, reverse=True))
    return re.compile(r"""(["'])([^"'\n]{0,400}?\.(?:""" + alts + r"""))\\?\1""", re.IGNORECASE)


class FileInfo:
    """A candidate entry (regular file or symlink) with lazily computed facts."""

    __slots__ = ("name", "rel", "path", "is_regular", "is_symlink", "__dict__")

    def __init__(self, name: str, rel: str, path: str, is_regular: bool, is_symlink: bool) -> None:
        self.name = name
        self.rel = rel
        self.path = path
        self.is_regular = is_regular
        self.is_symlink = is_symlink

    def __repr__(self) -> str:
        return f"FileInfo({self.rel!r})"

    @cached_property
    def lower_name(self) -> str:
        return self.name.lower()

    @cached_property
    def normalized_stem(self) -> str:
        return normalize_stem(self.name)

    @cached_property
    def text(self) -> str | None:
        """Up to 1 MiB of the file as text; ``None`` for symlinks, binary or unreadable files."""
        if not self.is_regular:
            return None
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            chunks = []
            remaining = MAX_CONTENT_BYTES
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 16))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
        except OSError:
            return None
        finally:
            os.close(fd)
        data = b"".join(chunks)
        if b"\0" in data[:_BINARY_SNIFF]:
            return None
        return data.decode("utf-8", errors="replace")

    @cached_property
    def code_text(self) -> str | None:
        """The text as code: for a notebook, its code cells' sources joined (else the raw text)."""
        text = self.text
        if not text or not self.lower_name.endswith(".ipynb"):
            return text
        try:
            cells = json.loads(text).get("cells")
            parts = []
            for cell in cells:
                if isinstance(cell, dict) and cell.get("cell_type", "code") == "code":
                    src = cell.get("source", "")
                    parts.append("".join(s for s in src if isinstance(s, str)) if isinstance(src, list) else str(src))
            return "\n".join(parts)
        except (ValueError, AttributeError, TypeError):
            return text

    @cached_property
    def imported_modules(self) -> frozenset[str]:
        """Dotted module names imported by ``import x`` / ``from x import y`` (also ``x.y``)."""
        text = self.code_text
        if not text:
            return frozenset()
        mods: set[str] = set()
        for m in _IMPORT_RE.finditer(text):
            for part in m.group(1).split(","):
                mods.add(part.split()[0].strip())
        for m in _FROM_RE.finditer(text):
            mod = m.group(1)
            mods.add(mod)
            for name in m.group(2).split(","):
                words = name.split()
                if words:
                    mods.add(f"{mod}.{words[0]}")
        return frozenset(mods)

    def imports_any(self, modules: tuple[str, ...]) -> bool:
        """True when the file imports one of ``modules`` or a submodule of it."""
        imported = self.imported_modules
        if not imported:
            return False
        for want in modules:
            if want in imported:
                return True
            prefix = want + "."
            if any(m.startswith(prefix) for m in imported):
                return True
        return False

    @cached_property
    def defined_names(self) -> tuple[str, ...]:
        text = self.text
        return tuple(m.group(1) for m in _DEF_RE.finditer(text)) if text else ()

    def defines_any(self, prefixes: tuple[str, ...]) -> bool:
        """True when a ``def``/``class`` name starts with one of ``prefixes``."""
        return any(n.startswith(prefixes) for n in self.defined_names)

    def figure_refs(self, literal_re: re.Pattern[str], extensions: tuple[str, ...]) -> list[FigureRef]:
        """Image names this script mentions in string literals, in order of appearance."""
        text = self.text
        if not text:
            return []
        refs: list[FigureRef] = []
        seen: set[str] = set()
        for m in literal_re.finditer(text):
            ref = figure_ref_from_literal(m.group(2), extensions)
            if ref is not None and ref.text not in seen:
                seen.add(ref.text)
                refs.append(ref)
        return refs
