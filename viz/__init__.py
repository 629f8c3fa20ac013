"""viz: pictures of ninjagrad graphs, and of where a manual backprop went wrong.

    g = viz.draw(loss, names=locals(), check=check, detail="stats")   # a graphviz.Digraph (inline in Jupyter)
    viz.render(loss, "out/graph.svg", names=locals())                 # svg | png | pdf | dot, written atomically

Boxes are tensors (or micrograd Values), ellipses are ops; with `check=` the named tensors are green,
yellow or red by the three-way gradient check. Imports only engine, numpy, graphviz and the stdlib.
"""

from .check import ALIASES, Verdict, as_verdicts
from .graph import CHECK_FILL, DETAILS, GREY, OP_FILL, PARAM_FILL, draw, names_from
from .output import FORMATS, GraphvizNotFound, implied_format, render, to_bytes

__all__ = [
    "draw", "render", "implied_format", "names_from", "as_verdicts", "Verdict", "GraphvizNotFound", "to_bytes",
    "ALIASES", "DETAILS", "FORMATS", "CHECK_FILL", "PARAM_FILL", "OP_FILL", "GREY",
]
