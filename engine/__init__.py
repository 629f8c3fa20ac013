"""ninjagrad's engine: a NumPy reverse-mode autodiff `Tensor` with PyTorch's API, and micrograd's `Value`.

    import engine as torch                 # the lecture's code runs unchanged
    import engine.functional as F
    x = torch.randn(4, 3, requires_grad=True)
    loss = F.cross_entropy(x, torch.tensor([0, 2, 1, 2]))
    loss.backward(); x.grad                # a NumPy array

Depends on NumPy only.
"""

from . import functional, nn, optim
from .dtypes import bool, double, float, float16, float32, float64, half, int, int32, int64, long, uint8
from .gradcheck import GradcheckError, gradcheck
from .graph import is_grad_enabled, no_grad, toposort, unbroadcast
from .ops import (
    abs,
    add,
    addmm,
    argmax,
    argmin,
    cat,
    clone,
    div,
    eq,
    exp,
    flatten,
    ge,
    gt,
    le,
    log,
    log10,
    lt,
    matmul,
    max,
    maximum,
    mean,
    min,
    mul,
    ne,
    neg,
    permute,
    pow,
    relu,
    reshape,
    sigmoid,
    sqrt,
    squeeze,
    stack,
    std,
    sub,
    sum,
    tanh,
    transpose,
    unsqueeze,
    var,
    where,
)
from .ops import all_ as all
from .ops import any_ as any
from .tensor import (
    Generator,
    Tensor,
    allclose,
    arange,
    as_tensor,
    default_generator,
    full,
    make_op,
    manual_seed,
    ones,
    ones_like,
    rand,
    randint,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from .value import Value

__all__ = [
    "Tensor", "Value", "Generator", "GradcheckError", "functional", "nn", "optim", "tensor", "as_tensor", "make_op",
    "zeros", "ones", "full", "zeros_like", "ones_like", "randn", "rand", "randint", "arange",
    "default_generator", "manual_seed", "all", "any", "allclose", "no_grad", "is_grad_enabled",
    "gradcheck", "toposort", "unbroadcast",
    "abs", "add", "addmm", "argmax", "argmin", "cat", "clone", "div", "eq", "exp", "flatten", "ge", "gt", "le",
    "log", "log10", "lt", "matmul", "max", "maximum", "mean", "min", "mul", "ne", "neg", "permute",
    "pow", "relu", "reshape", "sigmoid", "sqrt", "squeeze", "stack", "std", "sub", "sum", "tanh",
    "transpose", "unsqueeze", "var", "where",
    "bool", "double", "float", "float16", "float32", "float64", "half", "int", "int32", "int64",
    "long", "uint8",
]
