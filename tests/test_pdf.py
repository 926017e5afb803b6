"""jaxmin.pdf: truths, FK tables, the sum rule, replica reproducibility, closure estimators."""

import json
import math
import os
import subprocess
import sys

import jax
import numpy as np
import optax
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad

from jaxmin import pdf
from jaxmin.pdf import closure, grid, observables
from jaxmin.pdf.truth import BetaTruth, read_truth_table

SMALL = dict(steps=300, chunk_steps=100, replicas_count=6)


def test_default_truth_normalisation():
    truth = BetaTruth()
    assert truth.norm == pytest.approx(4.95, abs=0.01)
    assert truth.moment(2) == pytest.approx(0.425, rel=1e-14)
    value, _ = quad(truth, 0, 1, epsabs=0, epsrel=1e-12, limit=200)
    assert value == pytest.approx(0.425, rel=1e-9)


@pytest.mark.parametrize("params", [{}, {"a": 0.3, "b": 5.0, "c": 0.0, "d": 2.0}])
def test_fk_tables_reproduce_analytic_moments(params):
    truth = BetaTruth(**params)
    obs = observables.build(moments=[2, 3, 4, 5])
    predicted = obs.predict(truth(obs.x_eval))
    exact = np.array([truth.moment(n) for n in (2, 3, 4, 5)])
    np.testing.assert_allclose(predicted, exact, rtol=1e-6)
    assert obs.sum_rule @ truth(obs.x_eval) == pytest.approx(truth.momentum, rel=1e-6)


def test_convolution_table_matches_direct_integral():
    truth = BetaTruth()
    xs = [1e-3, 0.02, 0.3]
    obs = observables.build(convolution=xs)
    predicted = obs.predict(truth(obs.x_eval))
    for x, value in zip(xs, predicted, strict=True):
        exact, _ = quad(
            lambda y, x=x: x / y**2 * observables.splitting_qg(x / y) * truth(y),
            x,
            1,
            epsabs=0,
            epsrel=1e-12,
            limit=400,
        )
        assert value == pytest.approx(exact, rel=5e-6)


def test_grid_interpolation_is_exact_on_polynomials_in_u():
    nodes = grid.nodes(50)
    x = np.geomspace(2e-9, 0.99, 37)
    matrix = grid.interpolation_matrix(nodes, x)
    for power in range(grid.DEGREE + 1):
        np.testing.assert_allclose(
            matrix @ grid.to_u(nodes) ** power, grid.to_u(x) ** power, rtol=1e-8, atol=1e-8
        )


@pytest.fixture(scope="module")
def small_fit():
    return pdf.fit(**SMALL, closure_fits=2)


def test_sum_rule_exact_for_every_replica(small_fit):
    assert small_fit.sum_rule.shape == (12,)
    np.testing.assert_allclose(small_fit.sum_rule, 0.425, rtol=0, atol=1e-6)


def test_a_fit_has_the_summary_and_status_names_of_every_result(small_fit):
    assert small_fit.summary() == small_fit.report()
    json.dumps(small_fit.summary())
    names = small_fit.status_name
    assert len(names) == 12 and set(names) <= {"max_steps", "stopped_early", "diverged"}
    counts = small_fit.report()["stopping"]["status"]
    assert {name: names.count(name) for name in set(names)} == counts


def test_replica_is_the_same_alone_in_a_range_and_merged(small_fit):
    part = pdf.fit(**SMALL, closure_fits=2, replica_range="2:4")
    rest = [pdf.fit(**SMALL, closure_fits=2, replica_range=r) for r in ("0:2", "4:6")]
    merged = pdf.merge([rest[1], part, rest[0]])
    for field in ("f_band", "predictions", "best_epoch", "status", "chi2_val"):
        ours = getattr(small_fit, field)
        np.testing.assert_array_equal(getattr(merged, field), ours)
        np.testing.assert_array_equal(getattr(part, field), ours[np.r_[2:4, 8:10]])
    assert merged.report()["xi_1sigma"] == small_fit.report()["xi_1sigma"]


def test_replica_does_not_depend_on_the_number_of_replicas(small_fit):
    more = pdf.fit(**(SMALL | {"replicas_count": 9}), closure_fits=1)
    np.testing.assert_array_equal(more.f_band[:6], small_fit.f_band[:6])


