"""The test functions: their listed stationary points are stationary and of the listed kind."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmin import objectives

TWO_D = [
    "quadratic_bowl",
    "saddle",
    "monkey_saddle",
    "beale",
    "rosenbrock",
    "himmelblau",
    "six_hump_camel",
    "tutorial_1d",
]


def eigenvalues(fun, point):
    return np.linalg.eigvalsh(np.asarray(jax.hessian(fun)(jnp.asarray(point))))


@pytest.mark.parametrize("name", TWO_D)
def test_listed_points_are_stationary_and_of_their_kind(name):
    obj = objectives.get(name)
    grad = jax.grad(obj.fun)
    for points, kind in ((obj.minima, "min"), (obj.saddles, "saddle"), (obj.maxima, "max")):
        for p in points:
            assert np.all(p >= obj.lower) and np.all(p <= obj.upper)
            assert np.linalg.norm(grad(jnp.asarray(p))) < 1e-9
            eig = eigenvalues(obj.fun, p)
            if kind == "min":
                assert np.all(eig > 0)
            elif kind == "max":
                assert np.all(eig < 0)
            elif name != "monkey_saddle":  # the monkey saddle's Hessian vanishes
                assert eig.min() < 0 < eig.max()


def test_known_values():
    assert objectives.beale().global_minimum == 0.0
    np.testing.assert_allclose(objectives.himmelblau().minimum_values, 0.0, atol=1e-24)
    camel = objectives.six_hump_camel()
    assert len(camel.minima) == 6
    assert np.sum(np.isclose(camel.minimum_values, -1.0316284534898774, rtol=1e-12)) == 2
    tut = objectives.tutorial_1d()
    np.testing.assert_allclose(tut.minima, [[4 / 3]])
    np.testing.assert_allclose(tut.fun(jnp.array([4 / 3])), 2 - 32 / 27, rtol=1e-15)


@pytest.mark.parametrize("n", [2, 5, 10])
@pytest.mark.parametrize(
    "make",
    [
        objectives.sphere,
        objectives.ellipsoid,
        objectives.rosenbrock,
        objectives.rastrigin,
        objectives.ackley,
    ],
)
def test_n_dimensional_global_minimum(make, n):
    obj = make(n)
    x_star = jnp.asarray(obj.minima[0])
    assert obj.dim == n
    np.testing.assert_allclose(obj.fun(x_star), 0.0, atol=1e-12)
    grad = jax.grad(obj.fun)(x_star)
    assert np.all(np.isfinite(grad))
    np.testing.assert_allclose(grad, 0.0, atol=1e-9)
    rng = np.random.default_rng(0)
    others = jnp.asarray(rng.uniform(obj.lower, obj.upper, (20, n)))
    assert np.all(np.asarray(obj.fun(others)) > 0)


def test_objectives_evaluate_grids_point_by_point():
    obj = objectives.six_hump_camel()
    grid = jnp.asarray(np.random.default_rng(1).uniform(-2, 2, (4, 5, 2)))
    np.testing.assert_allclose(obj.fun(grid), jax.vmap(jax.vmap(obj.fun))(grid), rtol=1e-15)


@pytest.mark.parametrize("rotated", [False, True])
def test_ellipsoid_condition_number(rotated):
    obj = objectives.ellipsoid(6, condition=1e4, rotated=rotated, seed=3)
    eig = eigenvalues(obj.fun, np.zeros(6))
    np.testing.assert_allclose(eig.max() / eig.min(), 1e4, rtol=1e-10)
    np.testing.assert_allclose(eig, 2 * 1e4 ** (np.arange(6) / 5), rtol=1e-10)


def test_bad_objective_arguments():
    with pytest.raises(ValueError, match="condition"):
        objectives.ellipsoid(3, condition=0.5)
    with pytest.raises(ValueError, match="n"):
        objectives.rosenbrock(1)
    with pytest.raises(ValueError, match="a"):
        objectives.quadratic_bowl(a=-1.0)
    with pytest.raises(ValueError, match="surface"):
        objectives.get("banana")
    with pytest.raises(TypeError, match="n"):
        objectives.sphere(2.5)
