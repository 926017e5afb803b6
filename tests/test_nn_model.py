"""Initialisers, activations, forward pass and the checks on networks, data and losses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmin import nn


@pytest.mark.parametrize("init", [name for name in nn.INIT_NAMES if name != "zeros"])
def test_initial_weight_variance_matches_its_formula(init):
    n_in, n_out = 300, 200
    params = nn.init_mlp(jax.random.key(1), [n_in, n_out], init=init, scale=0.3)
    w = np.asarray(params[0]["W"])
    expected = nn.weight_variance(init, n_in, n_out, scale=0.3)
    # 60000 independent draws: the sample variance has relative standard error √(2/n) ≈ 0.6 %
    # for the normals and √(0.8/n) for the uniforms; 4 % is more than six standard errors.
    assert abs(w.var() / expected - 1) < 0.04
    assert abs(w.mean()) < 4 * np.sqrt(expected / w.size)
    if init.endswith("uniform"):
        assert np.max(np.abs(w)) <= np.sqrt(3 * expected)
    np.testing.assert_array_equal(params[0]["b"], 0.0)


def test_init_shapes_and_zeros():
    params = nn.init_mlp(jax.random.key(0), [3, 5, 1], init="zeros")
    assert [p["W"].shape for p in params] == [(3, 5), (5, 1)]
    assert [p["b"].shape for p in params] == [(5,), (1,)]
    assert all(float(jnp.max(jnp.abs(leaf))) == 0.0 for leaf in jax.tree.leaves(params))


def _jax_random_init(key, sizes, init, scale, dtype):
    """init_mlp as jax.random draws each layer's shape (eagerly)."""
    params = []
    keys = jax.random.split(key, len(sizes) - 1)
    for key_l, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True):
        std = np.sqrt(nn.weight_variance(init, n_in, n_out, scale))
        if init == "zeros":
            w = jnp.zeros((n_in, n_out), dtype)
        elif init.endswith("uniform"):
            limit = float(np.sqrt(3.0) * std)
            w = jax.random.uniform(key_l, (n_in, n_out), dtype, -limit, limit)
        else:
            w = float(std) * jax.random.normal(key_l, (n_in, n_out), dtype)
        params.append({"W": w, "b": jnp.zeros(n_out, dtype)})
    return params


@pytest.mark.parametrize(
    ("init", "dtype", "raw_key"),
    [
        ("normal", jnp.float32, True),
        ("glorot_normal", jnp.float64, False),
        ("glorot_uniform", jnp.float32, False),
        ("he_normal", jnp.float32, True),
        ("he_uniform", jnp.float64, True),
        ("zeros", jnp.float64, False),
    ],
)
def test_eager_draws_equal_jax_random_bit_for_bit(init, dtype, raw_key):
    """Called eagerly, init_mlp and dropout_masks cut their draws from longer flat ones of
    shared programs: the numbers jax.random draws for each layer's shape, bit for bit (every
    scheme, both float dtypes, typed and raw keys; widths across the 64-number smallest draw)."""
    rng = np.random.default_rng(len(init) + 10 * raw_key)
    sizes = tuple(int(n) for n in rng.integers(1, 70, size=rng.integers(2, 5)))
    rows, rate = int(rng.integers(1, 50)), float(rng.uniform(0.0, 0.95))
    seed = int(rng.integers(0, 2**31 - 1))
    key = jax.random.PRNGKey(seed) if raw_key else jax.random.key(seed)
    eager = nn.init_mlp(key, sizes, init=init, scale=0.7, dtype=dtype)
    masks = nn.dropout_masks(key, sizes, rows, rate, dtype)
    keep = 1.0 - rate
    want_masks = [
        jax.random.bernoulli(k, keep, (rows, n)).astype(dtype) / keep
        for k, n in zip(jax.random.split(key, max(len(sizes) - 2, 1)), sizes[1:-1], strict=False)
    ]
    want = (_jax_random_init(key, sizes, init, 0.7, dtype), want_masks)
    assert jax.tree.structure((eager, masks)) == jax.tree.structure(want)
    for got, expected in zip(jax.tree.leaves((eager, masks)), jax.tree.leaves(want), strict=True):
        assert isinstance(got, jax.Array) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)


def test_eager_draws_follow_a_committed_key_and_check_their_sizes():
    """As jax.random's draws: on the device a key is committed to (uncommitted otherwise); NumPy
    integers as sizes and rows, and a negative row count refused."""
    committed = jax.device_put(jax.random.key(0), jax.devices()[0])
    for key, expected in ((committed, True), (jax.random.key(0), False)):
        params = nn.init_mlp(key, [2, 3, 1])
        masks = nn.dropout_masks(key, np.array([2, 3, 1]), np.int64(4), 0.3)
        assert [m.shape for m in masks] == [(4, 3)]
        assert all(leaf.committed == expected for leaf in jax.tree.leaves((params, masks)))
    with pytest.raises(ValueError, match="rows must be an integer >= 0"):
        nn.dropout_masks(committed, [2, 1, 1], -1, 0.3)


def test_eager_draws_of_a_similar_network_compile_nothing(compilations):
    """Draws of similar sizes (up to the next power of two, at least 64 numbers) share one
    program: a second network and its masks compile nothing."""
    nn.init_mlp(jax.random.key(0), [3, 20, 6, 2])
    nn.dropout_masks(jax.random.key(0), [3, 20, 6, 2], 100, 0.3)
    _, compiled = compilations(
        lambda: (
            nn.init_mlp(jax.random.key(1), [3, 17, 6, 2]),
            nn.dropout_masks(jax.random.key(1), [3, 17, 6, 2], 90, 0.2),
        )
    )
    assert compiled == []


