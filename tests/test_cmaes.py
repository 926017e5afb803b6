"""CMA-ES: pycma's parameters, invariances, positive definiteness, stopping, restarts, sharding."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.extend.core import Jaxpr

from jaxmin import Status, objectives
from jaxmin.evolution import _ranking, cmaes
from jaxmin.evolution.cmaes import _strategy


def sphere(x):
    return jnp.sum(x**2)


def rastrigin(x):
    return 10 * x.shape[0] + jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x))


# pycma 4.5.0: CMAEvolutionStrategy(n * [1], 0.5, {"popsize": λ}) → adapt_sigma.cs, .damps,
# sp.cc, sm.parameters()["c1"], ["cmu"], sm.lazy_update_gap, sp.weights (mueff, first, last, sum)
PYCMA_PARAMETERS = {
    (10, 10): dict(
        cs=0.3196142529106334,
        damps=1.3196142529106334,
        cc=0.29499038303562225,
        c1=0.015283824524751714,
        cmu=0.02355177665041747,
        eigen_gap=0.2574956920299673,
        mueff=3.1672992814107017,
        w1=0.45627264690340597,
        wlast=-0.5497499176973853,
        wsum=-0.6489457144406467,
    ),
    (40, 15): dict(
        cs=0.13758496613517535,
        damps=1.1375849661351753,
        cc=0.09300921663424917,
        c1=0.0011694327252618397,
        cmu=0.0034052196437063466,
        eigen_gap=0.5464896124038984,
        mueff=4.5409152090759575,
        w1=0.34479619859202054,
        wlast=-0.3083672593205417,
        wsum=-0.34342358133145084,
    ),
    (100, 1000): dict(
        cs=0.5,
        damps=9.002567236025513,
        cc=0.06000177612768206,
        c1=0.00019018172626366318,
        cmu=0.04744003387400695,
        eigen_gap=0.02099507607507698,
        mueff=254.56747274609546,
        w1=0.012519519350764832,
        wlast=-0.0007199722481441168,
        wsum=0.799247659280963,
    ),
}


@pytest.mark.parametrize(("n", "popsize"), list(PYCMA_PARAMETERS))
def test_strategy_parameters_equal_pycma(n, popsize):
    p = cmaes.strategy_parameters(n, popsize)
    ref = PYCMA_PARAMETERS[(n, popsize)]
    ours = p._asdict() | {
        "w1": p.weights[0],
        "wlast": p.weights[-1],
        "wsum": p.weights.sum(),
    }
    # the eigendecomposition interval is purecma's, five times pycma's class's
    ref = ref | {"eigen_gap": ref["eigen_gap"] * 5}
    for name, value in ref.items():
        assert ours[name] == pytest.approx(value, rel=1e-12), name
    assert np.all(np.diff(p.weights) <= 0)
    assert p.weights[p.weights > 0].sum() == pytest.approx(1.0, rel=1e-14)


def test_default_popsize_and_expected_norm():
    assert [cmaes.default_popsize(n) for n in (2, 10, 40, 100, 1000)] == [6, 10, 15, 17, 24]
    samples = np.linalg.norm(np.random.default_rng(0).normal(size=(200_000, 7)), axis=1)
    assert cmaes.expected_norm(7) == pytest.approx(samples.mean(), rel=2e-3)
    assert cmaes.expected_norm(1) == pytest.approx(np.sqrt(2 / np.pi), rel=1e-14)


def test_sphere_evaluation_counts_match_pycma_order():
    """n = 10, five seeds: pycma 4.5's median is 1410 evaluations (±10% required)."""
    counts = []
    for seed in range(5):
        x0 = np.random.default_rng(seed).uniform(-3, 3, 10)
        r = cmaes.minimize(sphere, x0, 0.5, key=jax.random.key(seed), max_evals=10**5, ftarget=1e-8)
        assert r.status_name == "ftarget" and float(r.fun) <= 1e-8
        counts.append(int(r.nfev))
    assert 0.9 * 1410 <= np.median(counts) <= 1.1 * 1410


INCREASING = [
    lambda f: f,
    lambda f: 3.0 * f - 7.0,
    jnp.log1p,
    lambda f: jnp.cbrt(f) ** 5,
]


