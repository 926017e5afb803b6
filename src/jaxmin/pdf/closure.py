"""Closure-test estimators (arXiv:2111.05787), from replica predictions and the known truth.

For one fit l with replica predictions g⁽ᵏ⁾ of the N data points, their mean E_ε g, the
true observables f and the experimental covariance C:

    bias_l     = (E_ε g − f)ᵀ C⁻¹ (E_ε g − f) / N,
    variance_l = E_ε[(g − E_ε g)ᵀ C⁻¹ (g − E_ε g)] / N = Tr[C_rep C⁻¹] / N,
    R_bv       = √(⟨bias⟩_l / ⟨variance⟩_l)   over the K fits (independent level-1 data sets),

and ξ₁σ, the fraction of (fit, point) pairs where |E_ε g̃_i − f̃_i| < σ̃_i, in the basis that
diagonalises C (g̃ = Vᵀg with C = VΛVᵀ; σ̃_i the replica standard deviation of g̃_i).
Faithful uncertainties give R_bv ≈ 1 and ξ₁σ ≈ 0.68. Their statistical uncertainty comes from
the finite number K of level-1 data sets (each shift η enters bias_l as a χ² with few degrees of
freedom, so a handful of fits can sit well away from 1): :func:`bootstrap_std` resamples the K
fits with replacement. All inputs are NumPy arrays; quadratic forms go through the Cholesky
factor of C.
"""

from __future__ import annotations

import numpy as np


def _whiten(cov: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """L⁻¹ v for each row v (C = LLᵀ), so that vᵀC⁻¹v = ‖L⁻¹v‖²."""
    chol = np.linalg.cholesky(cov)
    return np.linalg.solve(chol, np.atleast_2d(vectors).T).T


def bias(predictions: np.ndarray, truth: np.ndarray, cov: np.ndarray) -> float:
    """(E_ε g − f)ᵀ C⁻¹ (E_ε g − f) / N for predictions ``(replicas, N)``."""
    shift = predictions.mean(axis=0) - truth
    return float(np.sum(_whiten(cov, shift) ** 2) / truth.size)


def variance(predictions: np.ndarray, cov: np.ndarray) -> float:
    """Tr[C_rep C⁻¹] / N with C_rep the replicas' covariance (normalised by their number)."""
    spread = predictions - predictions.mean(axis=0)
    return float(np.mean(np.sum(_whiten(cov, spread) ** 2, axis=1)) / predictions.shape[1])


def bias_variance_ratio(biases: np.ndarray, variances: np.ndarray) -> float:
    """R_bv = √(⟨bias⟩ / ⟨variance⟩) over independent closure fits."""
    return float(np.sqrt(np.mean(biases) / np.mean(variances)))


def xi_per_fit(
    predictions: list[np.ndarray], truth: np.ndarray, cov: np.ndarray, n: float = 1.0
) -> np.ndarray:
    """ξ_nσ of each fit: the fraction of points, in C's eigenbasis, with the truth within nσ."""
    _, vectors = np.linalg.eigh(cov)
    inside = []
    for pred in predictions:
        rotated = pred @ vectors
        centre, sigma = rotated.mean(axis=0), rotated.std(axis=0)
        inside.append(np.mean(np.abs(centre - truth @ vectors) < n * sigma))
    return np.asarray(inside)


def xi_sigma(predictions: list[np.ndarray], truth: np.ndarray, cov: np.ndarray, n: float = 1.0):
    """ξ_nσ over fits (each fit has the same N points, so the mean of :func:`xi_per_fit`)."""
    return float(np.mean(xi_per_fit(predictions, truth, cov, n)))


def bootstrap_std(statistic, fits: int, samples: int = 1000, seed: int = 0) -> float:
    """Standard deviation of ``statistic(indices)`` over ``samples`` resamplings, with
    replacement, of the ``fits`` closure fits (a fixed NumPy seed: the same data give the same
    figure)."""
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, fits, size=(samples, fits))
    return float(np.std([statistic(indices) for indices in draws]))


def chi2_per_point(prediction: np.ndarray, data: np.ndarray, cov: np.ndarray) -> float:
    """(O − D)ᵀ C⁻¹ (O − D) / N of one prediction (or the mean of many)."""
    residual = np.atleast_2d(prediction) - data
    return float(np.mean(np.sum(_whiten(cov, residual) ** 2, axis=1)) / data.size)


def band(values: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, standard deviation and the 68% interval (16th–84th percentiles) of replicas."""
    lower, upper = np.percentile(values, [15.865, 84.135], axis=0)
    return {
        "mean": values.mean(axis=0),
        "std": values.std(axis=0),
        "lower_68": lower,
        "upper_68": upper,
    }


def coverage(values: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Fractions of the x-grid where the truth lies within mean ± std and within the 68% band."""
    b = band(values)
    within_sigma = np.abs(b["mean"] - truth) <= b["std"]
    within_68 = (truth >= b["lower_68"]) & (truth <= b["upper_68"])
    return {"coverage_1sigma": float(within_sigma.mean()), "coverage_68": float(within_68.mean())}
