"""The last load kept on disk (`<out>/.cache/table.npz`), so that a rerun after a few changed files
reads just those into it (utils/reloading.py) instead of building the table of every file again
(and without unpickling the parse cache of every file: at 100,000 files that is most of a rerun's
load).

Saved only by a run that read exactly the files its listing stamped, with those stamps: its content
is what a load of those files gives, so a later run whose listing differs in a few files' stamps
only needs those files read. The arrays are numpy's own format (an `np.savez` archive, stored
uncompressed, each array's data 64-byte aligned in the file) and the rest JSON. A reader maps the
file copy-on-write and takes each array where it lies, its CRC checked (`read_arrays`): no copy is
made of the 230 MB a 100,000-file sweep keeps, and a reload's splice of a few files' rows writes
over those rows alone (utils/reloading.py). No object array is read: a corrupt or foreign file is
ignored (the run loads whole), never executed.
"""
from __future__ import annotations

import dataclasses
import io
import json
import logging
import mmap
import os
import struct
import threading
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import numpy as np
import pandas as pd

from utils.atomic import atomic_open
from utils.config import Config
from utils.filestamp import content_digest
from utils.labels import codes_of, kept_categories
from utils.loading import _CACHE_VERSION, FileStatus, LoadResult, Problem, reading_rules

log = logging.getLogger(__name__)

VERSION = "table-1"
Stamps = dict[str, tuple[int, int]]  # file -> (size, mtime_ns) as the run that saved it listed it
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature, name and extra lengths
ALIGN = 64  # where each array's data starts in the file: a multiple of this (as numpy pads a .npy header)
_PADDING = 0xD935  # the id of the extra field that aligns a member's data (Android's zipalign uses it too)
# mapped where a file can be replaced while mapped (POSIX): on Windows a run could not save the next
# table over the one its frame maps
MAP = os.name == "posix"


@dataclass
class SavedTable:
    """A saved load, with the stamps of the files it read: `stamp_paths` and the (size, mtime_ns)
    rows of `stamps` in the same order (the listing's, so a rerun compares them as arrays)."""

    stamp_paths: list[str]
    stamps: np.ndarray
    racy: dict[str, str]
    result: LoadResult
    # the arrays behind `result.frame`'s columns (a categorical's codes), as read: writable, and
    # this load's alone (as is `result.row_hashes`): a reload may splice into them (utils/reloading.py)
    columns: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)

    def stamp_dict(self) -> Stamps:
        """file -> (size, mtime_ns)."""
        return {p: (size, mtime) for p, (size, mtime) in zip(self.stamp_paths, self.stamps.tolist())}

    def changed(self, listing: list[tuple]) -> list[tuple] | None:
        """The rows of `listing` ((path, root-relative path, size, mtime_ns), as `utils.walk`
        lists) whose file changed since the save: another stamp, or a racy file whose content
        digest differs. None when the listing holds another set of files (one added, removed or
        gone before its stat): the table cannot be spliced. Listed in the saved order, the stamps
        are compared as arrays (0.3 s of dictionaries and tuples less at 100,000 files)."""
        paths = [row[0] for row in listing]
        try:
            now = np.fromiter((n for row in listing for n in row[2:4]), dtype=np.int64,
                              count=2 * len(listing)).reshape(-1, 2)
        except TypeError:  # a file gone before its stat: no size
            return None
        if paths == self.stamp_paths:
            differ = set(np.flatnonzero((now != self.stamps).any(axis=1)).tolist())
        else:
            stamps = self.stamp_dict()
            if len(stamps) != len(listing) or any(p not in stamps for p in paths):
                return None
            differ = {i for i, row in enumerate(listing) if stamps[row[0]] != (row[2], row[3])}
        if self.racy:  # a file rewritten within its mtime's granularity has the same stamp: its content tells
            differ |= {i for i, p in enumerate(paths) if p in self.racy and content_digest(Path(p)) != self.racy[p]}
        return [listing[i] for i in sorted(differ)]


def table_key(config: Config, root: Path) -> str:
    """What a saved table depends on besides its files: the reading rules, the folders skipped, the
    data root, the parse format and the pandas version."""
    return json.dumps([_CACHE_VERSION, reading_rules(config), sorted(map(str, config.skip)), str(root.resolve()),
                       pd.__version__])


