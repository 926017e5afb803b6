"""A genetic algorithm: mutation, single-point crossover, selection, elitism, ``minimize``, and
pure ``settings``/``init``/``ask``/``tell`` (the shape evosax users know)."""

from ._ask_tell import GAState, ask, init, settings, tell
from ._minimize import MUTATIONS, SELECTIONS, minimize
from ._operators import additive_mutation, multiplicative_mutation, single_point_crossover
from ._selection import tournament, truncation

__all__ = [
    "GAState",
    "MUTATIONS",
    "SELECTIONS",
    "additive_mutation",
    "ask",
    "init",
    "minimize",
    "multiplicative_mutation",
    "settings",
    "single_point_crossover",
    "tell",
    "tournament",
    "truncation",
]
