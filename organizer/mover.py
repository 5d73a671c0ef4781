"""Moves that never overwrite and never leave the tidied folder.

All paths are handled relative to directory file descriptors opened component by
component with ``O_NOFOLLOW``, so a folder swapped for a symlink makes the move
fail instead of writing elsewhere.  A move is, in order of preference:

1. ``renameat2(..., RENAME_NOREPLACE)`` (Linux): atomic, fails if the target exists;
2. ``link`` + ``unlink``: the link fails atomically if the target exists; a crash
   in between leaves two names for one inode, which undo recognises;
3. a re-check right before ``rename`` (file systems without hard links).

Entries are renamed, never copied: symlinks move as links (their targets are never
touched), permissions, owners and times stay, read-only files move like any other.
A move across file systems (a destination that is a mount point) fails cleanly.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import sys
from pathlib import Path
from typing import Callable

from .errors import MoveError

RENAME_NOREPLACE = 1
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)

Renameat2 = Callable[[int, str, int, str, int], None]


def _load_renameat2() -> Renameat2 | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int

    def renameat2(src_fd: int, src: str, dst_fd: int, dst: str, flags: int) -> None:
        if fn(src_fd, os.fsencode(src), dst_fd, os.fsencode(dst), flags) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), src, None, dst)

    return renameat2


#: Module-level so tests can disable it to exercise the fallbacks.
renameat2: Renameat2 | None = _load_renameat2()


def split_rel(rel: str) -> tuple[str, str]:
    """``"a/b/c.py"`` -> ``("a/b", "c.py")``."""
    if "/" in rel:
        d, n = rel.rsplit("/", 1)
        return d, n
    return "", rel


RELINK_PREFIX = ".organizer-relink-"


def relink_temp_name(name: str) -> str:
    """The temporary link :meth:`Mover.relink` creates beside ``name`` (left over only by a crash)."""
    return (RELINK_PREFIX + name)[:255]


class Mover:
    """Safe file-system operations inside one root folder, via cached directory fds."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_fd = os.open(root, _DIR_FLAGS)
        self._fds: dict[str, int] = {"": self._root_fd}
        self.method_counts: dict[str, int] = {}

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()

    def __enter__(self) -> "Mover":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ fds

    def dir_fd(self, rel_dir: str) -> int:
        """An fd for ``rel_dir``, opened without following any symlink on the way."""
        fd = self._fds.get(rel_dir)
        if fd is not None:
            return fd
        parent, name = split_rel(rel_dir)
        pfd = self.dir_fd(parent)
        fd = os.open(name, _DIR_FLAGS | _NOFOLLOW, dir_fd=pfd)
        self._fds[rel_dir] = fd
        return fd

    def forget(self, rel_dir: str) -> None:
        """Drop cached fds for ``rel_dir`` and below (after it was removed)."""
        for key in [k for k in self._fds if k and (k == rel_dir or k.startswith(rel_dir + "/"))]:
            os.close(self._fds.pop(key))

    # ------------------------------------------------------------------ queries

    def lstat(self, rel: str) -> os.stat_result | None:
        """``lstat`` of ``rel`` or ``None`` if it (or a parent folder) is missing."""
        d, n = split_rel(rel)
        try:
            return os.stat(n, dir_fd=self.dir_fd(d), follow_symlinks=False)
        except FileNotFoundError:
            return None
        except NotADirectoryError:
            return None

    def is_empty_dir(self, rel: str) -> bool:
        try:
            fd = self.dir_fd(rel)
        except OSError:
            return False
        return not os.listdir(fd)

    # ------------------------------------------------------------------ changes

    def mkdir(self, rel_dir: str) -> bool:
        """Create ``rel_dir``; True if created, False if it already was a real folder."""
        parent, name = split_rel(rel_dir)
        try:
            os.mkdir(name, 0o777, dir_fd=self.dir_fd(parent))
            return True
        except FileExistsError:
            st = self.lstat(rel_dir)
            if st is not None and stat.S_ISDIR(st.st_mode):
                return False
            raise MoveError(f"cannot create folder '{rel_dir}': something that is not a folder is in the way") from None
        except OSError as exc:
            raise MoveError(f"cannot create folder '{rel_dir}': {exc.strerror}") from None

    def rmdir(self, rel_dir: str) -> bool:
        """Remove ``rel_dir`` if it is an empty folder; True if removed."""
        parent, name = split_rel(rel_dir)
        self.forget(rel_dir)
        try:
            os.rmdir(name, dir_fd=self.dir_fd(parent))
            return True
        except OSError:
            return False

    def relink(self, rel: str, text: str) -> None:
        """Re-point the symlink ``rel`` to ``text``: a new link beside it, renamed over it (atomic)."""
        d, n = split_rel(rel)
        dfd = self.dir_fd(d)
        st = os.stat(n, dir_fd=dfd, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            raise MoveError(f"{rel}: is no longer a symlink; not re-pointing it")
        tmp = relink_temp_name(n)
        try:
            os.symlink(text, tmp, dir_fd=dfd)
            try:  # keep the link's own times (a new link would get "now")
                os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dfd, follow_symlinks=False)
            except (OSError, NotImplementedError):
                pass
            os.rename(tmp, n, src_dir_fd=dfd, dst_dir_fd=dfd)
        except OSError as exc:
            try:
                os.unlink(tmp, dir_fd=dfd)
            except OSError:
                pass
            raise MoveError(f"{rel}: cannot re-point the link: {exc.strerror}") from None

    def readlink(self, rel: str) -> str | None:
        """The text of the symlink ``rel``, or ``None``."""
        d, n = split_rel(rel)
        try:
            return os.readlink(n, dir_fd=self.dir_fd(d))
        except OSError:
            return None

    def unlink(self, rel: str) -> None:
        d, n = split_rel(rel)
        os.unlink(n, dir_fd=self.dir_fd(d))

    def move(self, src: str, dst: str) -> str:
        """Move ``src`` to ``dst`` (relative paths) without ever replacing ``dst``.

        Returns the method used; raises :class:`MoveError` with the reason otherwise.
        """
        sd, sn = split_rel(src)
        dd, dn = split_rel(dst)
        try:
            sfd = self.dir_fd(sd)
            dfd = self.dir_fd(dd)
        except OSError as exc:
            raise MoveError(f"{src} -> {dst}: folder unusable ({exc.strerror})") from None

        method = None
        if renameat2 is not None:
            try:
                renameat2(sfd, sn, dfd, dn, RENAME_NOREPLACE)
                method = "renameat2"
            except OSError as exc:
                if exc.errno == errno.EEXIST:
                    raise MoveError(f"{dst} already exists; not overwriting it ({src} stays)") from None
                if exc.errno not in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
                    raise MoveError(f"{src} -> {dst}: {exc.strerror}") from None
        if method is None:
            method = self._move_fallback(src, dst, sfd, sn, dfd, dn)
        self.method_counts[method] = self.method_counts.get(method, 0) + 1
        return method

    def _move_fallback(self, src: str, dst: str, sfd: int, sn: str, dfd: int, dn: str) -> str:
        try:
            st = os.stat(sn, dir_fd=sfd, follow_symlinks=False)
        except OSError as exc:
            raise MoveError(f"{src}: {exc.strerror}") from None
        if not stat.S_ISDIR(st.st_mode):
            try:
                os.link(sn, dn, src_dir_fd=sfd, dst_dir_fd=dfd, follow_symlinks=False)
            except FileExistsError:
                raise MoveError(f"{dst} already exists; not overwriting it ({src} stays)") from None
            except OSError as exc:
                if exc.errno == errno.EXDEV:
                    raise MoveError(f"{src} -> {dst}: different file systems; not copying") from None
                if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EACCES):
                    raise MoveError(f"{src} -> {dst}: {exc.strerror}") from None
            else:
                try:
                    os.unlink(sn, dir_fd=sfd)
                except OSError as exc:
                    # Both names point at the same inode; nothing is lost.  Remove the new one.
                    try:
                        os.unlink(dn, dir_fd=dfd)
                    except OSError:
                        pass
                    raise MoveError(f"{src}: cannot remove after linking: {exc.strerror}") from None
                return "link"
        # Last resort: re-check right before the rename.
        try:
            os.stat(dn, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            pass
        else:
            raise MoveError(f"{dst} already exists; not overwriting it ({src} stays)")
        try:
            os.rename(sn, dn, src_dir_fd=sfd, dst_dir_fd=dfd)
        except OSError as exc:
            raise MoveError(f"{src} -> {dst}: {exc.strerror}") from None
        return "rename"
