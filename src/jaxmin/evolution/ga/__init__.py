"""A genetic algorithm: mutation, single-point crossover, selection, elitism, ``minimize``."""

from ._minimize import MUTATIONS, SELECTIONS, minimize
from ._operators import additive_mutation, multiplicative_mutation, single_point_crossover
from ._selection import tournament, truncation

__all__ = [
    "MUTATIONS",
    "SELECTIONS",
    "additive_mutation",
    "minimize",
    "multiplicative_mutation",
    "single_point_crossover",
    "tournament",
    "truncation",
]
