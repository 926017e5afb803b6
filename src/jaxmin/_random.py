"""JAX's own random numbers (the same bits as ``jax.random``), with the Threefry hash written
out as straight-line array operations.

On a CPU, XLA runs ``jax.random``'s Threefry-2x32 hash as a loop of five iterations, each a
dozen small kernels (the loop carries copies of the key schedule): in a compiled generation of
CMA-ES or the GA, whose arrays are small, that loop is a fifth of the generation's kernels and
a third of the code XLA compiles for it. Here the 20 rounds are written out, so that the
compiler fuses the hash, the counter and the conversion to floats into one kernel.

Threefry-2x32 (Salmon et al., SC'11), 20 rounds: with the key (k₀, k₁), k₂ = k₀ ⊕ k₁ ⊕
0x1BD11BDA, the counter (x₀, x₁) ← (x₀ + k₀, x₁ + k₁); each round x₀ ← x₀ + x₁,
x₁ ← rotl(x₁, r) ⊕ x₀ with the rotations (13, 15, 26, 6) and (17, 29, 16, 24) in turn, four
rounds at a time; after the s-th group of four, (x₀, x₁) ← (x₀ + k_{s mod 3},
x₁ + k_{(s+1) mod 3} + s).

The functions follow ``jax.random``'s bit layout (``jax_threefry_partitionable``, the default
since JAX 0.5: element i of a draw hashes the counter (⌊i / 2³²⌋, i mod 2³²)) and its
conversions, so they return exactly what ``jax.random.uniform``, ``normal`` and ``fold_in``
return; for another key implementation, or the old layout, they call ``jax.random`` itself.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_PARITY = np.uint32(0x1BD11BDA)


def threefry2x32(
    k0: jax.Array, k1: jax.Array, x0: jax.Array, x1: jax.Array
) -> tuple[jax.Array, jax.Array]:
    """The Threefry-2x32 hash of the counters (x₀, x₁) under the key (k₀, k₁), uint32 arrays
    (see the module docstring): ``jax.random``'s hash, as straight-line operations."""
    keys = (k0, k1, k0 ^ k1 ^ _PARITY)
    x0, x1 = x0 + keys[0], x1 + keys[1]
    for group in range(5):
        for rotation in _ROTATIONS[group % 2]:
            x0 = x0 + x1
            x1 = ((x1 << np.uint32(rotation)) | (x1 >> np.uint32(32 - rotation))) ^ x0
        x0 = x0 + keys[(group + 1) % 3]
        x1 = x1 + keys[(group + 2) % 3] + np.uint32(group + 1)
    return x0, x1


def partitionable_threefry(key: jax.Array) -> bool:
    """Whether ``key`` is one typed Threefry key drawn with the partitionable layout (anything
    else — raw uint32 keys, other generators, arrays of keys — goes to ``jax.random``)."""
    return (
        jax.config.jax_threefry_partitionable
        and jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
        and key.ndim == 0
        and str(jax.random.key_impl(key)) == "threefry2x32"
    )


def _counters(shape: tuple[int, ...], transposed: bool = False) -> tuple[jax.Array, jax.Array]:
    """The (high, low) 32-bit halves of the flat index of every element of ``shape``; with
    ``transposed`` (a 2-D ``shape`` (a, b)), laid out as the (b, a) transpose."""
    size = math.prod(shape)
    if size >= 2**32:
        raise ValueError(f"a draw of more than 2**32 numbers, got shape {shape}")
    if transposed:
        rows, columns = shape
        row = jax.lax.broadcasted_iota(np.uint32, (columns, rows), 1)
        column = jax.lax.broadcasted_iota(np.uint32, (columns, rows), 0)
        return jnp.zeros((columns, rows), np.uint32), row * np.uint32(columns) + column
    low = jax.lax.iota(np.uint32, size).reshape(shape)
    return jnp.zeros(shape, np.uint32), low


def _bits(key: jax.Array, shape: tuple[int, ...], width: int, transposed: bool) -> jax.Array:
    """``width`` (32 or 64) random bits per element, as ``jax.random.bits`` (transposed: see
    :func:`normal`)."""
    k = jax.random.key_data(key)
    high, low = threefry2x32(k[0], k[1], *_counters(shape, transposed))
    if width == 32:
        return high ^ low
    return (high.astype(np.uint64) << np.uint64(32)) | low.astype(np.uint64)


