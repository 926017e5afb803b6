"""Parent selection of the genetic algorithm: truncation and tournament.

Both take the population's f values (lower is fitter; NaN counts as +inf) and return the indices
of ``count`` parents.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def ranked(fitness: jax.Array) -> jax.Array:
    """f with NaN replaced by +inf, so that it ranks last."""
    return jnp.where(jnp.isnan(fitness), jnp.inf, fitness)


def truncation(key: jax.Array, fitness: jax.Array, count: int, fraction: float) -> jax.Array:
    """Parents drawn uniformly (with replacement) from the best ⌈fraction · λ⌉ individuals."""
    keep = max(1, int(-(-fraction * fitness.shape[0] // 1)))
    best = jnp.argsort(ranked(fitness), stable=True)[:keep]
    return best[jax.random.randint(key, (count,), 0, keep)]


def distinct_indices(key: jax.Array, n: int, k: int) -> jax.Array:
    """k distinct indices of range(n), a uniformly random k-subset, by Floyd's algorithm: for
    j = n − k, …, n − 1 draw t uniform in [0, j] and take t, or j if t was taken already. O(k²)
    work and no sort (``jax.random.choice(replace=False)`` sorts n keys)."""
    draws = jax.random.randint(key, (k,), 0, jnp.arange(n - k + 1, n + 1))
    chosen = jnp.full(k, -1, draws.dtype)
    for i in range(k):
        j = n - k + i
        chosen = chosen.at[i].set(jnp.where(jnp.any(chosen == draws[i]), j, draws[i]))
    return chosen


def tournament(key: jax.Array, fitness: jax.Array, count: int, size: int) -> jax.Array:
    """Each parent is the fittest of ``size`` distinct individuals drawn uniformly at random."""
    f = ranked(fitness)
    size = min(size, f.shape[0])

    def one(k):
        entrants = distinct_indices(k, f.shape[0], size)
        return entrants[jnp.argmin(f[entrants])]

    return jax.vmap(one)(jax.random.split(key, count))
