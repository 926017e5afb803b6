"""k-fold bookkeeping: which data points each fold holds out, and the held-out χ².

The points are dealt into k folds at random, each kind of data (points, convolutions, moments)
spread evenly over the folds. A model of fold j is trained (and look-back validated) on the
points outside fold j only, and scored on fold j:

    χ²_j = (O_j − D_j)ᵀ C_jj⁻¹ (O_j − D_j) / N_j,

with O = T F the model's predictions, D the (level-1) central data and C_jj the block of the
covariance on fold j's points — a χ² the model's training never saw.
"""

from __future__ import annotations

import jax
import numpy as np

from .. import _checks
from ..pdf import setup

FOLD_STREAM = 5
"""The random stream of the fold assignment (see :mod:`jaxmin.pdf.setup`)."""


def assign(kinds: tuple[str, ...], folds: int, seed: int) -> np.ndarray:
    """The fold of every data point, ``(N,)`` integers in [0, folds): each kind's points in a
    random order dealt round-robin, continuing where the previous kind ended, so that fold
    sizes differ by at most one."""
    n = len(kinds)
    folds = _checks.integer_at_least("folds", folds, 2)
    if folds > n // 2:
        raise ValueError(
            f"folds must be <= {n // 2} for {n} data points (each fold's model needs the "
            f"others to train on), got {folds}"
        )
    fold = np.empty(n, np.int64)
    kinds_array = np.asarray(kinds)
    dealt = 0
    for index, kind in enumerate(dict.fromkeys(kinds)):
        rows = np.flatnonzero(kinds_array == kind)
        key = jax.random.fold_in(setup.stream_key(seed, FOLD_STREAM), index)
        order = np.asarray(jax.random.permutation(key, rows.size))
        fold[rows[order]] = (dealt + np.arange(rows.size)) % folds
        dealt += rows.size
    return fold


def held_out_chi2(
    predictions: np.ndarray, central: np.ndarray, cov: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    """χ²/N of ``predictions`` (``(M, N)``) against ``central`` on ``rows`` only (``(M, n)``,
    one row set per model), with the covariance block of those rows; float64."""
    out = np.empty(len(predictions))
    for m, (pred, fold) in enumerate(zip(predictions, rows, strict=True)):
        residual = np.asarray(pred, np.float64)[fold] - central[fold]
        chol = np.linalg.cholesky(cov[np.ix_(fold, fold)])
        out[m] = np.sum(np.square(np.linalg.solve(chol, residual))) / fold.size
    return out
