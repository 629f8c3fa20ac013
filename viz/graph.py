"""`draw`: the graph behind an engine `Tensor` or `Value` as a `graphviz.Digraph` (micrograd's picture).

A box per tensor (name, shape, dtype; data and grad summaries at higher `detail`), an ellipse per op.
Parameters are filled and bold, constants and index tensors dashed grey, the root has a double border.
With `check=` every named tensor is coloured by the three-way gradient check (green exact, yellow
approximate only, red disagree) beside a legend. Node ids follow the topological order, so the DOT text
of the same graph is the same on every run; every piece of user text is escaped into HTML-like labels.
"""

from __future__ import annotations

import html
import numbers
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Literal

import graphviz
import numpy as np

from engine import Tensor, Value, toposort

from .check import Verdict, as_verdicts, lookup

Node = Tensor | Value
Detail = Literal["name", "shape", "stats", "full"]
DETAILS: tuple[str, ...] = ("name", "shape", "stats", "full")
RANKDIRS: tuple[str, ...] = ("LR", "RL", "TB", "BT")

FONT = "Helvetica,Arial,sans-serif"
PARAM_FILL = "#cfe2f3"  # light blue: a leaf that requires grad
OP_FILL = "#eeeeee"
GREY = "#808080"  # constants, index tensors and their edges
CHECK_FILL: Mapping[str, str] = MappingProxyType(
    {"exact": "#a8e0a0", "approximate": "#ffe36e", "rounding": "#fdc086", "mismatch": "#f28b82"}
)  # green, yellow, orange, red
CHECK_TEXT: Mapping[str, str] = MappingProxyType(
    {"exact": "exact: all three pairs equal", "approximate": "approx: allclose, not equal",
     "rounding": "rounding: not allclose, within float32 rounding", "mismatch": "WRONG: some pair not allclose"}
)
NAME_LIMIT = 60  # longer names are cut, so one silly name cannot stretch the whole picture
PREVIEW_MAX = 6  # tensors this small show their numbers, larger ones mean/std/min/max
# Beyond LARGE boxes and ellipses, dot's default ranking and placement grow superlinearly (a 5,800-node
# micrograd MLP took 20-40 s with Graphviz 2.43); the simpler ranker and capped network-simplex passes lay
# it out in about 2 s (11,000 nodes in about 11 s).
LARGE = 2000
LARGE_LAYOUT: Mapping[str, str] = MappingProxyType(
    {"newrank": "true", "nslimit1": "0.05", "nslimit": "0.01", "mclimit": "0.1"}
)
# ops whose extra argument is a dimension
_DIM_OPS = frozenset({"sum", "mean", "var", "std", "max", "min", "argmax", "argmin", "softmax", "log_softmax",
                      "cat", "stack"})


# ---- names ------------------------------------------------------------------------------------------


def names_from(namespace: Mapping[str, Any] | Any) -> dict[str, Node]:
    """The Tensor and Value entries of a namespace, e.g. `names_from(locals())`.

    Takes a mapping (or any object, through `vars()`); drops non-tensors and names starting with
    '_' (IPython's `_`, `_1`, ...). The order of the mapping is kept: `draw` labels a tensor with the
    first name bound to it.
    """
    if not isinstance(namespace, Mapping) and not hasattr(namespace, "__dict__"):
        raise TypeError(f"names must be a mapping name -> tensor, such as locals() or {{'W1': W1}}, or an object "
                        f"with attributes; got {type(namespace).__name__}")
    items = namespace.items() if isinstance(namespace, Mapping) else vars(namespace).items()
    return {k: v for k, v in items if isinstance(k, str) and not k.startswith("_") and isinstance(v, Tensor | Value)}


def _names_by_id(names: Mapping[str, Any] | None) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    if names is not None:
        for name, obj in names_from(names).items():
            out.setdefault(id(obj), []).append(name)
    return out


# ---- text -------------------------------------------------------------------------------------------


