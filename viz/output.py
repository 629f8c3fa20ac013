"""`render`: draw a graph and write it to a file (svg, png, pdf or dot), atomically.

The format comes from the file's suffix; the file appears complete or not at all (written to a
temporary file beside it, then moved into place). DOT needs nothing beyond the Python package; the
image formats need Graphviz's `dot` binary, and its absence raises `GraphvizNotFound` saying how to
install it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import graphviz

from .graph import draw

FORMATS: tuple[str, ...] = ("svg", "png", "pdf", "dot")
INSTALL_HINT = (
    "the Graphviz `dot` binary was not found on PATH; install Graphviz to render graphs "
    "(Debian/Ubuntu: `sudo apt-get install graphviz`, macOS: `brew install graphviz`, "
    "conda: `conda install -c conda-forge graphviz`), or write DOT text with format='dot'"
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


def _format(path: Path, format: str | None) -> str:
    if format is None:
        suffix = path.suffix.lower().lstrip(".")
        format = "dot" if suffix == "gv" else suffix
        if format not in FORMATS:
            raise ValueError(
                f"render: cannot tell the format from {path.name!r}; use a suffix among "
                f"{', '.join('.' + f for f in FORMATS)} or pass format="
            )
    elif format not in FORMATS:
        raise ValueError(f"render: format={format!r}; choose one of {', '.join(FORMATS)}")
    return format


def render(root: Any, path: str | os.PathLike[str], format: str | None = None, **draw_kwargs: Any) -> Path:
    """Draw `root` (a Tensor or Value, or an already drawn `graphviz.Digraph`) into the file `path`.

    The format is `format`, else the suffix (.svg, .png, .pdf, .dot/.gv). Missing directories are
    created; the file is replaced atomically. `draw_kwargs` go to `viz.draw`. Returns the path.
    Raises GraphvizNotFound for an image format when the `dot` binary is missing.
    """
    path = Path(path)
    fmt = _format(path, format)
    if isinstance(root, graphviz.Digraph):
        if draw_kwargs:
            raise TypeError(f"render: got an already drawn graph and draw options {sorted(draw_kwargs)}")
        graph = root
    else:
        graph = draw(root, **draw_kwargs)
    data = to_bytes(graph, fmt)  # before touching the file system: a missing binary leaves nothing behind
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a picture is for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
