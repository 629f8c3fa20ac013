"""Hand-written backpropagation for the makemore MLP (Karpathy's makemore part 4), in pure NumPy.

`backward_chain` is Exercise 1 (every intermediate, step by step); `cross_entropy_backward` and
`batchnorm_backward` are Exercises 2 and 3 (fused); `backward_fused` runs the backward pass with them;
`forward_train`, `step_grads` and `sgd_update` are Exercise 4, the fast training step, and `Trainer` runs it
at full speed. No autograd engine and no torch here: these are the answers the engine and PyTorch are
checked against.
"""

from manual._common import BN_EPS, PARAM_NAMES
from manual.chain import backward_chain
from manual.embedding import embedding_backward
from manual.fused import backward_fused, batchnorm_backward, cross_entropy_backward
from manual.step import ForwardCache, StepResult, Trainer, forward_train, sgd_update, step_grads

__all__ = [
    "BN_EPS",
    "PARAM_NAMES",
    "ForwardCache",
    "StepResult",
    "Trainer",
    "backward_chain",
    "backward_fused",
    "batchnorm_backward",
    "cross_entropy_backward",
    "embedding_backward",
    "forward_train",
    "sgd_update",
    "step_grads",
]
