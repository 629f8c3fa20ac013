"""`engine.nn.functional` is `engine.functional`, so `torch.nn.functional` resolves when `torch` is the engine."""

from . import functional

__all__ = ["functional"]