def test_forward_is_the_layer_recursion():
    params = nn.init_mlp(jax.random.key(0), [2, 4, 3])
    x = jax.random.normal(jax.random.key(1), (7, 2))
    hidden = jnp.tanh(x @ params[0]["W"] + params[0]["b"])
    expected = jax.nn.sigmoid(hidden @ params[1]["W"] + params[1]["b"])
    out = nn.forward(params, x, activation="tanh", output="sigmoid")
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_activation_values():
    z = jnp.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    np.testing.assert_array_equal(nn.activation("step")(z), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(nn.activation("relu")(z), [0, 0, 0, 0.5, 2])
    np.testing.assert_allclose(nn.activation("leaky_relu", alpha=0.1)(z), [-0.2, -0.05, 0, 0.5, 2])
    np.testing.assert_allclose(nn.activation("elu")(z), [np.expm1(-2), np.expm1(-0.5), 0, 0.5, 2])
    np.testing.assert_allclose(nn.activation("sigmoid")(z), 1 / (1 + np.exp(-np.asarray(z))))
    assert not nn.activation("step").differentiable


def test_dropout_masks_are_inverted_bernoulli():
    masks = nn.dropout_masks(jax.random.key(0), [3, 400, 300, 1], 200, 0.25)
    assert [m.shape for m in masks] == [(200, 400), (200, 300)]
    for mask in masks:
        values = np.unique(np.asarray(mask))
        np.testing.assert_allclose(values, [0.0, 1 / 0.75])
        assert abs(float(jnp.mean(mask)) - 1.0) < 0.02  # E[m] = 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sizes": [2, 0, 1]}, r"sizes\[1\]"),
        ({"sizes": [2, -3, 1]}, r"sizes\[1\]"),
        ({"sizes": [2]}, "at least an input and an output"),
        ({"init": "lecun"}, "init must be one of"),
        ({"scale": 0.0}, "scale"),
    ],
)
def test_init_rejects_bad_input(kwargs, match):
    arguments = {"sizes": [2, 3, 1]} | kwargs
    sizes = arguments.pop("sizes")
    with pytest.raises(ValueError, match=match):
        nn.init_mlp(jax.random.key(0), sizes, **arguments)


def _small():
    params = nn.init_mlp(jax.random.key(0), [2, 3, 1])
    return params, jnp.ones((4, 2)), jnp.ones((4, 1))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"activation": "swish"}, "activation must be one of"),
        ({"output": "softmax"}, "activation must be one of"),
        ({"loss": "hinge"}, "loss must be one of"),
        ({"loss": "chi2"}, r"jaxmin.nn.chi2\(...\)"),
        ({"y": jnp.ones((5, 1))}, "same number of rows"),
        ({"x": jnp.ones((4, 3))}, r"x must have shape \(N, 2\)"),
        ({"y": jnp.ones((4, 2))}, r"y must have shape \(N, 1\)"),
        ({"loss": "binary_cross_entropy", "output": "sigmoid"}, "takes logits"),
        ({"dropout_mask": [jnp.ones((4, 5))]}, r"dropout_mask\[0\] must broadcast"),
        ({"dropout_mask": []}, "one per hidden layer"),
        ({"x": jnp.full((4, 2), jnp.nan)}, "x must be finite"),
        ({"y": jnp.full((4, 1), jnp.inf)}, "y must be finite"),
    ],
)
def test_backprop_rejects_bad_input(change, match):
    params, x, y = _small()
    arguments = {"x": x, "y": y, "activation": "tanh", "loss": "mse"} | change
    with pytest.raises(ValueError, match=match):
        nn.backprop(params, arguments.pop("x"), arguments.pop("y"), **arguments)


def test_bad_params_structure():
    params, x, y = _small()
    params[1]["W"] = jnp.ones((4, 1))
    with pytest.raises(ValueError, match="has 4 inputs but layer 0 has 3 outputs"):
        nn.forward(params, x, activation="tanh")
    with pytest.raises(TypeError, match="params must be a non-empty list"):
        nn.forward([], x, activation="tanh")


def test_activation_alpha_checks():
    with pytest.raises(ValueError, match="alpha applies only to leaky_relu and elu"):
        nn.activation("tanh", alpha=0.1)
    with pytest.raises(ValueError, match="alpha must be a finite number > 0"):
        nn.activation("elu", alpha=-1.0)


@pytest.mark.parametrize(
    ("covariance", "match"),
    [
        (np.array([[1.0, 0.5], [0.4, 1.0]]), "symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), "positive definite"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), "positive definite"),
        (np.ones((2, 3)), "square"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), "finite"),
    ],
)
def test_chi2_rejects_a_covariance_that_is_not_spd(covariance, match):
    with pytest.raises(ValueError, match=match):
        nn.chi2(covariance)


def test_chi2_rejects_bad_sigma_and_ambiguous_arguments():
    with pytest.raises(ValueError, match="sigma must be"):
        nn.chi2(sigma=[1.0, 0.0])
    with pytest.raises(ValueError, match="exactly one of"):
        nn.chi2()
