"""Observables as linear maps of F = x·g: points of F and integrals of F (FK tables).

Every observable of the fit is O_i = Σ_e T_ie F(x_e) over a fixed set of evaluation points x_e:
first the x of every point observable (T holds a 1 there), then the nodes of the interpolation
grid (:mod:`jaxmin.pdf.grid`), where T holds the FK weights of the integral observables:

- ``point``:        O = F(x) = x·g(x);
- ``convolution``:  O(x) = x (P_qg ⊗ g)(x) = x ∫ₓ¹ dz/z P_qg(z) g(x/z)
  = ∫ₓ¹ dy (x/y²) P_qg(x/y) F(y),
  with P_qg(z) = ½[z² + (1 − z)²], the gluon-driven scaling violation of F₂;
- ``moment``:       O = M_N = ∫₀¹ x^(N−1) g(x) dx = ∫₀¹ x^(N−2) F(x) dx.

The momentum sum rule ∫₀¹ F dx is one more such row (:attr:`Observables.sum_rule`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import grid

KINDS = ("point", "convolution", "moment")
OBSERVABLE_SETS = ("points", "convolution", "both")
"""Choices of ``observables``: points of F, integral observables, or both."""

DEFAULT_POINTS = np.geomspace(1e-3, 0.7, 100)
"""x of the default point observables."""
DEFAULT_CONVOLUTION = np.geomspace(1e-3, 0.5, 16)
"""x of the default convolution observables."""
DEFAULT_MOMENTS = (3.0, 4.0)
"""N of the default Mellin moments (N = 2 is fixed by the sum rule)."""


def splitting_qg(z: np.ndarray) -> np.ndarray:
    """P_qg(z) = ½[z² + (1 − z)²] (per flavour, without the colour factor T_R = ½ absorbed)."""
    return 0.5 * (z**2 + (1 - z) ** 2)


@dataclass(frozen=True)
class Observables:
    """The observables of a fit and the linear map T from F(x_eval) to them."""

    kind: tuple[str, ...]
    """``point``, ``convolution`` or ``moment`` for each observable."""
    x: np.ndarray
    """x of each point / convolution observable; N for a moment."""
    x_eval: np.ndarray
    """Where the model is evaluated: the point observables' x, then the grid nodes."""
    table: np.ndarray
    """T, shape ``(n_data, n_eval)``: O = T F(x_eval)."""
    sum_rule: np.ndarray
    """w, shape ``(n_eval,)``: ∫₀¹ F dx = w · F(x_eval)."""

    def __len__(self) -> int:
        return len(self.kind)

    def predict(self, f_eval: Any) -> np.ndarray:
        """O = T F(x_eval) (works on a leading batch axis too)."""
        return np.asarray(f_eval) @ self.table.T

    def data_range(self) -> tuple[float, float]:
        """The x range the data constrain: point x's and the lower limits of convolutions."""
        xs = [x for k, x in zip(self.kind, self.x, strict=True) if k != "moment"]
        if not xs:
            return float(grid.nodes()[1]), 1.0
        return float(min(xs)), float(max(xs))

    def describe(self) -> dict:
        counts = {k: self.kind.count(k) for k in KINDS if k in self.kind}
        return {"count": len(self), "kinds": counts, "nodes": int(self.x_eval.size - self.n_points)}

    @property
    def n_points(self) -> int:
        return self.kind.count("point")


def build(
    points: Any = (), convolution: Any = (), moments: Any = (), n_nodes: int = grid.NODES
) -> Observables:
    """The observables at the given x (points, convolutions) and N (moments)."""
    points = np.asarray(points, dtype=float).reshape(-1)
    convolution = np.asarray(convolution, dtype=float).reshape(-1)
    moments = np.asarray(moments, dtype=float).reshape(-1)
    for name, xs in (("points", points), ("convolution", convolution)):
        if np.any(~np.isfinite(xs)) or np.any(xs <= 0) or np.any(xs > 1):
            raise ValueError(f"{name}: x must lie in (0, 1], got {xs.tolist()}")
    if np.any(~np.isfinite(moments)) or np.any(moments <= 1):
        raise ValueError(f"moments: N must be > 1, got {moments.tolist()}")
    nodes = grid.nodes(n_nodes)
    n_p = points.size
    x_eval = np.concatenate([points, nodes])
    rows = [np.eye(n_p, x_eval.size)] if n_p else []
    pad = np.zeros(n_p)
    for x in convolution:
        weights = grid.integral_weights(
            nodes, lambda y, x=x: x / y**2 * splitting_qg(x / y), lower=x
        )
        rows.append(np.concatenate([pad, weights])[None])
    for n in moments:
        weights = grid.integral_weights(nodes, lambda y, n=n: y ** (n - 2))
        rows.append(np.concatenate([pad, weights])[None])
    if not rows:
        raise ValueError("no observables: give points, convolution or moments")
    sum_rule = np.concatenate([pad, grid.integral_weights(nodes, np.ones_like)])
    kind = ("point",) * n_p + ("convolution",) * convolution.size + ("moment",) * moments.size
    x = np.concatenate([points, convolution, moments])
    return Observables(kind, x, x_eval, np.concatenate(rows, axis=0), sum_rule)


def default(which: str = "points") -> Observables:
    """The default observables: ``points``, ``convolution`` (convolutions and moments), ``both``."""
    if which not in OBSERVABLE_SETS:
        raise ValueError(f"observables must be one of {list(OBSERVABLE_SETS)}, got {which!r}")
    with_points = which in ("points", "both")
    with_integrals = which in ("convolution", "both")
    return build(
        DEFAULT_POINTS if with_points else (),
        DEFAULT_CONVOLUTION if with_integrals else (),
        DEFAULT_MOMENTS if with_integrals else (),
    )
