"""`render`: draw a graph and write it to a file (svg, png, pdf or dot), atomically.

The format comes from the file's suffix; the file appears complete or not at all (written to a
temporary file beside it, fsynced, then moved into place). DOT needs nothing beyond the Python
package; the image formats need Graphviz's `dot` binary, and its absence raises `GraphvizNotFound`
saying how to install it.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import graphviz

from .graph import draw

FORMATS: tuple[str, ...] = ("svg", "png", "pdf", "dot")
INSTALL_HINT = (
    "the Graphviz `dot` binary was not found on PATH; install Graphviz to render graphs "
    "(Debian/Ubuntu: `sudo apt-get install graphviz`, macOS: `brew install graphviz`, "
    "conda: `conda install -c conda-forge graphviz`), or write DOT text instead: a .dot file needs no binary"
)


class GraphvizNotFound(RuntimeError):
    """Rendering needs Graphviz's `dot` binary, which is not installed (the message says how to get it)."""


def to_bytes(graph: graphviz.Digraph, format: str) -> bytes:
    """The graph in `format` ('dot' is its source; the others run Graphviz's `dot`)."""
    if format == "dot":
        return graph.source.encode("utf-8")
    try:
        return graph.pipe(format=format)
    except graphviz.ExecutableNotFound as e:
        raise GraphvizNotFound(INSTALL_HINT) from e
    except graphviz.CalledProcessError as e:
        stderr = (e.stderr or b"").decode("utf-8", "replace").strip()
        raise RuntimeError(f"render: Graphviz's dot failed to write {format} (exit {e.returncode}): "
                           f"{stderr or 'no message'}") from e


def implied_format(path: str | os.PathLike[str]) -> str | None:
    """The format `path`'s suffix names (.svg, .png, .pdf, .dot or .gv), or None."""
    suffix = Path(path).suffix.lower().lstrip(".")
    return "dot" if suffix == "gv" else suffix if suffix in FORMATS else None


def _format(path: Path, format: str | None) -> str:
    """`format`, else the one `path`'s suffix names; a suffix naming another format than `format` is an error."""
    implied = implied_format(path)
    if format is None:
        if implied is None:
            raise ValueError(
                f"render: cannot tell the format from {path.name!r}; use a suffix among "
                f"{', '.join('.' + f for f in FORMATS)} or .gv, or name the format"
            )
        return implied
    if format not in FORMATS:
        raise ValueError(f"render: format {format!r}; choose one of {', '.join(FORMATS)}")
    if implied not in (None, format):
        raise ValueError(f"render: format {format!r} contradicts the file name {path.name!r}, which says {implied!r}")
    return format


def render(root: Any, path: str | os.PathLike[str], format: str | None = None, **draw_kwargs: Any) -> Path:
    """Draw `root` (a Tensor or Value, or an already drawn `graphviz.Digraph`) into the file `path`.

    The format is `format`, else the suffix (.svg, .png, .pdf, .dot/.gv); a suffix naming another
    format is an error. Missing directories are created; the file is fsynced and replaced atomically, through
    a symlink if `path` is one, keeping an existing file's permissions (a new one follows the umask).
    A `path` that is a directory is an IsADirectoryError, one under a file a NotADirectoryError.
    `draw_kwargs` go to `viz.draw`. Returns the path. Raises GraphvizNotFound for an image format
    when the `dot` binary is missing, and RuntimeError with dot's message when dot fails.
    """
    path = Path(path).expanduser()
    fmt = _format(path, format)
    if isinstance(root, graphviz.Digraph):
        if draw_kwargs:
            raise TypeError(f"render: got an already drawn graph and draw options {sorted(draw_kwargs)}")
        graph = root
    else:
        graph = draw(root, **draw_kwargs)
    target = path.resolve()  # write through a symlink, not over it
    if target.is_dir():
        raise IsADirectoryError(f"render: {path} is a directory; name a file in it, e.g. {path / ('graph.' + fmt)}")
    if blocker := next((p for p in target.parents if p.exists() and not p.is_dir()), None):
        raise NotADirectoryError(f"render: cannot write {path}: {blocker} is a file, not a directory")
    data = to_bytes(graph, fmt)  # before touching the file system: a missing binary leaves nothing behind
    target.parent.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(target.stat().st_mode) if target.exists() else _new_file_mode()
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the rename makes them the file
        os.chmod(tmp, mode)  # mkstemp makes 0600
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # and the rename itself; not every platform can open a directory
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return path


def _new_file_mode() -> int:
    """0o666 minus the umask: the mode open() would give a new file."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask
