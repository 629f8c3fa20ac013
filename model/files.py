"""Writing files so a crash never leaves half of one: `atomic_write`, and `check_writable` before it.

Used for the cached dataset, checkpoints and loss plots: the bytes go to a temporary file beside the
target, are fsynced, and replace it in one `os.replace`. `check_writable` tells up front (before a long
training run) whether that will be possible.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call write(f) on a new temporary file beside `path`, fsync it, then os.replace it onto `path`.

    Readers see the old file or the whole new one, never a part; on any exception (KeyboardInterrupt
    included) the temporary file is removed and `path` is untouched. The directory is created if
    needed. A symlink is written through: its resolved target is replaced and the link stays. A new
    file gets mode 0o666 minus the umask, like open() (mkstemp's 0o600 would make every checkpoint
    private); a replaced file keeps its permission bits. Returns `path` as given.
    """
    path = Path(path)
    target = _resolve(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    while True:
        tmp = target.parent / f".{target.name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.chmod(tmp, mode)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return path


def check_writable(path: str | os.PathLike[str]) -> None:
    """Raise ValueError unless `atomic_write(path, ...)` can work now: fail fast, before hours of work.

    Creates the directory if needed (as atomic_write would), refuses a `path` that is a directory, and
    creates and removes a probe file beside the (symlink-resolved) target, which is what the write needs.
    """
    path = Path(path)
    target = _resolve(path)
    if target.is_dir():
        raise ValueError(f"{path}: is a directory; remove it or write somewhere else")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError as e:
        raise ValueError(f"{path}: cannot go in {target.parent}, which is a file, not a directory") from e
    except OSError as e:
        raise ValueError(f"{path}: cannot create its directory {target.parent} ({e.strerror or e})") from e
    try:
        with tempfile.TemporaryFile(dir=target.parent, prefix=f".{target.name}.probe"):
            pass
    except OSError as e:
        raise ValueError(f"{path}: cannot write files in {target.parent} ({e.strerror or e})") from e


def _resolve(path: Path) -> Path:
    """The file a write to `path` lands in (symlinks followed); a symlink loop is an OSError."""
    try:
        return path.resolve()
    except RuntimeError as e:  # what Python < 3.13 raises for a loop
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from e


def _fsync_dir(directory: Path) -> None:
    # makes the rename itself durable; not every platform can open a directory (Windows cannot)
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
