"""What a run was asked to do (`Options`) and what it did (`RunReport`): the run's input and the
summary, exit code and manifest record made from its outcome."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class RunReport:
    files: int = 0
    parsed: int = 0
    problems: list[str] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    planned: int = 0
    rendered: list[str] = field(default_factory=list)
    up_to_date: int = 0
    removed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (output, reason)
    seconds: float = 0.0
    strict: bool = False
    fast: bool = False  # nothing changed: the input stamp held, no data was loaded
    interrupted: bool = False  # stopped (Ctrl-C, SIGTERM) before every output was drawn
    problem_paths: list[Path] = field(default_factory=list)  # the files behind `problems`
    changed: list[str] = field(default_factory=list)  # evaluation files parsed anew this run
    gone: list[str] = field(default_factory=list)  # evaluation files gone since the last run
    deferred: list[Path] = field(default_factory=list)  # unreadable and still being written: retry
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase, for profiling
    notes: list[str] = field(default_factory=list)  # per file: values read as missing (non-finite)
    conflicts: list[str] = field(default_factory=list)  # per pair of files giving one record two values
    info: list[str] = field(default_factory=list)  # said once: how the data was read (the seed numbering)
    empty: list[str] = field(default_factory=list)  # files a reader took that gave no record

    @property
    def read(self) -> int:
        """Evaluation files whose numbers are in the table (the unreadable and the empty ones are not)."""
        return self.files - len(self.problems) - len(self.empty)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or (self.strict and self.problems) else 0

    def summary(self) -> str:
        files = f"{self.files} evaluation file{_s(self.files)}"
        if self.fast:
            parts = [f"{files} (unchanged)"]
        else:
            parts = [f"{files}, {self.read} read" + (f" ({self.parsed} parsed anew)"
                                                     if self.parsed != self.files else "")]
        if self.empty and not self.fast:
            parts.append(f"{len(self.empty)} read but empty")
        if self.problems:
            parts.append(f"{len(self.problems)} skipped as unreadable")
        parts += [f"{len(self.rendered)} output{_s(len(self.rendered))} written", f"{self.up_to_date} up to date"]
        if self.removed:
            parts.append(f"{len(self.removed)} stale removed")
        if self.failed:  # the reasons are on the FAILED lines
            names = [o for o, _ in self.failed]
            parts.append(f"{len(names)} FAILED: " + ", ".join(names[:3]) + (f" + {len(names) - 3} more"
                                                                              if len(names) > 3 else ""))
        if self.interrupted:
            parts.append("interrupted")
        return ", ".join(parts) + f" in {self.seconds:.2f}s"


def _s(n: int) -> str:
    return "" if n == 1 else "s"


@dataclass
class Options:
    data: Path
    out: Path
    only: tuple[str, ...] = ()
    jobs: int = 0  # 0 = all cores
    force: bool = False
    strict: bool = False
    progress: bool = True