@jax.jit
def trajectory(x0, shift, A, which, key):
    """25 generations of ask/tell on g((x − s)ᵀA(x − s)), g = INCREASING[which] increasing."""

    def objective(x):
        z = x - shift
        return jax.lax.switch(which, INCREASING, z @ A @ z)

    def step(state, g):
        x, state = cmaes.ask(jax.random.fold_in(key, g), state)
        state, _ = cmaes.tell(key, x, jax.vmap(objective)(x), state)
        return state, state.mean

    return jax.lax.scan(step, cmaes.init(x0, 0.7), jnp.arange(25))


@given(
    st.integers(2, 6),
    st.integers(0, 2**31 - 1),
    st.sampled_from([1, 2, 3]),
)
def test_same_key_same_trajectory_under_increasing_transformations(n, seed, which):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + 0.1 * np.eye(n)
    x0 = rng.uniform(-2, 2, n)
    key = jax.random.key(seed)
    _, means = trajectory(x0, np.zeros(n), A, 0, key)
    _, transformed = trajectory(x0, np.zeros(n), A, which, key)
    np.testing.assert_array_equal(np.asarray(means), np.asarray(transformed))


@given(st.integers(2, 6), st.integers(0, 2**31 - 1))
def test_translation_invariance(n, seed):
    rng = np.random.default_rng(seed)
    M = rng.normal(size=(n, n))
    A = M @ M.T + 0.1 * np.eye(n)
    x0 = rng.uniform(-2, 2, n)
    shift = rng.uniform(-5, 5, n)
    key = jax.random.key(seed)
    state, means = trajectory(x0, np.zeros(n), A, 0, key)
    shifted_state, shifted = trajectory(x0 + shift, shift, A, 0, key)
    np.testing.assert_allclose(np.asarray(shifted) - shift, np.asarray(means), atol=1e-9)
    np.testing.assert_allclose(shifted_state.C, state.C, rtol=1e-8, atol=1e-12)


@jax.jit
def covariance_run(x0, A, key):
    """150 generations on xᵀAx, recording max|C − Cᵀ|, min eig C and min D each generation."""

    def step(state, g):
        x, state = cmaes.ask(jax.random.fold_in(key, g), state)
        state, _ = cmaes.tell(key, x, jax.vmap(lambda v: v @ A @ v)(x), state)
        asym = jnp.max(jnp.abs(state.C - state.C.T))
        return state, (asym, jnp.linalg.eigvalsh(state.C)[0], state.D[0])

    return jax.lax.scan(step, cmaes.init(x0, 1.0), jnp.arange(150))


_VALUE = st.sampled_from(
    [-1.0, 0.0, -0.0, 1e-40, -1e-40, 5e-324, 0.5, 2.0, np.inf, -np.inf, np.nan]
) | st.floats(-3, 3)
_RANK = jax.jit(_strategy._rank)
_IS_ZERO = jax.jit(lambda a: a == 0)  # compiled, as the ranking's comparisons are


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([2, 10, _ranking.PAIRWISE_RANKING, _ranking.PAIRWISE_RANKING + 1, 300])
    .flatmap(lambda size: st.lists(_VALUE, min_size=size, max_size=size))
    .flatmap(lambda values: st.tuples(st.just(values), st.integers(1, len(values)))),
    st.sampled_from([np.float32, np.float64]),
)
def test_ranking_is_a_stable_sort_with_nan_and_padding_last(values_and_popsize, dtype):
    """Pairwise ranking (small λ) and the sorts of integer keys (large λ) give NumPy's stable
    order of f with NaN and the padded candidates beyond popsize as +inf, ties broken by index
    and −0 equal to +0 (subnormal numbers compare as zero where the backend's compiled
    comparisons flush them, as XLA's on a CPU do), in float32 and float64."""
    values, popsize = values_and_popsize
    fitness = np.asarray(values, dtype)
    tiny = np.finfo(fitness.dtype).tiny
    flushes = bool(_IS_ZERO(jnp.asarray(tiny / 4, fitness.dtype)))
    flushed = np.where(flushes & (np.abs(fitness) < tiny), 0.0, fitness)
    ranked = np.where(np.isnan(fitness) | (np.arange(len(values)) >= popsize), np.inf, fitness)
    order, f_sorted = _RANK(jnp.asarray(fitness), jnp.asarray(popsize))
    expected = np.argsort(np.where(np.isinf(ranked), ranked, flushed), kind="stable")
    np.testing.assert_array_equal(np.asarray(order), expected)
    np.testing.assert_array_equal(np.asarray(f_sorted), ranked[expected])


