"""CMA-ES (Hansen's tutorial, pycma's defaults but purecma's eigendecomposition interval): pure
``init``/``ask``/``tell`` and ``minimize``."""

from ._minimize import minimize
from ._parameters import (
    StrategyParameters,
    default_popsize,
    default_steps,
    expected_norm,
    strategy_parameters,
)
from ._strategy import CMAState, ask, axis_ratio, init, standard_deviations, tell
from ._termination import Tolerances, termination

__all__ = [
    "CMAState",
    "StrategyParameters",
    "Tolerances",
    "ask",
    "axis_ratio",
    "default_popsize",
    "default_steps",
    "expected_norm",
    "init",
    "minimize",
    "standard_deviations",
    "strategy_parameters",
    "tell",
    "termination",
]
