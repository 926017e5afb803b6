"""Variation operators of the genetic algorithm: mutation and single-point crossover.

A population is an array of shape (λ, n): row k is individual k's parameter vector (its "DNA").
Each operator draws all its randomness as one block of uniforms U[0, 1) from its key (one
call of the generator, which on a CPU is a loop of its own); the ``*_from`` forms take the
block, so that :func:`jaxmin.ga.minimize` draws a whole generation's in one call.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from ... import _random


def normals(u: jax.Array) -> jax.Array:
    """Standard normals z = √2 erf⁻¹(2u − 1) from uniforms u ∈ [0, 1) (u = 0 taken just
    inside the interval)."""
    v = jnp.maximum(2 * u - 1, jnp.nextafter(jnp.asarray(-1, u.dtype), jnp.asarray(0, u.dtype)))
    return math.sqrt(2) * jax.lax.erf_inv(v)


def integers(u: jax.Array, high: jax.Array | int) -> jax.Array:
    """Integers uniform on {0, …, high − 1} from uniforms u ∈ [0, 1): ⌊u · high⌋."""
    high = jnp.asarray(high)
    return jnp.minimum(jnp.floor(u * high).astype(jnp.int32), high - 1)


def uniforms(key: jax.Array, shape: tuple[int, ...], dtype: jax.typing.DTypeLike) -> jax.Array:
    """Uniforms U[0, 1) of ``dtype`` (a float dtype; integers draw in the default float)."""
    dtype = dtype if jnp.issubdtype(dtype, jnp.floating) else jnp.result_type(float)
    return _random.uniform(key, shape, dtype)


def multiplicative_mutation(
    key: jax.Array, population: jax.Array, rate: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """The lecture's mutation θ_kj ← θ_kj (1 + η_kj), η_kj ~ N(0, r_j²).

    Each gene mutates with ``probability``; ``rate`` r is a scalar or one rate per parameter
    (shape (n,)). The change is relative to θ itself, so a parameter that is exactly 0 can never
    move — use :func:`additive_mutation` (or both) when parameters may start at or cross zero.
    """
    u = uniforms(key, (2, *population.shape), population.dtype)
    return multiplicative_mutation_from(normals(u[0]), u[1], population, rate, probability)


def multiplicative_mutation_from(z, gate, population, rate, probability=1.0) -> jax.Array:
    """:func:`multiplicative_mutation` with its standard normals ``z`` and uniforms ``gate``
    (each of the population's shape) given."""
    return jnp.where(gate < probability, population * (1 + rate * z), population)


def additive_mutation(
    key: jax.Array, population: jax.Array, scale: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """Gaussian mutation θ_kj ← θ_kj + s_j ξ_kj, ξ_kj ~ N(0, 1), each gene with ``probability``.

    ``scale`` s is a scalar or one scale per parameter (shape (n,)).
    """
    u = uniforms(key, (2, *population.shape), population.dtype)
    return additive_mutation_from(normals(u[0]), u[1], population, scale, probability)


def additive_mutation_from(z, gate, population, scale, probability=1.0) -> jax.Array:
    """:func:`additive_mutation` with its standard normals ``z`` and uniforms ``gate`` (each of
    the population's shape) given."""
    return jnp.where(gate < probability, population + scale * z, population)


def single_point_crossover(
    key: jax.Array, parents_a: jax.Array, parents_b: jax.Array, probability: jax.Array | float = 1.0
) -> jax.Array:
    """Children inheriting θ_1…θ_{c−1} from parent a and θ_c…θ_n from parent b.

    For each pair the cut c is uniform on {1, …, n−1} (both parents always contribute); with
    probability 1 − ``probability`` (and always for n = 1) the child is a copy of parent a.
    """
    u = uniforms(key, (2, parents_a.shape[0], 1), parents_a.dtype)
    return single_point_crossover_from(u, parents_a, parents_b, probability)


def single_point_crossover_from(u, parents_a, parents_b, probability=1.0) -> jax.Array:
    """:func:`single_point_crossover` with its uniforms ``u`` of shape (2, count, 1) given."""
    n = parents_a.shape[1]
    if n == 1:
        return parents_a
    cut = 1 + integers(u[0], n - 1)
    from_b = (u[1] < probability) & (jnp.arange(n) >= cut)
    return jnp.where(from_b, parents_b, parents_a)