_STABLE_ORDER = jax.jit(_ranking.stable_order)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_stable_order_under_vmap_and_in_half_precision(seed):
    """The integer-key ranking (300 candidates, many ties, ±0, ±inf) under vmap, and for
    bfloat16 and float16 (converted to float32 exactly), is NumPy's stable argsort."""
    rng = np.random.default_rng(seed)
    edges = np.array([0.0, -0.0, 1.0, -1.0, 2.5, np.inf, -np.inf])
    rows = np.where(
        rng.uniform(size=(3, 300)) < 0.5,
        rng.choice(edges, (3, 300)),
        rng.normal(size=(3, 300)).round(1),
    ).astype(np.float32)
    orders = jax.vmap(_ranking.stable_order)(jnp.asarray(rows))
    assert orders.dtype == jnp.int32
    for row, order in zip(rows, orders, strict=True):
        np.testing.assert_array_equal(order, np.argsort(row, kind="stable"))
    for dtype in (jnp.bfloat16, jnp.float16):
        row = jnp.asarray(rows[0], dtype)
        expected = np.argsort(np.asarray(row, np.float32), kind="stable")
        np.testing.assert_array_equal(_STABLE_ORDER(row), expected)


def test_weighted_outer_sum_takes_either_form_alike():
    """Σ_k w_k y_k y_kᵀ with λ < n, λ = n (the transposed factor behind a barrier) and λ > n (the
    plain contraction), alone and under vmap."""
    rng = np.random.default_rng(0)
    n = 5
    for lam in (3, 5, 8):
        y, w = rng.normal(size=(2, lam, n)), rng.normal(size=(2, lam))
        expected = np.einsum("bk,bki,bkj->bij", w, y, y)
        np.testing.assert_allclose(
            jax.jit(_strategy._weighted_outer_sum)(y[0], w[0]), expected[0], rtol=1e-12
        )
        np.testing.assert_allclose(
            jax.vmap(_strategy._weighted_outer_sum)(y, w), expected, rtol=1e-12, atol=1e-14
        )


