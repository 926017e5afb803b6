"""Data of a fit: central values, the covariance, and NNPDF's closure-test levels.

The default uncertainty model, for an observable with true value O at x (for a moment, x is
taken as 0.1), mimics a global fit's: a relative uncertainty that grows at small and at large x,
an absolute floor, and a fully correlated normalisation uncertainty:

    σ_i² = (r(x_i) O_i)² + s₀²,        r(x) = r₀ [1 + (x_s / x)^(1/4) + (x / x_l)²],
    C_ij = δ_ij σ_i² + (ν O_i)(ν O_j),

with r₀ = 0.04, x_s = 0.01, x_l = 0.3, s₀ = 0.005 and ν = ``normalisation`` (default 0.02).
A truth table's σ column, where given, replaces σ_i for point observables. A user's data table
gives σ and any number of correlated systematic columns β_s: C = diag(σ²) + Σ_s β_s β_sᵀ.

Closure levels (NNPDF's names): level 0, D = O_true; level 1, D = O_true + η with one fixed
η ~ N(0, C); level 2, level 1 plus Monte Carlo replicas D⁽ᵏ⁾ = D + ε⁽ᵏ⁾, ε⁽ᵏ⁾ ~ N(0, C). A fit
of real (user) data takes D as given and makes replicas as at level 2.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import buckets
from . import observables as obs
from ._table import read_table

RELATIVE = 0.04
SMALL_X = 0.01
LARGE_X = 0.3
ABSOLUTE = 0.005
NORMALISATION = 0.02
MOMENT_X = 0.1
"""x at which the uncertainty model is evaluated for a Mellin moment."""
MAX_CHI2_OF_ZERO = 1e30
"""The largest χ² of a zero prediction accepted from user data: float32 χ² overflow at
3.4·10³⁸, and a network starts a few times as far from the data as zero is."""


def relative_uncertainty(x: np.ndarray) -> np.ndarray:
    """r(x) = r₀ [1 + (x_s/x)^(1/4) + (x/x_l)²]."""
    return RELATIVE * (1 + (SMALL_X / x) ** 0.25 + (x / LARGE_X) ** 2)


def default_covariance(
    observables: obs.Observables,
    truth_values: np.ndarray,
    sigma: np.ndarray | None = None,
    normalisation: float = NORMALISATION,
) -> np.ndarray:
    """C of the default uncertainty model (``sigma`` overrides σ_i where it is finite)."""
    x = np.where(np.asarray(observables.kind) == "moment", MOMENT_X, observables.x)
    stat = np.hypot(relative_uncertainty(x) * truth_values, ABSOLUTE)
    if sigma is not None:
        stat = np.where(np.isfinite(sigma), sigma, stat)
    beta = normalisation * truth_values
    return np.diag(stat**2) + np.outer(beta, beta)


def check_covariance(cov: np.ndarray, n: int, what: str = "covariance") -> np.ndarray:
    """C as a finite, symmetric, positive-definite ``(n, n)`` matrix, or a ``ValueError``."""
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (n, n):
        raise ValueError(f"{what} must have shape ({n}, {n}), got {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError(f"{what} must be finite")
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * np.max(np.abs(cov))):
        raise ValueError(f"{what} must be symmetric")
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError(f"{what} is not positive definite") from err
    return cov


@dataclass(frozen=True)
class DataSet:
    """Central values D, covariance C and the observables they belong to."""

    observables: obs.Observables
    central: np.ndarray
    """D: the data (level 1 for a closure test), or O_true at level 0."""
    covariance: np.ndarray
    truth: np.ndarray | None
    """O_true of every observable, when the truth is known (closure tests)."""

    def fingerprint(self) -> str:
        """A hash of everything that determines the fit's numbers on this data."""
        digest = hashlib.sha256()
        for array in (self.observables.table, self.observables.x_eval, self.central):
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        digest.update(np.ascontiguousarray(self.covariance, dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]


def gaussian(key: jax.Array, cholesky: np.ndarray) -> np.ndarray:
    """One draw of N(0, C) as L z with z ~ N(0, I) from ``key`` (float64, platform-independent
    up to JAX's threefry generator); a stack of keys gives a stack of draws (one per key, the
    same as drawn alone)."""
    z = buckets.per_replica(_standard_normal, key.reshape(-1), cholesky.shape[0])
    z = z.astype(np.float64)
    draws = np.stack([cholesky @ row for row in z])  # row by row: the same bits in any stack
    return draws.reshape(*key.shape, cholesky.shape[0])


@partial(jax.jit, static_argnums=1)
def _standard_normal(keys: jax.Array, size: int) -> jax.Array:
    return jax.vmap(lambda key: jax.random.normal(key, (size,), dtype=jnp.float32))(keys)


def read_data_table(
    path: str | Path, covariance: str | Path | None = None
) -> tuple[obs.Observables, np.ndarray, np.ndarray]:
    """Point observables from a table of x, value, σ and optional systematic columns.

    Returns ``(observables, central, covariance)`` with C = diag(σ²) + Σ_s β_s β_sᵀ, or the
    matrix of the ``covariance`` file (N × N numbers, whitespace or comma separated) when given.
    The fit computes χ² in float32: data whose χ² to a zero prediction, DᵀC⁻¹D, exceeds
    ``MAX_CHI2_OF_ZERO`` (σ in the wrong units) are refused.
    """
    table = read_table(path, "data", min_columns=3, max_columns=None, min_rows=4)
    x, central, sigma, systematics = table[:, 0], table[:, 1], table[:, 2], table[:, 3:]
    if np.any(np.diff(x) <= 0):
        raise ValueError(f"data file {str(path)!r}: x must be strictly increasing")
    if np.any(sigma <= 0):
        raise ValueError(f"data file {str(path)!r}: σ (column 3) must be > 0")
    with np.errstate(over="ignore"):  # an overflow is refused by check_covariance
        cov = np.diag(sigma**2) + systematics @ systematics.T
    what = f"data file {str(path)!r}: the covariance"
    if covariance is not None:
        cov = read_table(
            covariance, "covariance", min_columns=1, max_columns=None, min_rows=1, x_column=False
        )
        what = f"covariance file {str(covariance)!r}"
    cov = check_covariance(cov, x.size, what)
    chi2_of_zero = float(np.sum(np.linalg.solve(np.linalg.cholesky(cov), central) ** 2))
    if not chi2_of_zero <= MAX_CHI2_OF_ZERO:
        raise ValueError(
            f"data file {str(path)!r}: the data are too precise for a float32 χ² (DᵀC⁻¹D = "
            f"{chi2_of_zero:.3g}, at most {MAX_CHI2_OF_ZERO:.0e}): are the uncertainties in "
            "the units of the values?"
        )
    return obs.build(points=x), central, cov


def closure_levels(level: Any) -> int:
    """Check a closure level (0, 1 or 2)."""
    if isinstance(level, bool) or level not in (0, 1, 2):
        raise ValueError(f"level must be 0, 1 or 2, got {level!r}")
    return int(level)
