"""Checkpoints of pytrees: one ``.npz`` file per run, written atomically, checked on loading.

A checkpoint holds the leaves of a pytree (typed PRNG keys as their raw key data) and a JSON
``meta`` dict describing the run. Loading rebuilds the pytree from a template with the same
structure (the state a fresh run would start from) and refuses a file whose ``meta``, number of
leaves, shapes or dtypes differ — so a run resumes only from its own checkpoint.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import jax
import numpy as np


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
    with open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)


def load(path: str | Path, template: Any, meta: dict) -> Any:
    """Read a checkpoint written by :func:`save` into the structure of ``template``.

    **Raises** ``ValueError`` if the file was written for a different run (its ``meta`` differs)
    or its leaves do not match the template's shapes and dtypes.
    """
    with np.load(Path(path)) as data:
        stored_meta = json.loads(str(data["meta"]))
        if stored_meta != json.loads(json.dumps(meta, sort_keys=True)):
            raise ValueError(
                f"checkpoint {str(path)!r} belongs to a different run: it was written with "
                f"{stored_meta}, this run has {meta}"
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
            like = np.asarray(like)
            if stored.shape != like.shape or stored.dtype != like.dtype:
                raise ValueError(
                    f"checkpoint {str(path)!r} does not match this run's state (leaf {i}: "
                    f"{stored.shape} {stored.dtype}, expected {like.shape} {like.dtype})"
                )
            restored.append(jax.numpy.asarray(stored))
    return jax.tree.unflatten(treedef, restored)
