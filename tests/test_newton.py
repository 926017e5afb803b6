"""Second-order methods: exact steps on quadratics, quadratic convergence, robustness, fits."""

import functools

import _tracing
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxmin import Status, newton, objectives, parameter_covariance

FINAL = {Status.CONVERGED, Status.MAX_STEPS, Status.STALLED}


def never_increases(path_fun) -> bool:
    """f_{k+1} ≤ f_k up to f's rounding error 10ε|f_k| (the line search's round-off allowance)."""
    values = np.asarray(path_fun)
    return bool(np.all(np.diff(values) <= 10 * np.finfo(values.dtype).eps * np.abs(values[:-1])))


def quadratic(x, a, b):
    """E(x) = ½xᵀAx − bᵀx, with A and b as data (``args``): one program per size n."""
    return 0.5 * x @ a @ x - b @ x


def spd_quadratic(n, seed, low=0.1, high=10.0):
    """(A, b) of E(x) = ½xᵀAx − bᵀx with eigenvalues of A in [low, high]; minimiser A⁻¹b."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = q @ np.diag(rng.uniform(low, high, n)) @ q.T
    b = rng.standard_normal(n)
    return (jnp.asarray(a), jnp.asarray(b)), np.linalg.solve(a, b), rng.standard_normal(n)


@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_one_newton_step_lands_on_the_minimiser_of_a_quadratic(n, seed):
    data, minimiser, x0 = spd_quadratic(n, seed)
    result = newton(quadratic, x0, method="newton", steps=1, gtol=None, args=data)
    assert int(result.nit) == 1 and int(result.nhev) == 1
    np.testing.assert_allclose(result.x, minimiser, rtol=0, atol=1e-10)


@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_undamped_start_of_damped_newton_takes_the_exact_step_on_a_quadratic(n, seed):
    data, minimiser, x0 = spd_quadratic(n, seed)
    result = newton(quadratic, x0, method="damped", damping=0.0, steps=1, gtol=None, args=data)
    np.testing.assert_allclose(result.x, minimiser, rtol=0, atol=1e-10)
    assert int(result.nfev) == 2  # the start and one accepted trial: no backtracking


@given(n=st.integers(1, 8), seed=st.integers(0, 10_000))
def test_newton_cg_solves_a_quadratic_in_at_most_n_cg_iterations(n, seed):
    data, minimiser, x0 = spd_quadratic(n, seed, low=0.5, high=5.0)
    result = newton(quadratic, x0, method="newton-cg", steps=1, gtol=None, cg_rtol=1e-13, args=data)
    assert int(result.nhev) <= n
    np.testing.assert_allclose(result.x, minimiser, rtol=0, atol=1e-10)


def rosenbrock_errors_near_the_minimum(method):
    fun = objectives.rosenbrock(2).fun
    result = newton(fun, jnp.array([1.05, 1.08]), method=method, steps=20, gtol=1e-14)
    assert result.status_name == "converged"
    errors = np.linalg.norm(np.asarray(result.path)[: int(result.nit) + 1] - 1.0, axis=1)
    assert errors[-1] < 1e-12
    return errors[errors > 1e-13]


def test_newton_converges_quadratically_near_the_rosenbrock_minimum():
    errors = rosenbrock_errors_near_the_minimum("newton")
    assert len(errors) >= 3, errors
    assert np.all(errors[1:] / errors[:-1] ** 2 < 1e3), errors


def test_damped_newton_converges_superlinearly_as_its_damping_decays():
    errors = rosenbrock_errors_near_the_minimum("damped")
    contraction = errors[1:] / errors[:-1]
    assert len(errors) >= 4 and contraction[-1] < 1e-3 and contraction[-2] < 1e-2, errors


def test_damped_newton_reaches_the_rosenbrock_minimum_in_at_most_30_iterations():
    result = newton(objectives.rosenbrock(2).fun, jnp.array([-1.2, 1.0]), method="damped")
    assert result.status_name == "converged" and int(result.nit) <= 30
    np.testing.assert_allclose(result.x, [1.0, 1.0], atol=1e-9)
    assert never_increases(result.path_fun)


@pytest.mark.parametrize("method", ["newton-cg", "gauss-newton"])
def test_hessian_free_methods_reach_the_rosenbrock_minimum(method):
    x0 = jnp.array([-1.2, 1.0] * 5)
    if method == "gauss-newton":
        fun = lambda x: jnp.concatenate([10 * (x[1:] - x[:-1] ** 2), 1 - x[:-1]])  # noqa: E731
        kwargs = {"matrix_free": True}
    else:
        fun, kwargs = objectives.rosenbrock(10).fun, {}
    result = newton(fun, x0, method=method, steps=500, **kwargs)
    assert result.status_name == "converged"
    np.testing.assert_allclose(result.x, np.ones(10), atol=1e-7)


def test_line_search_methods_reach_a_tight_gtol_where_f_is_at_its_rounding_floor():
    """At Rosenbrock-10's local minimum (f ≈ 3.99) the last steps change f by less than its
    rounding error; they must still be taken until ‖∇f‖ ≤ gtol, not loop or stop early."""
    x0 = jnp.array([-1.2, 1.0] * 5)
    for method in ("newton-cg", "damped"):
        result = newton(
            objectives.rosenbrock(10).fun, x0, method=method, cg_rtol=1e-4, steps=300, gtol=1e-11
        )
        assert result.status_name == "converged", method
        assert 3.98 < float(result.fun) < 3.99


def test_newton_jumps_onto_the_saddle_and_damped_newton_leaves_it():
    fun = objectives.saddle().fun
    x0 = jnp.array([1.5, 1e-3])
    plain = newton(fun, x0, method="newton", steps=5)
    assert plain.status_name == "converged" and int(plain.nit) == 1
    np.testing.assert_allclose(plain.x, [0.0, 0.0], atol=1e-15)
    damped = newton(fun, x0, method="damped", steps=30)
    assert float(damped.fun) < -1.0 and abs(float(damped.x[1])) > 1.0
    assert never_increases(damped.path_fun)


@pytest.mark.parametrize(
    ("name", "x0"),
    [("saddle", [1.5, 1e-3]), ("monkey_saddle", [1.0, 0.5]), ("powell", [3.0, -1.0, 0.0, 1.0])],
)
def test_damped_newton_keeps_decreasing_on_indefinite_and_singular_hessians(name, x0):
    fun = powell_singular if name == "powell" else getattr(objectives, name)().fun
    result = newton(fun, jnp.asarray(x0), method="damped", steps=300)
    path_fun = np.asarray(result.path_fun)
    assert np.all(np.isfinite(path_fun)) and np.all(np.isfinite(np.asarray(result.path)))
    assert never_increases(path_fun)
    assert Status(int(result.status)) in FINAL
    if name == "powell":  # singular minimum at 0: slower than quadratic, but it gets there
        assert result.status_name == "converged" and float(result.fun) < 1e-12
    else:  # unbounded below: f runs away to −∞ as far as floating point allows, never NaN
        assert float(result.fun) < -1e10


def quartic(x, a, b):
    """E = ½xᵀAx − bᵀx + ¼Σxᵢ⁴, with A and b as data (``args``)."""
    return quadratic(x, a, b) + 0.25 * jnp.sum(x**4)


@given(n=st.integers(2, 6), seed=st.integers(0, 10_000))
def test_damped_newton_descends_to_a_minimum_of_random_nonconvex_quartics(n, seed):
    """E = ½xᵀAx − bᵀx + ¼Σxᵢ⁴ with A indefinite: saddles and maxima abound, E is bounded below."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    a = jnp.asarray(q @ np.diag(rng.uniform(-5, 5, n)) @ q.T)
    b = jnp.asarray(rng.standard_normal(n))
    x0 = jnp.asarray(rng.standard_normal(n))
    result = newton(quartic, x0, method="damped", steps=200, args=(a, b))
    assert result.status_name == "converged"
    assert never_increases(result.path_fun)
    hessian = np.asarray(a) + np.diag(3 * np.asarray(result.x) ** 2)  # ∇²E = A + 3 diag(x²)
    assert np.linalg.eigvalsh(hessian).min() > -1e-8