@given(st.integers(2, 8), st.integers(0, 2**31 - 1), st.floats(1.0, 8.0))
def test_covariance_stays_symmetric_positive_definite(n, seed, log_condition):
    """Rotated ill-conditioned quadratics, 150 generations: C = Cᵀ exactly, eigenvalues > 0."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    A = Q @ np.diag(10.0 ** (log_condition * np.linspace(0, 1, n))) @ Q.T
    state, (asym, min_eig, min_d) = covariance_run(rng.uniform(-3, 3, n), A, jax.random.key(seed))
    assert np.all(np.asarray(asym) == 0)
    assert np.all(np.asarray(min_eig) > 0) and np.all(np.asarray(min_d) > 0)
    assert np.all(np.isfinite(np.asarray(state.C)))


def test_active_cma_keeps_covariance_positive_definite_at_n_1000():
    n = 1000
    scales = 1e6 ** (jnp.arange(n) / (n - 1))

    @jax.jit
    def step(state, key):
        x, state = cmaes.ask(key, state)
        return cmaes.tell(key, x, jax.vmap(lambda v: jnp.sum(scales * v**2))(x), state)[0]

    state = cmaes.init(jnp.ones(n), 0.5)
    assert state.params.weights[-1] < 0  # active CMA is on
    for g in range(60):
        state = step(state, jax.random.key(g))
    assert int(state.eigen_generation) > 0
    assert float(jnp.linalg.eigvalsh(state.C)[0]) > 0
    assert np.all(np.asarray(state.D) > 0) and np.isfinite(float(state.sigma))


def _all_finite(result):
    h = result.history
    arrays = [result.x, result.fun, h.best, h.sigma, h.axis_ratio]
    return all(np.all(np.isfinite(np.asarray(a))) for a in arrays)


def test_run_far_past_convergence_stops_with_a_reason_and_no_nan():
    r = cmaes.minimize(sphere, jnp.full(5, 2.0), 1.0, key=jax.random.key(0), max_evals=10**6)
    assert r.status_name in {"tolfun", "tolx", "no_effect_axis", "no_effect_coord"}
    assert int(r.nfev) < 10**6 and float(r.fun) < 1e-10 and _all_finite(r)


def test_with_tolerances_off_the_no_effect_criteria_still_stop_the_run():
    r = cmaes.minimize(
        sphere,
        jnp.full(3, 2.0),
        1.0,
        key=jax.random.key(1),
        max_evals=10**6,
        steps=10**5,
        tolfun=0,
        tolfunhist=0,
        tolx=0,
        tolconditioncov=0,
        tolflatfitness=None,
    )
    assert r.status_name in {"no_effect_axis", "no_effect_coord"}
    assert _all_finite(r)


def test_unbounded_objective_stops_by_tolfacupx_or_diverged_never_nan():
    def linear(x):
        return jnp.sum(x)

    r = cmaes.minimize(linear, jnp.zeros(4), 1.0, key=jax.random.key(0), max_evals=10**6)
    assert r.status_name == "tolfacupx" and _all_finite(r)
    r = cmaes.minimize(
        linear,
        jnp.zeros(4),
        1.0,
        key=jax.random.key(0),
        max_evals=10**6,
        tolfacupx=0,
        tolconditioncov=0,
    )
    assert r.status_name == "diverged"  # f overflowed to −inf; the state stayed finite
    h = r.history
    assert not any(np.any(np.isnan(np.asarray(a))) for a in (r.fun, h.best, h.sigma))
    assert np.all(np.isfinite(np.asarray(r.x))) and np.all(np.isfinite(h.sigma))


def test_max_evals_is_never_exceeded_and_history_is_consistent():
    r = cmaes.minimize(rastrigin, jnp.full(4, 3.0), 1.0, key=jax.random.key(2), max_evals=95)
    lam = cmaes.default_popsize(4)
    assert r.status == Status.MAX_STEPS and int(r.nfev) == (95 // lam) * lam
    h = r.history
    assert int(r.nit) == len(h.best) == 95 // lam
    np.testing.assert_array_equal(h.nfev, lam * np.arange(1, len(h.best) + 1))
    assert float(r.fun) == pytest.approx(float(np.min(h.best)))
    assert float(rastrigin(r.x)) == pytest.approx(float(r.fun))


def test_minimize_equals_the_ask_tell_loop():
    x0 = jnp.asarray([1.0, -2.0, 0.5])
    key = jax.random.key(7)
    r = cmaes.minimize(sphere, x0, 0.3, key=key, max_evals=70, record_mean=True)
    state = cmaes.init(x0, 0.3)
    run_key = jax.random.fold_in(key, 0)

    @jax.jit
    def step(state, g):
        x, state = cmaes.ask(jax.random.fold_in(run_key, g), state)
        return cmaes.tell(run_key, x, jax.vmap(sphere)(x), state)[0]

    for g in range(int(r.nit)):
        state = step(state, g)
        np.testing.assert_allclose(r.history.mean[g], state.mean, rtol=1e-12)
    assert float(state.best_f) == pytest.approx(float(r.fun), rel=1e-12)


def test_ftarget_and_pytree_parameters():
    x0 = {"a": jnp.ones((2, 2)), "b": jnp.asarray([3.0])}

    def f(p):
        return jnp.sum((p["a"] - 1.5) ** 2) + (p["b"][0] + 1) ** 2

    r = cmaes.minimize(f, x0, 1.0, key=jax.random.key(0), max_evals=20_000, ftarget=1e-10)
    assert r.status_name == "ftarget"
    np.testing.assert_allclose(r.x["a"], 1.5, atol=1e-4)
    np.testing.assert_allclose(r.x["b"], -1.0, atol=1e-4)


def test_ipop_restarts_find_the_global_minimum_of_rastrigin():
    """n = 10, x0 ~ U[-4, 4]ⁿ, σ₀ = 2: restarts with doubling λ reach f < 1e-8 in most seeds.
    The five seeds run as one batch (padded restarts, one program: a fifth of the time of five
    runs of separate programs, which run the same restarts:
    test_padded_restarts_run_what_separate_programs_run)."""
    seeds = range(5)
    x0 = np.stack([np.random.default_rng(seed).uniform(-4, 4, 10) for seed in seeds])
    keys = jnp.stack([jax.random.key(seed) for seed in seeds])
    r = cmaes.minimize(
        rastrigin, x0, 2.0, key=keys, max_evals=300_000, ftarget=1e-8, restarts=8, batched=True
    )
    assert r.status_name.count("ftarget") >= 4
    restarts = np.asarray(r.history.restart)
    for row, generations in zip(restarts, np.asarray(r.nit), strict=True):
        assert np.all(row[generations:] == -1)  # the history's rows after the run's end
        assert np.all(np.diff(row[:generations]) >= 0)
    assert restarts.max() > 0  # restarts did happen, with doubled populations


@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=2)
def test_padded_restarts_run_what_separate_programs_run(seed):
    """IPOP in one program (every population sampled at the largest λ, the current λ counted)
    runs the sequence of one program per λ: the same draws (the first rows of JAX's
    partitionable Threefry), restarts, evaluations and f values."""
    x0 = np.random.default_rng(seed).uniform(-4, 4, 4)
    options = dict(key=jax.random.key(seed), restarts=2, max_evals=10_000, ftarget=1e-8)
    separate = cmaes.minimize(rastrigin, x0, 2.0, padded_restarts=False, **options)
    padded = cmaes.minimize(rastrigin, x0, 2.0, padded_restarts=True, **options)
    assert padded.popsizes == separate.popsizes
    assert int(padded.nfev) == int(separate.nfev) and int(padded.nit) == int(separate.nit)
    assert padded.status_name == separate.status_name
    np.testing.assert_array_equal(padded.history.restart, separate.history.restart)
    np.testing.assert_array_equal(padded.history.nfev, separate.history.nfev)
    np.testing.assert_allclose(padded.history.best, separate.history.best, rtol=1e-9)
    np.testing.assert_allclose(padded.x, separate.x, rtol=1e-9, atol=1e-12)


def chunk_compilations(compilations, run) -> int:
    """How many times XLA compiles the driver's chunk program while ``run()`` runs (every
    chunk, the first from the start's arrays and the next from the host arrays the last one
    handed back, runs one program)."""
    return compilations(run)[1].count("jit(run_chunk)")


def test_padded_restarts_compile_one_program_for_every_population(compilations):
    """Counted by jax's compile log (a dimension no other test uses). A restart runs on what the
    earlier ones left of max_evals, which differs from seed to seed; the chunk's length is
    rounded up to a power of two, so another seed compiles no new program."""
    x0 = np.linspace(-3.0, 3.0, 7)
    results = {}

    def run(padded, seed=1):
        return lambda: results.setdefault(
            (padded, seed),
            cmaes.minimize(
                rastrigin,
                x0,
                2.0,
                key=jax.random.key(seed),
                restarts=2,
                max_evals=20_000,
                padded_restarts=padded,
            ),
        )

    assert chunk_compilations(compilations, run(False)) == 3
    assert len(results[False, 1].popsizes) == 3  # every restart ran
    assert chunk_compilations(compilations, run(False, seed=2)) == 0
    assert results[False, 2].popsizes == results[False, 1].popsizes
    assert int(results[False, 2].nfev) != int(results[False, 1].nfev)  # other budgets left
    assert chunk_compilations(compilations, run(True)) == 1
    assert results[True, 1].popsizes == results[False, 1].popsizes


def test_padded_restarts_stop_diverged_runs_as_separate_programs_do():
    """f NaN everywhere: every restart diverges at once (no update applied), in both modes."""
    options = dict(key=jax.random.key(0), restarts=1, max_evals=500)
    nowhere = lambda x: jnp.sum(x) * jnp.nan  # noqa: E731
    separate = cmaes.minimize(nowhere, jnp.ones(3), 1.0, padded_restarts=False, **options)
    padded = cmaes.minimize(nowhere, jnp.ones(3), 1.0, padded_restarts=True, **options)
    assert separate.status_name == padded.status_name == "diverged"
    assert padded.popsizes == separate.popsizes == (7, 14)
    assert int(padded.nfev) == int(separate.nfev) == 7 + 14
    np.testing.assert_array_equal(padded.history.restart, [0, 1])


def test_padded_restarts_bad_settings_are_refused():
    key, x0 = jax.random.key(0), jnp.ones(3)
    with pytest.raises(TypeError, match="padded_restarts must be True, False or None"):
        cmaes.minimize(sphere, x0, 1.0, key=key, restarts=1, padded_restarts="yes")
    with pytest.raises(ValueError, match="padded_restarts: the largest population"):
        cmaes.minimize(sphere, x0, 1.0, key=key, restarts=30, padded_restarts=True)


def test_bad_input_is_rejected_before_tracing():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="sigma0"):
        cmaes.minimize(sphere, jnp.ones(3), 0.0, key=key, max_evals=100)
    with pytest.raises(ValueError, match="popsize"):
        cmaes.minimize(sphere, jnp.ones(3), 1.0, key=key, max_evals=100, popsize=1)
    with pytest.raises(ValueError, match="x0"):
        cmaes.minimize(sphere, jnp.asarray([1.0, jnp.nan]), 1.0, key=key, max_evals=100)
    with pytest.raises(ValueError, match="max_evals"):
        cmaes.minimize(sphere, jnp.ones(3), 1.0, key=key, max_evals=5, popsize=6)
    with pytest.raises(ValueError, match="scalar"):
        cmaes.minimize(lambda x: x, jnp.ones(3), 1.0, key=key, max_evals=100)
    with pytest.raises(ValueError, match="restarts"):
        cmaes.minimize(sphere, jnp.ones(3), 1.0, key=key, max_evals=100, restarts=-1)
    with pytest.raises(ValueError, match="x0"):
        cmaes.init(jnp.ones((2, 2)), 1.0)
    with pytest.raises(ValueError, match="sigma0"):
        cmaes.init(jnp.ones(2), -1.0)


SHARDED_RUN = textwrap.dedent(
    """
    import json, jax, jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    from jaxmin.evolution import _driver, cmaes
    from jaxmin.evolution._population import evaluate
    f = lambda x: jnp.sum((x - 0.5) ** 2)
    r = cmaes.minimize(f, jnp.full(5, 2.0), 1.0, key=jax.random.key(3), popsize=10,
                       max_evals=2000)
    hlo = jax.jit(lambda X: evaluate(f, X)).lower(jnp.ones((10, 5))).compile().as_text()
    print(json.dumps({"devices": len(jax.devices()), "split": "num_partitions=4" in hlo,
                      **r.summary()}))
    """
)


def test_population_sharded_over_four_host_devices_gives_the_same_run():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run(
        [sys.executable, "-c", SHARDED_RUN], env=env, capture_output=True, text=True, check=True
    )
    sharded = json.loads(out.stdout.strip().splitlines()[-1])
    assert sharded["devices"] == 4 and sharded["split"]  # the population is split 4 ways
    r = cmaes.minimize(
        lambda x: jnp.sum((x - 0.5) ** 2),
        jnp.full(5, 2.0),
        1.0,
        key=jax.random.key(3),
        popsize=10,
        max_evals=2000,
    )
    single = r.summary()
    assert sharded["nfev"] == single["nfev"] and sharded["status"] == single["status"]
    np.testing.assert_allclose(sharded["x"], single["x"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(
        sharded["history"]["best"], single["history"]["best"], rtol=1e-6, atol=1e-15
    )


def test_cmaes_inside_the_users_jit_and_vmap():
    """Without restarts, cmaes.minimize runs in the user's jit and vmap: the same run (float64
    round-off apart), the history padded with NaN to max_evals // λ generations."""
    sphere = objectives.sphere(4)

    def solve(x0):
        return cmaes.minimize(sphere.fun, x0, 0.5, key=jax.random.key(3), max_evals=4000)

    starts = jnp.array([[1.0, 2.0, -1.0, 0.5], [3.0, -2.0, 1.0, 1.0]])
    direct = [solve(x0) for x0 in starts]
    vmapped = jax.vmap(solve)(starts)
    jitted = jax.jit(solve)(starts[0])
    for i, one in enumerate(direct):
        for got in (jax.tree.map(lambda a, i=i: a[i], vmapped),) + ((jitted,) if i == 0 else ()):
            assert int(got.nfev) == int(one.nfev) and int(got.status) == int(one.status)
            assert int(got.nit) == int(one.nit)
            for field in ("nfev", "nit", "status"):  # int32 traced or not
                assert getattr(got, field).dtype == getattr(one, field).dtype == jnp.int32
            np.testing.assert_allclose(got.x, one.x, rtol=1e-6, atol=1e-9)
            n = int(one.nit)
            np.testing.assert_allclose(got.history.best[:n], one.history.best, rtol=1e-6)
            assert np.all(np.isnan(np.asarray(got.history.best[n:])))
    with pytest.raises(ValueError, match="pass padded_restarts=True"):
        jax.jit(
            lambda x0: (
                cmaes.minimize(
                    sphere.fun, x0, 0.5, key=jax.random.key(0), restarts=1, padded_restarts=False
                ).fun
            )
        )(starts[0])
    with pytest.raises(ValueError, match="a checkpoint needs concrete inputs"):
        jax.jit(
            lambda x0: (
                cmaes.minimize(
                    sphere.fun, x0, 0.5, key=jax.random.key(0), max_evals=100, checkpoint="c.npz"
                ).fun
            )
        )(starts[0])


