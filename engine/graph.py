"""The graph machinery shared by `Tensor` and the scalar `Value`.

A node has `_parents` (a tuple, so traversal order is deterministic), `_vjp` (a function
from the output gradient to one gradient per parent, or None for a leaf), `_op` (a name
for drawing) and `_seq` (its place in creation order). This module provides grad mode
(`no_grad`, per thread), an iterative topological sort (for drawing), `unbroadcast` (with `add_reduce`, an
accurate sum), and `backprop`, the
one loop that runs every backward pass: VJPs return gradients, the engine sums them.
"""

from __future__ import annotations

import contextvars
import functools
import heapq
import inspect
import itertools

import numpy as np

# Every node takes a number from this clock when it is made. A node is always made after its parents,
# so visiting nodes by decreasing number visits every consumer before what it consumed: backprop needs
# no separate topological sort. (Only the order matters; the numbers never show.)
creation_order = itertools.count().__next__


# Whether new ops record the graph (torch's grad mode): a context variable, so each thread has its own and
# starts with grad on, as in torch; `no_grad` in one thread never switches another's off.
_grad_enabled: contextvars.ContextVar[bool] = contextvars.ContextVar("ninjagrad_grad_enabled", default=True)
is_grad_enabled = _grad_enabled.get  # the bound method: as cheap as reading an attribute, once per op


class no_grad:
    """Context manager and decorator: ops inside build no graph (like `torch.no_grad`), in this thread.

    Decorating a generator function keeps grad off while the generator runs, not only while it is made.
    """

    def __new__(cls, fn=None):
        # `@no_grad` without parentheses wraps `fn` directly, as torch allows
        self = super().__new__(cls)
        return self if fn is None else self(fn)

    def __enter__(self) -> None:
        self._token = _grad_enabled.set(False)

    def __exit__(self, *exc: object) -> None:
        _grad_enabled.reset(self._token)

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def generator(*args, **kwargs):
                gen = fn(*args, **kwargs)
                sent, thrown = None, None
                while True:  # every resumption of gen runs with grad off; what the caller sends or throws goes in
                    with no_grad():
                        try:
                            item = gen.throw(thrown) if thrown is not None else gen.send(sent)
                        except StopIteration as stop:
                            return stop.value
                    sent, thrown = None, None
                    try:
                        sent = yield item
                    except GeneratorExit:
                        with no_grad():
                            gen.close()
                        raise
                    except BaseException as e:  # noqa: BLE001  (handed to gen, which may handle it)
                        thrown = e

            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with no_grad():
                return fn(*args, **kwargs)

        return wrapper


