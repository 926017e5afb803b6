"""From settings to arrays: data sets of the closure fits, replica keys, pseudo-data, splits.

Keys (separate streams, so that changing one seed leaves the others' numbers alone, and replica
k of closure fit l depends on (l, k) only — never on how many replicas run or which others):

- level-1 shift of fit l:        fold_in(fold_in(key(data_seed), 0), l)
- replica noise of (l, k):       fold_in(fold_in(fold_in(key(data_seed), 1), l), k)
- training/validation split:     fold_in(fold_in(fold_in(key(split_seed), 2), l), k)
- initial parameters:            fold_in(fold_in(fold_in(key(init_seed), 3), l), k)
- a population method's sampling: fold_in(fold_in(fold_in(key(init_seed), 4), l), k)
"""

from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import buckets, model, observables
from . import data as pdf_data
from .replicas import ReplicaData
from .truth import Truth

DATA_STREAM, REPLICA_STREAM, SPLIT_STREAM, INIT_STREAM, METHOD_STREAM = 0, 1, 2, 3, 4


class Seeds(NamedTuple):
    data: int
    split: int
    init: int


def stream_key(seed: int, stream: int, *indices: int) -> jax.Array:
    """The key of one stream at the given indices (fit, replica)."""
    key = jax.random.fold_in(jax.random.key(seed), stream)
    for index in indices:
        key = jax.random.fold_in(key, index)
    return key


@jax.jit
def _fold_in_each(indices: jax.Array, key: jax.Array) -> jax.Array:
    return jax.vmap(lambda index: jax.random.fold_in(key, index))(indices)


def replica_keys(seed: int, stream: int, fit: int, replicas: np.ndarray) -> jax.Array:
    """``stream_key(seed, stream, fit, k)`` for every replica k, stacked (one program for a
    bucket of replica counts, :mod:`~jaxmin.pdf.buckets`: the same keys, bit for bit, as one
    call per replica)."""
    indices = np.asarray(replicas, np.uint32)
    return buckets.per_replica(_fold_in_each, indices, stream_key(seed, stream, fit))


def closure_data_sets(
    truth: Truth,
    obs: observables.Observables,
    level: int,
    fits: int,
    seed: int,
    normalisation: float,
) -> tuple[list[pdf_data.DataSet], np.ndarray]:
    """The K data sets of a closure test (level-1 shifts from the data seed) and C."""
    needed = np.any(obs.table != 0, axis=0)
    try:
        truth_values = obs.table[:, needed] @ truth(obs.x_eval[needed])
    except ValueError as err:
        raise ValueError(
            f"{err}; integral observables need the truth on the whole grid (1e-9 to 1): "
            "use observables='points' with this truth table"
        ) from err
    sigma = None
    if truth.sigma(obs.x[: obs.n_points]) is not None:
        sigma = np.full(len(obs), np.nan)
        sigma[: obs.n_points] = truth.sigma(obs.x[: obs.n_points])
    cov = pdf_data.default_covariance(obs, truth_values, sigma, normalisation)
    chol = np.linalg.cholesky(cov)
    sets = []
    for fit in range(fits):
        shift = pdf_data.gaussian(stream_key(seed, DATA_STREAM, fit), chol) if level else 0.0
        sets.append(pdf_data.DataSet(obs, truth_values + shift, cov, truth_values))
    return sets, cov


def split_rows(keys: jax.Array, kinds: tuple[str, ...], validation: float):
    """Training and validation rows of each key's replica, ``(R, n_train)`` and ``(R, n_val)``
    (sorted): a random fraction ``validation`` of each kind of data held out."""
    train, val = [], []
    kinds_array = np.asarray(kinds)
    for index, kind in enumerate(dict.fromkeys(kinds)):
        rows = np.flatnonzero(kinds_array == kind)
        n_val = min(int(round(validation * rows.size)), rows.size - 1)
        order = buckets.per_replica(_permutations, keys, index, rows.size)
        val.append(rows[order[:, :n_val]])
        train.append(rows[order[:, n_val:]])
    return np.sort(np.concatenate(train, axis=1)), np.sort(np.concatenate(val, axis=1))


