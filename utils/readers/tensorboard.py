"""TensorBoard event files (`events.out.tfevents.*`), which the Trainer writes by default under
`<output_dir>/runs/<date>_<host>/`: every scalar, read with the `tensorboard`
package's own event reader (optional extra: `pip install -e '.[tensorboard]'`).

The experiment is the run folder: the one holding the `runs/` folder (the Trainer's output dir),
else the folder holding the file. Tags go through the Trainer's key rules (`eval/accuracy` is
`eval_accuracy`: task accuracy; `eval/runtime` is bookkeeping). When the same number is also in
the run's JSON files, the loader keeps the JSON one (TensorBoard stores float32). Each scalar's wall
time is its event's `wall_time` (seconds since the epoch, as the writer stamped it).

An event file is append-only: a sequence of records, each its length (uint64), a checksum of the
length, the serialized event and a checksum of it. A file that grew since it was read is read on
from the end of its last complete record (`record_end`, `_tail`), not from its start.
"""
from __future__ import annotations

import logging
import struct
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from utils.config import Config
from utils.errors import EvalFileError
from utils.readers import (EVAL, TRAIN, Record, experiment_mode, folder_condition, folder_experiment,
                           is_bookkeeping, lfs_pointer_message, reader, split_of, to_step, to_wall_time)
from utils.readers.hf_trainer import metric_records

NAME = "tensorboard"
MARK = "tfevents"
INSTALL = "pip install -e '.[tensorboard]'"
log = logging.getLogger(__name__)
_told = False


def _sniff(path: Path) -> bool:
    """An event file, when the tensorboard package is there to read it (else it is left alone,
    with one log line saying how to get the package)."""
    return path.name.startswith("events.out.tfevents.") and available()


def available() -> bool:
    """Is the optional `tensorboard` package installed? Says once how to get it when not."""
    global _told  # noqa: PLW0603 - one log line per process, not per file
    try:
        import tensorboard  # noqa: F401
        return True
    except ImportError:
        if not _told:
            log.warning("TensorBoard event files found but the tensorboard package is not installed; "
                        "they are left out (to read them: %s)", INSTALL)
            _told = True
        return False


def run_experiment(path: Path, root: Path, config: Config) -> str:
    """The Trainer's output dir for `<output_dir>/runs/<name>/events...`, else the run folder."""
    rel = path.relative_to(root).parts
    if len(rel) >= 3 and rel[-3] == "runs":  # <output_dir>/runs/<date>_<host>/events...
        return rel[-4] if len(rel) >= 4 else root.resolve().name
    return folder_experiment(path, root, experiment_mode(path, root, config, NAME), config)


def _numbers(events: Iterable) -> Iterator[tuple[int, str, float, float | None]]:
    """(step, tag, value, wall time) of every scalar of the events, in order; the wall time None
    when the event has none (`to_wall_time`)."""
    from tensorboard.util import tensor_util
    for event in events:
        for value in event.summary.value:
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                number = float(value.simple_value)
            elif kind == "tensor" and not value.tensor.tensor_shape.dim:
                try:
                    number = float(tensor_util.make_ndarray(value.tensor).item())
                except (TypeError, ValueError):  # a string or other non-number tensor
                    continue
            else:
                continue
            yield int(event.step), value.tag, number, to_wall_time(event.wall_time)


