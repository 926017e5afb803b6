"""The hand-written backpropagation equals jax.grad on random architectures, losses and masks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxmin import nn

DIFFERENTIABLE = [name for name in nn.ACTIVATION_NAMES if name != "step"]


def _max_abs(tree):
    # NumPy: eager JAX operations would compile once per random architecture's shapes
    return max(float(np.max(np.abs(np.asarray(leaf)))) for leaf in jax.tree.leaves(tree))


# Jitted, so that each random architecture costs one compilation instead of op-by-op dispatch.
_backprop = jax.jit(nn.backprop, static_argnames=("activation", "output"))
_autodiff = jax.jit(nn.autodiff_grad, static_argnames=("activation", "output"))


def _numpy_network(rng, sizes, scale):
    """Weights N(0, scale²/n_in) and biases N(0, 0.1²), drawn by NumPy: a drawn architecture
    built by jaxmin's initialisers or JAX's random keys would compile a program per shape
    (initialisers and masks are tested in test_nn_model.py)."""
    return [
        {"W": rng.normal(0.0, scale / np.sqrt(n_in), (n_in, n_out)), "b": rng.normal(0, 0.1, n_out)}
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]


def _numpy_masks(rng, sizes, rows, rate):
    """Inverted-dropout masks, 0 or 1/(1 − rate), one (rows, n) per hidden layer."""
    keep = 1.0 - rate
    return [(rng.uniform(size=(rows, n)) < keep) / keep for n in sizes[1:-1]]


def assert_grads_close(params, x, y, rtol=1e-10, **kwargs):
    """Hand-written (E, ∇E) equals jax.value_and_grad's, relative to the gradient's scale."""
    value, grads = _backprop(params, x, y, **kwargs)
    ref_value, ref_grads = _autodiff(params, x, y, **kwargs)
    assert jax.tree.structure(grads) == jax.tree.structure(params)
    np.testing.assert_allclose(value, ref_value, rtol=1e-12)
    scale = _max_abs(ref_grads) + 1e-300
    diff = _max_abs(jax.tree.map(lambda a, b: np.asarray(a) - np.asarray(b), grads, ref_grads))
    assert diff <= rtol * scale, (diff, scale)


def _spd(rng, n):
    a = rng.normal(size=(n, n))
    return a @ a.T / n + np.eye(n)


@st.composite
def networks(draw):
    """A random MLP, data, loss, output activation and (maybe) dropout masks."""
    depth = draw(st.integers(1, 5))
    sizes = [draw(st.integers(1, 64)) for _ in range(depth + 1)]
    rows = draw(st.integers(1, 32))
    seed = draw(st.integers(0, 2**31 - 1))
    activation = draw(st.sampled_from(DIFFERENTIABLE))
    alpha = draw(st.floats(0.01, 2.0)) if activation in ("leaky_relu", "elu") else None
    scale = draw(st.floats(0.1, 1.5))
    loss_name = draw(st.sampled_from(["mse", "bce", "chi2_cov", "chi2_sigma", "custom", "grid"]))
    rng = np.random.default_rng(seed)
    params = _numpy_network(rng, sizes, scale)
    x = rng.normal(size=(rows, sizes[0]))
    y = rng.normal(size=(rows, sizes[-1]))
    output = draw(st.sampled_from(["linear", "sigmoid", "tanh", "elu"]))
    extra_rows = 0
    if loss_name == "mse":
        loss = nn.mse()
    elif loss_name == "bce":
        loss, output = nn.binary_cross_entropy(), "linear"
        y = rng.uniform(size=y.shape)
    elif loss_name == "chi2_cov":
        y = y[:, :1]
        params[-1] = {"W": params[-1]["W"][:, :1], "b": params[-1]["b"][:1]}
        loss = nn.chi2(_spd(rng, rows))
    elif loss_name == "chi2_sigma":
        loss = nn.chi2(sigma=rng.uniform(0.1, 2.0, size=y.shape))
    elif loss_name == "custom":
        loss = nn.custom(lambda yhat, y: jnp.sum(jnp.log1p((yhat - y) ** 2)))
    else:
        extra_rows = draw(st.integers(1, 8))
        weights = jnp.asarray(rng.uniform(size=extra_rows))

        def sum_rule(yhat, y, grid_out):
            return jnp.mean((yhat - y) ** 2) + (jnp.sum(weights[:, None] * grid_out) - 1.0) ** 2

        loss = nn.custom(sum_rule, grid=rng.uniform(size=(extra_rows, sizes[0])))
    masks = None
    if draw(st.booleans()) and depth > 1:
        rate = draw(st.floats(0.0, 0.9))
        masks = _numpy_masks(rng, sizes, rows + extra_rows, rate)
    kwargs = {"activation": nn.activation(activation, alpha=alpha), "loss": loss, "output": output}
    return params, x, y, kwargs, masks


@settings(max_examples=6, suppress_health_check=[HealthCheck.too_slow])
# Each drawn architecture compiles two programs (backprop, jax.grad): ~0.7 s apiece.
@given(networks())
def test_backprop_equals_jax_grad(case):
    params, x, y, kwargs, masks = case
    assert_grads_close(params, x, y, dropout_mask=masks, **kwargs)


def _all_losses(rng, rows, outputs):
    sum_rule = nn.custom(
        lambda yhat, y, grid_out: jnp.mean((yhat - y) ** 2) + jnp.sum(grid_out) ** 2,
        grid=rng.uniform(size=(5, 3)),
    )
    return {
        "mse": nn.mse(),
        "binary_cross_entropy": nn.binary_cross_entropy(),
        "chi2_cov": nn.chi2(_spd(rng, rows)),
        "chi2_sigma": nn.chi2(sigma=rng.uniform(0.5, 1.5, size=(rows, outputs))),
        "custom": nn.custom(lambda yhat, y: jnp.sum(jnp.cosh(yhat - y))),
        "custom_grid": sum_rule,
    }


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_every_activation_with_every_loss_and_dropout(activation):
    """Every (activation, loss) pair, with dropout masks on every other loss: alternating with
    the activation, so that every loss is checked with and without dropout (one compilation per
    pair instead of two)."""
    rng = np.random.default_rng(1)
    sizes, rows = [3, 9, 7, 1], 12
    params = _numpy_network(rng, sizes, scale=1.0)
    x, y = rng.normal(size=(rows, 3)), rng.uniform(size=(rows, 1))
    parity = DIFFERENTIABLE.index(activation) % 2
    for i, loss in enumerate(_all_losses(rng, rows, 1).values()):
        extra = 0 if loss.grid is None else loss.grid.shape[0]
        masks = _numpy_masks(rng, sizes, rows + extra, 0.3)
        output = "linear" if loss.logits else "tanh"
        kwargs = {"activation": activation, "loss": loss, "output": output}
        mask = masks if i % 2 == parity else None
        assert_grads_close(params, x, y, dropout_mask=mask, **kwargs)


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_backprop_jits_and_vmaps_over_networks(activation):
    sizes = [2, 8, 8, 1]
    keys = jax.random.split(jax.random.key(0), 3)
    params = jax.vmap(lambda k: nn.init_mlp(k, sizes))(keys)
    x = jax.random.normal(jax.random.key(1), (16, 2))
    y = jnp.sin(x[:, :1])

    @jax.jit
    def grads(p):
        return nn.backprop(p, x, y, activation=activation, loss="mse")

    values, batched = jax.vmap(grads)(params)
    for i in range(3):
        single = jax.tree.map(lambda leaf, i=i: leaf[i], params)
        ref_value, ref = nn.autodiff_grad(single, x, y, activation=activation, loss="mse")
        np.testing.assert_allclose(values[i], ref_value, rtol=1e-12)
        for a, b in zip(jax.tree.leaves(batched), jax.tree.leaves(ref), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-10, atol=1e-14)


def test_eager_calls_compile_one_program_per_shapes_and_loss_content(compilations):
    """Called eagerly, forward, backprop and autodiff_grad run one compiled program each (a
    1–6–2 network no other test uses): later calls, and a fresh custom loss of the same code,
    compile nothing; a custom loss over the caller's traced values is traced inline."""
    params = nn.init_mlp(jax.random.key(0), [1, 6, 2])
    x = np.linspace(-1.0, 1.0, 7)[:, None]
    y = np.stack([np.sin(3 * x[:, 0]), np.cos(2 * x[:, 0])], axis=1)

    def calls(scale):
        loss = nn.custom(lambda yhat, y: scale * jnp.sum((yhat - y) ** 4))
        return (
            nn.forward(params, x, activation="elu"),
            nn.backprop(params, x, y, activation="elu", loss=loss),
            nn.autodiff_grad(params, x, y, activation="elu", loss=loss),
        )

    first, compiled = compilations(lambda: calls(1.0))
    assert {"jit(_outputs)", "jit(_rule_program)"} <= set(compiled), compiled
    again, compiled = compilations(lambda: calls(1.0))  # a fresh lambda, the same content
    assert compiled == []
    for a, b in zip(jax.tree.leaves(first), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(a, b)
    # an Activation built with an array α (not hashable, no static argument): runs inline
    alphas = jnp.asarray([0.5, 1.5])
    by_array = jax.vmap(lambda a: nn.forward(params, x, activation=nn.Activation("elu", a)))
    for alpha, outputs in zip([0.5, 1.5], by_array(alphas), strict=True):
        expected = nn.forward(params, x, activation=nn.activation("elu", alpha=alpha))
        np.testing.assert_allclose(outputs, expected, rtol=1e-12)
    traced = jax.jit(calls)(2.0)  # the loss closes over the caller's tracer
    assert "_rule_program" not in str(jax.make_jaxpr(calls)(2.0))
    np.testing.assert_allclose(traced[1][0], 2.0 * first[1][0], rtol=1e-12)
    for a, b in zip(jax.tree.leaves(traced[2]), jax.tree.leaves(first[2]), strict=True):
        np.testing.assert_allclose(a, 2.0 * b, rtol=1e-12, atol=1e-14)


def test_step_activation_has_zero_gradient_below_the_output():
    params = nn.init_mlp(jax.random.key(0), [2, 5, 1])
    x = jax.random.normal(jax.random.key(1), (10, 2))
    _, grads = nn.backprop(params, x, jnp.ones((10, 1)), activation="step", loss="mse")
    assert float(jnp.max(jnp.abs(grads[0]["W"]))) == 0.0
    assert float(jnp.max(jnp.abs(grads[0]["b"]))) == 0.0
    assert float(jnp.max(jnp.abs(grads[1]["b"]))) > 0.0  # the linear output layer still learns


def test_cross_entropy_is_stable_for_saturated_logits():
    params = [{"W": jnp.array([[1.0]]), "b": jnp.array([0.0])}]
    x = jnp.array([[-800.0], [800.0]])
    y = jnp.array([[1.0], [0.0]])  # both confidently wrong: E = 800 per row
    value, grads = nn.backprop(params, x, y, activation="tanh", loss="binary_cross_entropy")
    np.testing.assert_allclose(value, 800.0)
    assert all(bool(jnp.all(jnp.isfinite(g))) for g in jax.tree.leaves(grads))


def test_chi2_with_covariance_matches_the_explicit_inverse():
    rng = np.random.default_rng(0)
    cov = _spd(rng, 6)
    yhat, y = rng.normal(size=(6, 1)), rng.normal(size=(6, 1))
    r = (yhat - y).ravel()
    loss = nn.chi2(cov)
    np.testing.assert_allclose(loss.value(yhat, y), r @ np.linalg.inv(cov) @ r / 6, rtol=1e-12)
    grad, _ = loss.output_grad(yhat, y)
    np.testing.assert_allclose(grad.ravel(), 2 * np.linalg.solve(cov, r) / 6, rtol=1e-10)


def test_activation_derivatives_equal_autodiff():
    z = jnp.linspace(-4.0, 4.0, 801)
    for name in DIFFERENTIABLE:
        act = nn.activation(name)
        reference = jax.vmap(jax.grad(act))(z)
        np.testing.assert_allclose(act.derivative(z, act(z)), reference, rtol=1e-12, atol=1e-15)
