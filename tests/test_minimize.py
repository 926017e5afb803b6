"""The compiled driver: convergence, statuses, recording, batching, pytrees and bad input."""

import importlib
import weakref

import _tracing
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from jaxmin import Status, _checks, minimize, objectives, optim
from jaxmin._loop import chunk_length

loop_module = importlib.import_module("jaxmin._loop")


def spd_quadratic(n, seed):
    """A and c of E(x) = ½ (x − c)ᵀ A (x − c) (:func:`quadratic_with_data`) with eigenvalues of
    A in [1, 10], and L = λ_max. Passed as ``args``: one program per n, not one per example."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    eig = rng.uniform(1.0, 10.0, n)
    a = jnp.asarray(q @ np.diag(eig) @ q.T)
    c = jnp.asarray(rng.standard_normal(n))
    return (a, c), float(eig.max())


def quadratic_with_data(x, a, c):
    d = x - c
    return 0.5 * d @ a @ d


@given(n=st.integers(1, 6), seed=st.integers(0, 10_000), fraction=st.floats(0.2, 0.95))
def test_gd_below_two_over_l_converges_to_the_minimiser(n, seed, fraction):
    data, lipschitz = spd_quadratic(n, seed)
    x0 = jnp.asarray(np.random.default_rng(seed + 1).standard_normal(n))
    rule = optim.gd(fraction * 2 / lipschitz)
    result = minimize(quadratic_with_data, x0, rule, steps=5000, gtol=1e-10, args=data)
    assert result.status_name == "converged"
    np.testing.assert_allclose(result.x, data[1], atol=1e-9)
    assert result.grad_norm <= 1e-10
    assert result.nfev == result.nit + 1


def test_jit_and_no_jit_agree():
    fun = objectives.himmelblau().fun
    x0 = jnp.array([0.5, -0.3])
    compiled = minimize(fun, x0, optim.adam(0.05), steps=15, gtol=1e-3)
    with jax.disable_jit():
        eager = minimize(fun, x0, optim.adam(0.05), steps=15, gtol=1e-3)
    for a, b in zip(jax.tree.leaves(compiled), jax.tree.leaves(eager), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_inside_the_users_jit_and_vmap_gives_the_same_numbers():
    fun = objectives.himmelblau().fun
    starts = jnp.array([[0.5, -0.3], [-2.0, 3.0], [4.0, -4.0]])

    def solve(x0):
        return minimize(fun, x0, optim.adam(0.05), steps=200, gtol=1e-6)

    direct = [solve(x0) for x0 in starts]
    jitted = jax.jit(solve)(starts[1])
    vmapped = jax.vmap(solve)(starts)
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(direct[1]), strict=True):
        np.testing.assert_array_equal(a, b)
    for i, one in enumerate(direct):
        for a, b in zip(jax.tree.leaves(vmapped), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-12, atol=1e-14)


def test_a_traced_non_finite_start_ends_diverged_instead_of_raising():
    fun = objectives.himmelblau().fun
    result = jax.jit(lambda x0: minimize(fun, x0, optim.gd(0.01), steps=10))(
        jnp.array([jnp.nan, 0.0])
    )
    assert result.status_name == "diverged" and int(result.nit) == 0


def test_a_new_closure_of_the_same_code_compiles_nothing():
    def make_loss(scale):
        def loss(x):
            _tracing.count("closure")  # runs only while JAX traces the function
            return scale * jnp.sum((x - 1.0) ** 2)

        return loss

    x0 = jnp.zeros(3)
    first = minimize(make_loss(2.0), x0, optim.gd(0.1), steps=20)
    traced = _tracing.COUNTS["closure"]
    again = minimize(make_loss(2.0), x0, optim.gd(0.1), steps=20)  # fresh closure, fresh rule
    assert _tracing.COUNTS["closure"] == traced
    np.testing.assert_array_equal(first.x, again.x)
    minimize(make_loss(3.0), x0, optim.gd(0.1), steps=20)  # other values: a new program
    assert _tracing.COUNTS["closure"] > traced


def test_args_pass_data_without_a_new_program():
    def residuals(x, data, weights):
        _tracing.count("residuals")
        return jnp.sum(weights * (data - x) ** 2)

    x0 = jnp.zeros(4)
    weights = jnp.ones(4)
    for seed in range(3):
        data = jnp.asarray(np.random.default_rng(seed).normal(size=4))
        result = minimize(residuals, x0, optim.gd(0.25), steps=100, args=(data, weights), gtol=None)
        np.testing.assert_allclose(result.x, data, rtol=1e-10)
    # the loss is traced while compiling the first program only
    assert _tracing.COUNTS["residuals"] <= 3
    many = minimize(
        residuals,
        jnp.zeros((5, 4)),
        optim.gd(0.25),
        steps=100,
        args=(data, weights),
        gtol=None,
        batched=True,
    )
    np.testing.assert_allclose(many.x, jnp.broadcast_to(data, (5, 4)), rtol=1e-10)
    with pytest.raises(TypeError, match="args must be a tuple"):
        minimize(residuals, x0, optim.gd(0.25), steps=5, args=data)


@settings(max_examples=4)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6))
def test_vmapped_starts_equal_one_by_one(seed, k):
    fun = objectives.himmelblau().fun
    starts = jnp.asarray(np.random.default_rng(seed).uniform(-5, 5, (k, 2)))
    opt = optim.nesterov(1e-3)
    batch = minimize(fun, starts, opt, steps=300, gtol=1e-6, record_every=7, batched=True)
    for i in range(k):
        single = minimize(fun, starts[i], opt, steps=300, gtol=1e-6, record_every=7)
        for a, b in zip(jax.tree.leaves(single), jax.tree.leaves(batch), strict=True):
            np.testing.assert_allclose(a, b[i], rtol=1e-12, atol=1e-12)


@settings(max_examples=1)  # and the two examples below
@example(n=3, seed=1, rate=40.0, record_every=8, gtol=None, steps=240)  # overflows in a chunk
@example(n=2, seed=5, rate=1.2, record_every=40, gtol=1e-6, steps=37)  # shorter than one chunk
@given(
    n=st.integers(1, 4),
    seed=st.integers(0, 10_000),
    rate=st.sampled_from([0.3, 0.9, 1.2, 40.0]),
    record_every=st.sampled_from([3, 8, 40]),
    gtol=st.sampled_from([None, 1e-6]),
    steps=st.sampled_from([37, 240]),
)
def test_chunked_loop_stops_counts_and_records_as_the_step_by_step_loop(
    n, seed, rate, record_every, gtol, steps
):
    """With record_every > 1 first-order runs go in chunks whose f is skipped until the chunk's
    end (replayed step by step when anything happened inside); record_every = 1 checks every
    step. The larger rates diverge (the largest overflows within the longer budget); 37 steps
    end with a chunk shorter than the others (or are shorter than one), run step by step."""
    data, lipschitz = spd_quadratic(n, seed)
    starts = jnp.asarray(np.random.default_rng(seed + 1).standard_normal((2, n)))
    opt = optim.momentum(rate * 2 / (lipschitz * 1.9), 0.5)
    settings_ = dict(steps=steps, gtol=gtol, args=data)
    batched = minimize(
        quadratic_with_data, starts, opt, record_every=record_every, batched=True, **settings_
    )
    users_vmap = jax.vmap(  # no named axis: JAX batches the loop, the replay runs where due
        lambda x0: minimize(quadratic_with_data, x0, opt, record_every=record_every, **settings_)
    )(starts)
    for i in range(2):
        stepwise = minimize(quadratic_with_data, starts[i], opt, record_every=1, **settings_)
        for chunked in (batched, users_vmap):
            for field in ("nit", "nfev", "ngev", "status"):
                np.testing.assert_array_equal(getattr(chunked, field)[i], getattr(stepwise, field))
            # The compiler fuses a chunk's steps differently: equal to round-off, not bit for bit.
            for field in ("x", "fun", "grad_norm"):
                np.testing.assert_allclose(
                    getattr(chunked, field)[i], getattr(stepwise, field), 1e-12, 1e-15
                )
            steps = chunked.path_step[i]
            np.testing.assert_allclose(chunked.path[i], stepwise.path[steps], 1e-12, 1e-15)
            np.testing.assert_allclose(chunked.path_fun[i], stepwise.path_fun[steps], 1e-12, 1e-15)


def test_mixed_shape_pytree_parameters():
    target = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.array([1.0, -2.0]), "s": jnp.array(3.0)}

    def fun(p):
        return sum(jnp.sum((p[k] - target[k]) ** 2) for k in target)

    x0 = jax.tree.map(jnp.zeros_like, target)
    result = minimize(fun, x0, optim.momentum(0.1), steps=500, gtol=1e-10, record_every=10)
    assert result.status_name == "converged"
    for k in target:
        np.testing.assert_allclose(result.x[k], target[k], atol=1e-10)
        assert result.path[k].shape == (51, *target[k].shape)


def test_optax_rules_run_in_the_driver():
    result = minimize(objectives.sphere(3).fun, jnp.ones(3), optax.adam(0.1), steps=2000, gtol=1e-8)
    assert result.status == Status.CONVERGED
    np.testing.assert_allclose(result.x, 0.0, atol=1e-8)


# --- the tutorial's learning-rate study on the quadratic bowl (a = b = 1, so L = 2) ------------

BOWL = objectives.quadratic_bowl(1.0, 1.0)
START = jnp.array([1.5, -1.0])


def test_bowl_small_rate_converges():
    result = minimize(BOWL.fun, START, optim.gd(0.1), steps=1000, gtol=1e-10)
    assert result.status_name == "converged"
    np.testing.assert_allclose(result.x, 0.0, atol=1e-10)


def test_bowl_rate_one_half_lands_in_one_step():
    result = minimize(BOWL.fun, START, optim.gd(0.5), steps=100, gtol=1e-12)
    assert result.status_name == "converged"
    assert int(result.nit) == 1
    np.testing.assert_array_equal(result.x, [0.0, 0.0])


def test_bowl_rate_one_oscillates_for_ever():
    result = minimize(BOWL.fun, START, optim.gd(1.0), steps=1000)
    assert result.status_name == "max_steps"
    signs = (-1.0) ** np.arange(1001)[:, None]
    np.testing.assert_allclose(result.path, signs * np.asarray(START), rtol=1e-15)
    np.testing.assert_allclose(result.path_fun, BOWL.fun(START))


def test_bowl_rate_above_one_diverges_without_nan():
    x32 = START.astype(jnp.float32)
    result = minimize(BOWL.fun, x32, optim.gd(1.01), steps=10_000)
    assert result.status_name == "diverged"
    assert int(result.nit) < 10_000
    assert np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
    assert np.all(np.isfinite(result.path)) and np.all(np.isfinite(result.path_fun))
    # In float64 the iterates grow as 1.02ᵗ and stay finite for 10⁴ steps: growing, never NaN.
    result64 = minimize(BOWL.fun, START, optim.gd(1.01), steps=10_000, record_every=100)
    assert np.all(np.isfinite(result64.path_fun))
    assert np.all(np.diff(result64.path_fun) > 0)


# --- statuses, counts and the recorded path --------------------------------------------------


def test_non_finite_loss_stops_with_the_last_finite_iterate():
    def fun(x):  # log is -inf/NaN once x[0] ≤ 0; a large step takes it there
        return -jnp.log(x[0]) + x[0] ** 2 * 10.0 + x[1] ** 2

    result = minimize(fun, jnp.array([2.0, 1.0]), optim.gd(0.2), steps=50, record_every=1)
    assert result.status_name == "diverged"
    assert np.all(np.isfinite(result.x)) and np.isfinite(result.fun)
    nit = int(result.nit)
    np.testing.assert_array_equal(result.path[nit], result.x)
    np.testing.assert_array_equal(result.path[nit + 1 :], np.broadcast_to(result.x, (50 - nit, 2)))
    assert int(result.nfev) == nit + 2  # the evaluation that failed is counted


def test_start_at_the_minimum_converges_at_step_zero():
    result = minimize(BOWL.fun, jnp.zeros(2), optim.adam(0.1), steps=10, gtol=1e-8)
    assert result.status_name == "converged"
    assert int(result.nit) == 0 and int(result.nfev) == 1


def test_record_every_records_every_rth_iterate():
    result = minimize(BOWL.fun, START, optim.gd(0.1), steps=20, record_every=5)
    np.testing.assert_array_equal(result.path_step, [0, 5, 10, 15, 20])
    full = minimize(BOWL.fun, START, optim.gd(0.1), steps=20, record_every=1)
    np.testing.assert_allclose(result.path, full.path[::5], rtol=1e-15)
    np.testing.assert_allclose(result.path_fun, full.path_fun[::5], rtol=1e-15)


def test_path_after_convergence_repeats_the_final_iterate():
    result = minimize(BOWL.fun, START, optim.gd(0.5), steps=10, gtol=1e-12)
    np.testing.assert_array_equal(result.path[1:], np.zeros((10, 2)))


@pytest.mark.parametrize("record_every", [1, 2, 3])
def test_path_after_divergence_repeats_the_last_finite_iterate(record_every):
    def quartic(x):
        return jnp.sum(x**4)

    start = jnp.array([3.0, -2.0])
    full = minimize(quartic, start, optim.gd(1.0), steps=20, gtol=None)
    result = minimize(quartic, start, optim.gd(1.0), steps=20, gtol=None, record_every=record_every)
    assert result.status_name == "diverged" and 0 < int(result.nit) < 20
    np.testing.assert_array_equal(result.x, full.path[int(result.nit)])
    within = np.asarray(result.path_step) <= int(result.nit)
    np.testing.assert_array_equal(result.path[within], full.path[result.path_step[within]])
    np.testing.assert_array_equal(
        result.path[~within], np.broadcast_to(result.x, (np.sum(~within), 2))
    )
    assert np.all(np.isfinite(result.path)) and np.all(np.isfinite(result.path_fun))


def test_batched_statuses_are_per_start():
    starts = jnp.array([[0.0, 0.0], [1.0, 1.0]])
    result = minimize(BOWL.fun, starts, optim.gd(0.1), steps=3, gtol=1e-8, batched=True)
    assert result.status_name == ["converged", "max_steps"]


# --- bad input, raised before tracing ---------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"steps": 0}, ValueError, "steps"),
        ({"steps": 2.5}, TypeError, "steps"),
        ({"steps": 10, "record_every": 0}, ValueError, "record_every"),
        ({"steps": 10, "gtol": 0.0}, ValueError, "gtol"),
        ({"steps": 10, "gtol": -1e-3}, ValueError, "gtol"),
        ({"batched": "yes"}, TypeError, "batched must be True or False"),
    ],
)
def test_bad_driver_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        minimize(BOWL.fun, START, optim.gd(0.1), **kwargs)


def test_non_finite_start_is_rejected():
    with pytest.raises(ValueError, match="x0"):
        minimize(BOWL.fun, jnp.array([jnp.nan, 1.0]), optim.gd(0.1), steps=5)


def test_a_start_found_finite_is_remembered_only_while_it_is_the_same_array(monkeypatch):
    """The finiteness of a JAX array (immutable) is remembered by identity, weakly, for the
    most recently checked ones; a NumPy array (mutable) is read at every call."""
    monkeypatch.setattr(_checks, "_KNOWN_FINITE", {})
    reads = []

    class CountingNumPy:  # _checks' numpy, counting the host reads
        def __getattr__(self, name):
            return getattr(np, name)

        def asarray(self, a, *args, **kwargs):
            reads.append(1)
            return np.asarray(a, *args, **kwargs)

    monkeypatch.setattr(_checks, "np", CountingNumPy())
    start = jnp.array([0.5, 1.0])
    _checks.finite_tree("x0", start)
    _checks.finite_tree("x0", start)
    assert len(reads) == 1 and _checks._KNOWN_FINITE[id(start)]() is start
    others = [jnp.full(2, float(i)) for i in range(_checks._KNOWN_FINITE_MOST + 10)]
    for i, other in enumerate(others):
        _checks.finite_tree("x0", other)
        if i % 8 == 0:
            _checks.finite_tree("x0", start)  # used again: kept
    assert len(_checks._KNOWN_FINITE) == _checks._KNOWN_FINITE_MOST
    assert id(start) in _checks._KNOWN_FINITE and id(others[0]) not in _checks._KNOWN_FINITE
    bad = jnp.array([jnp.nan, 1.0])
    # an entry under bad's id that refers to another array (as after the first one was
    # collected and its id reused) does not vouch for it
    _checks._KNOWN_FINITE[id(bad)] = weakref.ref(start)
    with pytest.raises(ValueError, match="x0"):
        minimize(BOWL.fun, bad, optim.gd(0.1), steps=5)
    host = np.array([0.5, 1.0])
    minimize(BOWL.fun, host, optim.gd(0.1), steps=5)
    host[0] = np.inf
    with pytest.raises(ValueError, match="x0"):
        minimize(BOWL.fun, host, optim.gd(0.1), steps=5)


def test_integer_start_is_rejected():
    with pytest.raises(TypeError, match="x0"):
        minimize(BOWL.fun, jnp.array([1, 2]), optim.gd(0.1), steps=5)


def test_non_scalar_objective_is_rejected():
    with pytest.raises(ValueError, match="scalar"):
        minimize(lambda x: x**2, START, optim.gd(0.1), steps=5)


def test_optimizer_must_be_a_gradient_transformation():
    with pytest.raises(TypeError, match="optimizer"):
        minimize(BOWL.fun, START, "adam", steps=5)


def test_batched_start_needs_a_common_leading_axis():
    with pytest.raises(ValueError, match="leading axis"):
        minimize(
            lambda p: jnp.sum(p["a"]) + jnp.sum(p["b"]),
            {"a": jnp.ones((3, 2)), "b": jnp.ones((4, 2))},
            optim.gd(0.1),
            steps=5,
            batched=True,
        )


def test_a_gradient_norm_that_overflows_inside_a_chunk_stops_the_run_as_step_by_step():
    """float32: ∇f = a cos x with a = 2e19 is finite, but ‖∇f‖² overflows where |cos x| > 0.92
    — at a step inside the first chunk of 4 and not at its end; with gtol set every step of a
    chunk checks it."""

    def wavy(x, a):
        return a * jnp.sin(x[0])

    x0 = jnp.array([1.2], jnp.float32)
    settings_ = dict(steps=8, args=(jnp.float32(2e19),), gtol=1e-8)
    stepwise = minimize(wavy, x0, optim.gd(5e-20), record_every=1, **settings_)
    chunked = minimize(wavy, x0, optim.gd(5e-20), record_every=4, **settings_)
    assert stepwise.status_name == "diverged"
    for field in ("status", "nit", "nfev"):
        assert int(getattr(chunked, field)) == int(getattr(stepwise, field))
    np.testing.assert_allclose(chunked.x, stepwise.x, rtol=1e-6)


def test_without_gtol_long_chunks_stop_count_and_record_as_step_by_step(monkeypatch):
    """With gtol=None a single run stops early only where it diverges, and its chunks grow to
    4096 steps (a divisor of record_every that leaves no more steps to go one by one after the
    last chunk than 256-step chunks would): runs that overflow at a step inside the first or the
    second 1000-step chunk, and one that uses its whole budget, end with the step-by-step
    loop's status, counts, iterate and records."""
    assert chunk_length(1000, 2000) == 250  # gtol set, or many starts at once
    assert chunk_length(1000, 2000, long=True) == 1000
    assert chunk_length(10_000, 10_000, long=True) == 2500
    assert chunk_length(4000, 3000, long=True) == 1000  # not 3000 steps one by one
    assert chunk_length(1000, 1500, long=True) == 500
    assert chunk_length(1000, 1009, long=True) == 1000  # 9 one by one, as with 250
    assert chunk_length(500, 255, long=True) == 250  # not 255 one by one
    assert chunk_length(1000, 1255, long=True) == 250
    assert chunk_length(7, 100, long=True) == 7
    assert chunk_length(257, 1000, long=True) == 257  # 229 one by one, not all 1000
    chosen = []

    def recorded(*arguments, **keywords):
        chosen.append(chunk_length(*arguments, **keywords))
        return chosen[-1]

    monkeypatch.setattr(loop_module, "chunk_length", recorded)

    def quartic(x):  # gd with a large rate overshoots ever further: f overflows at step 5
        return jnp.sum(x**4)

    def cliff(x):  # gd with rate 1 climbs by exactly 1 a step; f = ∞ from x = 1500 (step 1500)
        return jnp.sum(jnp.where(x < 1500.0, -x, jnp.inf))

    x0 = jnp.array([1.5, -0.3])
    cases = [
        (quartic, x0, 0.7, "diverged"),
        (cliff, jnp.array([0.5, 0.25]), 1.0, "diverged"),
        (quartic, x0, 1e-3, "max_steps"),
    ]
    settings_ = dict(steps=2000, gtol=None)
    for fun, start, rate, status in cases:
        stepwise = minimize(fun, start, optim.gd(rate), record_every=1, **settings_)
        chosen.clear()
        chunked = minimize(fun, start, optim.gd(rate), record_every=1000, **settings_)
        assert stepwise.status_name == status
        assert chosen == [1000]  # traced once, with the long chunk
        for field in ("status", "nit", "nfev"):
            assert int(getattr(chunked, field)) == int(getattr(stepwise, field))
        np.testing.assert_allclose(chunked.x, stepwise.x, rtol=1e-12)
        np.testing.assert_allclose(chunked.path, stepwise.path[::1000], rtol=1e-12)
    assert int(minimize(cliff, jnp.array([0.5, 0.25]), optim.gd(1.0), **settings_).nit) == 1499