def powell_singular(x):
    """Powell's singular function: minimum 0 at the origin, where the Hessian has rank 2."""
    a, b, c, d = x[0], x[1], x[2], x[3]
    return (a + 10 * b) ** 2 + 5 * (c - d) ** 2 + (b - 2 * c) ** 4 + 10 * (a - d) ** 4


def test_plain_newton_on_a_singular_hessian_stops_as_diverged_with_a_finite_iterate():
    fun = lambda x: (x[0] + x[1]) ** 2  # noqa: E731  H = [[2, 2], [2, 2]] everywhere
    x0 = jnp.array([1.0, 2.0])
    plain = newton(fun, x0, method="newton")
    assert plain.status_name == "diverged"
    np.testing.assert_array_equal(plain.x, x0)
    damped = newton(fun, x0, method="damped")
    assert damped.status_name == "converged" and float(damped.fun) < 1e-16


@pytest.mark.parametrize("method", ["newton", "damped", "newton-cg"])
def test_pytree_parameters_and_batched_starts_match_single_flat_runs(method):
    fun = objectives.rosenbrock(4).fun
    starts = np.array([[-1.2, 1.0, -1.2, 1.0], [0.5, 0.2, 0.3, 0.1], [1.5, 2.0, 1.1, 1.3]])

    def tree_fun(p):
        return fun(jnp.concatenate([p["a"], p["b"].ravel()]))

    tree = {"a": jnp.asarray(starts[:, :1]), "b": jnp.asarray(starts[:, 1:].reshape(3, 3, 1))}
    batched = newton(tree_fun, tree, method=method, steps=200, batched=True)
    assert batched.x["b"].shape == (3, 3, 1) and batched.path["a"].shape == (3, 201, 1)
    for i, start in enumerate(starts):
        single = newton(fun, jnp.asarray(start), method=method, steps=200)
        for field in ("nit", "nfev", "ngev", "nhev", "status"):
            assert int(getattr(single, field)) == int(getattr(batched, field)[i])
        got = np.concatenate([batched.x["a"][i], batched.x["b"][i].ravel()])
        np.testing.assert_allclose(got, single.x, rtol=0, atol=1e-12)
        # the batch is one loop: a start that stopped keeps its path, filled with its end
        np.testing.assert_allclose(batched.path["a"][i][:, 0], single.path[:, 0], atol=1e-12)
        np.testing.assert_allclose(batched.path_fun[i], single.path_fun, rtol=1e-8, atol=1e-20)


