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

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import data as pdf_data
from . import model, observables
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


def split_rows(key: jax.Array, kinds: tuple[str, ...], validation: float):
    """Training and validation rows: a random fraction ``validation`` of each kind held out."""
    train, val = [], []
    kinds_array = np.asarray(kinds)
    for index, kind in enumerate(dict.fromkeys(kinds)):
        rows = np.flatnonzero(kinds_array == kind)
        n_val = int(round(validation * rows.size))
        n_val = min(n_val, rows.size - 1)
        order = np.asarray(jax.random.permutation(jax.random.fold_in(key, index), rows.size))
        val.append(rows[order[:n_val]])
        train.append(rows[order[n_val:]])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


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
    cov = data_set.covariance
    chol = np.linalg.cholesky(cov)
    table = np.asarray(data_set.observables.table, np.float64)
    targets, trains, vals, pieces = [], [], [], {name: [] for name in WHITENED}
    for k in replicas:
        noise = 0.0
        if level == 2:
            noise = pdf_data.gaussian(stream_key(seeds.data, REPLICA_STREAM, fit, int(k)), chol)
        target = data_set.central + noise
        targets.append(target)
        train, val = split_rows(
            stream_key(seeds.split, SPLIT_STREAM, fit, int(k)),
            data_set.observables.kind,
            validation,
        )
        trains.append(train)
        vals.append(val)
        for part, rows in (("train", train), ("val", val)):
            design, whitened = whitened_system(table[rows], target[rows], cov[np.ix_(rows, rows)])
            pieces[f"design_{part}"].append(design)
            pieces[f"whitened_{part}"].append(whitened)
    return ReplicaData(
        target=jnp.asarray(np.stack(targets), dtype),
        train_rows=jnp.asarray(np.stack(trains)),
        val_rows=jnp.asarray(np.stack(vals)),
        **{name: jnp.asarray(np.stack(arrays), dtype) for name, arrays in pieces.items()},
    )


WHITENED = ("design_train", "whitened_train", "design_val", "whitened_val")
"""The fields of :class:`ReplicaData` built by :func:`whitened_system`."""


def whitened_system(table: np.ndarray, target: np.ndarray, cov: np.ndarray):
    """(L⁻¹T, L⁻¹D) for C = LLᵀ: then χ² = (TF − D)ᵀC⁻¹(TF − D) = ‖L⁻¹T F − L⁻¹D‖², one
    matrix–vector product per epoch. L⁻¹ comes from triangular solves in float64, computed
    once; C is never inverted."""
    if not target.size:
        return np.zeros((0, table.shape[1])), np.zeros(0)
    chol = np.linalg.cholesky(cov)
    return np.linalg.solve(chol, table), np.linalg.solve(chol, target)


def initial_params(
    fit: int, replicas: np.ndarray, seed: int, cfg: model.ModelConfig, dtype
) -> dict:
    """Initial parameters of the given replicas of one fit (stacked)."""
    keys = jnp.stack([stream_key(seed, INIT_STREAM, fit, int(k)) for k in replicas])
    return jax.vmap(lambda key: model.init_params(key, cfg, dtype))(keys)


def method_keys(fit: int, replicas: np.ndarray, seed: int) -> jax.Array:
    """Keys of a population method's sampling for the given replicas of one fit (stacked)."""
    return jnp.stack([stream_key(seed, METHOD_STREAM, fit, int(k)) for k in replicas])