def _esc(text: str, limit: int = NAME_LIMIT) -> str:
    """User text as an HTML-like label fragment that renders literally: control characters shown as
    escapes, long text cut, markup characters escaped, newlines as line breaks."""
    text = "".join(c if c == "\n" or c.isprintable() else repr(c)[1:-1] for c in str(text))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    # graphviz expands \N, \G, ... even inside HTML-like labels, and reads \\ as one backslash
    return "<BR/>".join(html.escape(line, quote=True).replace("\\", "\\\\") for line in text.split("\n"))


def _num(x: float) -> str:
    return f"{x:.4g}"


def _small(text: str) -> str:
    return f'<FONT POINT-SIZE="9">{text}</FONT>'


def _summary(what: str, a: np.ndarray | None, full: bool) -> list[str]:
    """'data [1, 2]' for a few elements, else 'data mean .. std ..' and 'in [min, max]'."""
    if a is None:
        return [f"{what} none"]
    a = np.asarray(a)
    if a.size <= PREVIEW_MAX:
        if a.dtype.kind == "f":
            vals = ", ".join(_num(float(x)) for x in a.reshape(-1))
        else:
            vals = ", ".join(str(x) for x in a.reshape(-1).tolist())
        return [f"{what} [{vals}]" if a.ndim else f"{what} {vals}"]
    if a.dtype.kind == "b":
        return [f"{what} {int(a.sum())} of {a.size} true"]
    if a.dtype.kind in "iu":
        return [f"{what} in [{a.min()}, {a.max()}]"]
    x = a.astype(np.float64, copy=False)
    with np.errstate(all="ignore"):
        lines = [f"{what} mean {_num(x.mean())} std {_num(x.std())}", f"in [{_num(x.min())}, {_num(x.max())}]"]
    if full:
        head = ", ".join(_num(float(v)) for v in x.reshape(-1)[:PREVIEW_MAX])
        lines.append(f"[{head}, …]")
    return lines


def _verdict_line(v: Verdict) -> str:
    if v.status == "exact":
        return "<B>exact</B>"
    diff = "" if v.maxdiff is None else f" maxdiff {v.maxdiff:.2e}"
    word = {"approximate": "approx", "rounding": "rounding", "mismatch": "WRONG"}[v.status]
    return f"<B>{word}</B>{diff}"


def _kind(node: Node) -> str:
    """'op' (made by an op), 'param' (a leaf that requires grad; any Value but a wrapped number),
    'index' (integer/bool) or 'const'."""
    if node._parents:
        return "op"
    if isinstance(node, Value):
        return "const" if node.constant else "param"
    if node.requires_grad:
        return "param"
    return "index" if node.dtype.kind in "iub" else "const"


def _tensor_label(node: Node, name: str | None, detail: str, verdict: Verdict | None) -> str:
    lines: list[str] = []
    title = f"<B>{_esc(name)}</B>" if name else ""
    if isinstance(node, Value):
        nums = f"data {node.data:.4f} | grad {node.grad:.4f}"
        if detail == "name":
            lines.append(title or nums)
        else:
            lines.append(f"{title} | {nums}" if title else nums)
    else:
        shape = f"{tuple(node.shape)} {node.dtype}"
        if title:
            lines.append(title)
        if detail != "name" or not title:
            lines.append(_small(shape))
        if detail == "shape" and not node.requires_grad and node.data.size <= PREVIEW_MAX:
            lines += [_small(html.escape(s)) for s in _summary("data", node.data, False)]  # 1/n, eps, ...
        if detail in ("stats", "full"):
            full = detail == "full"
            stats = _summary("data", node.data, full)
            if node.requires_grad or node.grad is not None:
                stats += _summary("grad", node.grad, full)
            lines += [_small(html.escape(s)) for s in stats]
    if verdict is not None:
        lines.append(_verdict_line(verdict))
    return "<" + "<BR/>".join(lines) + ">"


def _index_part(k: Any) -> str:
    if isinstance(k, Tensor | np.ndarray):
        return "·"  # a tensor index: drawn as an input edge
    if isinstance(k, range):
        return f"range({k.start}, {k.stop}{'' if k.step == 1 else f', {k.step}'})"
    if isinstance(k, slice):
        a, b = ("" if v is None else str(v) for v in (k.start, k.stop))
        return f"{a}:{b}" if k.step is None else f"{a}:{b}:{k.step}"
    if k is Ellipsis:
        return "..."
    text = repr(k)
    return text if len(text) <= 20 else text[:17] + "…"