def exponential_decay_data(seed, n=40):
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 6.0, n)
    sigma = 0.05 + 0.02 * t
    y = 5.0 * np.exp(-t / 1.5) + sigma * rng.standard_normal(n)
    return jnp.asarray(t), jnp.asarray(y), jnp.asarray(sigma)


def test_gauss_newton_fit_of_an_exponential_decay_agrees_with_the_truth_within_errors():
    truth = np.array([5.0, 1.5])
    pulls, chi2 = [], []

    def residuals(p, t, y, sigma):
        return (p["amplitude"] * jnp.exp(-t / p["tau"]) - y) / sigma

    for seed in range(8):
        t, y, sigma = exponential_decay_data(seed)  # as args: one program for the 8 data sets
        start = {"amplitude": jnp.asarray(1.0), "tau": jnp.asarray(0.5)}
        fit = newton(
            residuals, start, method="gauss-newton", steps=100, gtol=1e-10, args=(t, y, sigma)
        )
        assert fit.status_name == "converged"
        best = np.array([fit.x["amplitude"], fit.x["tau"]])
        of_seed = functools.partial(residuals, t=t, y=y, sigma=sigma)
        errors = np.sqrt(np.diag(parameter_covariance(of_seed, fit.x)))
        pulls.append((best - truth) / errors)
        chi2.append(2 * float(fit.fun))
    pulls = np.asarray(pulls)
    assert np.all(np.abs(pulls) < 4), pulls
    assert 0.3 < np.sqrt(np.mean(pulls**2)) < 2.0, pulls
    assert 0.5 < np.mean(chi2) / 38 < 1.5, chi2


