"""jaxmin: optimisers and neural networks for physicists, in JAX."""

from . import objectives, optim
from .find_minima import MinimaResult, find_minima
from .minimize import minimize
from .result import MinimizeResult, Status

__version__ = "0.1.0"

__all__ = [
    "MinimaResult",
    "MinimizeResult",
    "Status",
    "find_minima",
    "minimize",
    "objectives",
    "optim",
]
