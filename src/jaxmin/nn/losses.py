"""Loss functions E(ŷ, y) of the network outputs, each with its output gradient ∂E/∂ŷ.

=============================  ========================================  ===================
loss                           E                                         ∂E/∂ŷ
=============================  ========================================  ===================
:func:`mse`                    (1/NK) Σᵢₖ (ŷᵢₖ − yᵢₖ)²                      2(ŷ − y)/NK
:func:`binary_cross_entropy`   (1/NK) Σ [log(1 + e^ŷ) − y ŷ], ŷ logits    (σ(ŷ) − y)/NK
:func:`chi2` (covariance C)    rᵀC⁻¹r / N,  r = ŷ − y                    2 C⁻¹r / N
:func:`chi2` (uncertainties s) Σᵢₖ ((ŷᵢₖ − yᵢₖ)/sᵢₖ)² / N                  2(ŷ − y)/(s² N)
:func:`custom`                 f(ŷ, y), or f(ŷ, y, ŷ_grid)                ``jax.grad`` of f
=============================  ========================================  ===================

Binary cross-entropy takes logits ŷ = z⁽ᴸ⁾ (a ``linear`` output layer): written as
log(1 + e^ŷ) − yŷ = −y log σ(ŷ) − (1 − y) log(1 − σ(ŷ)) it never takes the log of a
saturated sigmoid. χ² with a covariance goes through its Cholesky factor C = LLᵀ:
rᵀC⁻¹r = ‖L⁻¹r‖², with triangular solves and never an explicit inverse.

A :func:`custom` loss may need the network on a fixed set of extra inputs — a quadrature grid for
an integral of the output, as in a sum rule ∫ f(x) dx = Σ_g w_g NN(x_g). Give the grid's inputs
as ``grid``: the network is then evaluated on the data rows and the grid rows in one batch and
the loss receives both outputs. A :class:`Loss` is a pytree (its arrays are leaves), so it can
be passed to jitted and vmapped functions.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks


@dataclasses.dataclass(frozen=True)
class Loss:
    """A loss E(ŷ, y) with its output gradient; build one with the functions of this module.

    ``value_fn(yhat, y, data, grid_out)`` gives E and ``output_grad_fn`` (same arguments) gives
    ``(∂E/∂ŷ, ∂E/∂ŷ_grid)``; ``None`` means the output gradient comes from ``jax.grad`` of E.
    ``restrict_fn(data, rows)`` gives the loss's data for a subset of the rows (a training split
    or a mini-batch). ``mini_batch`` is False where E does not split over rows (a χ² with
    correlations): such a loss is only evaluated on whole sets. ``logits`` marks losses that
    take the output layer's pre-activations (a ``linear`` output).
    """

    name: str
    value_fn: Callable
    output_grad_fn: Callable | None
    restrict_fn: Callable
    mini_batch: bool = True
    logits: bool = False
    data: Any = None
    grid: jax.Array | None = None

    def functions(self) -> tuple:
        """The loss's functions (static parts of the compiled programs, by identity)."""
        return self.value_fn, self.output_grad_fn, self.restrict_fn

    def value(self, yhat: jax.Array, y: jax.Array, grid_out: jax.Array | None = None):
        """E(ŷ, y) (``grid_out`` is the network on :attr:`grid`, for losses that have one)."""
        return self.value_fn(yhat, y, self.data, grid_out)

    def output_grad(self, yhat: jax.Array, y: jax.Array, grid_out: jax.Array | None = None):
        """(∂E/∂ŷ, ∂E/∂ŷ_grid): by hand for the built-in losses, by autodiff for custom ones."""
        if self.output_grad_fn is not None:
            return self.output_grad_fn(yhat, y, self.data, grid_out)
        grads = jax.grad(self.value_fn, argnums=(0, 3))(yhat, y, self.data, grid_out)
        return grads[0], grads[1]

    def restrict(self, rows: jax.Array) -> Loss:
        """The same loss on the data rows ``rows`` (integer indices)."""
        return dataclasses.replace(self, data=self.restrict_fn(self.data, rows))


