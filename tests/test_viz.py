"""viz: the DOT text of known graphs (nodes, edges, labels, colours, ids), escaping, rendering, truncation.

Assertions read the DOT source; the tests that need Graphviz's `dot` binary take the `dot_binary`
fixture (skipped locally, failed under CI=true when it is missing).
"""

from __future__ import annotations

import os
import random
import re
import stat
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import engine
import viz
from engine import Value

SVG_TEXT = "{http://www.w3.org/2000/svg}text"
NODE = re.compile(r"^\t(\w+) \[(.*)\]$", re.M)
EDGE = re.compile(r"^\t(\w+) -> (\w+)(?: \[(.*)\])?$", re.M)


# ---- reading DOT ------------------------------------------------------------------------------------


def label(attrs: str) -> str:
    """The HTML-like label in a node's attribute list (its <...> are balanced: user text is escaped)."""
    start = attrs.index("label=<") + len("label=")
    depth = 0
    for i in range(start, len(attrs)):
        depth += {"<": 1, ">": -1}.get(attrs[i], 0)
        if depth == 0:
            return attrs[start + 1 : i]
    raise AssertionError(f"unbalanced label in {attrs!r}")


def nodes(src: str) -> dict[str, str]:
    return {m.group(1): m.group(2) for m in NODE.finditer(src) if m.group(1) not in ("graph", "node", "edge")}


def edges(src: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in EDGE.finditer(src)]


def attr(attrs: str, key: str) -> str | None:
    """A plain attribute's value (the label, which may contain anything, is cut out first)."""
    rest = attrs.replace(f"label=<{label(attrs)}>", "") if "label=<" in attrs else attrs
    m = re.search(rf'(?:^|\s){key}=("[^"]*"|\S+)', rest)
    return None if m is None else m.group(1).strip('"')


def boxes(src: str) -> dict[str, str]:
    return {k: v for k, v in nodes(src).items() if attr(v, "shape") == "box"}


def ellipses(src: str) -> dict[str, str]:
    return {k: v for k, v in nodes(src).items() if attr(v, "shape") == "ellipse"}


def by_name(src: str, name: str) -> str:
    """The node id of the box whose bold title is `name`."""
    hits = [k for k, v in boxes(src).items() if label(v).startswith(f"<B>{name}</B>")]
    assert len(hits) == 1, f"{name}: {hits}"
    return hits[0]


def by_op(src: str, op: str) -> str:
    hits = [k for k, v in ellipses(src).items() if label(v) == op]
    assert len(hits) == 1, f"{op}: {hits}"
    return hits[0]


def svg_texts(svg: bytes) -> list[str]:
    return ["".join(e.itertext()) for e in ET.fromstring(svg).iter(SVG_TEXT)]


# ---- graphs -----------------------------------------------------------------------------------------


def small():
    a = engine.tensor([1.0, 2.0], requires_grad=True)
    b = engine.tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    d = c.sum()
    d.backward()
    return a, b, c, d


def value_mlp(sizes: list[int], n_inputs: int) -> Value:
    """micrograd's MLP (tanh hidden layers, linear output) and squared-error loss, over random inputs."""
    rng = random.Random(0)
    layers = [[[Value(rng.uniform(-1, 1)) for _ in range(nin + 1)] for _ in range(nout)]
              for nin, nout in zip(sizes, sizes[1:])]
    loss = Value(0.0)
    for k in range(n_inputs):
        x = [Value(rng.uniform(-1, 1)) for _ in range(sizes[0])]
        for i, layer in enumerate(layers):
            out = []
            for w in layer:
                act = w[-1]
                for wi, xi in zip(w, x):
                    act = act + wi * xi
                out.append(act.tanh() if i < len(layers) - 1 else act)
            x = out
        loss = loss + (x[0] - (1.0 if k % 2 else -1.0)) ** 2
    loss.backward()
    return loss


# ---- structure --------------------------------------------------------------------------------------


