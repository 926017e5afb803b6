"""The fitted gluon: F(x) = x·g(x) = A x^(1−α) (1 − x)^β NN(x, ln x), with A from the sum rule.

NN is a :mod:`jaxmin.nn` network with inputs (x, ln x) and one output; (α, β) are the
preprocessing exponents, kept within bounds (NNPDF's gluon ranges by default) and either fitted
(projected onto the bounds after every update) or kept at their initial values (the training
engine, :mod:`jaxmin.pdf.replicas`, puts them back after every update, whatever the method).
A is not a parameter: it is fixed inside the model by the momentum sum rule, computed by
quadrature on the fixed grid (:mod:`jaxmin.pdf.grid`),

    A = M / Σ_a w_a x_a^(1−α) (1 − x_a)^β NN(x_a),       M = ∫₀¹ x g dx = 0.425,

so every replica satisfies Σ_a w_a F(x_a) = M to round-off.

Gradients: the network's are the hand-written backprop (:func:`jaxmin.nn.backprop.backward`)
fed with ∂χ²/∂NN from ``jax.grad`` of the (cheap) expression that builds F, O and χ² from the
network's outputs; the exponents' gradients come from the same ``jax.grad``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..nn.activations import Activation
from ..nn.backprop import backward
from ..nn.initializers import init_mlp
from ..nn.mlp import forward_cache

ALPHA_BOUNDS = (0.94, 1.25)
"""NNPDF's small-x preprocessing range for the gluon (x^(1−α))."""
BETA_BOUNDS = (0.11, 5.87)
"""NNPDF's large-x preprocessing range for the gluon ((1−x)^β)."""


class ModelConfig(NamedTuple):
    """Static settings of the model (hashable)."""

    sizes: tuple[int, ...]
    hidden: Activation
    output: Activation
    alpha_bounds: tuple[float, float]
    beta_bounds: tuple[float, float]
    fit_exponents: bool
    random_exponents: bool
    momentum: float
    init: str


class Grid(NamedTuple):
    """Where the model is evaluated (x_eval) and its fixed linear maps (arrays: a pytree)."""

    x: jax.Array
    features: jax.Array
    """The network's inputs (x, ln x)."""
    table: jax.Array
    sum_rule: jax.Array
    log_1mx: jax.Array
    """ln(1 − x), and 0 at x = 1 (where ``below_one`` is 0)."""
    below_one: jax.Array
    """1 where x < 1, 0 at x = 1: (1 − x)^β = 0 there for β > 0."""


def make_grid(x_eval: np.ndarray, table: np.ndarray, sum_rule: np.ndarray, dtype) -> Grid:
    """The model's evaluation grid, with network inputs (x, ln x) and the logarithms of the
    preprocessing computed once."""
    x = np.asarray(x_eval, dtype=float)
    features = np.stack([x, np.log(x)], axis=1)
    below_one = x < 1
    log_1mx = np.log(np.where(below_one, 1 - x, 1.0))
    arrays = (x, features, table, sum_rule, log_1mx, below_one)
    return Grid(*(jnp.asarray(a, dtype) for a in arrays))


def init_params(key: jax.Array, cfg: ModelConfig, dtype) -> dict:
    """Network weights (``cfg.init``) and exponents: drawn uniformly within their bounds
    (``random_exponents``), or at the middle of the bounds."""
    net_key, exp_key = jax.random.split(key)
    bounds = jnp.asarray([cfg.alpha_bounds, cfg.beta_bounds], dtype)
    u = (
        jax.random.uniform(exp_key, (2,), dtype)
        if cfg.random_exponents
        else jnp.full(2, 0.5, dtype)
    )
    return {
        "net": init_mlp(net_key, cfg.sizes, init=cfg.init, dtype=dtype),
        "exponents": bounds[:, 0] + u * (bounds[:, 1] - bounds[:, 0]),
    }


def project(params: dict, cfg: ModelConfig) -> dict:
    """The exponents clipped to their bounds."""
    lo = jnp.asarray([cfg.alpha_bounds[0], cfg.beta_bounds[0]])
    hi = jnp.asarray([cfg.alpha_bounds[1], cfg.beta_bounds[1]])
    exponents = params["exponents"]
    return {**params, "exponents": jnp.clip(exponents, lo, hi).astype(exponents.dtype)}


def from_network(nn_out: jax.Array, exponents: jax.Array, grid: Grid, momentum: float):
    """F on the grid from the network's outputs: A x^(1−α) (1 − x)^β NN, A by the sum rule
    (the powers as exp((1 − α) ln x + β ln(1 − x)), with the logarithms of the grid)."""
    alpha, beta = exponents[0], exponents[1]
    log_x = grid.features[:, 1]
    raw = grid.below_one * jnp.exp((1 - alpha) * log_x + beta * grid.log_1mx) * nn_out
    return momentum / jnp.dot(grid.sum_rule, raw) * raw


def evaluate(params: dict, grid: Grid, cfg: ModelConfig) -> jax.Array:
    """F(x) on the grid's points."""
    nn_out = forward_cache(params["net"], grid.features, cfg.hidden, cfg.output).activations[-1]
    return from_network(nn_out[0], params["exponents"], grid, cfg.momentum)


def value_and_grad(
    loss, params: dict, grid: Grid, cfg: ModelConfig, dropout_mask: list | None = None
) -> tuple[Any, dict]:
    """(loss value with aux, gradients) of ``loss(F_on_grid) -> (E, aux)`` w.r.t. ``params``.

    The network part is the hand-written backward pass; only the map from the network's
    outputs and the exponents to E is differentiated by ``jax.grad``. With ``dropout_mask``
    (one mask per hidden layer on the grid's points), the network is the dropped-out one.
    """
    cache = forward_cache(params["net"], grid.features, cfg.hidden, cfg.output, dropout_mask)

    def from_outputs(nn_out, exponents):
        return loss(from_network(nn_out, exponents, grid, cfg.momentum))

    (value, aux), (d_out, d_exponents) = jax.value_and_grad(
        from_outputs, argnums=(0, 1), has_aux=True
    )(cache.activations[-1][0], params["exponents"])
    d_net = backward(params["net"], cache, d_out[:, None], cfg.hidden, cfg.output, dropout_mask)
    return (value, aux), {"net": d_net, "exponents": d_exponents}
