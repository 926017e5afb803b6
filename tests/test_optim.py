"""The first-order rules against optax's equivalent configurations, step by step."""

import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmin import objectives, optim

adam_module = importlib.import_module("jaxmin.optim.adam")  # optim.adam is the function

STEPS = 200
GAMMA, BETA, B1, B2, EPS = 0.9, 0.9, 0.9, 0.99, 1e-8

# (name, ours, optax's equivalent, learning rate on Rosenbrock, learning rate on the quadratic)
PAIRS = [
    ("gd", lambda lr: optim.gd(lr), lambda lr: optax.sgd(lr)),
    ("momentum", lambda lr: optim.momentum(lr, GAMMA), lambda lr: optax.sgd(lr, momentum=GAMMA)),
    (
        "nesterov",
        lambda lr: optim.nesterov(lr, GAMMA),
        lambda lr: optax.sgd(lr, momentum=GAMMA, nesterov=True),
    ),
    (
        "rmsprop",
        lambda lr: optim.rmsprop(lr, BETA, EPS),
        lambda lr: optax.rmsprop(lr, decay=BETA, eps=EPS, eps_in_sqrt=True),
    ),
    (
        "rmsprop-eps-outside",
        lambda lr: optim.rmsprop(lr, BETA, EPS, eps_in_sqrt=False),
        lambda lr: optax.rmsprop(lr, decay=BETA, eps=EPS, eps_in_sqrt=False),
    ),
    (
        "adam",
        lambda lr: optim.adam(lr, B1, B2, EPS),
        lambda lr: optax.adam(lr, B1, B2, eps=0.0, eps_root=EPS),
    ),
    (
        "adam-eps-outside",
        lambda lr: optim.adam(lr, B1, B2, EPS, eps_in_sqrt=False),
        lambda lr: optax.adam(lr, B1, B2, eps=EPS, eps_root=0.0),
    ),
    (
        "gd-inverse-time-decay",
        lambda lr: optim.gd(optim.inverse_time_decay(lr, 0.01)),
        lambda lr: optax.sgd(lambda t: lr / (1.0 + 0.01 * t)),
    ),
]
RATES = {"rosenbrock": 1e-4, "quadratic": 1e-2}
# The adaptive steps η g/√s act like η·sign(g) when s ≈ g², a bang-bang motion that amplifies
# round-off: optax against itself from x0·(1 + 1e-15) differs by 2e-4 after 200 RMSprop steps
# at η = 1e-3 (ε outside the root). The rates below keep the 200 steps out of that regime.
ADAPTIVE_RATES = {"rosenbrock": 1e-3, "quadratic": 3e-4}


def random_quadratic():
    """E(θ) = ½ Σ_leaves (θ − c)ᵀ A (θ − c) on a pytree of mixed shapes, A SPD per leaf."""
    rng = np.random.default_rng(1)
    shapes = {"w": (3, 4), "b": (4,), "s": ()}
    centres = {k: jnp.asarray(rng.standard_normal(s)) for k, s in shapes.items()}
    mats = {}
    for k, s in shapes.items():
        m = int(np.prod(s))
        q = rng.standard_normal((m, m))
        mats[k] = jnp.asarray(q @ q.T / m + np.eye(m))

    def fun(theta):
        total = 0.0
        for k in shapes:
            d = (theta[k] - centres[k]).reshape(-1)
            total = total + 0.5 * d @ mats[k] @ d
        return total

    x0 = {k: jnp.asarray(rng.standard_normal(s)) for k, s in shapes.items()}
    return fun, x0


def trajectory(fun, x0, opt, steps=STEPS):
    """The iterates θ_1 … θ_steps of a rule, one compiled scan."""

    @jax.jit
    def run(x0):
        def step(carry, _):
            x, state = carry
            updates, state = opt.update(jax.grad(fun)(x), state, x)
            x = optax.apply_updates(x, updates)
            return (x, state), x

        return jax.lax.scan(step, (x0, opt.init(x0)), None, length=steps)[1]

    return run(x0)


@pytest.mark.parametrize("problem", ["rosenbrock", "quadratic"])
@pytest.mark.parametrize(("name", "ours", "theirs"), PAIRS, ids=[p[0] for p in PAIRS])
def test_trajectory_equals_optax(problem, name, ours, theirs):
    if problem == "rosenbrock":
        fun, x0 = objectives.rosenbrock(2).fun, jnp.array([-1.2, 1.0])
    else:
        fun, x0 = random_quadratic()
    adaptive = name.startswith(("rmsprop", "adam"))
    lr = (ADAPTIVE_RATES if adaptive else RATES)[problem]
    a = trajectory(fun, x0, ours(lr))
    b = trajectory(fun, x0, theirs(lr))
    for leaf_a, leaf_b in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        assert leaf_a.dtype == jnp.float64
        assert np.all(np.isfinite(leaf_a))
        np.testing.assert_allclose(leaf_a, leaf_b, rtol=1e-10, atol=1e-12)


