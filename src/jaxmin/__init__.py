"""jaxmin: optimisers and neural networks for physicists, in JAX."""

from . import objectives, optim
from .evolution import EvolutionResult, cmaes, ga
from .find_minima import MinimaResult, find_minima
from .minimize import minimize
from .result import MinimizeResult, Status
from .second_order import newton, parameter_covariance

__version__ = "0.1.0"

__all__ = [
    "EvolutionResult",
    "MinimaResult",
    "MinimizeResult",
    "Status",
    "cmaes",
    "find_minima",
    "ga",
    "minimize",
    "newton",
    "objectives",
    "optim",
    "parameter_covariance",
]
