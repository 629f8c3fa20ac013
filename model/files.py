"""Writing files so a crash never leaves half of one: `atomic_write`.

Used for the cached dataset, checkpoints and loss plots: the bytes go to a temporary file beside the
target, are fsynced, and replace it in one `os.replace`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> Path:
    """Call write(f) on a new temporary file beside `path`, fsync it, then os.replace it onto `path`.

    Readers see the old file or the whole new one, never a part; on any exception (KeyboardInterrupt
    included) the temporary file is removed and `path` is untouched. The directory is created if
    needed. The file is created with mode 0o666 minus the umask, like open() (mkstemp's 0o600 would
    make every checkpoint private).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


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