def test_small_graph_has_one_node_per_tensor_and_op_and_the_right_edges():
    a, b, c, d = small()
    src = viz.draw(d, names=locals()).source
    assert len(boxes(src)) == 4 and len(ellipses(src)) == 2 and len(nodes(src)) == 6
    ids = {n: by_name(src, n) for n in "abcd"}
    mul, sum_ = by_op(src, "mul"), by_op(src, "sum")
    assert sorted(edges(src)) == sorted(
        [(ids["a"], mul), (ids["b"], mul), (mul, ids["c"]), (ids["c"], sum_), (sum_, ids["d"])]
    )
    for n in "abc":
        assert "(2,) float32" in label(boxes(src)[ids[n]])
    assert "() float32" in label(boxes(src)[ids["d"]])


def test_node_ids_follow_the_topological_order_and_the_dot_is_reproducible():
    a, b, c, d = small()
    first = viz.draw(d, names={"a": a, "b": b, "c": c, "d": d}).source
    assert first == viz.draw(d, names={"a": a, "b": b, "c": c, "d": d}).source
    assert list(nodes(first)) == [f"n{i}" for i in range(6)]
    order = [by_name(first, "a"), by_name(first, "b"), by_op(first, "mul"), by_name(first, "c"),
             by_op(first, "sum"), by_name(first, "d")]
    assert order == [f"n{i}" for i in range(6)]
    a2, b2, c2, d2 = small()  # a new graph of the same shape gives the same text
    assert viz.draw(d2, names={"a": a2, "b": b2, "c": c2, "d": d2}).source == first


def test_names_from_keeps_tensors_and_the_first_name_wins():
    a, b, c, d = small()
    alias = a  # noqa: F841 (a second name for a; `a` was bound first)
    _hidden = c  # noqa: F841
    junk, numbers = "text", [1, 2]  # noqa: F841
    got = viz.names_from(locals())
    assert list(got) == ["a", "b", "c", "d", "alias"]
    src = viz.draw(d, names=locals()).source
    assert by_name(src, "a") and "alias" not in src and "_hidden" not in src


def test_tensor_name_is_used_when_not_in_names_and_unnamed_boxes_show_their_shape():
    a, b, c, d = small()
    c.name = "prod"
    src = viz.draw(d, names={"a": a}).source
    assert by_name(src, "a") and by_name(src, "prod")
    titled = [v for v in boxes(src).values() if label(v).startswith("<B>")]
    assert len(titled) == 2
    untitled = [label(v) for v in boxes(src).values() if not label(v).startswith("<B>")]
    assert untitled == ['<FONT POINT-SIZE="9">(2,) float32</FONT>', '<FONT POINT-SIZE="9">() float32</FONT>']  # b, d


def test_parameters_intermediates_constants_and_indices_look_different():
    C = engine.randn(5, 2, requires_grad=True)
    Xb = engine.tensor([0, 3, 3])
    scale = engine.tensor([2.0, 0.5])
    emb = C[Xb]
    out = (emb * scale).sum()
    src = viz.draw(out, names=locals()).source
    cb = boxes(src)
    assert attr(cb[by_name(src, "C")], "style") == "filled,bold"
    assert attr(cb[by_name(src, "C")], "fillcolor") == viz.PARAM_FILL
    assert attr(cb[by_name(src, "emb")], "style") == "filled"
    assert attr(cb[by_name(src, "emb")], "fillcolor") == "white"
    for const in ("Xb", "scale"):
        assert attr(cb[by_name(src, const)], "style") == "dashed"
        assert attr(cb[by_name(src, const)], "color") == viz.GREY
    index = by_op(src, "index[·]")
    (xb_edge,) = [m for m in EDGE.finditer(src) if m.group(1) == by_name(src, "Xb")]
    assert xb_edge.group(2) == index and "dashed" in (xb_edge.group(3) or "")
    assert attr(cb[by_name(src, "out")], "peripheries") == "2"
    assert "data [2, 0.5]" in label(cb[by_name(src, "scale")])  # a small constant shows its numbers
    assert "data [0, 3, 3]" in label(cb[by_name(src, "Xb")])
    assert "data" not in label(cb[by_name(src, "emb")]) + label(cb[by_name(src, "C")])  # not at detail='shape'


