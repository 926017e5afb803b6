"""CMA-ES strategy parameters: pycma's defaults (but purecma's eigendecomposition interval),
computed once in Python from n and λ.

Hansen, "The CMA Evolution Strategy: A Tutorial" (arXiv:1604.00772), Table 1, with the variants
pycma (4.x) uses by default and which decide its evaluation counts:

- raw weights w'_i = ln((λ+1)/2) − ln i, i = 1…λ; the positive ones scaled to Σw⁺ = 1, the
  negative ones (active CMA) to Σ|w⁻| = min(1 + c₁/c_μ, 1 + 2μ_eff⁻/(μ_eff + 2),
  (1 − c₁ − c_μ)/(n c_μ)) — no decay of C, a learning rate that respects μ_eff⁻, and positive
  definiteness when every negative vector has squared Mahalanobis norm n;
- μ_eff = 1/Σ(w⁺)²;
- c_σ = min(1/2, (μ_eff + 2)/(n + μ_eff + 3));
- d_σ = 1 + c_σ + 2 max(0, a √((μ_eff − 1)/(n + 1)) − 1), a = max(1, 3(1 − 2^(−n/9)));
- c_c = (4 + μ_eff/n)/(n + 4 + 2μ_eff/n);
- c₁ = min(1, λ/6) · 2/((n + 1.3)² + μ_eff);
- c_μ = min(1 − c₁, 2(μ_eff − 2 + 1/μ_eff + 1/4)/((n + 2)² + μ_eff));
- E‖N(0, I)‖ = √2 Γ((n+1)/2)/Γ(n/2) (exact; pycma tabulates it or uses a series);
- the eigendecomposition of C is refreshed every 0.5/(n (c₁ + c_μ)) generations (lazy update):
  the interval of Hansen's purecma.py, five times that of pycma's class (see :data:`LAZY_GAP`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


def default_steps(n: int, popsize: int) -> int:
    """pycma's default budget in generations (its ``maxiter``): 100 + ⌊150 (n + 3)² / √λ⌋."""
    return int(100 + 150 * (n + 3) ** 2 // popsize**0.5)


def default_popsize(n: int) -> int:
    """λ = 4 + ⌊3 ln n⌋, the default population size of CMA-ES."""
    return 4 + int(3 * math.log(n))


class StrategyParameters(NamedTuple):
    """Learning rates and weights of CMA-ES, fixed for a run (n and λ given)."""

    weights: np.ndarray
    """w_1 ≥ … ≥ w_λ: positive for the μ best, zero or negative (active CMA) for the rest."""
    mueff: float
    """μ_eff = 1/Σ(w⁺)², the variance-effective selection mass."""
    cs: float
    """c_σ, learning rate of the step-size evolution path p_σ."""
    damps: float
    """d_σ, damping of the step-size update."""
    cc: float
    """c_c, learning rate of the covariance evolution path p_c."""
    c1: float
    """c₁, learning rate of the rank-one update."""
    cmu: float
    """c_μ, learning rate of the rank-μ update."""
    chi_n: float
    """E‖N(0, I)‖ in n dimensions."""
    eigen_gap: float
    """Generations between eigendecompositions of C, :data:`LAZY_GAP`/(n (c₁ + c_μ)) (values
    ≤ 1 mean every generation)."""
    popsize: int | None = None
    """λ, the candidates of a generation that count (an integer): ``weights`` may be padded
    with zeros beyond it (IPOP restarts in one program, every population as large as the
    last); None: the length of ``weights``."""


def expected_norm(n: int) -> float:
    """E‖N(0, I_n)‖ = √2 Γ((n+1)/2) / Γ(n/2)."""
    return math.sqrt(2.0) * math.exp(math.lgamma((n + 1) / 2) - math.lgamma(n / 2))


def _raw_weights(popsize: int) -> np.ndarray:
    i = np.arange(1, popsize + 1)
    w = math.log((popsize + 1) / 2) - np.log(i)
    w[np.isclose(w, 0.0, atol=1e-15)] = 0.0
    return w


LAZY_GAP = 0.5
"""The factor of the interval between eigendecompositions, LAZY_GAP/(n (c₁ + c_μ))
generations: 0.5 as Hansen's purecma.py (``lazy_gap_evals``), five times pycma's class (0.1).
Measured (benchmarks/bench_eigen.py): 2.1–2.3× less time per generation at n = 40–400 than
with 0.1, evaluations to target on the rotated ellipsoid within 3 % (n = 10, 40; 11 seeds)."""


def strategy_parameters(n: int, popsize: int) -> StrategyParameters:
    """pycma's default strategy parameters for dimension ``n`` and population size ``popsize``,
    with the eigendecomposition's interval of Hansen's purecma.py (:data:`LAZY_GAP`).

    **Arguments**

    - ``n``: the search-space dimension (≥ 1).
    - ``popsize``: λ (≥ 2).

    **Returns** a :class:`StrategyParameters` of Python floats and a float64 weight vector.
    """
    w = _raw_weights(popsize)
    positive = w > 0
    w_pos = w[positive] / w[positive].sum()
    mueff = 1.0 / float(np.sum(w_pos**2))
    c1 = min(1.0, popsize / 6) * 2.0 / ((n + 1.3) ** 2 + mueff)
    cmu = min(1.0 - c1, 2.0 * (0.25 + mueff - 2.0 + 1.0 / mueff) / ((n + 2) ** 2 + mueff))
    negative = w < 0
    w_neg = w[negative]
    if w_neg.size:
        mueff_neg = float(w_neg.sum() ** 2 / np.sum(w_neg**2))
        total = 1.0 + c1 / cmu
        total = min(total, (1.0 - c1 - cmu) / cmu / n)
        total = min(total, 1.0 + 2.0 * mueff_neg / (mueff + 2.0))
        w_neg = w_neg / abs(w_neg.sum()) * total
    weights = np.zeros(popsize)
    weights[positive] = w_pos
    weights[negative] = w_neg
    cs = min(0.5, (mueff + 2.0) / (n + mueff + 3.0))
    inner = max(1.0, 3.0 * (1.0 - 0.5 ** (n / 9)))
    damps = 1.0 + cs + 2.0 * max(0.0, inner * math.sqrt((mueff - 1.0) / (n + 1.0)) - 1.0)
    cc = (4.0 + mueff / n) / (n + 4.0 + 2.0 * mueff / n)
    eigen_gap = LAZY_GAP / (c1 + cmu) / n
    return StrategyParameters(
        weights=weights,
        mueff=mueff,
        cs=cs,
        damps=damps,
        cc=cc,
        c1=c1,
        cmu=cmu,
        chi_n=expected_norm(n),
        eigen_gap=eigen_gap,
        popsize=popsize,
    )