def test_ipop_restarts_inside_the_users_jit_run_padded():
    """Restarts inside jit run as one padded program: the run of a concrete padded call, the
    history NaN after its last generation, ``popsizes`` the whole schedule."""
    x0 = jnp.array([2.0, -1.5, 1.0])
    options = dict(key=jax.random.key(2), restarts=2, max_evals=6000, tolx=1e-2)
    direct = cmaes.minimize(rastrigin, x0, 1.0, padded_restarts=True, **options)
    assert len(direct.popsizes) > 1  # restarts happened
    jitted = jax.jit(lambda x: cmaes.minimize(rastrigin, x, 1.0, **options))(x0)
    assert jitted.popsizes == (7, 14, 28)
    n = int(direct.nit)
    assert int(jitted.nit) == n and int(jitted.nfev) == int(direct.nfev)
    np.testing.assert_array_equal(jitted.history.restart[:n], direct.history.restart)
    np.testing.assert_allclose(jitted.history.best[:n], direct.history.best, rtol=1e-9)
    assert np.all(np.isnan(np.asarray(jitted.history.best[n:])))
    assert np.all(np.asarray(jitted.history.restart[n:]) == -1)
    assert np.all(np.asarray(jitted.history.nfev[n:]) == -1)


def test_batched_runs_on_several_cpu_devices_finish(tmp_path):
    """jaxlib 0.10's batched CPU eigh deadlocked a program partitioned over several host
    devices (16 runs at n = 40 on 2 devices hung); batched runs there decompose one matrix after
    the other, and every run converges (f from 40 to 1e-5–1e-4, as a single run does)."""
    script = textwrap.dedent(
        f"""
        import jax, jax.numpy as jnp, numpy as np
        from jaxmin import cmaes
        assert jax.device_count() == 2
        keys = jax.random.split(jax.random.key(0), 16)
        x0 = jnp.ones((16, 40))
        def sphere(x):
            return jnp.sum(x**2)
        many = cmaes.minimize(sphere, x0, 0.5, key=keys, batched=True, max_evals=3000)
        np.save({str(tmp_path / "f.npy")!r}, np.asarray(many.fun))
        """
    )
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=240)
    values = np.load(tmp_path / "f.npy")
    # from f = 40 at the start to ~3e-5 in 3000 evaluations
    assert np.all(values < 1e-3) and np.all(values > 0)


