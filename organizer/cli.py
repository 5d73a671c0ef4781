"""Command line: ``organizer tidy DIR``, ``check DIR``, ``undo DIR`` and ``watch DIR``.

Exit codes: 0 all planned moves happened (or nothing to do); 1 some could not
(each named, nothing lost), or the check after the moves found scripts that may no
longer run from their folder (``organizer check DIR`` alone: 1 when it finds any);
2 usage, rules-file or folder-state errors (one line,
no traceback); 130 interrupted; 141 stdout closed early (output is printed after
the work is done, so the tidy or undo itself completed).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
from pathlib import Path
from typing import NoReturn, Sequence

from . import __version__
from .errors import OrganizerError, UsageError
from .check import check_folder
from .report import check_lines, moves_json, moves_table, tidy_details, tidy_summary, undo_lines
from .rules import resolve_rules
from .tidy import run_tidy
from .undo import run_undo
from .watch import DEFAULT_QUIET, watch_folder

PROG = "organizer"


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for docs and tests)."""
    parser = _Parser(
        prog=PROG,
        description="Sort the loose files of a research scratch folder into subfolders by rules, "
                    "safely and undoably.",
        epilog="Exit codes: 0 done, 1 some moves failed (each named; nothing lost) or the check "
               "found scripts that may not run from their new folder, "
               "2 usage/rules/state error. See docs/organizer.md.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    tidy = sub.add_parser("tidy", help="move loose files into folders by rules",
                          description="Move the loose files at the top of DIR into subfolders by rules. "
                                      "Rules: --rules FILE, else DIR/rules.yaml, else ./rules.yaml "
                                      "(its 'tidy' section), else the shipped defaults.")
    tidy.add_argument("dir", metavar="DIR", help="the folder to tidy")
    tidy.add_argument("--rules", metavar="FILE", help="rules file (YAML with a 'tidy' section)")
    tidy.add_argument("--dry-run", action="store_true", help="print the plan, move nothing")
    tidy.add_argument("--json", action="store_true",
                      help="print only a JSON list of {source, destination, rule} on stdout")
    tidy.add_argument("--why", action="store_true",
                      help="add a WHY column: the evidence for each move (figure of, follows, like ...)")
    tidy.add_argument("--recursive", action="store_true",
                      help="also move files from subfolders (not hidden ones, not rule destinations)")
    tidy.set_defaults(func=_cmd_tidy)

    undo = sub.add_parser("undo", help="revert the latest tidy of DIR",
                          description="Restore the layout from before the latest tidy of DIR "
                                      "(tidies stack; run undo again for the one before).")
    undo.add_argument("dir", metavar="DIR", help="the folder that was tidied")
    undo.set_defaults(func=_cmd_undo)

    watch = sub.add_parser("watch", help="keep DIR tidy: place each new file once it is quiet (Ctrl-C stops)",
                           description="Watch DIR and place each new file at its top once it has been quiet "
                                       "for --quiet seconds, with the same plan, journal and undo as tidy "
                                       "(each placement is one tidy; 'organizer undo DIR' reverts the latest). "
                                       "A file you move back by hand is left alone from then on.")
    watch.add_argument("dir", metavar="DIR", help="the folder to keep tidy")
    watch.add_argument("--rules", metavar="FILE", help="rules file (YAML with a 'tidy' section)")
    watch.add_argument("--quiet", metavar="SECONDS", type=float, default=DEFAULT_QUIET,
                       help=f"how long a new file must be unchanged before it is placed (default {DEFAULT_QUIET:g})")
    watch.add_argument("--poll", metavar="SECONDS", type=float, default=None,
                       help="poll every SECONDS instead of using the system's file events")
    watch.set_defaults(func=_cmd_watch)

    check = sub.add_parser("check", help="do the scripts the latest tidy of DIR moved still work?",
                           description="For the scripts and links the latest tidy of DIR moved (and those left "
                                       "in the folders it took files from): Python files compile, sibling "
                                       "imports and the files they name (quoted, or unquoted in shell, job "
                                       "and Make scripts) are beside them, links resolve. Exit 1 if not, "
                                       "each problem listed.")
    check.add_argument("dir", metavar="DIR", help="the folder that was tidied")
    check.set_defaults(func=_cmd_check)
    return parser


def _folder(raw: str) -> Path:
    p = Path(raw)
    if not os.path.lexists(p):
        raise UsageError(f"{raw}: no such folder")
    if not p.is_dir():
        raise UsageError(f"{raw}: not a folder")
    return Path(os.path.realpath(p))


def _out(*lines: str) -> None:
    for line in lines:
        print(line)


def _err(*lines: str) -> None:
    for line in lines:
        print(line, file=sys.stderr)


def _cmd_tidy(args: argparse.Namespace) -> int:
    root = _folder(args.dir)
    explicit = Path(args.rules) if args.rules else None
    rules, description = resolve_rules(explicit, root, Path.cwd())
    if args.recursive:
        rules = dataclasses.replace(rules, recursive=True)
    _err(f"{PROG}: rules: {description}")
    result = run_tidy(root, rules, dry_run=args.dry_run)
    moves = result.plan.moves if result.dry_run else result.done
    details = tidy_details(result)
    summary = tidy_summary(result)
    if args.json:
        _out(moves_json(moves))
        _err(*details, summary)
    else:
        if result.dry_run:
            _out("dry run: nothing was moved")
        _out(moves_table(moves, why=args.why) if moves else "nothing to move")
        _out(*details, summary)
    return 0 if result.ok and not result.problems else 1


def _cmd_watch(args: argparse.Namespace) -> int:
    root = _folder(args.dir)
    if args.quiet < 0 or (args.poll is not None and args.poll <= 0):
        raise UsageError("--quiet must be >= 0 and --poll > 0 seconds")
    explicit = Path(args.rules) if args.rules else None
    rules, description = resolve_rules(explicit, root, Path.cwd())
    _err(f"{PROG}: rules: {description}")
    stop = threading.Event()

    def on_sigint(signum: int, frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        def report(line: str) -> None:
            _out(line)
            sys.stdout.flush()

        stats = watch_folder(root, rules, quiet=args.quiet, stop=stop, report=report, poll=args.poll,
                             on_ready=lambda: report(f"watching {root}: new files are placed after "
                                                     f"{args.quiet:g}s quiet; Ctrl-C stops"))
    finally:
        signal.signal(signal.SIGINT, previous)
    _out(f"stopped watching {root}: placed {len(stats.placed)} in {stats.tidies} tidies "
         f"('{PROG} undo DIR' reverts the latest), left alone {len(stats.left_alone)}, "
         f"failures {len(stats.failed)}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    root = _folder(args.dir)
    result = check_folder(root)
    _out(*check_lines(result))
    return 0 if result.ok else 1


def _cmd_undo(args: argparse.Namespace) -> int:
    root = _folder(args.dir)
    result = run_undo(root)
    _out(*undo_lines(result))
    return 0 if result.ok else 1


def _setup_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``organizer`` command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return 2
    _setup_streams()
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # surface a closed pipe here, not at interpreter exit
        return code
    except OrganizerError as exc:
        _err(f"{PROG}: error: {exc}")
        return exc.exit_code
    except BrokenPipeError:
        # stdout closed early (e.g. piped into `head`); output comes after the work is done.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted; run '{PROG} undo DIR' to restore the previous layout")
        return 130
