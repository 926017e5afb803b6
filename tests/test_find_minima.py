"""find_minima recovers every analytic minimum (and the saddles) of the lecture's surfaces."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmin import find_minima, objectives


def nearest(found, known):
    """For each known point, the distance to the nearest found point."""
    return np.array([np.min(np.linalg.norm(found - k, axis=1)) for k in known])


@pytest.mark.parametrize("name", ["himmelblau", "six_hump_camel"])
def test_all_minima_and_saddles_are_recovered(name):
    obj = objectives.get(name)
    result = find_minima(obj.fun, obj.lower, obj.upper, key=jax.random.key(0))
    assert result.x.shape == obj.minima.shape
    assert np.all(nearest(result.x, obj.minima) < 1e-6)
    assert np.all(np.diff(result.fun) >= 0)  # sorted by value
    np.testing.assert_allclose(result.fun[0], obj.global_minimum, atol=1e-12)
    assert len(result.saddles) == len(obj.saddles)
    assert np.all(nearest(result.saddles, obj.saddles) < 1e-6)
    assert len(result.maxima) == len(obj.maxima)
    # the result protocol: status, counts, summary
    assert result.status_name == "converged"
    starts = 256
    assert result.nhev == 2 * starts * 51
    assert result.nhev < result.nfev <= result.nhev + starts * 2001
    summary = result.summary()
    assert summary["status"] == "converged" and len(summary["x"]) == len(obj.minima)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_points_newton_has_not_converged_onto_count_once(dtype):
    """Three Newton steps leave the minima of a double well ~1e-5 from ±1 (‖∇f‖ ~ 1e-4, under
    the stationarity test in float32): each minimum once, found by the most converged point."""
    with jax.enable_x64(dtype == "float64"):
        result = find_minima(
            lambda x: (x[0] ** 2 - 1) ** 2 + x[1] ** 2,
            [-2, -2],
            [2, 2],
            key=jax.random.key(1),
            n_starts=64,
            steps=50,
            newton_steps=3,
            gtol=1e-3,
        )
    assert result.x.shape == (2, 2) and result.saddles.shape == (1, 2)
    assert np.all(nearest(result.x, np.array([[-1.0, 0.0], [1.0, 0.0]])) < 1e-4)


def test_an_objective_nan_everywhere_ends_diverged():
    result = find_minima(
        lambda x: jnp.sum(x) * jnp.nan,
        [-1, -1],
        [1, 1],
        key=jax.random.key(0),
        n_starts=4,
        steps=10,
        newton_steps=2,
    )
    assert result.status_name == "diverged" and result.x.shape == (0, 2)


def test_degenerate_saddle_has_no_minimum():
    obj = objectives.monkey_saddle()
    result = find_minima(
        obj.fun, obj.lower, obj.upper, key=jax.random.key(1), n_starts=64, steps=200
    )
    assert len(result.x) == 0 and result.status_name == "max_steps"
    assert len(result.saddles) == 1
    np.testing.assert_allclose(result.saddles[0], 0.0, atol=1e-6)


def test_one_dimensional_tutorial_function():
    obj = objectives.tutorial_1d()
    result = find_minima(
        obj.fun, obj.lower, obj.upper, key=jax.random.key(2), n_starts=32, steps=500
    )
    np.testing.assert_allclose(result.x, [[4 / 3]], atol=1e-10)
    np.testing.assert_allclose(result.maxima, [[0.0]], atol=1e-10)


@pytest.mark.parametrize(
    ("lower", "upper", "kwargs", "message"),
    [
        ([0, 0], [0, 1], {}, "lower must be < upper"),
        ([0, 0], [1, 1, 1], {}, "same shape"),
        ([0, np.inf], [1, 1], {}, "finite"),
        ([0, 0], [1, 1], {"n_starts": 0}, "n_starts"),
        ([0, 0], [1, 1], {"gtol": -1.0}, "gtol"),
    ],
)
def test_bad_box_and_arguments(lower, upper, kwargs, message):
    with pytest.raises(ValueError, match=message):
        find_minima(objectives.himmelblau().fun, lower, upper, key=jax.random.key(0), **kwargs)


def test_data_through_args():
    """A double well (x² − a)² with a given as data: minima at ±√a, a maximum at 0."""

    def well(x, a):
        return jnp.sum((x**2 - a) ** 2)

    for a in (1.0, 2.25):
        result = find_minima(well, [-3.0], [3.0], key=jax.random.key(0), n_starts=16, args=(a,))
        np.testing.assert_allclose(np.sort(result.x[:, 0]), [-np.sqrt(a), np.sqrt(a)], atol=1e-8)
        np.testing.assert_allclose(result.maxima, [[0.0]], atol=1e-8)


def test_inside_the_users_jit_and_vmap_the_same_points_padded_with_nan():
    """Under jit (traced data) and vmap (a batch of keys) the points found are the direct
    call's, each array padded with NaN to one row per candidate."""

    def well(x, a):
        return jnp.sum((x**2 - a) ** 2)

    def search(key, a):
        return find_minima(well, [-3.0], [3.0], key=key, n_starts=8, steps=300, args=(a,))

    keys = jax.random.split(jax.random.key(3), 2)
    direct = [search(k, 2.25) for k in keys]
    jitted = jax.jit(search)(keys[0], 2.25)
    vmapped = jax.vmap(search, in_axes=(0, None))(keys, 2.25)
    for i, one in enumerate(direct):
        for got in (jax.tree.map(lambda a, i=i: a[i], vmapped),) + ((jitted,) if i == 0 else ()):
            for field in ("x", "fun", "saddles", "maxima", "maxima_fun"):
                found, padded = getattr(one, field), np.asarray(getattr(got, field))
                assert padded.shape[0] == 16
                np.testing.assert_allclose(padded[: len(found)], found, rtol=1e-12, atol=0)
                assert np.all(np.isnan(padded[len(found) :]))
            assert int(got.nfev) == one.nfev and int(got.status) == one.status
