"""The genetic algorithm as pure ``init`` / ``ask`` / ``tell`` functions, in the shape evosax
users know: ``ask(key, state, settings) -> (candidates, state)`` and
``tell(key, candidates, fitness, state, settings) -> (state, info)``.

The state holds the current population and its f. ``ask`` returns λ candidates: the first
population (x0 and λ − 1 draws x0 + ``init_scale`` · N(0, I)) before any ``tell``, and after
that the e elites of the last population followed by λ − e children bred from it by selection,
crossover and mutation (:func:`jaxmin.ga.minimize`'s operators). Every candidate is evaluated
by the caller — the elites too (with a deterministic f they get their old value; ``minimize``
keeps theirs instead, so it spends e fewer evaluations per generation).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ... import _random
from ..._identity import compiled
from .. import _population
from ._minimize import Rate, _Config, breed, make_config
from ._selection import ranked


class GAState(NamedTuple):
    """The population (λ, n), its f (+inf before the first ``tell``), the generations told,
    the evaluations so far, and the best point and f so far."""

    population: jax.Array
    fitness: jax.Array
    generation: jax.Array
    nfev: jax.Array
    best_x: jax.Array
    best_f: jax.Array


def settings(
    popsize: int,
    *,
    elitism: int = 1,
    mutation: str = "both",
    mutation_rate: Rate = 0.1,
    mutation_scale: Rate = 0.1,
    mutation_probability: float = 1.0,
    crossover_probability: float = 0.9,
    selection: str = "tournament",
    tournament_size: int = 3,
    truncation_fraction: float = 0.5,
) -> _Config:
    """The GA's settings for ``ask``/``tell``, checked as :func:`jaxmin.ga.minimize` checks
    them (rates: a number ≥ 0 or a schedule generation → rate). Hashable: pass it as a static
    argument of ``jax.jit`` — built from constants; a schedule over values traced by your own
    ``jit`` or ``vmap`` belongs inside that function (it has no content to key a program by)."""
    config, rate, scale = make_config(
        None,
        popsize=popsize,
        mutation=mutation,
        mutation_rate=mutation_rate,
        mutation_scale=mutation_scale,
        mutation_probability=mutation_probability,
        crossover_probability=crossover_probability,
        selection=selection,
        tournament_size=tournament_size,
        truncation_fraction=truncation_fraction,
        elitism=elitism,
        ftarget=None,
        record_mean=False,
    )
    return config._replace(rate=float(rate), scale=float(scale))


def init(key: jax.Array, x0: jax.Array, config: _Config, init_scale: float = 1.0) -> GAState:
    """The first population around the vector ``x0`` (row 0 is x0 itself)."""
    x0 = jnp.asarray(x0)
    if x0.ndim != 1 or not jnp.issubdtype(x0.dtype, jnp.floating):
        raise ValueError(f"x0 must be a 1-D float vector, got shape {x0.shape} {x0.dtype}")
    lam = config.popsize
    population = x0 + init_scale * _random.normal(key, (lam, x0.shape[0]), x0.dtype)
    inf = jnp.asarray(jnp.inf, x0.dtype)
    return GAState(
        population=population.at[0].set(x0),
        fitness=jnp.full(lam, inf),
        generation=jnp.zeros((), jnp.int32),
        nfev=jnp.zeros((), jnp.int32),
        best_x=x0,
        best_f=inf,
    )


def ask(key: jax.Array, state: GAState, config: _Config) -> tuple[jax.Array, GAState]:
    """The λ candidates to evaluate: the first population, then elites and children.

    ``ask`` and ``tell`` are compiled once per shapes (``ask`` per ``config`` too: a static
    argument, :func:`settings` is hashable), so an eager ask/evaluate/tell loop runs compiled
    code (~0.05–0.1 ms a call on a CPU, where op-by-op dispatch took ~20 ms an ``ask``); inside
    your own ``jit`` or ``vmap`` they are part of your program. A ``config`` whose schedule holds
    your traced values is traced inline instead (no cache keeps your trace alive)."""
    return compiled(_ask, config)(key, state, config)


@functools.partial(jax.jit, static_argnames="config")
def _ask(key: jax.Array, state: GAState, config: _Config) -> tuple[jax.Array, GAState]:
    dtype = state.population.dtype
    elite, _, children = breed(
        key,
        state.population,
        state.fitness,
        state.generation,
        jnp.asarray(config.rate, dtype),
        jnp.asarray(config.scale, dtype),
        config,
    )
    bred = jnp.concatenate([elite, children])
    return jnp.where(state.generation == 0, state.population, bred), state


def tell(
    key: jax.Array, candidates: jax.Array, fitness: jax.Array, state: GAState, config: _Config
) -> tuple[GAState, dict]:
    """Make the evaluated candidates the population: ``(state, info)``
    (:func:`jaxmin.evolution._population.generation_info`). ``key`` and ``config`` are accepted
    for the shared ask/tell shape; the GA's randomness and settings are all in ``ask``."""
    del config
    return _tell(key, candidates, fitness, state)


@jax.jit
def _tell(
    key: jax.Array, candidates: jax.Array, fitness: jax.Array, state: GAState
) -> tuple[GAState, dict]:
    del key
    ranks = ranked(fitness)
    best = jnp.argmin(ranks)
    better = ranks[best] < state.best_f
    new = GAState(
        population=candidates,
        fitness=fitness,
        generation=state.generation + 1,
        nfev=state.nfev + candidates.shape[0],
        best_x=jnp.where(better, candidates[best], state.best_x),
        best_f=jnp.where(better, ranks[best], state.best_f),
    )
    info = _population.generation_info(new.generation, ranks[best], new.best_f, new.nfev)
    return new, info