def test_another_replica_count_of_the_same_bucket_compiles_nothing(small_fit, compilations):
    """Stacks of replicas are padded to a power of two on the host (jaxmin.pdf.buckets): after
    six replicas, five run the same programs (no new compilation at all, where each program
    was compiled per count before), and give the same numbers."""
    five, compiled = compilations(
        lambda: pdf.fit(**(SMALL | {"replicas_count": 5}), closure_fits=2)
    )
    assert compiled == []
    np.testing.assert_array_equal(five.f_band, small_fit.f_band[np.r_[0:5, 6:11]])
    np.testing.assert_array_equal(five.chi2_val, small_fit.chi2_val[np.r_[0:5, 6:11]])


@pytest.mark.parametrize(
    ("replica_range", "error"),
    [("0:7", ValueError), ((5, 2), ValueError), ((0.5, 2), TypeError), ((True, 2), TypeError)],
)
def test_a_replica_range_outside_the_replicas_is_refused(replica_range, error):
    with pytest.raises(error, match="replica_range"):
        pdf.fit(**SMALL, replica_range=replica_range)


@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"hidden": 10}, TypeError, r"hidden must be a sequence of layer widths"),
        ({"hidden": (2.7,)}, TypeError, r"hidden\[0\] must be an integer"),
        ({"hidden": (True,)}, TypeError, r"hidden\[0\] must be an integer"),
        ({"alpha_bounds": (0, 1, 2)}, ValueError, r"alpha_bounds must be a pair"),
        ({"beta_bounds": None}, TypeError, r"beta_bounds must be a pair"),
        ({"alpha_bounds": (0, float("nan"))}, ValueError, r"alpha_bounds must be a finite"),
        ({"replica_range": (0, 1, 2)}, ValueError, r"replica_range must be a pair \(start"),
        ({"replicas_count": 1}, ValueError, r"replicas_count must be an integer >= 2"),
    ],
)
def test_bad_network_and_bounds_are_named(settings, error, message):
    with pytest.raises(error, match=message):
        pdf.fit(**(SMALL | settings))


def test_resume_after_a_kill_gives_identical_results(tmp_path, small_fit, monkeypatch):
    from jaxmin.pdf import fitting

    path = tmp_path / "checkpoint.npz"
    calls = {"n": 0}
    original = fitting.checkpoints.save

    def killed_after_two_chunks(*args, **kwargs):
        original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(fitting.checkpoints, "save", killed_after_two_chunks)
    with pytest.raises(KeyboardInterrupt):
        pdf.fit(**SMALL, closure_fits=2, checkpoint=path)
    monkeypatch.setattr(fitting.checkpoints, "save", original)
    resumed = pdf.fit(**SMALL, closure_fits=2, checkpoint=path)
    np.testing.assert_array_equal(resumed.f_band, small_fit.f_band)
    np.testing.assert_array_equal(resumed.chi2_train, small_fit.chi2_train)
    with pytest.raises(ValueError, match="different run"):
        pdf.fit(**(SMALL | {"steps": 301}), closure_fits=2, checkpoint=path)


@pytest.mark.slow  # fresh processes on several devices compile every program
def test_resume_on_two_devices_gives_identical_results(tmp_path):
    """A checkpoint is read back to the host: the resumed state is sharded again as a fresh
    one is, over two CPU devices. Subprocesses: the device count is fixed at JAX's start, and
    the resume must compile afresh, as a new ``jaxmin fit --resume`` does."""
    path, band = str(tmp_path / "c.npz"), str(tmp_path / "band.npy")
    setup = "import jax, numpy as np\nfrom jaxmin import pdf\nfrom jaxmin.pdf import fitting\n"
    setup += "assert jax.device_count() == 2\nsmall = dict(steps=300, chunk_steps=100, "
    setup += "replicas_count=4, closure_fits=1)\n"
    killed = f"""
np.save({band!r}, pdf.fit(**small).f_band)
original = fitting.checkpoints.save
def killed_after_one_chunk(*args, **kwargs):
    original(*args, **kwargs)
    raise KeyboardInterrupt
fitting.checkpoints.save = killed_after_one_chunk
try:
    pdf.fit(**small, checkpoint={path!r})
except KeyboardInterrupt:
    pass
"""
    resumed = f"""
np.testing.assert_array_equal(pdf.fit(**small, checkpoint={path!r}).f_band, np.load({band!r}))
"""
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    for script in (killed, resumed):
        subprocess.run([sys.executable, "-c", setup + script], check=True, env=env, timeout=300)


