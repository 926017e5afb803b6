"""Every entry point inside the user's jit with all its inputs closed over as constants: nothing
is a tracer, yet JAX stages every operation, so no driver may read a value on the host. Each
gives the numbers of the same call made outside any trace."""

import jax
import jax.numpy as jnp
import numpy as np
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


def test_find_minima_refuses_a_traced_box_in_one_line():
    with pytest.raises(TypeError, match="lower and upper must be known before tracing"):
        jax.jit(lambda lo: find_minima(_rosenbrock, lo, [2.0, 2.0], key=KEY).x)(
            jnp.array([-2.0, -2.0])
        )