@partial(jax.jit, static_argnums=(1, 2))
def _permutations(keys: jax.Array, index: int, size: int) -> jax.Array:
    return jax.vmap(lambda key: jax.random.permutation(jax.random.fold_in(key, index), size))(keys)


def replica_data(
    data_set: pdf_data.DataSet,
    fit: int,
    replicas: np.ndarray,
    level: int,
    seeds: Seeds,
    validation: float,
    dtype,
) -> ReplicaData:
    """Pseudo-data, split and whitened systems of the given replicas of one fit (stacked)."""
    targets = replica_targets(data_set, fit, replicas, level, seeds.data)
    train, val = split_rows(
        replica_keys(seeds.split, SPLIT_STREAM, fit, replicas),
        data_set.observables.kind,
        validation,
    )
    return member_data(data_set, targets, train, val, dtype)


def replica_targets(
    data_set: pdf_data.DataSet, fit: int, replicas: np.ndarray, level: int, seed: int
) -> np.ndarray:
    """The pseudo-data D⁽ᵏ⁾ of the given replicas of one fit, ``(R, N)``: D + ε⁽ᵏ⁾ at level 2,
    D itself otherwise."""
    targets = np.broadcast_to(data_set.central, (len(replicas), len(data_set.central)))
    if level == 2:
        keys = replica_keys(seed, REPLICA_STREAM, fit, replicas)
        targets = targets + pdf_data.gaussian(keys, np.linalg.cholesky(data_set.covariance))
    return targets


def member_data(
    data_set: pdf_data.DataSet, targets: np.ndarray, train: np.ndarray, val: np.ndarray, dtype
) -> ReplicaData:
    """:class:`ReplicaData` of members with pseudo-data ``targets`` and the given training and
    validation rows (stacked along the first axis)."""
    cov = data_set.covariance
    table = np.asarray(data_set.observables.table, np.float64)
    pieces = {}
    for part, rows in (("train", train), ("val", val)):
        design, whitened = whitened_system(
            table[rows],
            np.take_along_axis(targets, rows, axis=1),
            cov[rows[:, :, None], rows[:, None, :]],
        )
        pieces[f"design_{part}"] = design
        pieces[f"whitened_{part}"] = whitened
    # host arrays (the fit joins and pads them on the host, :mod:`~jaxmin.pdf.buckets`)
    return ReplicaData(
        target=np.asarray(targets, dtype),
        train_rows=np.asarray(train),
        val_rows=np.asarray(val),
        **{name: np.asarray(array, dtype) for name, array in pieces.items()},
    )


def whitened_system(table: np.ndarray, target: np.ndarray, cov: np.ndarray):
    """(L⁻¹T, L⁻¹D) for C = LLᵀ: then χ² = (TF − D)ᵀC⁻¹(TF − D) = ‖L⁻¹T F − L⁻¹D‖², one
    matrix–vector product per epoch. L⁻¹ comes from solves in float64, computed once; C is
    never inverted. Leading axes of the arguments (replicas) are batched."""
    if not target.shape[-1]:
        return np.zeros((*target.shape, table.shape[-1])), np.zeros(target.shape)
    chol = np.linalg.cholesky(cov)
    return np.linalg.solve(chol, table), np.linalg.solve(chol, target[..., None])[..., 0]


def initial_params(
    fit: int, replicas: np.ndarray, seed: int, cfg: model.ModelConfig, dtype
) -> dict:
    """Initial parameters of the given replicas of one fit (stacked host arrays)."""
    keys = replica_keys(seed, INIT_STREAM, fit, replicas)
    return buckets.per_replica(_init_each, keys, cfg, jnp.dtype(dtype))


@partial(jax.jit, static_argnums=(1, 2))
def _init_each(keys: jax.Array, cfg: model.ModelConfig, dtype) -> dict:
    return jax.vmap(lambda key: model.init_params(key, cfg, dtype))(keys)


def method_keys(fit: int, replicas: np.ndarray, seed: int) -> jax.Array:
    """Keys of a population method's sampling for the given replicas of one fit (stacked)."""
    return replica_keys(seed, METHOD_STREAM, fit, replicas)
