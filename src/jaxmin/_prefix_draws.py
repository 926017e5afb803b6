"""``jax.random`` draws of any shape from programs compiled once per power-of-two size.

Called outside a trace, ``jax.random.normal(key, shape)`` compiles a program for every new
shape (0.2–0.3 s on a CPU each, a second for the layers of a new network). With the
partitionable Threefry layout (``jax_threefry_partitionable``, JAX's default), element i of a
flat draw hashes the counter i alone, so a draw of ``shape`` is the first ∏ shape elements of a
longer flat draw of the same key, reshaped: bit for bit. Here the flat draw has the smallest
power-of-two size ≥ max(∏ shape, 64), so that shapes of similar size share one program, and the
prefix is cut on the host (NumPy: no program per shape either).
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import _random

SMALLEST = 64
"""The smallest flat draw: shapes of up to 64 numbers share one program."""


LARGEST = 1 << 22
"""The largest draw served (4M numbers): beyond it the draw itself, and the copies to the host
and back, outweigh a compilation."""


def serves(key: Any, dtype: Any, largest: int) -> bool:
    """Whether draws of ``key`` are prefixes of longer flat draws: a concrete Threefry key (typed,
    or a raw ``uint32[2]`` of the default implementation) under the partitionable layout, for
    numbers of ``dtype`` float32 or float64 (whose arithmetic NumPy does as XLA does), and
    draws of at most ``largest`` ≤ :data:`LARGEST` numbers each."""
    if isinstance(key, jax.core.Tracer) or not jax.config.jax_threefry_partitionable:
        return False
    if np.dtype(dtype) not in (np.float32, np.float64) or largest > LARGEST:
        return False
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        return _random.partitionable_threefry(key)
    return (
        key.dtype == np.uint32
        and key.shape == (2,)
        and jax.config.jax_default_prng_impl == "threefry2x32"
    )


def normal(key: jax.Array, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """``jax.random.normal(key, shape, dtype)`` as a host array (a key that :func:`serves`)."""
    return _prefix("normal", key, shape, dtype)


def uniform(
    key: jax.Array, shape: tuple[int, ...], dtype: Any, low: float, high: float
) -> np.ndarray:
    """``jax.random.uniform(key, shape, dtype, low, high)`` as a host array: low and high enter
    the program as ``dtype`` values, as jax.random converts them."""
    bounds = np.asarray(low, dtype), np.asarray(high, dtype)
    return _prefix("uniform", key, shape, dtype, *bounds)


def bernoulli(key: jax.Array, p: float, shape: tuple[int, ...]) -> np.ndarray:
    """``jax.random.bernoulli(key, p, shape)`` for a float ``p`` as a host array (p enters the
    program in JAX's default float, the dtype jax.random draws in for a Python float)."""
    dtype = jax.dtypes.canonicalize_dtype(np.float64)
    return _prefix("bernoulli", key, shape, dtype, np.asarray(p, dtype))


def to_device(tree: Any, key: Any) -> Any:
    """Host arrays as JAX arrays, without a program per shape (``jnp.asarray`` compiles one):
    on the key's device where the key is committed to one, as jax.random's draws would be."""
    committed = getattr(key, "committed", False)
    return jax.device_put(tree, key.sharding if committed else None)


def _prefix(draw: str, key: jax.Array, shape: tuple[int, ...], dtype: Any, *params) -> np.ndarray:
    count = math.prod(shape)
    size = max(SMALLEST, 1 << max(count - 1, 0).bit_length())
    flat = _flat(draw, size, np.dtype(dtype), key, *params)
    return np.asarray(flat)[:count].reshape(shape)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _flat(draw: str, size: int, dtype: np.dtype, key: jax.Array, *params: jax.Array):
    if draw == "normal":
        return jax.random.normal(key, (size,), dtype)
    if draw == "uniform":
        return jax.random.uniform(key, (size,), dtype, *params)
    return jax.random.bernoulli(key, params[0], (size,))