def test_gauss_newton_dense_matrix_free_and_damped_newton_agree():
    t, y, sigma = exponential_decay_data(1)
    residuals = lambda p: (p[0] * jnp.exp(-t / p[1]) - y) / sigma  # noqa: E731
    x0 = jnp.array([1.0, 0.5])
    dense = newton(residuals, x0, method="gauss-newton", matrix_free=False, gtol=1e-10)
    products = newton(residuals, x0, method="gauss-newton", matrix_free=True, gtol=1e-10)
    chi2_half = lambda p: 0.5 * jnp.sum(residuals(p) ** 2)  # noqa: E731
    damped = newton(chi2_half, x0, method="damped", gtol=1e-10)
    for other in (products, damped):
        np.testing.assert_allclose(other.x, dense.x, rtol=1e-9)
    assert int(dense.nhev) <= int(dense.nit) + 1  # one Jacobian per iteration


def test_gauss_newton_with_a_covariance_is_generalised_least_squares():
    rng = np.random.default_rng(3)
    x = np.linspace(-1, 1, 12)
    design = np.stack([np.ones_like(x), x, x**2], axis=1)
    root = rng.standard_normal((12, 12))
    cov = 0.01 * (root @ root.T / 12 + np.eye(12))
    y = design @ np.array([1.0, -2.0, 0.5]) + np.linalg.cholesky(cov) @ rng.standard_normal(12)
    residuals = lambda p: jnp.asarray(design) @ p - jnp.asarray(y)  # noqa: E731
    fit = newton(residuals, jnp.zeros(3), method="gauss-newton", covariance=cov, gtol=1e-10)
    weight = np.linalg.inv(cov)
    exact_cov = np.linalg.inv(design.T @ weight @ design)
    exact = exact_cov @ design.T @ weight @ y
    np.testing.assert_allclose(fit.x, exact, rtol=1e-9, atol=1e-12)
    chi2 = (design @ exact - y) @ weight @ (design @ exact - y)
    np.testing.assert_allclose(2 * float(fit.fun), chi2, rtol=1e-9)
    got_cov = parameter_covariance(residuals, fit.x, covariance=cov)
    np.testing.assert_allclose(got_cov, exact_cov, rtol=1e-8)


@pytest.mark.parametrize(
    "residuals",
    [
        lambda p: jnp.array([p[0] - 1.0, p[0] + 1.0]),  # p[1] not in the residuals
        lambda p: jnp.array([p[0] + p[1], p[0] + p[1] - 1.0]),  # p[0] − p[1] not determined
    ],
)
def test_undetermined_parameters_have_no_covariance(residuals):
    """A singular JᵀJ is named (it gave NaN, or in float32 finite numbers of order 10⁷)."""
    with pytest.raises(ValueError, match="do not determine every parameter"):
        parameter_covariance(residuals, jnp.array([2.0, 1.5]))


def test_parameters_in_other_units_are_not_undetermined():
    """Condition number 10⁸ from the units alone (float32): the covariance is still given."""
    residuals = lambda p: jnp.array([1e4 * p[0] - 1, p[1] - 2, 1e4 * p[0] + p[1]])  # noqa: E731
    with jax.enable_x64(False):
        got = parameter_covariance(residuals, jnp.array([1.0, 1.0], jnp.float32))
    np.testing.assert_allclose(got, [[2 / 3e8, -1 / 3e4], [-1 / 3e4, 2 / 3]], rtol=1e-4)


def test_damped_newton_on_an_unbounded_function_never_returns_nan():
    result = newton(lambda x: -jnp.exp(x[0]) + x[1] ** 2, jnp.array([0.0, 1.0]), method="damped")
    assert np.isfinite(float(result.fun)) and np.all(np.isfinite(np.asarray(result.x)))
    assert Status(int(result.status)) in FINAL