def test_save_load_round_trip(tmp_path, small_fit):
    small_fit.save(tmp_path)
    loaded = pdf.load(tmp_path)
    np.testing.assert_array_equal(loaded.f_band, small_fit.f_band)
    for a, b in zip(
        np.concatenate([np.ravel(v) for v in _leaves(loaded.params)]),
        np.concatenate([np.ravel(v) for v in _leaves(small_fit.params)]),
        strict=True,
    ):
        assert a == b
    assert loaded.report()["per_fit"] == small_fit.report()["per_fit"]
    header = (tmp_path / "band.csv").read_text().splitlines()[0]
    assert header == "x,mean,std,lower_68,upper_68,truth"


def _leaves(tree):
    import jax

    return jax.tree.leaves(tree)


def test_closure_estimators_on_gaussian_replicas():
    """Replicas drawn faithfully around a shifted centre give R_bv ≈ 1 and ξ₁σ ≈ 0.68."""
    rng = np.random.default_rng(0)
    n, reps, fits = 30, 400, 40
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n + np.eye(n)
    chol = np.linalg.cholesky(cov)
    truth = rng.normal(size=n)
    preds, biases, variances = [], [], []
    for _ in range(fits):
        centre = truth + chol @ rng.normal(size=n)
        pred = centre + (chol @ rng.normal(size=(n, reps))).T
        preds.append(pred)
        biases.append(closure.bias(pred, truth, cov))
        variances.append(closure.variance(pred, cov))
    assert closure.bias_variance_ratio(np.array(biases), np.array(variances)) == pytest.approx(
        1.0, abs=0.1
    )
    assert closure.xi_sigma(preds, truth, cov) == pytest.approx(0.68, abs=0.03)
    assert np.mean(variances) == pytest.approx(1.0, abs=0.05)


def test_bootstrap_std_matches_the_spread_over_independent_closure_tests():
    """The bootstrap over K fits estimates how much R_bv and ξ₁σ vary between independent
    closure tests of K fits each (here 300 tests of K = 5 faithful Gaussian fits)."""
    rng = np.random.default_rng(1)
    n, reps, fits, tests = 12, 60, 5, 300
    a = rng.normal(size=(n, n))
    cov = a @ a.T / n + np.eye(n)
    chol = np.linalg.cholesky(cov)
    truth = rng.normal(size=n)
    ratios, xis, ratio_stds, xi_stds = [], [], [], []
    for _ in range(tests):
        preds = [
            truth + chol @ rng.normal(size=n) + (chol @ rng.normal(size=(n, reps))).T
            for _ in range(fits)
        ]
        biases = np.array([closure.bias(p, truth, cov) for p in preds])
        variances = np.array([closure.variance(p, cov) for p in preds])
        xi = closure.xi_per_fit(preds, truth, cov)
        ratios.append(closure.bias_variance_ratio(biases, variances))
        xis.append(xi.mean())
        ratio_stds.append(
            closure.bootstrap_std(
                lambda i, b=biases, v=variances: closure.bias_variance_ratio(b[i], v[i]),
                fits,
                samples=200,
            )
        )
        xi_stds.append(closure.bootstrap_std(lambda i, x=xi: x[i].mean(), fits, samples=200))
    # the bootstrap of K samples underestimates a spread by about √((K − 1)/K) ≈ 0.89
    assert np.mean(ratio_stds) / np.std(ratios) == pytest.approx(0.89, abs=0.15)
    assert np.mean(xi_stds) / np.std(xis) == pytest.approx(0.89, abs=0.15)
    assert closure.xi_sigma(preds, truth, cov) == pytest.approx(xis[-1])