def test_nesterov_is_the_lecture_rule_at_the_look_ahead_point():
    """v ← γv + η∇E(θ − γv), θ ← θ − v, written out directly, gives φ = θ − γv."""
    fun, grad = objectives.rosenbrock(2).fun, jax.grad(objectives.rosenbrock(2).fun)
    lr, gamma = 1e-4, GAMMA
    theta, v = jnp.array([-1.2, 1.0]), jnp.zeros(2)
    expected = []
    for _ in range(50):
        v = gamma * v + lr * grad(theta - gamma * v)
        theta = theta - v
        expected.append(theta - gamma * v)
    ours = trajectory(fun, jnp.array([-1.2, 1.0]), optim.nesterov(lr, gamma), steps=50)
    np.testing.assert_allclose(ours, np.stack(expected), rtol=1e-12, atol=1e-14)


def test_momentum_is_the_lecture_rule_with_a_schedule():
    """With η_t varying, v ← γv + η_t ∇E(θ) exactly (optax scales the whole trace instead)."""
    fun = objectives.beale().fun
    grad = jax.grad(fun)
    schedule = optim.inverse_time_decay(1e-3, 0.1)
    theta, v = jnp.array([1.0, 1.0]), jnp.zeros(2)
    expected = []
    for t in range(30):
        v = GAMMA * v + schedule(t) * grad(theta)
        theta = theta - v
        expected.append(theta)
    ours = trajectory(fun, jnp.array([1.0, 1.0]), optim.momentum(schedule, GAMMA), steps=30)
    np.testing.assert_allclose(ours, np.stack(expected), rtol=1e-12)


shapes = st.lists(
    st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple), min_size=1, max_size=4
)


@given(
    shapes=shapes,
    seed=st.integers(0, 2**16),
    lr=st.floats(1e-4, 1.0),
    which=st.sampled_from([p[0] for p in PAIRS]),
)
def test_mixed_shape_pytrees_match_optax(shapes, seed, lr, which):
    """Any pytree of any shapes, any hyperparameters: five updates equal optax's."""
    _, ours, theirs = next(p for p in PAIRS if p[0] == which)
    rng = np.random.default_rng(seed)
    params = {f"p{i}": jnp.asarray(rng.standard_normal(s)) for i, s in enumerate(shapes)}
    grads = [
        jax.tree.map(lambda p: jnp.asarray(rng.standard_normal(p.shape)), params) for _ in range(5)
    ]
    a, b = ours(lr), theirs(lr)
    sa, sb = a.init(params), b.init(params)
    for g in grads:
        ua, sa = a.update(g, sa, params)
        ub, sb = b.update(g, sb, params)
        for x, y in zip(jax.tree.leaves(ua), jax.tree.leaves(ub), strict=True):
            assert x.shape == y.shape
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("rule", list(optim.RULES))
def test_updates_keep_the_parameters_dtype(rule):
    params = {"a": jnp.ones(3, jnp.float32), "b": jnp.ones((), jnp.float64)}
    opt = optim.RULES[rule](optim.inverse_time_decay(0.1, 0.5))
    updates, _ = opt.update(params, opt.init(params), params)
    assert updates["a"].dtype == jnp.float32
    assert updates["b"].dtype == jnp.float64


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: optim.gd(0.0), "learning_rate"),
        (lambda: optim.gd(-1e-3), "learning_rate"),
        (lambda: optim.gd(float("nan")), "learning_rate"),
        (lambda: optim.gd(lambda t: -0.1 + 0 * t), "learning_rate"),
        (lambda: optim.momentum(0.1, gamma=1.0), "gamma"),
        (lambda: optim.nesterov(0.1, gamma=-0.1), "gamma"),
        (lambda: optim.rmsprop(0.1, beta=1.0), "beta"),
        (lambda: optim.rmsprop(0.1, eps=0.0), "eps"),
        (lambda: optim.adam(0.1, beta1=1.5), "beta1"),
        (lambda: optim.adam(0.1, beta2=-0.5), "beta2"),
        (lambda: optim.adam(0.1, eps=-1e-8), "eps"),
        (lambda: optim.inverse_time_decay(0.1, -1.0), "decay_rate"),
    ],
)
def test_bad_hyperparameters_raise_value_error(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_learning_rate_of_wrong_type_raises_type_error():
    with pytest.raises(TypeError, match="learning_rate"):
        optim.adam("fast")


@given(
    beta=st.one_of(st.just(0.0), st.floats(1e-6, 1 - 1e-9)),
    t=st.lists(st.integers(1, 2**31 - 2), min_size=1, max_size=8),
)
def test_adam_bias_correction_is_one_minus_beta_to_the_t_to_round_off(beta, t):
    """1 − βᵗ by tanh (Adam's bias correction) against −expm1(t ln β) in float64 — to round-off
    for β near 1, where 1 − pow(β, t) would lose digits, and 1 for β = 0 — and to a few float32
    ulps in float32."""
    counts = jnp.asarray(t, jnp.int32)
    exact = -np.expm1(np.asarray(t, np.float64) * np.log(beta)) if beta else np.ones(len(t))
    got = adam_module.bias_correction(beta, counts, jnp.zeros((), jnp.float64))
    np.testing.assert_allclose(got, exact, rtol=1e-14)
    beta32 = float(np.float32(beta))  # the float32 rule's own β
    exact32 = -np.expm1(np.asarray(t, np.float64) * np.log(beta32)) if beta else np.ones(len(t))
    got32 = adam_module.bias_correction(beta32, counts, jnp.zeros((), jnp.float32))
    assert got32.dtype == jnp.float32
    np.testing.assert_allclose(got32, exact32, rtol=2e-6)
