"""Checkpoints of pytrees: one ``.npz`` file per run, written atomically, checked on loading.

A checkpoint holds the leaves of a pytree (typed PRNG keys as their raw key data) and a JSON
``meta`` dict describing the run. Loading rebuilds the pytree from a template with the same
structure (the state a fresh run would start from) and refuses a file whose ``meta``, number of
leaves, shapes or dtypes differ — so a run resumes only from its own checkpoint. A template
leaf :class:`AnyLength` accepts a stored array of any length along its last axis (a history
that grows with the run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np


class AnyLength:
    """A template leaf for an array of ``shape[:-1]`` and ``dtype``, of any length along the last
    axis (not a pytree node: a leaf of its own). ``counts``: an integer array that checkpoints of
    earlier versions stored as floats or in another integer width — such an array of whole
    numbers that fit is read as ``dtype``."""

    def __init__(self, shape: tuple[int, ...], dtype: Any, *, counts: bool = False) -> None:
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.counts = counts

    def read(self, stored: np.ndarray) -> np.ndarray | None:
        """``stored`` as this template's array, or None where it does not match."""
        if stored.shape[:-1] != self.shape:
            return None
        if stored.dtype == self.dtype:
            return stored
        whole = (
            self.counts
            and stored.dtype.kind in "fiu"  # NumPy's floating and (un)signed integer kinds
            and np.all(np.isfinite(stored))
            and np.all(stored == np.round(stored))
            and np.all(np.abs(stored.astype(np.float64)) <= np.iinfo(self.dtype).max)
        )
        return stored.astype(self.dtype) if whole else None


def _is_key(leaf: Any) -> bool:
    return jax.dtypes.issubdtype(getattr(leaf, "dtype", None), jax.dtypes.prng_key)


def save(path: str | Path, tree: Any, meta: dict) -> None:
    """Write the leaves of ``tree`` and ``meta`` to ``path`` (via a temporary file and a rename,
    so that a run killed while writing leaves the previous checkpoint intact)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for i, leaf in enumerate(jax.tree.leaves(tree)):
        arrays[f"leaf_{i}"] = np.asarray(jax.random.key_data(leaf) if _is_key(leaf) else leaf)
    arrays["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **arrays)
        os.replace(tmp, path)
    except BaseException:  # killed or interrupted while writing: no half-written file stays
        tmp.unlink(missing_ok=True)
        raise


def stored_meta(path: str | Path) -> dict:
    """The ``meta`` dict of the checkpoint at ``path`` (to choose the template of a run whose
    state's shape depends on it, such as the population size of a restart)."""
    with np.load(Path(path)) as data:
        return json.loads(str(data["meta"]))


class ForeignCheckpoint(ValueError):
    """A checkpoint written by another run: the message says what differs (``mismatch``) and
    advises to remove it or choose another path (a command gives its own advice instead)."""

    def __init__(self, mismatch: str) -> None:
        super().__init__(f"{mismatch}; remove it or choose another path")
        self.mismatch = mismatch


def load(path: str | Path, template: Any, meta: dict) -> Any:
    """Read a checkpoint written by :func:`save` into the structure of ``template``.

    **Raises** :class:`ForeignCheckpoint` (a ``ValueError``) if the file was written for a
    different run (its ``meta`` differs), ``ValueError`` if its leaves do not match the
    template's shapes and dtypes.
    """
    with np.load(Path(path)) as data:
        stored_meta = json.loads(str(data["meta"]))
        meta = json.loads(json.dumps(meta, sort_keys=True))
        if stored_meta != meta:
            differ = _differences(stored_meta, meta)
            details = "; ".join(
                f"{key}: {_short(then)} in the checkpoint, {_short(now)} now"
                for key, then, now in differ
            )
            raise ForeignCheckpoint(
                f"checkpoint {str(path)!r} belongs to a different run "
                f"({', '.join(key for key, _, _ in differ)} differ: {details})"
            )
        leaves, treedef = jax.tree.flatten(template)
        if len(data.files) - 1 != len(leaves):
            raise ValueError(f"checkpoint {str(path)!r} does not match this run's state")
        restored = []
        for i, like in enumerate(leaves):
            stored = data[f"leaf_{i}"]
            if _is_key(like):
                restored.append(jax.random.wrap_key_data(stored, impl=jax.random.key_impl(like)))
                continue
            if isinstance(like, AnyLength):
                read = like.read(stored)
                if read is None:
                    raise ValueError(
                        f"checkpoint {str(path)!r} does not match this run's state (leaf {i}: "
                        f"{stored.shape} {stored.dtype}, expected {like.shape} + (any,) "
                        f"{like.dtype})"
                    )
                restored.append(read)
                continue
            like = np.asarray(like)
            if stored.shape != like.shape or stored.dtype != like.dtype:
                raise ValueError(
                    f"checkpoint {str(path)!r} does not match this run's state (leaf {i}: "
                    f"{stored.shape} {stored.dtype}, expected {like.shape} {like.dtype})"
                )
            restored.append(jax.numpy.asarray(stored))
    return jax.tree.unflatten(treedef, restored)


def _differences(then: dict, now: dict, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """The entries in which two metas differ, as (dotted key, then, now): nested dicts (a fit's
    settings) are compared key by key, so a message names ``settings.learning_rate``."""
    differ = []
    for key in sorted({*then, *now}):
        old, new = then.get(key, "<absent>"), now.get(key, "<absent>")
        if isinstance(old, dict) and isinstance(new, dict):
            differ += _differences(old, new, f"{prefix}{key}.")
        elif old != new:
            differ.append((f"{prefix}{key}", old, new))
    return differ


def _short(value: Any) -> str:
    """A value for an error message: fingerprints cut to 12 characters, long values cut."""
    text = str(value)
    if len(text) == 64 and all(c in "0123456789abcdef" for c in text):
        return text[:12]
    return text if len(text) <= 80 else text[:77] + "..."