def _truth(kind, tmp_path):
    """None (the default truth) or a table of a truth of another form than the default's."""
    if kind == "default":
        return None
    x = np.geomspace(1e-4, 1, 400)
    fine = np.geomspace(1e-12, 1, 20001)

    def shape(x):
        return x**0.15 * (1 - x) ** 4.5 * (1 + 3 * x)

    table = tmp_path / "truth.txt"
    np.savetxt(table, np.column_stack([x, 0.425 * shape(x) / np.trapezoid(shape(fine), fine)]))
    return read_truth_table(table)


@pytest.mark.parametrize("kind", ["default", "table"])
def test_closure_test_is_faithful(tmp_path, kind):
    """A quick closure test (3 data sets, short training): wide bounds, since three level-1
    shifts leave R_bv and ξ₁σ uncertain by ±0.15–0.2 (the slow test below uses 20)."""
    result = pdf.fit(truth=_truth(kind, tmp_path), replicas_count=20, closure_fits=3, steps=2500)
    report = result.report()
    assert 0.5 <= report["xi_1sigma"] <= 0.95
    assert 0.5 <= report["coverage_1sigma"] <= 1.0
    assert 0.5 <= report["bias_variance_ratio"] <= 1.5
    assert 0.5 <= report["chi2_central"] <= 1.5
    assert set(report["bootstrap_std"]) == {"bias_variance_ratio", "xi_1sigma", "coverage_1sigma"}
    np.testing.assert_allclose(result.sum_rule, 0.425, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["default", "table"])
def test_closure_test_meets_the_faithfulness_targets(tmp_path, kind):
    """The issue's targets with the default settings, on 20 level-1 data sets of 25 replicas
    (about a minute each on two cores): ξ₁σ and the 1σ coverage in 0.55–0.85, R_bv in 0.7–1.4,
    χ²/N to the data near 1 on average over the data sets, the sum rule to 1e-6."""
    result = pdf.fit(truth=_truth(kind, tmp_path), replicas_count=25, closure_fits=20)
    report = result.report()
    assert 0.55 <= report["xi_1sigma"] <= 0.85
    assert 0.55 <= report["coverage_1sigma"] <= 0.85
    assert 0.7 <= report["bias_variance_ratio"] <= 1.4
    assert 0.7 <= np.mean([fit["chi2_central"] for fit in report["per_fit"]]) <= 1.3
    np.testing.assert_allclose(result.sum_rule, 0.425, atol=1e-6)


@pytest.mark.parametrize(
    ("optimizer", "settings"),
    [("cmaes", None), ("ga", {"popsize": 8, "elitism": 1})],
)
def test_gradient_free_methods_train_the_same_replicas(optimizer, settings):
    kwargs = dict(
        optimizer=optimizer,
        optimizer_settings=settings,
        replicas_count=3,
        steps=40,
        chunk_steps=20,
        patience=1.0,
    )
    result = pdf.fit(**kwargs)
    alone = pdf.fit(**kwargs, replica_range="1:2")
    np.testing.assert_array_equal(alone.f_band[0], result.f_band[1])
    np.testing.assert_allclose(result.sum_rule, 0.425, atol=1e-6)
    train = result.chi2_train
    assert np.all(np.isfinite(train)) and np.all(train[:, -1] < train[:, 0])
    assert np.all(result.best_epoch > 0)
    assert result.settings["optimizer"] == optimizer


