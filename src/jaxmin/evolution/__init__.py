"""Gradient-free population methods: a genetic algorithm (:mod:`.ga`) and CMA-ES (:mod:`.cmaes`)."""

from . import cmaes, ga
from ._result import EvolutionHistory, EvolutionResult

__all__ = ["EvolutionHistory", "EvolutionResult", "cmaes", "ga"]