@pytest.mark.parametrize("n", [3, 250])
def test_a_concrete_runs_fresh_state_is_inits(n):
    """cmaes.minimize's fresh state: from a cached template up to n = 200 (no dispatch or
    transfer per array), made afresh above it; init's numbers either way."""
    from jaxmin.evolution.cmaes._minimize import _TEMPLATES_UP_TO, _initial, _template

    x0 = jnp.linspace(-1.0, 1.0, n)
    fresh = _initial(x0, 0.3, 12, traced=False)
    want_leaves = jax.tree.leaves(cmaes.init(x0, 0.3, popsize=12))
    for got, want in zip(jax.tree.leaves(fresh), want_leaves, strict=True):
        np.testing.assert_array_equal(got, want)
        assert np.asarray(got).dtype == want.dtype
    cached = _initial(x0, 0.3, 12, traced=False).C is fresh.C
    assert cached == (n <= _TEMPLATES_UP_TO)
    assert not fresh.C.committed  # goes to whichever device a run's program runs on
    # first asked for inside a trace (x0 closed over, so it looks concrete): no tracer cached
    _template.cache_clear()
    jax.jit(lambda: _initial(x0, 0.3, 12, traced=False).C.sum())()
    later = _initial(x0, 0.3, 12, traced=False)
    assert not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(later))
    np.testing.assert_array_equal(later.C, np.eye(n))


