"""Stacks of replicas moved, padded and cut on the host, so that a fit compiles its programs
once per *bucket* of replica counts instead of once per count.

A compiled program has fixed shapes: a program over R stacked replicas serves R alone, and a
fit of 50 replicas after one of 100, or each ``replica_range`` of a split fit, compiled every
program again (~5 s on a 2-core CPU, where the training itself took ~2 s). Here a stack is
padded to :func:`size` (R) = 2^⌈log₂ R⌉ rows — copies of its first row — before a program sees
it, and the program's outputs are cut back to R rows: the programs serve every R of a bucket
(1, 2, 3–4, 5–8, …). The padding, the cut and the joins are NumPy operations on the host, and
arrays reach the device by ``jax.device_put``, because the same operations in ``jax.numpy``
compile a small program for every shape. Every replica's numbers are those of a stack of its
own: each row of these programs depends on its own row alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np


def size(count: int) -> int:
    """2^⌈log₂ count⌉, the rows a stack of ``count`` replicas is padded to (1 for 0 or 1)."""
    return 1 << max(0, int(count) - 1).bit_length()


def _is_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key)


def to_host(tree: Any) -> Any:
    """The leaves as NumPy arrays; typed key arrays stay keys (their data is read on the host
    where they are padded, cut or joined)."""
    return jax.tree.map(lambda leaf: leaf if _is_key(leaf) else np.asarray(leaf), tree)


def _rows(leaf: Any, transform: Callable[[np.ndarray], np.ndarray]) -> Any:
    """``transform`` applied on the host to the leaf's rows: a NumPy array for an array, a key
    array again (its data put on the device, no program compiled) for keys."""
    if not _is_key(leaf):
        return transform(np.asarray(leaf))
    return _as_keys(transform(np.asarray(jax.random.key_data(leaf))), leaf)


def _as_keys(data: np.ndarray, like: jax.Array) -> jax.Array:
    """Host key data as keys of ``like``'s implementation, on the device (no program)."""
    return jax.random.wrap_key_data(jax.device_put(data), impl=jax.random.key_impl(like))


def padded(tree: Any, rows: int) -> Any:
    """Every leaf's leading axis padded to ``rows`` with copies of its first row (host
    arrays; keys as keys; a stack of ``rows`` rows as it is)."""
    if jax.tree.leaves(tree)[0].shape[0] == rows:
        return tree

    def pad(array: np.ndarray) -> np.ndarray:
        extra = rows - array.shape[0]
        if extra < 0:
            raise ValueError(f"cannot pad {array.shape[0]} rows to {rows}")
        return np.concatenate([array, np.repeat(array[:1], extra, axis=0)])

    return jax.tree.map(lambda leaf: _rows(leaf, pad), tree)


def take(tree: Any, rows: Any) -> Any:
    """Rows ``rows`` (an index array or a slice) of every leaf (host arrays; keys as keys)."""
    return jax.tree.map(lambda leaf: _rows(leaf, lambda array: array[rows]), tree)


def concatenate(trees: list) -> Any:
    """Stacks of replicas joined along the leading axis (host arrays; keys as keys)."""

    if len(trees) == 1:
        return to_host(trees[0])

    def join(*leaves):
        if _is_key(leaves[0]):
            data = np.concatenate([np.asarray(jax.random.key_data(k)) for k in leaves])
            return _as_keys(data, leaves[0])
        return np.concatenate([np.asarray(leaf) for leaf in leaves])

    return jax.tree.map(join, *trees)


def on_device(tree: Any) -> Any:
    """The tree's host arrays put on the default device, in one ``jax.device_put`` (no
    program; one call for all costs half of one call each)."""
    leaves, structure = jax.tree.flatten(tree)
    hosted = [i for i, leaf in enumerate(leaves) if not isinstance(leaf, jax.Array)]
    for i, array in zip(hosted, jax.device_put([leaves[i] for i in hosted]), strict=True):
        leaves[i] = array
    return jax.tree.unflatten(structure, leaves)


def per_replica(program: Callable, stack: Any, *args: Any) -> Any:
    """``program(stack, *args)`` for a stack whose rows are replicas and whose outputs have one
    row per replica: run on the stack padded to :func:`size` rows, returned cut to the stack's
    own rows (host arrays; keys as keys)."""
    count = jax.tree.leaves(stack)[0].shape[0]
    rows = size(count)
    out = program(on_device(padded(stack, rows)), *args)
    return to_host(out) if rows == count else take(out, slice(count))
