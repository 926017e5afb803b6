"""The fixed x-grid of the fit, interpolation on it, and integrals of F = x·g as weight tables.

Nodes x_a are uniform in u(x) = ln x + k·x (k = ``LINEAR_WEIGHT``): log-spaced at small x,
about linear at large x, from ``X_MIN`` = 10⁻⁹ to 1. Between nodes F is interpolated by local
Lagrange polynomials of degree ``DEGREE`` in u,

    F(x) ≈ Σ_a F(x_a) I_a(u(x)),

so any integral of F against a kernel K becomes a weight table (an FK table):

    ∫ K(x) F(x) dx ≈ Σ_a F(x_a) ∫ K(x) I_a(u(x)) dx = Σ_a FK_a F(x_a),

with the integrals of K·I_a done once, by Gauss–Legendre quadrature in u on every interval
between nodes. Below X_MIN, F is taken constant (x^a with a ≈ 0 contributes X_MIN·F(X_MIN)).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

X_MIN = 1e-9
"""The smallest node: below it F is extrapolated as a constant in integrals."""
LINEAR_WEIGHT = 20.0
"""k in u = ln x + k x: the large-x spacing is about (u spacing)/k."""
DEGREE = 4
"""Degree of the local Lagrange interpolation in u."""
NODES = 100
"""Default number of nodes."""
_GAUSS_POINTS = 12


def to_u(x: np.ndarray) -> np.ndarray:
    """u(x) = ln x + k x."""
    return np.log(x) + LINEAR_WEIGHT * x


def from_u(u: np.ndarray) -> np.ndarray:
    """x(u), the inverse of :func:`to_u` (Newton's method on ln x, monotone, 30 iterations)."""
    u = np.asarray(u, dtype=float)
    log_x = np.minimum(u, 0.0)
    for _ in range(30):
        x = np.exp(log_x)
        log_x = np.minimum(log_x - (log_x + LINEAR_WEIGHT * x - u) / (1 + LINEAR_WEIGHT * x), 0.0)
    return np.exp(log_x)


def nodes(n: int = NODES) -> np.ndarray:
    """n nodes, uniform in u from X_MIN to 1 (the last node is exactly 1)."""
    x = from_u(np.linspace(to_u(np.asarray(X_MIN)), to_u(np.asarray(1.0)), n))
    x[0], x[-1] = X_MIN, 1.0
    return x


def interpolation_matrix(x_nodes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """M with F(x_i) ≈ Σ_a M_ia F(x_a): local Lagrange interpolation of degree DEGREE in u."""
    u_nodes, u = to_u(x_nodes), to_u(np.asarray(x, dtype=float))
    n = u_nodes.size
    interval = np.clip(np.searchsorted(u_nodes, u, side="right") - 1, 0, n - 2)
    first = np.clip(interval - (DEGREE - 1) // 2, 0, n - DEGREE - 1)
    matrix = np.zeros((u.size, n))
    stencil = first[:, None] + np.arange(DEGREE + 1)[None, :]
    u_st = u_nodes[stencil]
    for j in range(DEGREE + 1):
        weight = np.ones(u.size)
        for m in range(DEGREE + 1):
            if m != j:
                weight *= (u - u_st[:, m]) / (u_st[:, j] - u_st[:, m])
        matrix[np.arange(u.size), stencil[:, j]] += weight
    return matrix


def integral_weights(
    x_nodes: np.ndarray, kernel: Callable[[np.ndarray], np.ndarray], lower: float = 0.0
) -> np.ndarray:
    """w with ∫_lower^1 K(x) F(x) dx ≈ Σ_a w_a F(x_a), for F interpolated on the nodes.

    ``kernel`` is a vectorised K(x); ``lower`` ≥ 0 (0 includes the constant extrapolation of F
    below the first node, ∫₀^X_MIN K(x) dx F(x₀) by the midpoint rule).
    """
    u_nodes = to_u(x_nodes)
    u_lower = to_u(np.asarray(max(lower, x_nodes[0])))
    edges = np.concatenate([[u_lower], u_nodes[u_nodes > u_lower]])
    t, w = np.polynomial.legendre.leggauss(_GAUSS_POINTS)
    left, right = edges[:-1, None], edges[1:, None]
    u = (0.5 * (right - left) * t[None, :] + 0.5 * (right + left)).ravel()
    du = (0.5 * (right - left) * w[None, :]).ravel()
    x = from_u(u)
    dx_du = x / (1 + LINEAR_WEIGHT * x)
    weights = (kernel(x) * dx_du * du) @ interpolation_matrix(x_nodes, x)
    if lower < x_nodes[0]:
        tail = x_nodes[0] - lower
        weights[0] += tail * kernel(np.asarray([0.5 * (lower + x_nodes[0])]))[0]
    return weights