def test_op_labels_carry_their_argument():
    x = engine.randn(3, 4, requires_grad=True)
    y = (x.exp().sum(0, keepdim=True) ** -0.5).view(2, 2)
    ops = {label(v) for v in ellipses(viz.draw(y).source).values()}
    assert ops == {"exp", "sum(dim=0)", "pow(-0.5)", "view((2, 2))"}


# ---- labels -----------------------------------------------------------------------------------------


def test_value_graph_shows_data_and_grad():
    a = Value(2.0, label="a")
    b = Value(-3.0, label="b")
    c = Value(10.0, label="c")
    e = a * b
    e.label = "e"
    d = e + c
    d.label = "d"
    f = Value(-2.0, label="f")
    L = d * f
    L.label = "L"
    L.backward()
    src = viz.draw(L).source
    assert label(boxes(src)[by_name(src, "a")]) == "<B>a</B> | data 2.0000 | grad 6.0000"
    assert label(boxes(src)[by_name(src, "L")]) == "<B>L</B> | data -8.0000 | grad 1.0000"
    assert label(boxes(src)[by_name(src, "d")]) == "<B>d</B> | data 4.0000 | grad -2.0000"
    assert sorted(label(v) for v in ellipses(src).values()) == ["*", "*", "+"]
    assert len(boxes(src)) == 7


def test_detail_levels():
    a, b, c, d = small()
    big = engine.arange(12).float().requires_grad_()
    (big * 2).sum().backward()
    names = {"a": a, "big": big}
    assert label(boxes(viz.draw(d, names, detail="name").source)["n0"]) == "<B>a</B>"
    shape = label(boxes(viz.draw(d, names, detail="shape").source)["n0"])
    assert "(2,) float32" in shape and "data" not in shape
    stats = label(boxes(viz.draw(d, names, detail="stats").source)["n0"])
    assert "data [1, 2]" in stats and "grad [3, 4]" in stats
    big_stats = label(boxes(viz.draw(big, names, detail="stats").source)["n0"])
    assert "data mean 5.5 std 3.452" in big_stats and "in [0, 11]" in big_stats and "[0, 1, 2" not in big_stats
    assert "grad mean 2 std 0" in big_stats
    full = label(boxes(viz.draw(big, names, detail="full").source)["n0"])
    assert "[0, 1, 2, 3, 4, 5, …]" in full