def toposort(root) -> list:
    """Nodes reachable from `root`, every node after all of its parents (what `viz` draws).

    Iterative depth-first search with an explicit stack, so a 100,000-op chain needs no
    recursion; parents are visited in tuple order, so the result is deterministic.
    """
    order: list = []
    seen = {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        node, parents = stack[-1]
        for parent in parents:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(node)
    return order


@functools.lru_cache(maxsize=4096)
def _broadcast_axes(gshape: tuple, shape: tuple) -> tuple:
    """The axes of `gshape` that broadcasting `shape` up to it added or stretched (a pure function, cached)."""
    lead = len(gshape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and gshape[lead + i] != 1)


PAIRWISE_ROWS = 32  # add_reduce sums at most this many slices of an axis one after another


@functools.lru_cache(maxsize=64)
def _ones_row(n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only (1, n) row of ones, made once per size: the left factor of a batch sum."""
    row = np.ones((1, n), dtype)
    row.flags.writeable = False
    return row


@functools.lru_cache(maxsize=64)
def _constant(value: float, dtype: np.dtype) -> np.ndarray:
    """`value` as a read-only 0-d array of `dtype`, made once: NumPy combines an array with it about 1 us
    faster than with a Python number, and rounds it the same way (to the array's dtype). (manual has the
    same helper, `constant`: it does not import the engine.)"""
    const = np.asarray(value, dtype)
    const.flags.writeable = False
    return const


def add_reduce(x: np.ndarray, axes: tuple | None, keepdims: bool = False) -> np.ndarray:
    """np.add.reduce(x, axes): the sum over `axes` (None: all), added pairwise along every axis but the last.

    NumPy sums an axis other than the last by adding its slices one after another, so a float32 batch
    sum's rounding error grows like n (3e-7 relative at n = 1024, 8x torch's, enough to fail
    torch.allclose against it). Halving such an axis (first half + second half) until at most
    PAIRWISE_ROWS slices remain makes the error grow like log n, as NumPy's own sums along the last
    axis and torch's sums do. Integer arrays are summed by NumPy as they are (integer sums are exact;
    halving in a narrow type could overflow). The batch sum of a C-ordered float32/float64 (n, features)
    array finishes as the product ones(1, n) @ x, which BLAS does in a third of NumPy's time at (32, 200);
    manual.batch_sum finishes the same way, so the two give the same bits. A 0-d x accepts axis 0, as
    torch and ndarray.sum do.
    """
    if not x.ndim:
        axes = None
    elif axes is not None and x.dtype.kind in "fc":
        last = x.ndim - 1
        for axis in axes:
            while axis < last and (n := x.shape[axis]) > PAIRWISE_ROWS:
                before, half = (slice(None),) * axis, n // 2
                halved = x[before + (slice(half),)] + x[before + (slice(half, 2 * half),)]
                if n % 2:  # the odd slice out joins the first
                    halved[before + (slice(1),)] += x[before + (slice(n - 1, n),)]
                x = halved
        if axes == (0,) and last == 1 and x.dtype.char in "fd" and x.flags.c_contiguous:
            total = np.dot(_ones_row(x.shape[0], x.dtype), x)  # (1, features)
            return total if keepdims else total.reshape(-1)
    return np.add.reduce(x, axis=axes, keepdims=keepdims)


def unbroadcast(g: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum `g` down to `shape`: the reverse of NumPy broadcasting `shape` up to `g.shape`.

    Sums (with `add_reduce`) the leading axes broadcasting added and every axis where `shape` has a 1.
    """
    if g.shape == shape:
        return g
    g = add_reduce(g, _broadcast_axes(g.shape, shape))
    return g if g.shape == shape else g.reshape(shape)


def backprop(root, seed, retain_graph: bool = False) -> None:
    """Run reverse mode from `root` with output gradient `seed`.

    Nodes are taken latest-made first (a max-heap on `_seq`), so when a node is taken every consumer
    has already handed it its VJP, and its gradient for this pass is complete: the sum of those VJPs.
    The node adds it to its own `.grad` (`_accumulate`) and hands it on through its VJP; a leaf has
    no VJP, so each contribution is added to its grad as it arrives. Only nodes that receive a
    gradient are visited. Without `retain_graph` the VJPs are dropped afterwards, as
    torch frees its saved tensors.
    """
    grads = {root: seed}  # keyed by the node itself: nodes hash by identity
    heap = [(-root._seq, root)]  # _seq is unique, so a tuple comparison never reaches the node
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        node = pop(heap)[1]
        g = grads.pop(node)
        node._accumulate(g)
        vjp = node._vjp
        if vjp is None:
            if node._parents and node._rg:
                raise RuntimeError(
                    f"backward: the graph through '{node._op}' was already freed by an earlier "
                    "backward(); call backward(retain_graph=True) the first time to backprop twice"
                )
            continue
        node._check_unmodified()
        if not retain_graph:
            node._vjp = None
        op = node._op
        pgs = vjp(g)
        if type(pgs) is not tuple and not isinstance(pgs, list) or len(pgs) != len(node._parents):
            raise _vjp_error(node, pgs)
        for parent, pg in zip(node._parents, pgs):
            if pg is None or not parent._rg:
                continue
            pg = parent._fit(pg, op)
            if not parent._parents:  # a leaf has nothing to pass on: add to its grad now, no scheduling
                parent._accumulate(pg)
                continue
            prev = grads.get(parent)
            if prev is None:
                grads[parent] = pg
                push(heap, (-parent._seq, parent))
            else:
                grads[parent] = prev + pg


def _vjp_error(node, pgs) -> TypeError:
    """The error for a VJP that did not return one gradient (or None) per parent, as a tuple or list."""
    got = f"{len(pgs)}" if isinstance(pgs, tuple | list) else f"an object of type {type(pgs).__name__}"
    return TypeError(f"backward: the VJP of '{node._op}' must return a tuple of {len(node._parents)} gradients, "
                     f"one per parent (None for a parent that gets none); it returned {got}")