jax.tree_util.register_dataclass(
    Loss,
    data_fields=["data", "grid"],
    meta_fields=["name", "value_fn", "output_grad_fn", "restrict_fn", "mini_batch", "logits"],
)


def _keep(data, rows):
    return data


def _take_rows(data, rows):
    return jax.tree.map(lambda leaf: leaf[rows], data)


# --- mean squared error ------------------------------------------------------------------------


def _mse(yhat, y, data, grid_out):
    return jnp.mean(jnp.square(yhat - y))


def _mse_grad(yhat, y, data, grid_out):
    return 2 * (yhat - y) / yhat.size, None


def mse() -> Loss:
    """Mean squared error E = (1/NK) Σᵢₖ (ŷᵢₖ − yᵢₖ)² over N rows and K outputs."""
    return Loss("mse", _mse, _mse_grad, _keep)


# --- binary cross-entropy from logits ----------------------------------------------------------


def _bce(yhat, y, data, grid_out):
    return jnp.mean(jnp.logaddexp(0, yhat) - y * yhat)


def _bce_grad(yhat, y, data, grid_out):
    return (jax.nn.sigmoid(yhat) - y) / yhat.size, None


def binary_cross_entropy() -> Loss:
    """Binary cross-entropy from logits, E = (1/NK) Σ [log(1 + e^ŷ) − y ŷ], labels y ∈ [0, 1].

    Equal to −(1/NK) Σ [y log p + (1 − y) log(1 − p)] with p = σ(ŷ), computed without ever
    forming log p; the network's output layer must be ``linear`` (ŷ are logits), and
    probabilities are ``jax.nn.sigmoid(forward(...))``.
    """
    return Loss("binary_cross_entropy", _bce, _bce_grad, _keep, logits=True)


# --- chi-squared -------------------------------------------------------------------------------


def _chi2_cov(yhat, y, data, grid_out):
    r = (yhat - y).reshape(-1)
    whitened = jax.scipy.linalg.solve_triangular(data["chol"], r, lower=True)
    return jnp.sum(jnp.square(whitened)) / yhat.shape[0]


def _chi2_cov_grad(yhat, y, data, grid_out):
    r = (yhat - y).reshape(-1)
    whitened = jax.scipy.linalg.solve_triangular(data["chol"], r, lower=True)
    c_inv_r = jax.scipy.linalg.solve_triangular(data["chol"], whitened, lower=True, trans=1)
    return (2 / yhat.shape[0]) * c_inv_r.reshape(yhat.shape), None


def _restrict_cov(data, rows):
    cov = data["cov"][rows][:, rows]
    return {"cov": cov, "chol": jnp.linalg.cholesky(cov)}


def _chi2_diag(yhat, y, data, grid_out):
    return jnp.sum(jnp.square((yhat - y) * data)) / yhat.shape[0]


def _chi2_diag_grad(yhat, y, data, grid_out):
    return (2 / yhat.shape[0]) * (yhat - y) * jnp.square(data), None


def chi2(covariance: Any = None, *, sigma: Any = None) -> Loss:
    """χ² per data point, with a covariance matrix or with independent uncertainties.

    - ``covariance`` C, shape ``(N, N)`` for a single-output network: E = rᵀC⁻¹r / N with
      r = ŷ − y, evaluated as ‖L⁻¹r‖² / N through the Cholesky factor C = LLᵀ. Correlated
      points do not split into mini-batches: train with the whole (training) set per step.
    - ``sigma`` s, shape ``(N,)`` or ``(N, K)``: E = Σᵢₖ ((ŷᵢₖ − yᵢₖ)/sᵢₖ)² / N, the diagonal
      case, usable with mini-batches.

    **Raises** ``ValueError`` if C is not square, symmetric and positive definite, or if σ is
    not finite and > 0.
    """
    if (covariance is None) == (sigma is None):
        raise ValueError("chi2 needs exactly one of covariance (a matrix) or sigma (per point)")
    if sigma is not None:
        s = np.asarray(sigma, dtype=float)
        if s.ndim not in (1, 2) or s.size == 0 or not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError(
                f"sigma must be a non-empty (N,) or (N, K) array of finite values > 0, got {s!r}"
            )
        inverse = jnp.asarray(1.0 / (s[:, None] if s.ndim == 1 else s))
        return Loss("chi2", _chi2_diag, _chi2_diag_grad, _take_rows, data=inverse)
    cov = np.asarray(covariance, dtype=float)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] == 0:
        raise ValueError(f"covariance must be a square (N, N) matrix, got shape {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValueError("covariance must be finite")
    scale = np.max(np.abs(cov))
    if not np.allclose(cov, cov.T, rtol=0, atol=1e-12 * scale):
        raise ValueError("covariance must be symmetric (C = Cᵀ)")
    try:
        chol = np.linalg.cholesky(cov)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            "covariance must be positive definite (its Cholesky factor failed)"
        ) from err
    if not np.all(np.isfinite(chol)) or np.any(np.diag(chol) <= 0):
        raise ValueError("covariance must be positive definite (its Cholesky factor failed)")
    data = {"cov": jnp.asarray(cov), "chol": jnp.asarray(chol)}
    return Loss("chi2", _chi2_cov, _chi2_cov_grad, _restrict_cov, mini_batch=False, data=data)


