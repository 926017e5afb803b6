"""Genetic algorithm: operators (hypothesis properties), selection, elitism, minimize, bad input."""

import collections
import functools
import math

import _tracing
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmin import Status, cmaes, ga, objectives

# Compiled once per shape: eager operations would compile each of their steps per random shape.
_crossover = jax.jit(ga.single_point_crossover)
_truncation = jax.jit(ga.truncation, static_argnums=(2, 3))
_tournament = jax.jit(ga.tournament, static_argnums=(2, 3))


def test_multiplicative_mutation_is_relative_and_cannot_move_zero():
    theta = jnp.asarray([[0.0, 2.0, -3.0]] * 20_000)
    rate = jnp.asarray([0.5, 0.1, 0.3])
    out = np.asarray(ga.multiplicative_mutation(jax.random.key(0), theta, rate))
    assert np.all(out[:, 0] == 0.0)  # θ = 0 stays 0: the reason for the additive mutation
    eta = out[:, 1:] / np.asarray(theta[:, 1:]) - 1
    np.testing.assert_allclose(eta.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(eta.std(axis=0), [0.1, 0.3], rtol=0.03)
    moved = ga.additive_mutation(jax.random.key(1), theta, 0.2)
    assert np.std(np.asarray(moved[:, 0])) == pytest.approx(0.2, rel=0.03)


def test_mutation_probability_mutates_that_fraction_of_genes():
    theta = jnp.ones((500, 40))
    out = ga.additive_mutation(jax.random.key(2), theta, 1.0, probability=0.25)
    assert np.mean(np.asarray(out) != 1.0) == pytest.approx(0.25, abs=0.01)


@given(st.integers(2, 12), st.integers(1, 30), st.integers(0, 2**31 - 1))
def test_single_point_crossover_takes_a_prefix_of_a_and_a_suffix_of_b(n, count, seed):
    rng = np.random.default_rng(seed)
    a = jnp.asarray(rng.normal(size=(count, n)))
    b = jnp.asarray(rng.normal(size=(count, n)) + 10.0)  # every gene tells its parent
    child = np.asarray(_crossover(jax.random.key(seed), a, b))
    from_b = child >= 5.0
    np.testing.assert_array_equal(np.where(from_b, np.asarray(b), np.asarray(a)), child)
    cuts = np.argmax(from_b, axis=1)
    assert np.all(from_b.any(axis=1)) and np.all(cuts >= 1)  # both parents contribute
    assert np.all(np.diff(from_b.astype(int), axis=1) >= 0)  # a single cut: a…a b…b


def test_crossover_probability_zero_copies_the_first_parent():
    a, b = jnp.zeros((10, 4)), jnp.ones((10, 4))
    np.testing.assert_array_equal(ga.single_point_crossover(jax.random.key(0), a, b, 0.0), a)


@given(st.integers(4, 40), st.integers(0, 2**31 - 1), st.floats(0.1, 1.0))
def test_truncation_selects_only_from_the_best_fraction(size, seed, fraction):
    f = jnp.asarray(np.random.default_rng(seed).permutation(size).astype(float))
    chosen = np.asarray(_truncation(jax.random.key(seed), f, 200, fraction))
    keep = int(np.ceil(fraction * size))
    assert np.all(np.asarray(f)[chosen] < keep)


@given(st.integers(3, 40), st.integers(0, 2**31 - 1), st.integers(2, 5))
def test_tournament_never_picks_the_worst_and_favours_the_best(size, seed, k):
    f = jnp.asarray(np.random.default_rng(seed).permutation(size).astype(float))
    chosen = np.asarray(_tournament(jax.random.key(seed), f, 400, k))
    picked = np.asarray(f)[chosen]
    assert picked.max() < size - 1  # the worst loses every tournament of ≥ 2 distinct entrants
    assert picked.mean() < (size - 1) / 2  # better than a uniform draw


@pytest.mark.parametrize(("n", "k"), [(1, 1), (5, 5), (7, 2), (40, 3)])
def test_tournament_entrants_are_a_uniform_subset_of_distinct_individuals(n, k):
    """Floyd's algorithm: k distinct indices in range(n), every k-subset equally likely
    (a χ² test over all C(n, k) subsets where there are few of them)."""
    from jaxmin.evolution.ga._selection import distinct_indices

    u = jax.random.uniform(jax.random.key(0), (20_000, k))
    drawn = np.asarray(jax.vmap(lambda row: distinct_indices(row, n))(u))
    assert drawn.min() >= 0 and drawn.max() < n
    assert all(len(set(row)) == k for row in drawn)
    if math.comb(n, k) <= 50:
        counts = collections.Counter(tuple(sorted(row)) for row in drawn)
        assert len(counts) == math.comb(n, k)
        expected = len(drawn) / math.comb(n, k)
        chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
        dof = max(math.comb(n, k) - 1, 1)
        assert chi2 < dof + 5 * math.sqrt(2 * dof)  # far in the tail only if not uniform


def test_nan_values_rank_last_in_selection():
    f = jnp.asarray([jnp.nan, 3.0, 1.0, 2.0])
    assert 0 not in np.asarray(ga.truncation(jax.random.key(0), f, 100, 0.75))
    assert 0 not in np.asarray(ga.tournament(jax.random.key(0), f, 100, 4))


@pytest.mark.parametrize("selection", ga.SELECTIONS)
@pytest.mark.parametrize("mutation", ga.MUTATIONS)
def test_elitism_makes_the_best_value_monotone_and_finds_a_himmelblau_minimum(selection, mutation):
    h = objectives.himmelblau()
    r = ga.minimize(
        h.fun,
        jnp.asarray([0.5, 0.5]),
        key=jax.random.key(3),
        popsize=40,
        steps=150,
        mutation=mutation,
        mutation_rate=lambda g: 0.3 * 0.97**g,
        mutation_scale=lambda g: 0.5 * 0.97**g,
        selection=selection,
    )
    best = r.history.best
    assert np.all(np.diff(best) <= 0)
    assert r.status == Status.MAX_STEPS and int(r.nit) == 150
    assert int(r.nfev) == 40 + 150 * 39 == int(r.history.nfev[-1])
    distance = np.min(np.linalg.norm(np.asarray(h.minima) - np.asarray(r.x), axis=1))
    assert distance < 0.05 and float(r.fun) < 1e-2


def test_same_key_same_run_and_ftarget_stops_early():
    def sphere(x):
        return jnp.sum(x**2)

    kwargs = dict(key=jax.random.key(5), popsize=30, steps=400, mutation="additive")
    kwargs["mutation_scale"] = lambda g: 0.5 * 0.98**g
    first = ga.minimize(sphere, jnp.full(3, 1.5), **kwargs)
    second = ga.minimize(sphere, jnp.full(3, 1.5), **kwargs)
    np.testing.assert_array_equal(first.history.best, second.history.best)
    stopped = ga.minimize(sphere, jnp.full(3, 1.5), ftarget=1e-2, **kwargs)
    assert stopped.status_name == "ftarget" and float(stopped.fun) <= 1e-2
    assert int(stopped.nit) < 400
    np.testing.assert_array_equal(stopped.history.best, first.history.best[: int(stopped.nit) + 1])


def test_per_parameter_rates_and_pytree_parameters():
    x0 = {"w": jnp.zeros((2,)), "b": jnp.asarray(1.0)}

    def f(p):
        return jnp.sum((p["w"] - 1.0) ** 2) + p["b"] ** 2

    r = ga.minimize(
        f,
        x0,
        key=jax.random.key(0),
        popsize=40,
        steps=120,
        mutation="additive",
        mutation_scale=np.asarray([0.2, 0.2, 0.05]),
    )
    assert set(r.x) == {"w", "b"} and float(r.fun) < 1e-2


def test_bad_input_is_rejected():
    def f(x):
        return jnp.sum(x**2)

    kw = dict(key=jax.random.key(0), popsize=10, steps=5)
    with pytest.raises(ValueError, match="popsize"):
        ga.minimize(f, jnp.ones(2), key=jax.random.key(0), popsize=1, steps=5)
    with pytest.raises(ValueError, match="mutation"):
        ga.minimize(f, jnp.ones(2), mutation="swap", **kw)
    with pytest.raises(ValueError, match="selection"):
        ga.minimize(f, jnp.ones(2), selection="roulette", **kw)
    with pytest.raises(ValueError, match="elitism"):
        ga.minimize(f, jnp.ones(2), elitism=10, **kw)
    with pytest.raises(ValueError, match="mutation_rate"):
        ga.minimize(f, jnp.ones(2), mutation_rate=np.ones(3), **kw)
    with pytest.raises(ValueError, match="mutation_scale"):
        ga.minimize(f, jnp.ones(2), mutation_scale=lambda g: -1.0, **kw)
    with pytest.raises(ValueError, match="x0"):
        ga.minimize(f, jnp.asarray([1.0, jnp.inf]), **kw)
    with pytest.raises(ValueError, match="scalar"):
        ga.minimize(lambda x: x, jnp.ones(2), **kw)
    with pytest.raises(ValueError, match=r"steps=300000000 .* pass steps <= \d+"):
        ga.minimize(f, jnp.ones(2), **(kw | {"steps": 300_000_000}))  # int32 counts


def test_ask_tell_in_the_evosax_shape_minimises_inside_jit():
    """ask(key, state, settings) -> (candidates, state); tell(key, candidates, f, state,
    settings) -> (state, info): a scan of generations under jit reaches the sphere's minimum;
    the elites come back first, unchanged; info has the same keys as CMA-ES's."""
    config = ga.settings(30, elitism=2, mutation="additive", mutation_scale=lambda g: 0.5 * 0.96**g)
    sphere = jax.vmap(lambda v: jnp.sum(v**2))
    x0 = jnp.full(5, 2.0)
    key = jax.random.key(0)
    state = ga.init(key, x0, config, init_scale=1.0)
    first, _ = ga.ask(key, state, config)
    np.testing.assert_array_equal(first, state.population)

    @jax.jit
    def run(state):
        def generation(state, g):
            k = jax.random.fold_in(key, g)
            x, state = ga.ask(k, state, config)
            return ga.tell(k, x, sphere(x), state, config)

        return jax.lax.scan(generation, state, jnp.arange(150))

    state, info = run(state)
    assert float(state.best_f) < 1e-3
    assert int(state.nfev) == 150 * 30 and int(state.generation) == 150
    assert np.all(np.diff(np.asarray(info["best_so_far"])) <= 0)
    order = np.argsort(np.asarray(state.fitness))
    candidates, _ = ga.ask(jax.random.key(9), state, config)
    np.testing.assert_array_equal(candidates[:2], np.asarray(state.population)[order[:2]])
    cma = cmaes.tell(key, candidates, sphere(candidates), cmaes.init(x0, 0.5, popsize=30))[1]
    assert set(info) == set(cma)


def test_an_eager_ask_tell_loop_compiles_once_per_shapes(compilations):
    """ask and tell of both methods are each one compiled program (op by op, a CMA-ES
    generation took ~0.2 s): the first generation compiles them (shapes no other test uses),
    the next compile nothing, and the eager loop gives what the same loop gives inside jit."""
    x0, key = jnp.linspace(-2.0, 3.0, 6), jax.random.key(5)
    config = ga.settings(11, elitism=1, mutation="additive", mutation_scale=0.3)
    sphere = jax.vmap(lambda v: jnp.sum(v**2))

    def generations(ask, tell, extra, state, first, last):
        for g in range(first, last):
            k = jax.random.fold_in(key, g)
            x, state = ask(k, state, *extra)
            state = tell(k, x, sphere(x), state, *extra)[0]
        return state

    for name, state, run in (
        (
            "cmaes",
            cmaes.init(x0, 0.5, popsize=11),
            functools.partial(generations, cmaes.ask, cmaes.tell, ()),
        ),
        (
            "ga",
            ga.init(key, x0, config),
            functools.partial(generations, ga.ask, ga.tell, (config,)),
        ),
    ):
        eager, first = compilations(functools.partial(run, state, 0, 1))
        names = {m.removeprefix("jit(").removesuffix(")").lstrip("_") for m in first}
        assert {"ask", "tell"} <= names, (name, first)
        eager, later = compilations(functools.partial(run, eager, 1, 4))
        assert later == [], (name, later)
        jitted = jax.jit(run, static_argnums=(1, 2))(state, 0, 4)
        for a, b in zip(jax.tree.leaves(eager), jax.tree.leaves(jitted), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=name)


def test_ask_with_a_schedule_over_traced_values_runs_inline():
    """Settings built inside the user's jit from its traced values: ask is traced inline into
    the user's program (no nested compiled ask, whose caches would keep the user's trace), and
    each value mutates by its own scale."""
    x0, key = jnp.zeros(3), jax.random.key(0)

    def children(scale):
        config = ga.settings(8, mutation="additive", mutation_scale=lambda g: scale * 0.9**g)
        state = ga.init(key, x0, config, init_scale=0.0)  # every individual at x0
        state = ga.tell(key, state.population, jnp.arange(8.0), state, config)[0]
        return ga.ask(key, state, config)[0]

    assert "_ask" not in str(jax.make_jaxpr(children)(0.1))
    small, large = jax.jit(children)(0.1), jax.jit(children)(10.0)
    np.testing.assert_allclose(large, 100.0 * small, rtol=1e-10)  # x0 = 0: steps ∝ the scale


def test_ask_tell_settings_are_checked():
    with pytest.raises(ValueError, match="elitism must be < popsize"):
        ga.settings(4, elitism=4)
    with pytest.raises(ValueError, match="mutation_rate"):
        ga.settings(10, mutation_rate=np.ones(3))


def test_ga_inside_the_users_jit_and_vmap():
    sphere = objectives.sphere(3)

    def solve(x0, key):
        return ga.minimize(sphere.fun, x0, key=key, popsize=16, steps=30)

    x0 = jnp.array([1.0, -2.0, 0.5])
    keys = jax.random.split(jax.random.key(4), 3)
    direct = [solve(x0, k) for k in keys]
    vmapped = jax.vmap(solve, in_axes=(None, 0))(x0, keys)
    jitted = jax.jit(solve)(x0, keys[0])
    for i, one in enumerate(direct):
        for got in (jax.tree.map(lambda a, i=i: a[i], vmapped),) + ((jitted,) if i == 0 else ()):
            np.testing.assert_allclose(got.fun, one.fun, rtol=1e-12)
            np.testing.assert_allclose(got.x, one.x, rtol=1e-12)
            assert int(got.nfev) == int(one.nfev) and int(got.nit) == int(one.nit)
            np.testing.assert_allclose(got.history.best, one.history.best, rtol=1e-12)
            for field in ("nfev", "nit", "status"):  # int32 traced or not
                assert getattr(got, field).dtype == getattr(one, field).dtype == jnp.int32


def test_population_methods_take_data_as_args_without_new_programs():
    """cmaes.minimize and ga.minimize: data through args (traced), programs keyed by the
    content of fun: new data or a fresh closure of the same code compiles nothing, and a jit over
    the data alone runs the same run."""

    def make():
        def shifted(x, centre):
            _tracing.count("population")
            return jnp.sum((x - centre) ** 2)

        return shifted

    x0, key = jnp.zeros(3), jax.random.key(0)  # concrete inside the jit below
    for run in (
        lambda f, c: cmaes.minimize(f, x0, 0.5, key=key, max_evals=3000, ftarget=1e-12, args=(c,)),
        lambda f, c: ga.minimize(
            f,
            x0,
            key=key,
            popsize=20,
            steps=200,
            args=(c,),
            mutation="additive",
            mutation_scale=lambda g: 0.3 * 0.97**g,
        ),
    ):
        first = run(make(), jnp.array([1.0, -2.0, 0.5]))
        traced = _tracing.COUNTS["population"]
        second = run(make(), jnp.array([-1.0, 0.0, 2.0]))
        assert _tracing.COUNTS["population"] == traced
        np.testing.assert_allclose(first.x, [1.0, -2.0, 0.5], atol=0.05)
        np.testing.assert_allclose(second.x, [-1.0, 0.0, 2.0], atol=0.05)
        # jit over the data alone (x0 and key concrete): the run is traced, the same run
        jitted = jax.jit(lambda c, run=run: run(make(), c))(jnp.array([-1.0, 0.0, 2.0]))
        assert int(jitted.nfev) == int(second.nfev) and int(jitted.nit) == int(second.nit)
        np.testing.assert_allclose(jitted.x, second.x, rtol=1e-6, atol=1e-9)


def test_normals_and_integers_drawn_from_uniforms_have_their_distributions():
    """The GA draws a generation's randomness as one block of uniforms: the normals
    √2 erf⁻¹(2u − 1) and the integers ⌊u · m⌋ it derives must be N(0, 1) and uniform."""
    from jaxmin.evolution.ga._operators import integers, normals

    u = jax.random.uniform(jax.random.key(3), (200_000,))
    z = np.asarray(normals(u))
    assert np.all(np.isfinite(z)) and np.isfinite(normals(jnp.zeros(1))).all()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) > 1.959964) - 0.05) < 0.003
    counts = np.bincount(np.asarray(integers(u, 7)), minlength=7)
    assert counts.size == 7
    expected = u.shape[0] / 7
    assert np.sum((counts - expected) ** 2 / expected) < 6 + 5 * math.sqrt(12)


@pytest.mark.parametrize("value", [jnp.inf, jnp.nan])
def test_a_population_without_a_finite_f_stops_with_diverged(value):
    """As CMA-ES: the first population already (no generation is bred from it)."""
    r = ga.minimize(
        lambda x: value + jnp.sum(x), jnp.zeros(3), key=jax.random.key(0), popsize=8, steps=5
    )
    assert r.status_name == "diverged"
    assert int(r.nit) == 0 and int(r.nfev) == 8