@pytest.mark.parametrize("rule", ["gd", "momentum", "nesterov", "rmsprop"])
def test_first_order_rules_train_the_replicas(rule):
    """Every first-order rule of jaxmin.optim trains the fit (same engine as Adam): its first
    epoch is the rule's first update from the same start (and, for one rule, the χ² falls)."""
    from jaxmin import optim
    from jaxmin.pdf import fitting, model, replicas, setup

    eta = 1e-4 if rule in ("gd", "momentum", "nesterov") else 1e-2
    if rule == "momentum":
        kwargs = dict(optimizer=rule, learning_rate=eta, replicas_count=2, steps=60)
        result = pdf.fit(**kwargs, patience=1.0)
        train = result.chi2_train
        assert np.all(np.isfinite(train)) and np.all(train[:, -1] < train[:, 0])
        assert result.settings["optimizer"] == rule
    # the engine's update is the optax rule's: one epoch by hand, from the same start
    plan = fitting.plan(optimizer=rule, learning_rate=eta, replicas_count=2, steps=1)
    params = setup.initial_params(0, np.arange(1), plan.seeds.init, plan.engine.model, plan.dtype)
    params = jax.tree.map(lambda a: a[0], params)
    data = jax.tree.map(
        lambda a: a[0],
        setup.replica_data(plan.data_sets[0], 0, np.arange(1), 2, plan.seeds, 0.25, plan.dtype),
    )
    obs = plan.observables
    grid = model.make_grid(obs.x_eval, obs.table, obs.sum_rule, plan.dtype)
    rule_fn = optim.RULES[rule](eta)
    _, grads = model.value_and_grad(
        lambda f: replicas.chi2_split(f, data), params, grid, plan.engine.model
    )
    updates, _ = rule_fn.update(grads, rule_fn.init(params), params)
    expected = model.project(optax.apply_updates(params, updates), plan.engine.model)
    settings = replicas.member_settings(eta, 1, 0.0, 1, plan.dtype)
    state = replicas.init_state(
        params, jax.random.key(0), jax.tree.map(lambda a: a[0], settings), data, grid, plan.engine
    )
    state, _ = replicas.epoch(state, data, grid, plan.engine)
    for got, want in zip(jax.tree.leaves(state.params), jax.tree.leaves(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


def test_weight_decay_shrinks_the_weights_and_is_per_replica():
    kwargs = dict(replicas_count=2, steps=80, chunk_steps=40, patience=1.0)
    plain, decayed = pdf.fit(**kwargs), pdf.fit(**kwargs, l2=1.0)

    def weights(result):
        return sum(float(np.sum(np.square(layer["W"]))) for layer in result.params["net"])

    assert weights(decayed) < 0.9 * weights(plain)
    assert decayed.settings["l2"] == 1.0
    with pytest.raises(ValueError, match="l2 is a weight decay of the gradient rules"):
        pdf.fit(optimizer="cmaes", l2=0.1)
    with pytest.raises(ValueError, match="l2 must be a finite number >= 0"):
        pdf.fit(l2=-1.0)


@settings(max_examples=60, deadline=None)
@given(
    devices=st.integers(1, 4),
    blocks=st.integers(1, 4),
    block=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_running_members_are_gathered_into_few_blocks(devices, blocks, block, seed):
    from jaxmin.pdf import replicas

    n = devices * blocks * block
    running = np.random.default_rng(seed).random(n) < 0.4
    order = replicas.running_first(running, block, devices)
    needed = math.ceil(math.ceil(running.sum() / devices) / block)
    if order is None:
        active = running.reshape(devices, -1, block).any(axis=2).sum(axis=1)
        assert active.max() <= needed
        return
    assert sorted(order) == list(range(n))
    moved = running[order].reshape(devices, -1, block)
    assert moved.any(axis=2).sum(axis=1).max() == needed
    per_device = moved.sum(axis=(1, 2))
    assert per_device.max() - per_device.min() <= 1


def test_replicas_moved_between_blocks_keep_their_numbers(monkeypatch):
    """Replicas that stop early leave their blocks; the ones still running are gathered (and
    skipped blocks cost nothing): every replica's numbers stay those of its fit alone."""
    from jaxmin.pdf import replicas

    moves = []
    original = replicas.running_first

    def counted(*args):
        order = original(*args)
        moves.append(order is not None)
        return order

    monkeypatch.setattr(replicas, "running_first", counted)
    kwargs = dict(replicas_count=8, steps=300, chunk_steps=20, patience=0.05, block=2)
    result = pdf.fit(**kwargs, learning_rate=0.03)
    assert any(moves) and len(set(result.nit.tolist())) > 1
    for k in (0, 7):
        alone = pdf.fit(**kwargs, learning_rate=0.03, replica_range=f"{k}:{k + 1}")
        np.testing.assert_array_equal(alone.f_band[0], result.f_band[k])
        np.testing.assert_array_equal(alone.chi2_val[0], result.chi2_val[k, : alone.nit[0]])


def test_dropout_trains_each_replica_as_alone_and_watches_the_whole_network():
    kwargs = dict(replicas_count=3, steps=60, chunk_steps=30, patience=1.0, dropout=0.3)
    result = pdf.fit(**kwargs)
    alone = pdf.fit(**kwargs, replica_range="2:3")
    np.testing.assert_array_equal(alone.f_band[0], result.f_band[2])
    assert np.all(result.chi2_train[:, -1] < result.chi2_train[:, 0])
    plain = pdf.fit(**(kwargs | {"dropout": 0.0}))
    assert not np.array_equal(plain.f_band, result.f_band)
    # look-back is on the whole network: the recorded best is the best whole-network χ²_val
    best = np.nanmin(result.chi2_val, axis=1)
    watched = result.chi2_val[np.arange(3), result.best_epoch]
    np.testing.assert_allclose(watched, best, rtol=1e-6)
    with pytest.raises(ValueError, match="dropout applies to the gradient rules"):
        pdf.fit(optimizer="ga", dropout=0.1)
    with pytest.raises(ValueError, match="dropout must lie in"):
        pdf.fit(dropout=1.0)


def test_without_validation_look_back_follows_the_training_chi2():
    result = pdf.fit(replicas_count=2, steps=50, validation=0.0, patience=1.0)
    np.testing.assert_array_equal(result.chi2_val, result.chi2_train)
    assert np.all(result.best_epoch == np.nanargmin(result.chi2_train, axis=1))


def test_bad_optimizer_settings_are_refused():
    with pytest.raises(ValueError, match="not settings of 'ga'"):
        pdf.fit(optimizer="ga", optimizer_settings={"sigma0": 1.0})
    with pytest.raises(ValueError, match="elitism"):
        pdf.fit(optimizer="ga", optimizer_settings={"popsize": 4, "elitism": 4})
    with pytest.raises(ValueError, match="optimizer"):
        pdf.fit(optimizer="sgd")


def test_replicas_sharded_over_four_devices_give_the_same_numbers(small_fit, tmp_path):
    script = (
        "import jax, numpy as np\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "from jaxmin import pdf\n"
        "assert jax.device_count() == 4\n"
        f"r = pdf.fit(**{SMALL!r}, closure_fits=2)\n"
        f"np.save({str(tmp_path / 'band.npy')!r}, r.f_band)\n"
    )
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=300)
    # Each device runs the same per-block program, but XLA compiles the sharded program on its
    # own: the numbers agree to round-off (a few ulp), not to the last bit.
    np.testing.assert_allclose(np.load(tmp_path / "band.npy"), small_fit.f_band, rtol=1e-13)


@pytest.mark.slow  # a fresh process; by default: the fit sharded over four devices (above),
# CMA-ES batches on several devices (test_cmaes.py)
def test_cmaes_replicas_on_several_cpu_devices_finish_and_match_one_device(tmp_path):
    # jaxlib's batched eigh waits on the CPU pool the host devices run on: CMA-ES keeps to one.
    settings = dict(optimizer="cmaes", replicas_count=3, steps=6, chunk_steps=3)
    script = (
        "import jax, numpy as np\n"
        "from jaxmin.devices import use_cpu_cores\n"
        "use_cpu_cores(2)\n"
        "jax.config.update('jax_enable_x64', True)\n"
        "from jaxmin import pdf\n"
        f"r = pdf.fit(**{settings!r})\n"
        f"np.save({str(tmp_path / 'band.npy')!r}, r.f_band)\n"
    )
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, timeout=240)
    np.testing.assert_array_equal(np.load(tmp_path / "band.npy"), pdf.fit(**settings).f_band)


def test_fit_of_user_data_with_a_covariance_file(tmp_path):
    truth = BetaTruth()
    x = np.geomspace(1e-3, 0.6, 12)
    sigma = 0.05 * truth(x) + 0.01
    cov = np.diag(sigma**2) + 0.5 * np.outer(sigma, sigma)
    data = tmp_path / "data.csv"
    np.savetxt(data, np.column_stack([x, truth(x), sigma]), delimiter=",", header="x,xg,sigma")
    matrix = tmp_path / "cov.txt"
    np.savetxt(matrix, cov)
    result = pdf.fit(data=data, covariance=matrix, replicas_count=2, steps=30)
    np.testing.assert_allclose(result.covariance, cov, rtol=1e-12)
    report = result.report()
    assert "xi_1sigma" not in report and np.isfinite(report["chi2_central"])
    with pytest.raises(ValueError, match="covariance needs data"):
        pdf.fit(covariance=matrix)
