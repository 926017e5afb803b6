"""How a replica's parameters move from one epoch to the next: a first-order rule, CMA-ES or a GA.

NNPDF's own history: a genetic algorithm up to NNPDF3.0, CMA-ES in NNPDF3.1, gradient descent in
NNPDF4.0. Every method has ``init(params, key, objective) -> state`` and ``step(params, state,
epoch, objective, value_and_grad, learning_rate) -> ((χ²_tr, χ²_val) at params, new params, new
state)`` where ``objective(params) -> (χ²_tr, χ²_val)`` and ``value_and_grad(params) -> ((χ²_tr,
χ²_val), ∂χ²_tr/∂params)``; the engine (:mod:`jaxmin.pdf.replicas`) does the look-back and
stopping bookkeeping the same way for all of them. The learning rate is the member's own (a
traced value: members with different rates share one program). One epoch is one optimiser update
for Adam and one generation for the population methods.

- :class:`FirstOrder`: Adam (θ ← θ − η m̂/√(ŝ + ε), the default) or another of the lecture's
  first-order rules, with ∂χ²_tr/∂θ from the hand-written backprop.
- :class:`CMAES`: λ candidates around the mean m (``jaxmin.cmaes.ask``), ranked by χ²_tr
  (``jaxmin.cmaes.tell``); the replica's parameters are the mean m.
- :class:`GeneticAlgorithm`: the lecture's GA (``jaxmin.ga``'s operators): the e best pass
  unchanged, tournament selection, single-point crossover, mutation θ(1 + η) + sξ; the replica's
  parameters are the fittest individual by χ²_tr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.flatten_util import ravel_pytree

from .. import _random
from ..evolution import cmaes, ga
from ..evolution._ranking import stable_order
from ..evolution.ga._minimize import breed
from ..evolution.ga._selection import ranked
from ..optim import RULES

METHODS = ("adam", "gd", "momentum", "nesterov", "rmsprop", "cmaes", "ga")
Objective = Callable[[Any], tuple[jax.Array, jax.Array]]


class FirstOrder(NamedTuple):
    """Full-batch training by one of the lecture's first-order rules (:data:`jaxmin.optim.RULES`:
    ``gd``, ``momentum``, ``nesterov``, ``rmsprop``, ``adam``, with their default settings) at the
    member's learning rate η, gradients by the hand-written backprop."""

    rule: str

    def init(self, params: Any, key: jax.Array, objective: Objective) -> Any:
        return RULES[self.rule](1.0).init(params)

    def step(self, params, state, epoch, objective: Objective, value_and_grad, learning_rate):
        (train, val), grads = value_and_grad(params)
        updates, state = RULES[self.rule](learning_rate).update(grads, state, params)
        return (train, val), optax.apply_updates(params, updates), state


def _population_objective(objective: Objective, unravel: Callable):
    return jax.vmap(lambda flat: objective(unravel(flat)))


class CMAESState(NamedTuple):
    cma: cmaes.CMAState
    key: jax.Array


class CMAES(NamedTuple):
    """CMA-ES on the flattened parameters, σ₀ = ``sigma0``, λ = ``popsize`` (None: default)."""

    sigma0: float
    popsize: int | None
    eigendecomposition = True
    """Eigendecomposes C (see :func:`jaxmin.pdf.replicas.engine_devices`)."""

    def init(self, params: Any, key: jax.Array, objective: Objective) -> CMAESState:
        flat, _ = ravel_pytree(params)
        return CMAESState(cmaes.init(flat, self.sigma0, popsize=self.popsize), key)

    def step(self, params, state: CMAESState, epoch, objective: Objective, value_and_grad, _):
        _, unravel = ravel_pytree(params)
        epoch_key = _random.fold_in(state.key, epoch)
        candidates, cma = cmaes.ask(epoch_key, state.cma)
        train, val = _population_objective(objective, unravel)(
            jnp.concatenate([cma.mean[None], candidates])
        )
        cma, _ = cmaes.tell(epoch_key, candidates, train[1:], cma)
        return (train[0], val[0]), unravel(cma.mean), CMAESState(cma, state.key)


class GAState(NamedTuple):
    population: jax.Array
    train: jax.Array
    val: jax.Array
    current: jax.Array
    """The row of the population that is the replica's parameters (the fittest, or the start)."""
    key: jax.Array


class GeneticAlgorithm(NamedTuple):
    """A generational GA: ``popsize`` individuals, ``elitism`` survivors, tournaments of
    ``tournament_size``, multiplicative rate ``rate`` and additive scale ``scale``."""

    popsize: int
    elitism: int
    tournament_size: int
    rate: float
    scale: float

    def init(self, params: Any, key: jax.Array, objective: Objective) -> GAState:
        flat, unravel = ravel_pytree(params)
        spread = self.scale * jax.random.normal(
            jax.random.split(key)[0], (self.popsize, flat.size), flat.dtype
        )
        population = (flat + spread).at[0].set(flat)
        train, val = _population_objective(objective, unravel)(population)
        return GAState(population, train, val, jnp.zeros((), jnp.int32), key)

    def step(self, params, state: GAState, epoch, objective: Objective, value_and_grad, _):
        _, unravel = ravel_pytree(params)
        evaluate = _population_objective(objective, unravel)
        lam, e = self.popsize, self.elitism
        train, val = state.train, state.val
        monitored = (train[state.current], val[state.current])

        # jaxmin.ga's generation: tournaments, single-point crossover, both mutations
        config = ga.settings(
            lam,
            elitism=e,
            mutation="both",
            mutation_rate=self.rate,
            mutation_scale=self.scale,
            crossover_probability=1.0,
            tournament_size=self.tournament_size,
        )
        dtype = state.population.dtype
        rate, scale = jnp.asarray(self.rate, dtype), jnp.asarray(self.scale, dtype)
        key = _random.fold_in(state.key, epoch)
        elite, elite_train, children = breed(
            key, state.population, train, epoch, rate, scale, config
        )
        order = stable_order(ranked(train))  # the order breed ranked its elites by
        child_train, child_val = evaluate(children)
        population = jnp.concatenate([elite, children])
        train = jnp.concatenate([elite_train, child_train])
        val = jnp.concatenate([val[order[:e]], child_val])
        best = jnp.argmin(ranked(train)).astype(jnp.int32)
        return (
            monitored,
            unravel(population[best]),
            GAState(population, train, val, best, state.key),
        )