def _op_label(node: Node) -> str:
    op, arg = node._op, getattr(node, "_arg", None)
    if arg is None:
        text = op
    elif op == "index":
        text = "index[" + ", ".join(map(_index_part, arg if isinstance(arg, tuple) else (arg,))) + "]"
    elif op in _DIM_OPS:
        text = f"{op}(dim={arg})"
    else:
        text = f"{op}({arg})"
    return "<" + _esc(text) + ">"


# ---- the graph --------------------------------------------------------------------------------------


def _nearest(root: Node, budget: int) -> set[int]:
    """ids of the tensors nearest the root (breadth first) whose boxes and op ellipses fit in `budget`."""
    kept: set[int] = set()
    seen = {id(root)}
    queue = deque([root])
    while queue:
        node = queue.popleft()
        cost = 2 if node._parents else 1
        if cost > budget and kept:
            break
        budget -= cost
        kept.add(id(node))
        for p in node._parents:
            if id(p) not in seen:
                seen.add(id(p))
                queue.append(p)
    return kept


def _legend(counts: Mapping[str, int], unmatched: list[str]) -> str:
    rows = ['<TR><TD COLSPAN="2"><B>gradient check: engine · manual · torch</B></TD></TR>']
    for status in CHECK_FILL:
        rows.append(f'<TR><TD BGCOLOR="{CHECK_FILL[status]}">{counts.get(status, 0)}</TD>'
                    f'<TD ALIGN="LEFT">{CHECK_TEXT[status]}</TD></TR>')
    rows.append(f'<TR><TD BGCOLOR="{PARAM_FILL}"><B>bold</B></TD><TD ALIGN="LEFT">parameter (leaf, requires grad)'
                '</TD></TR>')
    if unmatched:
        shown = ", ".join(_esc(n, 30) for n in unmatched[:8]) + (", …" if len(unmatched) > 8 else "")
        rows.append(f'<TR><TD COLSPAN="2" ALIGN="LEFT">not in the drawing: {shown}</TD></TR>')
    return '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>>"