def test_bad_arguments_are_reported():
    a, b, c, d = small()
    with pytest.raises(ValueError, match="detail='all'"):
        viz.draw(d, detail="all")
    with pytest.raises(ValueError, match="rankdir"):
        viz.draw(d, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        viz.draw(d, max_nodes=0)
    with pytest.raises(TypeError, match="got list"):
        viz.draw([d])
    for names in ([a], 5):  # vars() refused them with "argument must have __dict__ attribute"
        with pytest.raises(TypeError, match=rf"^names must be a mapping name -> tensor, such as locals\(\) .*got "
                                            rf"{type(names).__name__}$"):
            viz.draw(d, names=names)
    with pytest.raises(TypeError, match="no 'exact'"):
        viz.draw(d, names=locals(), check={"a": {"maxdiff": 0.0}})


# ---- the three-way check ----------------------------------------------------------------------------

CHECK = {
    "c": {"exact": True, "approximate": True, "maxdiff": 0.0},
    "a": {"exact": False, "approximate": False, "maxdiff": 0.5},  # the deliberately broken one
    "b": {"exact": False, "approximate": True, "maxdiff": 2.5e-9},
    "W9": {"exact": True, "approximate": True, "maxdiff": 0.0},  # not in the graph
}


def fills(src: str) -> dict[str, str | None]:
    return {n: attr(boxes(src)[by_name(src, n)], "fillcolor") for n in "abcd"}


def test_check_colours_each_named_tensor_and_adds_a_legend():
    a, b, c, d = small()
    src = viz.draw(d, names=locals(), check=CHECK).source
    assert fills(src) == {"a": viz.CHECK_FILL["mismatch"], "b": viz.CHECK_FILL["approximate"],
                          "c": viz.CHECK_FILL["exact"], "d": "white"}
    assert "maxdiff 5.00e-01" in label(boxes(src)[by_name(src, "a")])
    assert "maxdiff 2.50e-09" in label(boxes(src)[by_name(src, "b")])
    assert "<B>exact</B>" in label(boxes(src)[by_name(src, "c")])
    legend = label(nodes(src)["legend"])
    for status in ("exact", "approximate", "mismatch"):
        assert f'<TD BGCOLOR="{viz.CHECK_FILL[status]}">1</TD>' in legend
    assert "not in the drawing: W9" in legend
    assert "legend" not in viz.draw(d, names=locals()).source


def test_float_rounding_is_orange_not_wrong():
    a, b, c, d = small()
    check = {"a": {"exact": False, "approximate": False, "maxdiff": 2e-8, "rounding": True},
             "b": {"exact": False, "approximate": False, "maxdiff": 0.5, "rounding": False}}
    src = viz.draw(d, names=locals(), check=check).source
    assert fills(src)["a"] == viz.CHECK_FILL["rounding"] and fills(src)["b"] == viz.CHECK_FILL["mismatch"]
    assert "<B>rounding</B>" in label(boxes(src)[by_name(src, "a")])
    assert "<B>WRONG</B>" in label(boxes(src)[by_name(src, "b")])
    assert f'<TD BGCOLOR="{viz.CHECK_FILL["rounding"]}">1</TD>' in label(nodes(src)["legend"])


def test_check_adapter_accepts_rows_and_verdicts_objects():
    a, b, c, d = small()
    expected = viz.draw(d, names=locals(), check=CHECK).source

    class Row:
        def __init__(self, name, verdict):
            self.name, self.exact, self.approximate, self.maxdiff = name, *verdict.values()

    class Result:
        def verdicts(self):
            return CHECK

    rows = [{"name": k, **v} for k, v in CHECK.items()]
    assert viz.draw(d, names=locals(), check=rows).source == expected
    assert viz.draw(d, names=locals(), check=[Row(k, v) for k, v in CHECK.items()]).source == expected
    assert viz.draw(d, names=locals(), check=Result()).source == expected


def test_check_names_match_through_aliases_and_gradient_names():
    x = engine.randn(4, 3, requires_grad=True)
    bnstd_inv = (x.var(0, keepdim=True) + 1e-5) ** -0.5
    loss = bnstd_inv.sum()
    check = {"bnvar_inv": {"exact": False, "approximate": False, "maxdiff": 3.0},
             "dx": {"exact": False, "approximate": True, "maxdiff": 1e-7}}
    src = viz.draw(loss, names={"x": x, "bnstd_inv": bnstd_inv}, check=check).source
    assert attr(boxes(src)[by_name(src, "bnstd_inv")], "fillcolor") == viz.CHECK_FILL["mismatch"]
    assert attr(boxes(src)[by_name(src, "x")], "fillcolor") == viz.CHECK_FILL["approximate"]
    assert "not in the drawing" not in label(nodes(src)["legend"])


# ---- escaping ---------------------------------------------------------------------------------------

HOSTILE = ["<b>bold</b>", 'quo"te', "{rec|ord}", "back\\slash \\N \\G \\L", "&amp; ]; n0 -> n1 [",
           "<script>alert(1)</script>", "last\\"]


def test_hostile_names_render_literally(dot_binary):
    leaves = [engine.tensor([1.0], requires_grad=True) for _ in HOSTILE]
    names = dict(zip(HOSTILE, leaves))
    total = leaves[0]
    for t in leaves[1:]:
        total = total + t
    names["two\nlines"] = total
    g = viz.draw(total, names=names, check={n: {"exact": False, "maxdiff": 1.0} for n in names})
    n = len(HOSTILE)
    assert len(nodes(g.source)) == n + 2 * (n - 1) + 1  # leaves, adds and their results, the legend
    texts = svg_texts(viz.to_bytes(g, "svg"))
    for name in HOSTILE:
        assert name in texts
    assert "two" in texts and "lines" in texts
    assert not any("script" in e.tag or e.tag.endswith("}b") for e in ET.fromstring(viz.to_bytes(g, "svg")).iter())


def test_control_characters_are_shown_as_escapes(dot_binary):
    t = engine.tensor([1.0], requires_grad=True)
    t.name = "bell\x07esc\x1b"
    texts = svg_texts(viz.to_bytes(viz.draw(t), "svg"))
    assert "bell\\x07esc\\x1b" in texts


# ---- rendering --------------------------------------------------------------------------------------


def test_render_writes_svg_png_and_pdf_atomically(tmp_path: Path, dot_binary):
    a, b, c, d = small()
    out = tmp_path / "new" / "dir"
    svg = viz.render(d, out / "g.svg", names=locals())
    assert svg == out / "g.svg"
    assert "a" in svg_texts(svg.read_bytes())
    assert viz.render(d, out / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert viz.render(d, out / "g.pdf").read_bytes()[:5] == b"%PDF-"
    assert viz.render(d, out / "g.img", format="png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.iterdir()) == ["g.img", "g.pdf", "g.png", "g.svg"]  # no temp files left
    assert (svg.stat().st_mode & 0o777) == 0o644


def test_render_dot_needs_no_binary_and_a_missing_binary_says_how_to_install(tmp_path: Path, monkeypatch):
    a, b, c, d = small()
    monkeypatch.setenv("PATH", "")
    path = viz.render(d, tmp_path / "g.dot", names=locals())
    assert path.read_text() == viz.draw(d, names=locals()).source
    assert viz.render(d, tmp_path / "g.gv").read_text().startswith("digraph ninjagrad {")
    with pytest.raises(viz.GraphvizNotFound, match=r"apt-get install graphviz.*brew install graphviz"):
        viz.render(d, tmp_path / "sub" / "g.svg")
    assert isinstance(viz.GraphvizNotFound("x"), RuntimeError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.gv"]  # nothing half-written, no sub/


def test_render_replaces_a_file_whole_or_not_at_all(tmp_path: Path, monkeypatch):
    a, b, c, d = small()
    path = tmp_path / "g.dot"
    path.write_text("old")

    def failing_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        viz.render(d, path)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["g.dot"]
    monkeypatch.undo()
    assert viz.render(d, path).read_text() == viz.draw(d).source


def test_render_fsyncs_the_file_before_the_rename_and_the_directory_after(tmp_path: Path, monkeypatch):
    a, b, c, d = small()
    events = []
    fsync, replace = os.fsync, os.replace

    def recording_fsync(fd):
        events.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        fsync(fd)

    def recording_replace(src, dst):
        events.append("replace")
        replace(src, dst)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    viz.render(d, tmp_path / "g.dot")
    assert events == ["file", "replace", "dir"]


def test_render_to_a_directory_or_under_a_file_names_the_path(tmp_path: Path, monkeypatch):
    a, b, c, d = small()
    monkeypatch.chdir(tmp_path)
    Path("adir").mkdir()
    Path("v.svg").write_text("a picture")
    with pytest.raises(IsADirectoryError, match=r"^render: adir is a directory; name a file in it, e.g. adir/graph"):
        viz.render(d, "adir", format="svg")
    for path in ("v.svg/x.svg", "v.svg/sub/x.svg"):
        with pytest.raises(NotADirectoryError, match=rf"^render: cannot write {path}: {tmp_path}/v.svg is a file"):
            viz.render(d, path)  # refused before dot runs: no binary needed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "v.svg"] and not any(Path("adir").iterdir())
    assert Path("v.svg").read_text() == "a picture"


def test_render_rejects_an_unknown_suffix(tmp_path: Path):
    a, b, c, d = small()
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        viz.render(d, tmp_path / "g.jpeg")
    with pytest.raises(ValueError, match="format 'gif'; choose one of svg, png, pdf, dot"):
        viz.render(d, tmp_path / "g.svg", format="gif")
    with pytest.raises(ValueError, match="format 'dot' contradicts the file name 'g.png', which says 'png'"):
        viz.render(d, tmp_path / "g.png", format="dot")  # DOT text in a .png would open as a broken image
    assert list(tmp_path.iterdir()) == []
    assert viz.render(d, tmp_path / "g.graph", format="dot").read_text() == viz.draw(d).source  # no suffix claim


def test_render_writes_through_a_symlink_and_keeps_the_files_mode(tmp_path: Path):
    a, b, c, d = small()
    keep = tmp_path / "keep" / "g.dot"
    keep.parent.mkdir()
    keep.write_text("old")
    keep.chmod(0o600)
    link = tmp_path / "g.dot"
    link.symlink_to(keep)
    viz.render(d, link)
    assert link.is_symlink() and keep.read_text() == viz.draw(d).source
    assert keep.stat().st_mode & 0o777 == 0o600  # a private file stays private


def test_a_new_picture_follows_the_umask(tmp_path: Path):
    a, b, c, d = small()
    old = os.umask(0o077)
    try:
        path = viz.render(d, tmp_path / "g.dot")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600


def test_malformed_verdicts_are_refused_not_coloured():
    a, b, c, d = small()
    names = {"d": d}
    with pytest.raises(TypeError, match="'exact' of the verdict for 'd' must be True or False, got str 'False'"):
        viz.draw(d, names=names, check={"d": {"exact": "False", "approximate": "False", "maxdiff": 1}})
    with pytest.raises(ValueError, match="says exact but not approximate"):
        viz.draw(d, names=names, check={"d": {"exact": True, "approximate": False}})
    with pytest.raises(TypeError, match="'maxdiff' of the verdict for 'd' must be a number, got str 'big'"):
        viz.draw(d, names=names, check={"d": {"exact": False, "approximate": True, "maxdiff": "big"}})
    drawn = viz.draw(d, names=names, check={"d": {"exact": np.False_, "approximate": np.True_, "maxdiff": 1e-9}})
    assert viz.CHECK_FILL["approximate"] in drawn.source
    for maxdiff in (True, "0.5", 10**400):  # bool and str once passed float(), and 10**400 overflowed
        with pytest.raises(TypeError, match=rf"'maxdiff' of the verdict for 'd' must be a number, got "
                                            rf"{type(maxdiff).__name__}"):
            viz.draw(d, names=names, check={"d": {"exact": False, "approximate": False, "maxdiff": maxdiff}})
    with pytest.raises(ValueError, match="'maxdiff' of the verdict for 'd' is -1.0; .* never negative"):
        viz.draw(d, names=names, check={"d": {"exact": False, "approximate": False, "maxdiff": -1.0}})


def test_a_nan_maxdiff_is_drawn_as_wrong_never_as_agreement():
    # NaN is what a broken backward's NaN gradient gives: the gradients disagree
    a, b, c, d = small()
    src = viz.draw(d, names={"d": d}, check={"d": {"exact": False, "approximate": False, "maxdiff": np.nan}}).source
    assert attr(boxes(src)[by_name(src, "d")], "fillcolor") == viz.CHECK_FILL["mismatch"]
    assert "<B>WRONG</B> maxdiff nan" in label(boxes(src)[by_name(src, "d")])
    # matched twice (as 'c' and as its gradient 'dc'): the NaN wins wherever it comes
    check = {"c": {"exact": False, "approximate": False, "maxdiff": 0.5},
             "dc": {"exact": False, "approximate": False, "maxdiff": np.nan}}
    src = viz.draw(d, names={"c": c}, check=check).source
    assert "maxdiff nan" in label(boxes(src)[by_name(src, "c")])
    for flags in ({"approximate": True}, {"approximate": False, "rounding": True}):
        with pytest.raises(ValueError, match="the verdict for 'd' has maxdiff NaN .* but says"):
            viz.draw(d, names={"d": d}, check={"d": {"exact": False, "maxdiff": np.nan, **flags}})


def test_a_number_wrapped_by_value_arithmetic_is_drawn_as_a_constant():
    x = engine.Value(2.0, name="x")
    y = x * 3 + 1
    source = viz.draw(y, detail="name").source
    assert source.count("dashed") >= 2  # the 3 and the 1 (and their edges)
    assert source.count(viz.PARAM_FILL) == 1  # only x is a parameter


def test_max_nodes_accepts_numpy_integers_not_bools():
    a, b, c, d = small()
    assert viz.draw(d, max_nodes=np.int64(3)).source
    with pytest.raises(ValueError, match="max_nodes=True"):
        viz.draw(d, max_nodes=True)


# ---- large graphs -----------------------------------------------------------------------------------


def test_max_nodes_keeps_the_nearest_and_says_what_was_left_out():
    x = engine.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100):
        y = y * 1.5  # each step: a constant 1.5, a mul, a result
    src = viz.draw(y, max_nodes=20).source
    drawn = [k for k in nodes(src) if k.startswith("n")]
    assert len(drawn) <= 20 and drawn == [f"n{i}" for i in range(len(drawn))]
    n_tensors = 1 + 2 * 100
    kept_t, kept_o = len(boxes(src)), len(ellipses(src))
    note = label(nodes(src)["omitted"])
    assert f"{n_tensors - kept_t} tensors and {100 - kept_o} ops not drawn" in note
    assert "max_nodes=None" in note
    assert attr(boxes(src)[drawn[-1]], "peripheries") == "2"  # the root is kept
    frontier = [b for a, b in edges(src) if a == "omitted"]
    assert frontier and all(f in ellipses(src) for f in frontier)
    assert "omitted" not in viz.draw(y, max_nodes=None).source


def test_value_mlp_of_thousands_of_nodes_draws_and_renders_svg_quickly(dot_binary):
    loss = value_mlp([3, 16, 16, 1], n_inputs=4)
    n = len(engine.toposort(loss))
    assert n > 3000
    start = time.perf_counter()
    g = viz.draw(loss, max_nodes=None)
    svg = viz.to_bytes(g, "svg")
    seconds = time.perf_counter() - start
    assert len(boxes(g.source)) == n
    assert len(ET.fromstring(svg).findall(".//{http://www.w3.org/2000/svg}g[@class='node']")) == len(nodes(g.source))
    assert seconds < 20, f"{n} values took {seconds:.1f} s"  # about 2-5 s with Graphviz 2.43 on 2 busy cores


def test_index_ops_say_what_they_index():
    C = engine.tensor(np.ones((27, 10)), requires_grad=True)
    Xb = engine.tensor([[1, 2, 3], [0, 0, 1]])
    logits = C[Xb].view(2, -1)
    picked = logits[range(2), engine.tensor([0, 5])][1:]
    src = viz.draw(picked[None, ..., ::2].sum()).source
    for text in ("index[·]", "index[range(0, 2), ·]", "index[1:]", "index[None, ..., ::2]"):
        assert text in src, text


def test_a_cut_graph_gets_the_fast_layout():
    """A 200-step RNN sharing one weight, cut to 500 nodes, kept dot busy for minutes with the default layout: the
    omitted-note's many edges. Any cut drawing now gets LARGE_LAYOUT, as graphs past LARGE nodes do."""
    W = engine.tensor(np.eye(2), requires_grad=True)
    h = engine.zeros(1, 2)
    for _ in range(200):
        h = (h @ W + 1.0).tanh()
    assert 'newrank=true' in viz.draw(h.sum()).source
    assert 'newrank=true' not in viz.draw(h.sum(), max_nodes=None).source  # 1,000 nodes: under LARGE