def _primitives(jaxpr, inside_cond=False):
    """(primitive name, whether inside a ``cond``) of every equation, nested ones included."""
    for eqn in jaxpr.eqns:
        yield eqn.primitive.name, inside_cond
        nested = inside_cond or eqn.primitive.name == "cond"
        for param in eqn.params.values():
            for sub in param if isinstance(param, tuple | list) else (param,):
                sub = getattr(sub, "jaxpr", sub)
                if isinstance(sub, Jaxpr):
                    yield from _primitives(sub, nested)


def test_batched_runs_eigendecompose_only_in_generations_where_one_is_due():
    """Under vmap the lazy eigendecomposition stays lazy: eigh only inside a cond on whether
    any run is due (not a select of both branches, every run every generation), and each run
    takes the new factors only where it is due — what it gets alone (C rebuilt only where an
    eigenvalue was raised)."""
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4, 4))
    C = A @ np.swapaxes(A, 1, 2) + np.eye(4)
    C[2] -= 2 * np.linalg.eigvalsh(C[2])[0] * np.eye(4)  # an eigenvalue below 0: raised
    C = jnp.asarray(C)
    B, D = jnp.broadcast_to(jnp.eye(4), (3, 4, 4)), jnp.ones((3, 4))
    due = jnp.array([True, False, True])
    batched = jax.vmap(_strategy._eigendecompose_if)
    names = list(_primitives(jax.make_jaxpr(batched)(due, C, B, D).jaxpr))
    assert ("eigh", True) in names and ("eigh", False) not in names
    together = batched(due, C, B, D)
    for i in range(3):
        alone = _strategy._eigendecompose_if(due[i], C[i], B[i], D[i])
        for got, want in zip(together, alone, strict=True):
            np.testing.assert_array_equal(got[i], want)
    assert not np.array_equal(together[0][2], C[2])  # rebuilt from the raised eigenvalues
    np.testing.assert_array_equal(together[0][0], C[0])  # none raised: C as it was
    unchanged = batched(jnp.zeros(3, bool), C, B, D)  # none due: the factors as they were
    for got, want in zip(unchanged, (C, B, D), strict=True):
        np.testing.assert_array_equal(got, want)


def test_a_stopped_run_of_a_batch_asks_for_no_eigendecomposition():
    """told(..., active=False) — a stopped run's generation, computed and thrown away in a
    batch — leaves B, D and the decomposition's generation as they were, so that stopped runs
    never make the batch decompose; active, the same state decomposes."""
    state = cmaes.init(jnp.array([1.0, -2.0, 0.5, 3.0]), 0.5, popsize=6)
    state = state._replace(eigen_generation=jnp.asarray(-10, jnp.int32))  # long overdue
    x, _ = cmaes.ask(jax.random.key(0), state)
    f = jnp.sum(x**2 * jnp.arange(1.0, 5.0), axis=1)
    active, _ = _strategy.told(x, f, state)
    stopped, _ = _strategy.told(x, f, state, False)
    assert int(active.eigen_generation) == 1 and int(stopped.eigen_generation) == -10
    assert not np.array_equal(active.B, state.B)
    np.testing.assert_array_equal(stopped.B, state.B)
    np.testing.assert_array_equal(stopped.D, state.D)
    np.testing.assert_array_equal(stopped.C, active.C)  # the update itself is the same
