"""Regression baselines: least squares in closed form, and logistic regression as a network.

Linear least squares fits ŷ = xW + b by minimising ‖Aθ − y‖² with the design matrix
A = [x, 1] and θ = (W; b); the minimiser solves the normal equations AᵀAθ = Aᵀy, computed here
by an SVD-based least-squares solve (never by inverting AᵀA). Polynomial least squares is the
same with the features x, x², …, x^d of a single input. Both return the parameters of a network
without hidden layers, so :func:`~jaxmin.nn.forward` predicts with them and gradient descent on
the MSE can be checked against them.

Logistic regression is the network with no hidden layer, a linear output (the logit) and the
binary cross-entropy: p(y = 1 | x) = σ(xW + b).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .mlp import Params, as_rows
from .training import TrainResult, train


def _finite_rows(x: Any, y: Any) -> tuple[jax.Array, jax.Array]:
    """x as (N, d) and y as (N, K), with the same rows, finite (checked where known: the
    inputs as given, which stay known inside the user's jit when closed over)."""
    given = {"x": x, "y": y}
    x = jnp.asarray(x)
    x = as_rows("x", x, x.shape[-1] if x.ndim == 2 else 1)
    y = jnp.asarray(y)
    y = as_rows("y", y, y.shape[-1] if y.ndim == 2 else 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows, got {x.shape[0]} and {y.shape[0]}"
        )
    for name, data in given.items():
        _checks.finite_where_known(name, data)
    return x, y


def linear_least_squares(x: Any, y: Any) -> Params:
    """The least-squares fit ŷ = xW + b in closed form (θ = argmin ‖[x, 1]θ − y‖²).

    **Arguments**

    - ``x``: inputs ``(N, d)`` (or ``(N,)``); ``y``: targets ``(N, K)`` (or ``(N,)``); N ≥ d + 1.

    **Returns**

    ``[{"W": (d, K), "b": (K,)}]``: the parameters of a network with no hidden layer.
    """
    x, y = _finite_rows(x, y)
    if x.shape[0] < x.shape[1] + 1:
        raise ValueError(
            f"least squares with {x.shape[1]} inputs and an intercept needs at least "
            f"{x.shape[1] + 1} rows, got {x.shape[0]}"
        )
    design = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
    theta = jnp.linalg.lstsq(design, y.astype(x.dtype))[0]
    return [{"W": theta[:-1], "b": theta[-1]}]


def polynomial_features(x: Any, degree: int) -> jax.Array:
    """The columns x, x², …, x^degree of a single input x of shape ``(N,)`` or ``(N, 1)``."""
    degree = _checks.integer_at_least("degree", degree, 1)
    x = as_rows("x", x, 1)
    return x ** jnp.arange(1, degree + 1, dtype=x.dtype)


def polynomial_least_squares(x: Any, y: Any, degree: int) -> np.ndarray:
    """Coefficients c₀, c₁, …, c_d (lowest first) of the least-squares polynomial ŷ = Σ c_k x^k.

    Equivalent to :func:`linear_least_squares` on :func:`polynomial_features`; returns an array
    of shape ``(degree + 1, K)``.
    """
    features = polynomial_features(x, degree)
    params = linear_least_squares(features, y)[0]
    return np.concatenate([np.asarray(params["b"])[None], np.asarray(params["W"])], axis=0)


def logistic_regression(
    x: Any, y: Any, *, key: jax.Array, steps: int = 1000, **train_kwargs: Any
) -> TrainResult:
    """Logistic regression p(y = 1 | x) = σ(xW + b), fitted by :func:`~jaxmin.nn.train`.

    The network has no hidden layer and a linear output (the logit), and the loss is the binary
    cross-entropy; weights start at zero (the loss is convex, so the start does not matter).
    ``train_kwargs`` go to :func:`~jaxmin.nn.train` (``optimizer``, ``batch_size``, ``l2``, …).
    Labels must lie in [0, 1].
    """
    labels = _checks.known(y)  # as given: known inside the user's jit when closed over
    x, y = _finite_rows(x, y)
    if labels is not None and np.any((labels < 0) | (labels > 1)):
        raise ValueError("y must hold labels in [0, 1] for logistic regression")
    params = [
        {"W": jnp.zeros((x.shape[1], y.shape[1]), x.dtype), "b": jnp.zeros(y.shape[1], x.dtype)}
    ]
    return train(
        params,
        x,
        y,
        key=key,
        activation="linear",
        loss="binary_cross_entropy",
        steps=steps,
        **train_kwargs,
    )
