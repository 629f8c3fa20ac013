"""torch-style dtype names (`engine.float32`, `engine.long`, ...) as NumPy dtypes.

The names `float`, `int` and `bool` shadow builtins, so they live here, in a module that
does nothing else, and are re-exported by `engine` as torch exports them.
"""

import numpy as np

float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
float16 = half = np.dtype(np.float16)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
uint8 = np.dtype(np.uint8)
bool = np.dtype(np.bool_)  # noqa: A001