def test_newton_cg_counts_products_and_records_sparsely_for_many_parameters():
    fun = lambda p: jnp.sum((p - 1.0) ** 2 * jnp.linspace(1, 4, p.size)) + jnp.sum(p**4)  # noqa: E731
    result = newton(fun, jnp.zeros(20_000), method="newton-cg", steps=50, record_every=50)
    assert result.status_name == "converged"
    assert result.path.shape == (2, 20_000)
    assert int(result.nhev) >= int(result.nit)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "bfgs"}, "method must be one of"),
        ({"gtol": 0.0}, "gtol must be a finite number > 0"),
        ({"gtol": -1e-8}, "gtol must be a finite number > 0"),
        ({"steps": 0}, "steps must be an integer from 1 to 1073741824"),
        ({"armijo": 0.7}, "armijo must lie in"),
        ({"damping": -1.0}, "damping must be a finite number >= 0"),
        ({"cg_rtol": 1.0}, "cg_rtol must lie in \\(0, 1\\)"),
        ({"covariance": np.eye(2)}, "covariance is only used by method='gauss-newton'"),
    ],
)
def test_bad_settings_raise_clear_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        newton(objectives.rosenbrock(2).fun, jnp.array([-1.2, 1.0]), **kwargs)


def test_bad_objectives_and_starts_raise_clear_errors():
    with pytest.raises(ValueError, match="fun must return a real scalar"):
        newton(lambda x: x**2, jnp.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="x0 must be finite"):
        newton(lambda x: jnp.sum(x**2), jnp.array([1.0, jnp.nan]))
    with pytest.raises(ValueError, match="fun must return the residuals"):
        newton(lambda x: jnp.sum(x) > 0, jnp.array([1.0, 2.0]), method="gauss-newton")
    residuals = lambda x: x - 1.0  # noqa: E731
    with pytest.raises(ValueError, match=r"covariance must be a \(2, 2\) matrix"):
        newton(residuals, jnp.zeros(2), method="gauss-newton", covariance=np.eye(3))
    with pytest.raises(ValueError, match="covariance must be positive definite"):
        newton(residuals, jnp.zeros(2), method="gauss-newton", covariance=-np.eye(2))


@pytest.mark.parametrize("method", ["newton", "damped", "newton-cg", "gauss-newton"])
def test_newton_inside_the_users_jit_and_vmap_with_args(method):
    """Every method: the same numbers inside jit and vmap as called directly; data as args;
    a fresh closure of the same code compiles nothing."""
    x = jnp.linspace(0.0, 1.0, 8)

    def make(scale):
        def model(theta, data):
            _tracing.count(f"newton {method}")
            residuals = scale * (theta[0] * jnp.exp(theta[1] * x) - data)
            return residuals if method == "gauss-newton" else 0.5 * jnp.sum(residuals**2)

        return model

    data = 2.0 * jnp.exp(-0.7 * x)

    def solve(x0, data):
        return newton(make(1.0), x0, method=method, steps=40, args=(data,))

    starts = jnp.array([[1.5, -0.5], [2.5, -1.0]])
    direct = [solve(x0, data) for x0 in starts]
    traced = _tracing.COUNTS[f"newton {method}"]
    solve(starts[0], data + 0.0)  # a fresh closure and new data of the same shapes
    assert _tracing.COUNTS[f"newton {method}"] == traced
    jitted = jax.jit(solve)(starts[1], data)
    vmapped = jax.vmap(solve, in_axes=(0, None))(starts, data)
    for i, one in enumerate(direct):
        np.testing.assert_allclose(one.x, [2.0, -0.7], rtol=1e-6)
        for a, b in zip(jax.tree.leaves(vmapped), jax.tree.leaves(one), strict=True):
            np.testing.assert_allclose(a[i], b, rtol=1e-10, atol=1e-12)
    for a, b in zip(jax.tree.leaves(jitted), jax.tree.leaves(direct[1]), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