# --- user losses -------------------------------------------------------------------------------


def custom(
    fn: Callable[..., jax.Array],
    *,
    grid: Any = None,
    name: str = "custom",
    mini_batch: bool = True,
) -> Loss:
    """A user loss E = ``fn(yhat, y)``, or ``fn(yhat, y, yhat_grid)`` when ``grid`` is given.

    Only the output gradient ∂E/∂ŷ (and ∂E/∂ŷ_grid) comes from ``jax.grad`` of ``fn``; the
    backward pass through the network is the hand-written one.

    **Arguments**

    - ``fn``: a scalar function of the outputs ``(N, K)`` and targets ``(N, K)`` (and, with a
      grid, the outputs on the grid ``(G, K)``).
    - ``grid``: inputs ``(G, n_0)`` (or ``(G,)``) at which the network is also evaluated, e.g.
      quadrature nodes for an integral of the output. The weights of the quadrature belong in
      ``fn``.
    - ``name``: a label for results and figures.
    - ``mini_batch``: False if E does not split into mini-batches of rows.
    """
    if not callable(fn):
        raise TypeError(f"the custom loss must be callable, got {fn!r}")
    if grid is None:

        def value_fn(yhat, y, data, grid_out):
            return fn(yhat, y)

        return Loss(name, value_fn, None, _keep, mini_batch=mini_batch)
    values = _checks.known(grid)  # as given: known inside the user's jit when closed over
    grid = jnp.asarray(grid)
    if grid.ndim == 1:
        grid = grid[:, None]
    if (
        grid.ndim != 2
        or grid.shape[0] == 0
        or (values is not None and not np.isfinite(values).all())
    ):
        raise ValueError(f"grid must be a finite (G, n_0) array of inputs, got {grid!r}")

    def value_fn_with_grid(yhat, y, data, grid_out):
        return fn(yhat, y, grid_out)

    return Loss(name, value_fn_with_grid, None, _keep, mini_batch=mini_batch, grid=grid)


LOSS_NAMES: tuple[str, ...] = ("mse", "binary_cross_entropy", "chi2", "custom")
"""Every loss by name (``chi2`` and ``custom`` need arguments: call their functions)."""


def get_loss(spec: str | Loss | Callable) -> Loss:
    """A :class:`Loss` from a name (``mse``, ``binary_cross_entropy``), a Loss, or a callable."""
    if isinstance(spec, Loss):
        return spec
    if isinstance(spec, str):
        if spec == "mse":
            return mse()
        if spec in ("binary_cross_entropy", "cross_entropy"):
            return binary_cross_entropy()
        if spec in ("chi2", "custom"):
            raise ValueError(f"loss {spec!r} needs arguments: use jaxmin.nn.{spec}(...)")
        raise ValueError(
            f"loss must be one of ['binary_cross_entropy', 'mse'], a Loss or a callable, "
            f"got {spec!r}"
        )
    if callable(spec):
        return custom(spec)
    raise TypeError(f"loss must be a name, a Loss or a callable, got {spec!r}")
