"""Parent selection of the genetic algorithm: truncation and tournament.

Both take the population's f values (lower is fitter; NaN counts as +inf) and return the indices
of ``count`` parents; their ``*_from`` forms take the uniforms U[0, 1) they draw (see
:mod:`._operators`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from .._ranking import stable_order
from ._operators import integers, uniforms


def ranked(fitness: jax.Array) -> jax.Array:
    """f with NaN replaced by +inf, so that it ranks last."""
    return jnp.where(jnp.isnan(fitness), jnp.inf, fitness)


def truncation(key: jax.Array, fitness: jax.Array, count: int, fraction: float) -> jax.Array:
    """Parents drawn uniformly (with replacement) from the best ⌈fraction · λ⌉ individuals."""
    return truncation_from(uniforms(key, (count,), fitness.dtype), fitness, fraction)


def truncation_from(u: jax.Array, fitness: jax.Array, fraction: float) -> jax.Array:
    """:func:`truncation` with its uniforms ``u`` of shape (count,) given."""
    keep = max(1, int(-(-fraction * fitness.shape[0] // 1)))
    best = stable_order(ranked(fitness))[:keep]
    return best[integers(u, keep)]


def distinct_indices(u: jax.Array, n: int) -> jax.Array:
    """k = len(u) distinct indices of range(n), a uniformly random k-subset, by Floyd's
    algorithm: for j = n − k, …, n − 1 draw t uniform in [0, j] (from u) and take t, or j if t
    was taken already. O(k²) work and no sort (``jax.random.choice(replace=False)`` sorts n
    keys)."""
    k = u.shape[0]
    draws = integers(u, jnp.arange(n - k + 1, n + 1))
    chosen: list[jax.Array] = []
    for i in range(k):  # elementwise only (no scatter): cheap to compile, also under vmap
        taken = functools.reduce(jnp.logical_or, [c == draws[i] for c in chosen], False)
        chosen.append(jnp.where(taken, n - k + i, draws[i]))
    return jnp.stack(chosen)


def tournament(key: jax.Array, fitness: jax.Array, count: int, size: int) -> jax.Array:
    """Each parent is the fittest of ``size`` distinct individuals drawn uniformly at random."""
    size = min(size, fitness.shape[0])
    return tournament_from(uniforms(key, (count, size), fitness.dtype), fitness)


def tournament_from(u: jax.Array, fitness: jax.Array) -> jax.Array:
    """:func:`tournament` with its uniforms ``u`` of shape (count, size) given (size ≤ λ)."""
    f = ranked(fitness)

    def one(row):
        entrants = distinct_indices(row, f.shape[0])
        return entrants[jnp.argmin(f[entrants])]

    return jax.vmap(one)(u)