def uniform(key: jax.Array, shape: tuple[int, ...], dtype=float) -> jax.Array:
    """U[0, 1) of ``dtype`` (float32 or float64), equal to ``jax.random.uniform(key, shape,
    dtype)``: the top mantissa bits of the draw under an exponent of 1, minus 1."""
    return _draw(_uniform, jax.random.uniform, key, shape, dtype)


def normal(
    key: jax.Array, shape: tuple[int, ...], dtype=float, *, transposed: bool = False
) -> jax.Array:
    """N(0, 1) of ``dtype``, equal to ``jax.random.normal(key, shape, dtype)``:
    √2 erf⁻¹(u) with u uniform on (−1, 1).

    With ``transposed`` (a 2-D ``shape`` (a, b)), the same numbers as the (b, a) array
    ``jax.random.normal(key, shape, dtype).T``, computed in that layout: XLA's CPU code
    vectorises an elementwise kernel along its last axis, and the inverse error function of a
    draw of a ≫ b rows of b = 10 numbers runs 2–3× faster along the long axis."""
    return _draw(_normal, jax.random.normal, key, shape, dtype, transposed)


def _draw(
    ours: Any,
    theirs: Any,
    key: jax.Array,
    shape: tuple[int, ...],
    dtype: Any,
    transposed: bool = False,
) -> Any:
    """``ours(key, shape, dtype, transposed)`` for a key and dtype it serves, else ``theirs``
    (jax.random's function of the same draw, transposed if asked)."""
    dtype = jnp.dtype(jax.dtypes.canonicalize_dtype(dtype))
    if transposed and len(shape) != 2:
        raise ValueError(f"a transposed draw needs a 2-D shape, got {shape}")
    if not partitionable_threefry(key) or dtype not in (jnp.float32, jnp.float64):
        values = theirs(key, shape, dtype)
        return values.T if transposed else values
    return ours(key, tuple(shape), dtype, transposed)


# Compiled as one program when called outside a trace (as jax.random's own functions are: one
# operation at a time, each of the hash's hundred would compile for itself), inlined inside one.
@functools.partial(jax.jit, static_argnums=(1, 2, 3), inline=True)
def _uniform(
    key: jax.Array, shape: tuple[int, ...], dtype: Any, transposed: bool = False
) -> jax.Array:
    info = jnp.finfo(dtype)
    bits = _bits(key, shape, info.bits, transposed)
    unsigned = bits.dtype
    mantissa = bits >> np.array(info.bits - info.nmant, unsigned)
    one = np.array(1.0, dtype).view(unsigned)
    floats = jax.lax.bitcast_convert_type(mantissa | one, dtype) - np.array(1.0, dtype)
    return jnp.maximum(np.array(0.0, dtype), floats)


@functools.partial(jax.jit, static_argnums=(1, 2, 3), inline=True)
def _normal(
    key: jax.Array, shape: tuple[int, ...], dtype: Any, transposed: bool = False
) -> jax.Array:
    low = np.nextafter(np.array(-1.0, dtype), np.array(0.0, dtype))
    u = jnp.maximum(low, _uniform(key, shape, dtype, transposed) * (1 - low) + low)
    return np.array(math.sqrt(2), dtype) * jax.lax.erf_inv(u)


def fold_in(key: jax.Array, data: jax.Array | int) -> jax.Array:
    """``jax.random.fold_in(key, data)`` for a 32-bit ``data``: the key hashed with the
    counter (0, data)."""
    if not partitionable_threefry(key) or np.ndim(data):
        return jax.random.fold_in(key, data)
    return _fold_in(key, data)


@functools.partial(jax.jit, inline=True)
def _fold_in(key: jax.Array, data: jax.Array) -> jax.Array:
    k = jax.random.key_data(key)
    low = jnp.asarray(data, dtype=np.uint32)
    out = threefry2x32(k[0], k[1], jnp.zeros((), np.uint32), low)
    return jax.random.wrap_key_data(jnp.stack(out), impl=jax.random.key_impl(key))
