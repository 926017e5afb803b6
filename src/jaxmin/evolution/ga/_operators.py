"""Variation operators of the genetic algorithm: mutation and single-point crossover.

A population is an array of shape (λ, n): row k is individual k's parameter vector (its "DNA").
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def multiplicative_mutation(
    key: jax.Array, population: jax.Array, rate: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """The lecture's mutation θ_kj ← θ_kj (1 + η_kj), η_kj ~ N(0, r_j²).

    Each gene mutates with ``probability``; ``rate`` r is a scalar or one rate per parameter
    (shape (n,)). The change is relative to θ itself, so a parameter that is exactly 0 can never
    move — use :func:`additive_mutation` (or both) when parameters may start at or cross zero.
    """
    key_eta, key_mask = jax.random.split(key)
    eta = rate * jax.random.normal(key_eta, population.shape, population.dtype)
    mutate = jax.random.bernoulli(key_mask, probability, population.shape)
    return jnp.where(mutate, population * (1 + eta), population)


def additive_mutation(
    key: jax.Array, population: jax.Array, scale: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """Gaussian mutation θ_kj ← θ_kj + s_j ξ_kj, ξ_kj ~ N(0, 1), each gene with ``probability``.

    ``scale`` s is a scalar or one scale per parameter (shape (n,)).
    """
    key_xi, key_mask = jax.random.split(key)
    xi = scale * jax.random.normal(key_xi, population.shape, population.dtype)
    mutate = jax.random.bernoulli(key_mask, probability, population.shape)
    return jnp.where(mutate, population + xi, population)


def single_point_crossover(
    key: jax.Array, parents_a: jax.Array, parents_b: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """Children inheriting θ_1…θ_{c−1} from parent a and θ_c…θ_n from parent b.

    For each pair the cut c is uniform on {1, …, n−1} (both parents always contribute); with
    probability 1 − ``probability`` (and always for n = 1) the child is a copy of parent a.
    """
    count, n = parents_a.shape
    if n == 1:
        return parents_a
    key_cut, key_do = jax.random.split(key)
    cut = jax.random.randint(key_cut, (count, 1), 1, n)
    do = jax.random.bernoulli(key_do, probability, (count, 1))
    from_b = do & (jnp.arange(n) >= cut)
    return jnp.where(from_b, parents_b, parents_a)