def draw(
    root: Node,
    names: Mapping[str, Any] | None = None,
    check: Any = None,
    detail: Detail = "shape",
    rankdir: str = "LR",
    max_nodes: int | None = 500,
) -> graphviz.Digraph:
    """The graph that computed `root` (a Tensor or a Value), as a `graphviz.Digraph`.

    names: a mapping name -> tensor (`locals()` works; non-tensors are ignored), matched by identity;
        a tensor not in it is labelled with its `.name`, if any.
    check: the three-way check (see `viz.check.as_verdicts`); each named tensor whose name (or alias,
        or 'd' + name) is in it is filled green (exact), yellow (approximate) or red (disagree), with
        its worst maxdiff, and a legend is added.
    detail: 'name' < 'shape' (+ shape, dtype; a Value's data and grad) < 'stats' (+ data and grad
        summaries) < 'full' (+ the first few numbers of large tensors).
    max_nodes: draw at most this many boxes and ellipses, those nearest the root, and a note saying
        what was left out; None draws everything.
    The DOT text (`.source`) needs no Graphviz binary; rendering it does (`viz.render`).
    """
    if not isinstance(root, Tensor | Value):
        raise TypeError(f"draw: expected an engine Tensor or Value, got {type(root).__name__}")
    if detail not in DETAILS:
        raise ValueError(f"draw: detail={detail!r}; choose one of {', '.join(DETAILS)}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir={rankdir!r}; choose one of {', '.join(RANKDIRS)}")
    if max_nodes is not None and (isinstance(max_nodes, bool) or not isinstance(max_nodes, numbers.Integral)
                                  or max_nodes < 1):
        raise ValueError(f"draw: max_nodes={max_nodes!r}; pass a positive int, or None to draw everything")

    order = toposort(root)
    n_tensors, n_ops, n_drawn_ops = len(order), sum(1 for n in order if n._parents), 0
    kept = None
    if max_nodes is not None and len(order) + n_ops > max_nodes:
        kept = _nearest(root, max_nodes)
        order = [n for n in order if id(n) in kept]

    by_id = _names_by_id(names)
    verdicts = as_verdicts(check) if check is not None else None
    matched: set[str] = set()
    counts = dict.fromkeys(CHECK_FILL, 0)

    graph_attr = {"rankdir": rankdir, "fontname": FONT, "nodesep": "0.2", "ranksep": "0.3"}
    # a cut graph gets the fast layout whatever its size: the note's many edges into the kept frontier made
    # dot's default placement run for minutes on 500 nodes (a 200-step RNN sharing one weight)
    if kept is not None or len(order) + sum(1 for n in order if n._parents) > LARGE:
        graph_attr.update(LARGE_LAYOUT)
    g = graphviz.Digraph(
        "ninjagrad",
        graph_attr=graph_attr,
        node_attr={"fontname": FONT, "fontsize": "11", "margin": "0.08,0.04", "height": "0.3"},
        edge_attr={"arrowsize": "0.6", "color": "#404040"},
    )
    ids: dict[int, str] = {}  # id(tensor) -> its box's node id
    frontier: list[str] = []  # op ellipses with an input left out by max_nodes
    for node in order:
        aliases = by_id.get(id(node), [])
        own = node.name or None
        verdict = None
        if verdicts is not None and (aliases or own):
            verdict, hits = lookup(verdicts, aliases + ([own] if own and own not in aliases else []))
            matched.update(hits)
            if verdict is not None:
                counts[verdict.status] += 1
        if node._parents:
            op_id = f"n{len(ids) + n_drawn_ops}"
            n_drawn_ops += 1
            g.node(op_id, label=_op_label(node), shape="ellipse", style="filled", fillcolor=OP_FILL, fontsize="10")
            for p in node._parents:
                if id(p) in ids:
                    g.edge(ids[id(p)], op_id, **_edge_style(p))
                elif op_id not in frontier:
                    frontier.append(op_id)
        tid = f"n{len(ids) + n_drawn_ops}"
        ids[id(node)] = tid
        name = aliases[0] if aliases else own
        g.node(tid, **_box_attrs(node, _tensor_label(node, name, detail, verdict), verdict, node is root))
        if node._parents:
            g.edge(op_id, tid)

    if kept is not None:
        left_t, left_o = n_tensors - len(order), n_ops - n_drawn_ops
        unit = "values" if isinstance(root, Value) else "tensors"
        g.node("omitted", shape="note", style="filled", fillcolor="#fff8dc", fontcolor="#404040",
               label=f"<<B>{left_t} {unit} and {left_o} ops not drawn</B><BR/>"
                     f"max_nodes={max_nodes} keeps the {len(order)} {unit} nearest the root;<BR/>"
                     "pass max_nodes=None to draw everything>")
        for op_id in frontier:
            g.edge("omitted", op_id, style="dashed", color=GREY, arrowhead="none")
    if verdicts is not None:
        unmatched = [n for n in verdicts if n not in matched]
        g.node("legend", shape="plaintext", label=_legend(counts, unmatched))
    return g


def _box_attrs(node: Node, label: str, verdict: Verdict | None, is_root: bool) -> dict[str, str]:
    """Box attributes: parameters filled and bold, constants/indices dashed grey, checked ones coloured."""
    kind = _kind(node)
    attrs = {"shape": "box", "label": label}
    if kind == "param":
        style, fill = ["filled", "bold"], PARAM_FILL
    elif kind == "op":
        style, fill = ["filled"], "white"
    else:
        style, fill = ["dashed"], None
        attrs.update(color=GREY, fontcolor="#404040")
    if verdict is not None:
        style = ["filled"] + [s for s in style if s not in ("filled", "dashed")]
        fill = CHECK_FILL[verdict.status]
    attrs["style"] = ",".join(style)
    if fill is not None:
        attrs["fillcolor"] = fill
    if is_root:
        attrs["peripheries"] = "2"
    return attrs


def _edge_style(parent: Node) -> dict[str, str]:
    """Edges out of constants and index tensors are dashed grey: nothing they hold is learned."""
    if _kind(parent) in ("const", "index"):
        return {"style": "dashed", "color": GREY}
    return {}
