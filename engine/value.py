"""`Value`: micrograd's scalar, on the engine's graph machinery.

`Value(2.0)` holds a Python float (float64) in `.data` and `.grad`; `+ - * / **` work with
numbers on either side, and `relu tanh exp log` as methods. `backward()` runs the same
topological sort and VJP loop as `Tensor`, so `viz` draws both.
"""

from __future__ import annotations

import math
import numbers

from .graph import backprop, creation_order, is_grad_enabled


class Value:
    """A scalar that remembers how it was made."""

    __slots__ = ("data", "grad", "_parents", "_vjp", "_op", "name", "_seq", "constant", "__weakref__")
    requires_grad = _rg = True  # every Value takes part in backward, as in micrograd

    def __init__(self, data: float, _parents: tuple = (), _op: str = "", name: str = "", *, label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._seq = creation_order()
        self._parents = _parents
        self._vjp = None
        self._op = _op
        self.name = name or label
        self.constant = False  # True for a number arithmetic wrapped (the 3 in v * 3); drawn as a constant

    @property
    def label(self) -> str:
        """micrograd's name for `name`."""
        return self.name

    @label.setter
    def label(self, text: str) -> None:
        self.name = text

    @property
    def parents(self) -> tuple:
        return self._parents

    @property
    def op(self) -> str:
        return self._op

    def __repr__(self) -> str:
        return f"Value(data={self.data}, grad={self.grad})"

    def _make(self, data: float, parents: tuple, vjp, op: str) -> Value:
        if not is_grad_enabled():
            return Value(data, (), op)
        out = Value(data, parents, op)
        out._vjp = vjp
        return out

    # ---- arithmetic ----------------------------------------------------------------------
    def __add__(self, other) -> Value:
        other = _value(other)
        # z = a + b; dz/da = 1, dz/db = 1
        return self._make(self.data + other.data, (self, other), lambda g: (g, g), "+")

    def __mul__(self, other) -> Value:
        other = _value(other)
        a, b = self.data, other.data
        # z = a * b; dz/da = b, dz/db = a
        return self._make(a * b, (self, other), lambda g: (g * b, g * a), "*")

    def __pow__(self, p) -> Value:
        if not isinstance(p, numbers.Real):
            raise TypeError(f"Value ** {type(p).__name__}: only int/float exponents are supported")
        a = self.data
        if a < 0 and p != int(p):
            raise ValueError(f"Value ** {p}: a negative base ({a}) to a fractional power is not a real number")
        z = a**p
        # z = a**p; dz/da = p a**(p-1), whose limit at a = 0 is 0 for p = 0 and inf for 0 < p < 1 (as torch)
        slope = (0.0 if p == 0 else math.inf) if a == 0 and 0 <= p < 1 else p * a ** (p - 1)
        return self._make(z, (self,), lambda g: (g * slope,), f"**{p}")

    def __rpow__(self, base) -> Value:
        if not isinstance(base, numbers.Real) or base <= 0:
            raise ValueError(f"{base!r} ** Value: the base must be a positive number (its log is the derivative)")
        z = base**self.data
        # z = c**a; dz/da = z log(c)
        return self._make(z, (self,), lambda g: (g * z * math.log(base),), f"{base}**")

    def __neg__(self) -> Value:
        return self * -1

    def __sub__(self, other) -> Value:
        return self + (-_value(other))

    def __truediv__(self, other) -> Value:
        other = _value(other)
        if other.data == 0:  # Python's float division raises too; a**-1's message would not say "division"
            raise ZeroDivisionError(f"Value division by zero: {self.data} / {other.data}")
        return self * other**-1

    def __radd__(self, other) -> Value:
        return self + other

    def __rmul__(self, other) -> Value:
        return self * other

    def __rsub__(self, other) -> Value:
        return _value(other) - self

    def __rtruediv__(self, other) -> Value:
        return _value(other) / self

    # ---- functions -----------------------------------------------------------------------
    def tanh(self) -> Value:
        t = math.tanh(self.data)
        # z = tanh(a); dz/da = 1 - z**2
        return self._make(t, (self,), lambda g: (g * (1 - t * t),), "tanh")

    def relu(self) -> Value:
        a = self.data
        # z = max(a, 0); dz/da = [a > 0]  (a NaN stays NaN, as in torch)
        return self._make(0.0 if a <= 0 else a, (self,), lambda g: (g if a > 0 else 0.0,), "ReLU")

    def exp(self) -> Value:
        try:
            e = math.exp(self.data)
        except OverflowError:  # past float's range, where math.exp raises rather than give inf
            e = math.inf
        # z = exp(a); dz/da = z
        return self._make(e, (self,), lambda g: (g * e,), "exp")

    def log(self) -> Value:
        a = self.data
        if a <= 0:
            raise ValueError(f"Value.log: log of {a} is undefined (needs a positive number)")
        # z = log(a); dz/da = 1/a
        return self._make(math.log(a), (self,), lambda g: (g / a,), "log")

    def backward(self) -> None:
        """d(self)/d(v) into `v.grad` for every Value this one depends on (grads accumulate)."""
        backprop(self, 1.0, retain_graph=True)

    def _accumulate(self, g: float) -> None:
        self.grad += g

    def _fit(self, g: float, op: str) -> float:
        return g

    def _check_unmodified(self) -> None:
        pass


def _value(x) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, numbers.Real):  # int, float, and NumPy's scalars such as np.int64
        v = Value(x)
        v.constant = True
        return v
    raise TypeError(f"cannot combine a Value with {type(x).__name__} {x!r:.40}")
