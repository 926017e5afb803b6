"""Regression baselines: closed-form least squares, gradient descent reaching it, logistic fit."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmin import nn, optim


def test_linear_least_squares_recovers_an_exact_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3))
    w, b = np.array([[1.0, -2.0], [0.5, 0.0], [3.0, 1.0]]), np.array([0.25, -1.0])
    params = nn.linear_least_squares(x, x @ w + b)
    np.testing.assert_allclose(params[0]["W"], w, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(params[0]["b"], b, rtol=1e-12, atol=1e-12)


def test_polynomial_least_squares_matches_numpy_polyfit():
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, 40)
    y = 1 - 2 * x + 0.5 * x**3 + 0.05 * rng.normal(size=40)
    coefficients = nn.polynomial_least_squares(x, y, 3)
    np.testing.assert_allclose(coefficients[:, 0], np.polyfit(x, y, 3)[::-1], rtol=1e-10)


def test_gradient_descent_converges_to_the_closed_form_solution():
    rng = np.random.default_rng(2)
    x = nn.polynomial_features(rng.uniform(-1, 1, 200), 2)
    y = 0.3 + x @ np.array([[1.5], [-0.7]]) + 0.1 * rng.normal(size=(200, 1))
    exact = nn.linear_least_squares(x, y)
    # E = mean (ŷ − y)² has Hessian (2/N) AᵀA; a step 1/λ_max is safe and converges linearly.
    design = np.concatenate([x, np.ones((200, 1))], axis=1)
    lam_max = np.linalg.eigvalsh(2 * design.T @ design / 200).max()
    start = [{"W": jnp.zeros((2, 1)), "b": jnp.zeros(1)}]
    result = nn.train(
        start,
        x,
        y,
        key=jax.random.key(0),
        activation="linear",
        optimizer=optim.gd(1 / lam_max),
        steps=3000,
        chunk_steps=3000,
        lookback=False,
    )
    for got, want in zip(jax.tree.leaves(result.params), jax.tree.leaves(exact), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)


def test_logistic_regression_recovers_the_generating_model():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4000, 2))
    logits = x @ np.array([2.0, -1.0]) + 0.5
    y = (rng.uniform(size=4000) < 1 / (1 + np.exp(-logits))).astype(float)
    result = nn.logistic_regression(
        x, y, key=jax.random.key(0), optimizer=optim.adam(0.05), steps=600, chunk_steps=600
    )
    # Standard errors at N = 4000 are ≈ 0.06 for these coefficients: 0.25 is four of them.
    np.testing.assert_allclose(result.params[0]["W"][:, 0], [2.0, -1.0], atol=0.25)
    np.testing.assert_allclose(result.params[0]["b"], [0.5], atol=0.25)
    proba = jax.nn.sigmoid(nn.forward(result.params, x, activation="linear"))
    assert float(jnp.mean((proba[:, 0] > 0.5) == (y > 0.5))) > 0.75


def test_regression_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 3 rows"):
        nn.linear_least_squares(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ValueError, match="same number of rows"):
        nn.linear_least_squares(np.ones((5, 2)), np.ones(4))
    with pytest.raises(ValueError, match="x must be finite"):
        nn.linear_least_squares(np.full((5, 1), np.nan), np.ones(5))
    with pytest.raises(ValueError, match="degree"):
        nn.polynomial_least_squares(np.ones(5), np.ones(5), 0)
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        nn.logistic_regression(np.ones((3, 1)), np.array([0.0, 2.0, 1.0]), key=jax.random.key(0))
