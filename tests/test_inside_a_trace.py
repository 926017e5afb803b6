"""Every entry point inside the user's jit with all its inputs closed over as constants (nothing
is a tracer, yet JAX stages every operation, so no driver may read a value on the host), and
with optimisers or objectives built from traced values (a sweep under vmap: no content to key a
compiled program by). Each gives the numbers of the same call made outside any trace."""

import gc
import importlib
import weakref

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxmin import cmaes, find_minima, ga, minimize, newton, nn, optim


def _rosenbrock(x):
    return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


X0 = jnp.array([-1.0, 1.5])
KEY = jax.random.key(4)
XS = np.linspace(-1.0, 1.0, 16)[:, None]
PARAMS = nn.init_mlp(jax.random.key(0), [1, 4, 1])

CALLS = {
    "minimize": lambda: minimize(_rosenbrock, X0, optim.adam(1e-2), steps=30),
    "newton": lambda: newton(_rosenbrock, X0, steps=4),
    "cmaes": lambda: cmaes.minimize(_rosenbrock, X0, 0.5, key=KEY, steps=6),
    "cmaes restarts": lambda: cmaes.minimize(
        _rosenbrock, X0, 0.5, key=KEY, steps=4, restarts=1, padded_restarts=True
    ),
    "ga": lambda: ga.minimize(_rosenbrock, X0, key=KEY, popsize=8, steps=5),
    "find_minima": lambda: find_minima(
        _rosenbrock, [-2.0, -2.0], [2.0, 2.0], key=KEY, n_starts=4, steps=20, newton_steps=3
    ),
    "nn.train": lambda: nn.train(
        PARAMS, XS, XS**2, key=KEY, activation="tanh", steps=4, chunk_steps=2
    ),
    # value checks of schedules and data: constants fold, so they are still checked
    "minimize, a schedule": lambda: minimize(
        _rosenbrock, X0, optim.adam(lambda count: 1e-2 * jnp.exp(-count / 100.0)), steps=30
    ),
    "ga, a rate schedule": lambda: ga.minimize(
        _rosenbrock,
        X0,
        key=KEY,
        popsize=8,
        steps=5,
        mutation_rate=lambda g: 0.2 * jnp.exp(-g / 50.0),
    ),
    "nn.train, one data set per member": lambda: nn.train(
        jax.tree.map(lambda leaf: jnp.stack([leaf, leaf]), PARAMS),
        jnp.stack([XS, XS]),
        jnp.stack([XS**2, XS**3]),
        key=jax.random.split(KEY, 2),
        activation="tanh",
        steps=4,
        chunk_steps=2,
        batched=True,
        data_axis=0,
    ),
    "logistic_regression": lambda: nn.logistic_regression(
        XS, (XS > 0).astype(float), key=KEY, steps=4, chunk_steps=2
    ),
    "nn.train, a loss on a grid": lambda: nn.train(
        PARAMS,
        XS,
        XS**2,
        key=KEY,
        activation="tanh",
        loss=nn.custom(
            lambda yhat, y, grid_out: jnp.mean((yhat - y) ** 2) + jnp.mean(grid_out**2),
            grid=jnp.linspace(-1.0, 1.0, 4),
        ),
        steps=4,
        chunk_steps=2,
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_an_entry_point_with_everything_closed_over_runs_inside_jit(name):
    """Results inside the jit are run-time arrays (padded where a history is), equal to the
    direct call's where the direct call has them."""
    jitted = jax.jit(CALLS[name])()  # first: no cache of the direct call's to lean on
    direct = CALLS[name]()
    for field in ("fun", "nfev", "nit", "status"):
        if hasattr(direct, field):
            want, got = np.asarray(getattr(direct, field)), np.asarray(getattr(jitted, field))
            if want.dtype.kind == "f":
                np.testing.assert_allclose(got.ravel()[: want.size], want.ravel(), rtol=1e-5)
            else:
                np.testing.assert_array_equal(got, want)


def test_least_squares_with_everything_closed_over_runs_inside_jit():
    direct = nn.linear_least_squares(XS, 2.0 * XS + 1.0)
    jitted = jax.jit(lambda: nn.linear_least_squares(XS, 2.0 * XS + 1.0))()
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(direct), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10)


def test_a_schedule_of_traced_values_passes_unchecked_and_runs():
    """A learning rate that depends on a traced value cannot be checked before run time."""

    def solve(rate):
        return minimize(_rosenbrock, X0, optim.adam(lambda count: rate * 0.99**count), steps=30)

    np.testing.assert_allclose(jax.jit(solve)(1e-2).fun, solve(1e-2).fun, rtol=1e-6)


def test_find_minima_refuses_a_traced_box_in_one_line():
    with pytest.raises(TypeError, match="lower and upper must be known before tracing"):
        jax.jit(lambda lo: find_minima(_rosenbrock, lo, [2.0, 2.0], key=KEY).x)(
            jnp.array([-2.0, -2.0])
        )


def _tilted(a):
    """A closure over a (possibly traced) value: Rosenbrock tilted by a x₀."""
    return lambda x: _rosenbrock(x) + a * x[0]


OVER_TRACED_VALUES = {
    "minimize, a rate": lambda r: minimize(_rosenbrock, X0, optim.adam(r), steps=30),
    "minimize, an optax rate": lambda r: minimize(_rosenbrock, X0, optax.adam(r), steps=30),
    "minimize, a closure": lambda a: minimize(_tilted(a), X0, optim.adam(1e-2), steps=30),
    "newton, a closure": lambda a: newton(_tilted(a), X0, steps=4),
    "cmaes, a closure": lambda a: cmaes.minimize(_tilted(a), X0, 0.5, key=KEY, steps=6),
    "ga, a closure": lambda a: ga.minimize(_tilted(a), X0, key=KEY, popsize=8, steps=5),
    "nn.train, a rate": lambda r: nn.train(
        PARAMS, XS, XS**2, key=KEY, activation="tanh", optimizer=optim.adam(r), steps=4
    ),
}


@pytest.mark.parametrize("name", list(OVER_TRACED_VALUES))
def test_an_optimiser_or_objective_built_from_traced_values_runs_under_vmap(name):
    """A learning rate or a closed-over value that is a tracer (a sweep under the user's vmap)
    has no content to cache a program by: it runs, with the numbers of each value alone."""
    values = jnp.array([1e-2, 2e-2])
    swept = jax.vmap(OVER_TRACED_VALUES[name])(values)
    for i, value in enumerate(values):
        alone = OVER_TRACED_VALUES[name](float(value))
        np.testing.assert_allclose(swept.fun[i], alone.fun, rtol=1e-5, atol=1e-12)


SOLVERS = {
    "minimize": lambda fun: minimize(fun, X0, optim.gd(0.2), steps=60).x,
    "newton": lambda fun: newton(fun, X0, steps=3).x,
}


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_a_closure_called_again_with_its_cell_changed_sees_the_new_value(solver):
    """Inside one trace, the same closure object over a traced value that changes between two
    calls: each call uses the value it sees (nothing compiled for the first is reused)."""

    @jax.jit
    def both(targets):
        target = targets[0]

        def distance(x):
            return jnp.sum((x - target) ** 2)

        first = SOLVERS[solver](distance)
        target = targets[1]  # the closure's cell now holds the second target
        return first, SOLVERS[solver](distance)

    targets = jnp.array([[1.0, 2.0], [-3.0, 0.5]])
    first, second = both(targets)
    np.testing.assert_allclose(first, targets[0], atol=1e-6)
    np.testing.assert_allclose(second, targets[1], atol=1e-6)


def test_sweeps_over_traced_values_keep_nothing_alive():
    """A program built for traced content is never cached (JAX's caches would keep it, its
    closure and the user's trace alive for good): after a sweep the closures are gone, and the
    compiled programs' caches are as they were."""
    minimize_module = importlib.import_module("jaxmin.minimize")  # the package's is the function
    closures = []

    def solve(a):
        fun = _tilted(a)
        closures.append(weakref.ref(fun))
        return minimize(fun, X0, optim.adam(a), steps=30).fun

    jax.vmap(solve)(jnp.array([1e-2, 2e-2]))
    programs = minimize_module._run._cache_size()
    for values in ([3e-2, 4e-2], [5e-2, 6e-2]):
        jax.vmap(solve)(jnp.array(values))
    gc.collect()
    assert closures and all(ref() is None for ref in closures)
    assert minimize_module._run._cache_size() == programs


def test_a_loss_over_traced_values_trains_under_vmap_and_is_not_kept():
    """``nn.custom`` over a traced weight (a sweep): each member trains as it would alone, and
    the loss function is released after the sweep (no program was cached for it)."""
    losses = []

    def fit(weight):
        def weighted(yhat, y):
            return weight * jnp.mean((yhat - y) ** 2)

        losses.append(weakref.ref(weighted))
        return nn.train(
            PARAMS, XS, XS**2, key=KEY, activation="tanh", loss=nn.custom(weighted), steps=4
        ).fun

    weights = jnp.array([1.0, 3.0])
    swept = jax.vmap(fit)(weights)
    gc.collect()
    assert losses and losses[0]() is None
    for i, weight in enumerate(weights):
        np.testing.assert_allclose(swept[i], fit(float(weight)), rtol=1e-6)


BAD_CONSTANTS = {
    "a schedule negative at step 0": (
        lambda: minimize(_rosenbrock, X0, optim.adam(lambda count: -1e-2 + 0.0 * count), steps=5),
        "schedule must give a finite rate > 0",
    ),
    "a GA rate schedule of the wrong shape": (
        lambda: ga.minimize(
            _rosenbrock, X0, key=KEY, popsize=8, steps=2, mutation_rate=lambda g: jnp.ones(3)
        ),
        "schedule must give finite rates",
    ),
    "labels outside [0, 1]": (
        lambda: nn.logistic_regression(XS, 3.0 * XS, key=KEY, steps=2),
        "labels in \\[0, 1\\]",
    ),
    "non-finite inputs": (
        lambda: nn.linear_least_squares(np.where(XS > 0.5, np.nan, XS), XS),
        "x must be finite",
    ),
    "a non-finite loss grid": (
        lambda: nn.custom(lambda yhat, y, g: jnp.mean(g), grid=np.array([0.0, np.inf])),
        "grid must be a finite",
    ),
}


@pytest.mark.parametrize("name", list(BAD_CONSTANTS))
def test_bad_constants_are_refused_inside_jit_as_outside(name):
    """Values closed over as constants are known while tracing: checked as outside any trace."""
    call, message = BAD_CONSTANTS[name]
    with pytest.raises(ValueError, match=message):
        call()
    with pytest.raises(ValueError, match=message):
        jax.jit(lambda: jax.tree.leaves(call()))()


def test_a_ga_rate_schedule_of_traced_values_is_checked_for_its_shape():
    with pytest.raises(ValueError, match="schedule must give rates of shape"):
        jax.vmap(
            lambda r: (
                ga.minimize(
                    _rosenbrock,
                    X0,
                    key=KEY,
                    popsize=8,
                    steps=2,
                    mutation_rate=lambda g: r * jnp.ones(3),
                ).fun
            )
        )(jnp.array([0.1, 0.2]))


@pytest.mark.parametrize(
    "call",
    [
        lambda g: minimize(_rosenbrock, X0, optim.adam(0.1), gtol=g),
        lambda s: cmaes.minimize(_rosenbrock, X0, s, key=KEY, max_evals=100),
        lambda t: newton(_rosenbrock, X0, gtol=t),
    ],
)
def test_a_traced_setting_is_named_as_such(call):
    """A setting that shapes the compiled program (a tolerance, σ₀) cannot be traced: the
    message says so instead of "must be a real number"."""
    with pytest.raises(TypeError, match="must be a concrete number, got a traced value"):
        jax.jit(call)(0.5)