def save_table(path: Path, result: LoadResult, stamps: Stamps, racy: dict[str, str], key: str) -> None:
    """Write the load `result` of the files `stamps` lists (`racy`: the content digests of those
    whose stamp was too recent to vouch for them), under `key` (what reading them depends on)."""
    write_arrays(path, table_arrays(result, stamps, racy, key))


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The arrays of `table_arrays` into `path`, atomically (file I/O only: a thread can do it), as
    `np.savez` writes them (`np.load` reads the file) but with each array's data starting at a
    multiple of `ALIGN` bytes: a zip extra field pads each member's local header, so `read_arrays`
    can map the arrays where they lie."""
    with atomic_open(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            array = np.ascontiguousarray(array)
            header = io.BytesIO()
            np.lib.format.write_array_header_1_0(header, np.lib.format.header_data_from_array_1_0(array))
            info = zipfile.ZipInfo(f"{name}.npy")
            info.file_size = header.tell() + array.nbytes
            # as zipfile decides it: a member that may pass 4 GB gets a zip64 field (20 bytes) after ours
            zip64 = info.file_size * 1.05 > zipfile.ZIP64_LIMIT
            at = fh.tell() + _LOCAL_HEADER.size + len(info.filename.encode()) + 4 + (20 if zip64 else 0)
            pad = -(at + header.tell()) % ALIGN
            info.extra = struct.pack("<HH", _PADDING, pad) + bytes(pad)
            with archive.open(info, "w", force_zip64=zip64) as member:
                member.write(header.getvalue())
                member.write(memoryview(array).cast("B") if array.size else b"")


def table_arrays(result: LoadResult, stamps: Stamps, racy: dict[str, str], key: str) -> dict[str, np.ndarray]:
    """What `save_table` writes, as arrays: the frame's columns (codes and numbers, no copy) and,
    column by column, the long lists (paths, statuses, stamps) as NUL-joined text and integer
    arrays, not a JSON value a file; the rest as JSON."""
    frame = result.frame
    arrays: dict[str, np.ndarray] = {}
    cats: dict[str, list[str]] = {}
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype):
            cats[col] = frame[col].cat.categories.tolist()
            arrays[f"codes:{col}"] = codes_of(frame[col])
        else:
            arrays[f"values:{col}"] = frame[col].to_numpy()
    if result.row_hashes is not None and len(result.row_hashes) == len(frame):
        arrays["row_hashes"] = result.row_hashes
    statuses = result.statuses
    arrays["paths"] = _text(result.paths)
    arrays["status_paths"] = _text([f.path for f in statuses])
    arrays["status_records"] = np.array([f.records for f in statuses], dtype=np.int64)
    arrays["stamp_paths"] = _text(list(stamps))
    arrays["stamps"] = np.array(list(stamps.values()), dtype=np.int64).reshape(len(stamps), 2)
    meta = {"version": VERSION, "key": key, "columns": list(frame.columns), "categories": cats,
            "rows": len(frame), "readers": [f.reader for f in statuses], "status": [f.status for f in statuses],
            "reasons": [f.reason for f in statuses],
            "problems": [[str(p.path), p.reason] for p in result.problems],
            "notes": [[str(p.path), p.reason] for p in result.notes],
            "partial": [[str(p.path), p.reason] for p in result.partial],
            "skipped": [str(p) for p in result.skipped], "racy": racy}
    arrays["meta"] = _text([json.dumps(meta)])
    return arrays


def _text(items: list[str]) -> np.ndarray:
    """Strings (none holding a NUL) as one array of UTF-8 bytes."""
    return np.frombuffer("\0".join(items).encode("utf-8", "surrogateescape"), dtype=np.uint8)


def _strings(array: np.ndarray) -> list[str]:
    text = array.tobytes().decode("utf-8", "surrogateescape")
    return text.split("\0") if text else []


def _mapped(fh: BinaryIO) -> mmap.mmap | None:
    """The open file mapped copy-on-write; None where it cannot be (a file system without mmap):
    then read."""
    try:
        return mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_COPY)
    except (OSError, ValueError):
        return None


def read_arrays(path: Path, mapped: bool = MAP, deferred: list | None = None) -> dict[str, np.ndarray]:
    """The arrays of an `np.savez` file, each with its CRC checked as the zip module checks it
    (`deferred`: not here; each member's check is appended to that list, for `checked_later`).
    `mapped`: the file is mapped copy-on-write (private: a write to an array changes this process's
    copy of its pages, never the file) and each aligned array taken where it lies (`write_arrays`
    aligns them); else, and for an unaligned one, read straight from the file into its array
    (`np.load` reads a member through the zip module, copying it twice: 0.64 s instead of 0.13-0.27 s
    for a sweep's 230 MB; mapped: ~0.08 s, and no memory of its own). Raises ValueError (or
    zipfile.BadZipFile, OSError) for anything else: a compressed or damaged member, an object array."""
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive, open(path, "rb") as fh:
        whole = _mapped(fh) if mapped else None
        for info in archive.infolist():
            if info.compress_type != zipfile.ZIP_STORED or not info.filename.endswith(".npy"):
                raise ValueError(f"member {info.filename} is not a stored .npy")
            fh.seek(info.header_offset)
            signature, name_len, extra_len = _LOCAL_HEADER.unpack(fh.read(_LOCAL_HEADER.size))
            if signature != b"PK\x03\x04":
                raise ValueError(f"member {info.filename} has no local header")
            start = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
            fh.seek(start)
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"member {info.filename} is .npy version {version}")
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read_header(fh)
            if dtype.hasobject or fortran:
                raise ValueError(f"member {info.filename} is an object or Fortran-ordered array")
            header = fh.tell() - start
            count = int(np.prod(shape, dtype=np.int64))
            nbytes = count * dtype.itemsize
            if header + nbytes != info.file_size:
                raise ValueError(f"member {info.filename} holds {info.file_size} bytes, not {header + nbytes}")
            fh.seek(start)
            crc = zlib.crc32(fh.read(header))
            at = start + header
            if whole is not None and count and at % ALIGN == 0 and at + nbytes <= len(whole):
                data = memoryview(whole)[at:at + nbytes]
                array = np.frombuffer(whole, dtype=dtype, count=count, offset=at).reshape(shape)
            else:
                array = np.empty(shape, dtype=dtype)
                data = memoryview(array).cast("B")
                if fh.readinto(data) != nbytes:
                    raise ValueError(f"member {info.filename} is cut short")
            if deferred is not None:
                deferred.append((info.filename, crc, data, info.CRC))
            else:
                if zlib.crc32(data, crc) != info.CRC:
                    raise ValueError(f"member {info.filename} fails its CRC")
                data.release()
            arrays[info.filename[:-4]] = array
    return arrays


def checked_later(checks: list) -> Callable[[], str | None]:
    """Check the CRCs `read_arrays(deferred=checks)` left in a thread (zlib lets go of the
    interpreter: the caller sets up the table meanwhile; 0.2 s for a sweep's 218 MB); the function
    returned waits for it and names the first member that fails, or gives None."""
    failed: list[str] = []

    def check() -> None:
        for name, crc, data, expected in checks:
            if not failed and zlib.crc32(data, crc) != expected:
                failed.append(name)
            data.release()
    thread = threading.Thread(target=check, name="table-crc")
    thread.start()

    def result() -> str | None:
        thread.join()
        return failed[0] if failed else None
    return result


def read_table(path: Path, key: str) -> SavedTable | None:
    """The load saved at `path` under `key`, with its stamps and racy digests; None when there is
    none, or it was saved under another key or version, or does not read back whole (then logged)."""
    if not path.is_file():
        return None
    checks: list = []
    pending = None  # the CRC check, running beside what follows
    try:
        saved = read_arrays(path, deferred=checks)
        pending = checked_later(checks)
        meta = json.loads(_strings(saved["meta"])[0])
        if meta.get("version") != VERSION or meta.get("key") != key:
            return None
        data, backing = {}, {}
        for col in meta["columns"]:
            if col in meta["categories"]:
                dtype = pd.CategoricalDtype(kept_categories(meta["categories"][col]))
                backing[col] = saved[f"codes:{col}"]
                data[col] = pd.Categorical.from_codes(backing[col], dtype=dtype)
            else:
                data[col] = backing[col] = saved[f"values:{col}"]
            if len(data[col]) != meta["rows"]:
                raise ValueError(f"column {col} has {len(data[col])} rows, not {meta['rows']}")
        columns = (_strings(saved["status_paths"]), meta["readers"], saved["status_records"].tolist(),
                   meta["status"], meta["reasons"])
        if len({len(c) for c in columns}) != 1:
            raise ValueError("status columns of different lengths")
        stamp_paths, numbers = _strings(saved["stamp_paths"]), saved["stamps"]
        if numbers.shape != (len(stamp_paths), 2) or numbers.dtype != np.int64:
            raise ValueError("stamps of different lengths")
        paths = _strings(saved["paths"])
        hashes = saved.get("row_hashes")
        if hashes is not None and (hashes.dtype != np.uint64 or len(hashes) != meta["rows"]):
            raise ValueError(f"row hashes of {hashes.dtype} for {len(hashes)} rows, not {meta['rows']}")
        result = LoadResult(
            frame=pd.DataFrame(data, columns=meta["columns"], copy=False), paths=paths,
            statuses=list(map(FileStatus._make, zip(*columns))),
            problems=[Problem(Path(p), r) for p, r in meta["problems"]],
            notes=[Problem(Path(p), r) for p, r in meta["notes"]],
            partial=[Problem(Path(p), r) for p, r in meta["partial"]],
            skipped=[Path(p) for p in meta["skipped"]], by_file=True, row_hashes=hashes)
        racy = {str(p): str(d) for p, d in meta["racy"].items()}
        member, pending = pending(), None
        if member is not None:
            raise ValueError(f"member {member} fails its CRC")
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, zipfile.BadZipFile) as exc:
        log.warning("saved table %s is unreadable (%s); loading every file", path, exc)
        return None
    finally:
        if pending is not None:  # never left reading the mapping
            pending()
    return SavedTable(stamp_paths, numbers, racy, result, backing)