def scalars(path: Path) -> list[tuple[int, str, float, float | None]]:
    """(step, tag, value, wall time) of every scalar in an event file, in file order."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
    try:
        return list(_numbers(EventFileLoader(str(path)).Load()))
    except Exception as exc:  # noqa: BLE001 - the reader's own errors vary by version: name the file
        raise EvalFileError(f"{path}: not a readable TensorBoard event file ({type(exc).__name__}: {exc})") from None


_HEAD = 12  # a record: uint64 length, uint32 masked CRC-32C of it, the data, uint32 masked CRC-32C of the data


def record_end(fh: BinaryIO, size: int, start: int = 0) -> int | None:
    """The offset after the last complete record among the first `size` bytes of an event file,
    walking the records' length headers from `start` (a record boundary); None before the first
    record is complete. A record cut mid-write, or a header failing its checksum, ends the walk
    (tensorboard's reader stops there too)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    pos = start
    fh.seek(pos)
    while pos + _HEAD + 4 <= size:
        head = fh.read(_HEAD)
        if len(head) < _HEAD:
            break
        length, crc = struct.unpack("<QI", head)
        end = pos + _HEAD + length + 4
        if masked_crc32c(head[:8]) != crc or end > size:
            break
        fh.seek(end)
        pos = end
    return pos or None


def _records_from(path: Path, start: int) -> Iterator[bytes]:
    """The serialized events of the complete records from byte `start` (a record boundary) on,
    checked as tensorboard's reader checks them: a record cut mid-write or failing a checksum ends
    the read (it is read once complete)."""
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
    with open(path, "rb") as fh:
        fh.seek(start)
        data = fh.read()
    pos = 0
    while pos + _HEAD + 4 <= len(data):
        length, crc = struct.unpack_from("<QI", data, pos)
        body, end = pos + _HEAD, pos + _HEAD + length
        if masked_crc32c(data[pos:pos + 8]) != crc or end + 4 > len(data):
            return
        record = data[body:end]
        if masked_crc32c(record) != struct.unpack_from("<I", data, end)[0]:
            return
        yield record
        pos = end + 4


def scalars_from(path: Path, start: int) -> list[tuple[int, str, float, float | None]]:
    """(step, tag, value, wall time) of every scalar in the records from byte `start` (a record boundary) on,
    through the same read-time compat layers as tensorboard's EventFileLoader."""
    from tensorboard import data_compat, dataclass_compat
    from tensorboard.compat.proto import event_pb2

    def events() -> Iterator:
        seen: dict = {}  # tag -> its first metadata, as EventFileLoader keeps it
        for record in _records_from(path, start):
            yield from dataclass_compat.migrate_event(data_compat.migrate_event(event_pb2.Event.FromString(record)),
                                                      seen)
    try:
        return list(_numbers(events()))
    except Exception as exc:  # noqa: BLE001 - a malformed event: name the file
        raise EvalFileError(f"{path}: not a readable TensorBoard event file ({type(exc).__name__}: {exc})") from None


_TRAINER_TAG = {"eval": "eval_", "train": "", "test": "test_", "predict": "predict_"}


def _tail(path: Path, root: Path, config: Config, start: int) -> list[Record]:
    """The scalars of the records appended after byte `start` (the end of the last complete record
    of the last read)."""
    return _records(path, root, config, scalars_from(path, start))


@reader(NAME, "TensorBoard event files (every scalar), with the optional tensorboard package",
        sniff=_sniff, experiment_from=("top", "run"), accepts=lambda name: name.startswith("events.out.tfevents."),
        tail=_tail, tail_end=record_end)
def read_tensorboard(path: Path, root: Path, config: Config) -> list[Record]:
    """Read every scalar of one event file. The Trainer's `train/*`, `eval/*`, `test/*` tags go
    through its key rules (`eval/loss` is the evaluation set's loss, `train/loss` the training
    loss, `train/epoch` bookkeeping); other tags are named by their split marker (`val/acc`, a
    Ray trial's `ray/tune/loss`) and are training numbers without one."""
    message = lfs_pointer_message(path)
    if message:
        raise EvalFileError(message)
    if not available():
        raise EvalFileError(f"{path}: the tensorboard package is not installed ({INSTALL})")
    return _records(path, root, config, scalars(path))


def _records(path: Path, root: Path, config: Config,
             numbers: list[tuple[int, str, float, float | None]]) -> list[Record]:
    """Records of an event file's (step, tag, value, wall time) scalars (see `read_tensorboard`)."""
    experiment = run_experiment(path, root, config)
    condition = folder_condition(path, root, config, skip=experiment) or EVAL
    by_step: dict[int, dict[str, float]] = {}
    walls: dict[int, dict[str, float | None]] = {}  # the wall times of by_step's numbers
    other: dict[tuple[str, str, int], tuple[float, float | None]] = {}
    for step, tag, number, when in numbers:
        if to_step(step) is None:
            continue
        head_, _, rest = tag.partition("/")
        if head_ in _TRAINER_TAG and rest:
            key = _TRAINER_TAG[head_] + rest
            by_step.setdefault(step, {})[key] = number  # a later write wins
            walls.setdefault(step, {})[key] = when
            continue
        name = tag[len("ray/tune/"):] if tag.startswith("ray/tune/") else tag
        if is_bookkeeping(name):
            continue
        cond, metric = split_of(name, TRAIN)
        other[(cond, metric, step)] = (number, when)
    records: list[Record] = []
    for step, metrics in sorted(by_step.items()):
        records += metric_records(metrics, experiment, condition, step, config, walls=walls[step])
    for (cond, metric, step), (number, when) in other.items():
        records.append(Record(experiment, cond, metric, step, metric, "value", number, when))
    return records
