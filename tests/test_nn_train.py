"""Training: loss goes down, look-back, patience, divergence, ensembles, checkpoints, inputs."""

import shutil

import _tracing
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxmin import nn, optim
from jaxmin.nn import training as train_module


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-1, 1, size=(n, 1)), axis=0)
    return x, np.sin(3 * x) + 0.1 * rng.normal(size=x.shape)


def _train(**kwargs):
    x, y = kwargs.pop("data", None) or _data()
    arguments = {
        "key": jax.random.key(1),
        "activation": "tanh",
        "optimizer": optim.adam(1e-2),
        "steps": 60,
        "batch_size": 16,
        "validation": 0.25,
        "chunk_steps": 20,
    } | kwargs
    params = arguments.pop("params", nn.init_mlp(jax.random.key(0), [1, 8, 1]))
    return nn.train(params, x, y, **arguments)


def test_training_reduces_the_loss_and_records_history():
    result = _train()
    assert result.status_name == "max_steps"
    assert int(result.nit) == 60
    assert result.train_loss.shape == result.val_loss.shape == (60,)
    assert result.train_loss[-1] < 0.2 * result.train_loss[0]
    assert result.val_rows.shape == (16,)


def test_lookback_returns_the_parameters_of_the_best_validation_epoch():
    x, y = _data()
    result = _train(steps=80)
    best = int(np.nanargmin(result.val_loss)) + 1
    assert int(result.best_epoch) == best
    np.testing.assert_allclose(result.fun, result.val_loss[best - 1], rtol=1e-12)
    rows = result.val_rows
    val_mse = jnp.mean((nn.forward(result.params, x[rows], activation="tanh") - y[rows]) ** 2)
    np.testing.assert_allclose(val_mse, result.val_loss[best - 1], rtol=1e-10)
    # Training again for exactly best_epoch epochs ends on the same parameters.
    again = _train(steps=best, lookback=False)
    for a, b in zip(jax.tree.leaves(again.params), jax.tree.leaves(result.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    # fun is the loss at params whether they are the best or the last ones
    later = _train(steps=best + 7, lookback=False)
    last_mse = jnp.mean((nn.forward(later.params, x[rows], activation="tanh") - y[rows]) ** 2)
    np.testing.assert_allclose(later.fun, last_mse, rtol=1e-10)
    np.testing.assert_allclose(later.fun, later.val_loss[-1], rtol=1e-12)


def test_patience_stops_after_that_many_epochs_without_improvement():
    # A learning rate this large makes the validation loss stall early.
    result = _train(steps=400, patience=5, optimizer=optim.gd(0.5), batch_size=4)
    assert result.status_name == "stopped_early"
    assert int(result.nit) == int(result.best_epoch) + 5
    assert np.all(np.isnan(result.train_loss[int(result.nit) :]))


def test_a_diverging_run_stops_with_finite_parameters():
    result = _train(
        optimizer=optim.gd(5.0), activation="linear", batch_size=64, validation=0.0, steps=500
    )
    assert result.status_name == "diverged"
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(result.params))
    last = _train(
        optimizer=optim.gd(5.0),
        activation="linear",
        batch_size=64,
        validation=0.0,
        steps=500,
        lookback=False,
    )  # the parameters of the last finite epoch, and the loss there
    x, y = _data()
    loss = jnp.mean((nn.forward(last.params, x, activation="linear") - y) ** 2)
    np.testing.assert_allclose(last.fun, loss, rtol=1e-8)
    assert np.isfinite(last.fun) and last.fun > result.fun
    assert all(bool(jnp.all(jnp.isfinite(leaf))) for leaf in jax.tree.leaves(result.final_params))
    assert result.val_loss.shape == (0,)


def test_backprop_and_autodiff_training_agree_with_dropout_and_l2():
    kwargs = {"dropout": 0.2, "l2": 1e-3, "steps": 20, "activation": "elu"}
    ours = _train(gradient="backprop", **kwargs)
    ref = _train(gradient="autodiff", **kwargs)
    np.testing.assert_allclose(ours.train_loss, ref.train_loss, rtol=1e-9)
    np.testing.assert_allclose(ours.val_loss, ref.val_loss, rtol=1e-9)


def test_l2_shrinks_the_weights():
    free = _train(steps=40)
    penalised = _train(steps=40, l2=0.1)
    norm = lambda p: sum(float(jnp.sum(layer["W"] ** 2)) for layer in p)  # noqa: E731
    assert norm(penalised.final_params) < 0.5 * norm(free.final_params)


def test_a_member_gives_the_same_numbers_alone_and_in_an_ensemble():
    x, y = _data()
    sizes = [1, 8, 1]
    keys = jax.random.split(jax.random.key(7), 3)
    params = jax.vmap(lambda k: nn.init_mlp(k, sizes))(keys)
    settings = {
        "activation": "sigmoid",
        "optimizer": optim.adam(1e-2),
        "steps": 30,
        "batch_size": 8,
        "validation": 0.25,
        "dropout": 0.1,
        "chunk_steps": 10,
    }
    ensemble = nn.train(params, x, y, key=keys, batched=True, **settings)
    assert ensemble.train_loss.shape == (3, 30)
    for i in (0, 2):
        alone = nn.train(
            jax.tree.map(lambda leaf, i=i: leaf[i], params), x, y, key=keys[i], **settings
        )
        np.testing.assert_allclose(alone.train_loss, ensemble.train_loss[i], rtol=1e-12)
        np.testing.assert_array_equal(alone.val_rows, ensemble.val_rows[i])
        for a, b in zip(
            jax.tree.leaves(alone.params), jax.tree.leaves(ensemble.params), strict=True
        ):
            np.testing.assert_allclose(a, b[i], rtol=1e-12)


def test_an_ensemble_over_different_data_sets():
    x, y = _data()
    replicas = y[None] + 0.05 * np.random.default_rng(3).normal(size=(2, *y.shape))
    keys = jax.random.split(jax.random.key(2), 2)
    params = jax.vmap(lambda k: nn.init_mlp(k, [1, 6, 1]))(keys)
    settings = {"activation": "tanh", "optimizer": optim.adam(1e-2), "steps": 15}
    xs = np.broadcast_to(x, (2, *x.shape))
    ensemble = nn.train(params, xs, replicas, key=keys, batched=True, data_axis=0, **settings)
    alone = nn.train(
        jax.tree.map(lambda leaf: leaf[1], params), x, replicas[1], key=keys[1], **settings
    )
    np.testing.assert_allclose(alone.train_loss, ensemble.train_loss[1], rtol=1e-12)


def test_a_killed_run_resumes_from_its_checkpoint_with_identical_results(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    uninterrupted = _train(steps=50, chunk_steps=10, dropout=0.1)
    real_chunk = train_module._chunk_many
    calls = {"n": 0}

    def dies_in_the_third_chunk(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_chunk(*args)

    monkeypatch.setattr(train_module, "_chunk_many", dies_in_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        _train(steps=50, chunk_steps=10, dropout=0.1, checkpoint=path)
    monkeypatch.setattr(train_module, "_chunk_many", real_chunk)
    assert path.exists()
    # stopped while running after 20 epochs: resumed with steps=20 it ends there, as a
    # 20-epoch run does (it used to come back with status -1)
    early = tmp_path / "early.npz"
    shutil.copy(path, early)
    short = _train(steps=20, chunk_steps=10, dropout=0.1, checkpoint=early)
    assert short.status_name == "max_steps" and int(short.nit) == 20
    np.testing.assert_array_equal(
        short.train_loss, _train(steps=20, chunk_steps=10, dropout=0.1).train_loss
    )
    resumed = _train(steps=50, chunk_steps=10, dropout=0.1, checkpoint=path)
    np.testing.assert_array_equal(resumed.train_loss, uninterrupted.train_loss)
    np.testing.assert_array_equal(resumed.best_epoch, uninterrupted.best_epoch)
    for a, b in zip(
        jax.tree.leaves(resumed.params), jax.tree.leaves(uninterrupted.params), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="belongs to a different run"):
        _train(steps=40, chunk_steps=10, checkpoint=path)


@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"optimizer": optim.adam(0.5)}, "optimizer"),
        ({"data": (_data()[0], 100 * _data()[1])}, "data"),
        ({"key": jax.random.key(2)}, "keys"),
        ({"params": nn.init_mlp(jax.random.key(5), [1, 8, 1])}, "params"),
        ({"activation": "sigmoid"}, "activations"),
        ({"loss": nn.chi2(0.01 * np.eye(64)), "batch_size": None}, "loss"),
        ({"l2": 1e-3}, "l2"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused_saying_what_differs(tmp_path, change, differs):
    """The issue's case among them: a finished adam(1e-2) run must not be resumed by adam(0.5)
    on other data (it used to return the finished run's losses)."""
    path = tmp_path / "run.npz"
    _train(steps=20, checkpoint=path)
    listed = rf"belongs to a different run \([a-z_, ]*\b{differs}\b[a-z_, ]* differ: "
    with pytest.raises(ValueError, match=listed):
        _train(steps=20, checkpoint=path, **change)


def test_a_finished_run_extended_gives_what_one_longer_run_gives(tmp_path):
    path = tmp_path / "run.npz"
    longer = _train(steps=70, chunk_steps=20)
    first = _train(steps=30, chunk_steps=20, checkpoint=path)
    assert int(first.nit) == 30 and first.status_name == "max_steps"
    extended = _train(steps=70, chunk_steps=20, checkpoint=path)
    for field in ("train_loss", "val_loss", "best_epoch", "fun", "nit", "status"):
        np.testing.assert_array_equal(getattr(extended, field), getattr(longer, field))
    for a, b in zip(jax.tree.leaves(extended.params), jax.tree.leaves(longer.params), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="has run 70 epochs, more than steps=50"):
        _train(steps=50, chunk_steps=20, checkpoint=path)


def test_any_optax_optimizer_and_a_chi2_with_covariance():
    x, y = _data(n=24)
    cov = 0.01 * (np.eye(24) + 0.3 * np.exp(-np.abs(np.subtract.outer(x[:, 0], x[:, 0]))))
    result = _train(
        data=(x, y),
        optimizer=optax.sgd(1e-3, momentum=0.9),
        loss=nn.chi2(cov),
        batch_size=None,
        validation=0.25,
        steps=40,
    )
    assert result.train_loss[-1] < result.train_loss[0]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"dropout": 1.0}, ValueError, r"dropout must lie in \[0, 1\)"),
        ({"dropout": -0.1}, ValueError, "dropout"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"batch_size": 100}, ValueError, "batch_size must be <= the 48 training rows"),
        ({"validation": 1.0}, ValueError, "validation"),
        ({"steps": 0}, ValueError, "steps"),
        ({"patience": 0}, ValueError, "patience"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"gradient": "numeric"}, ValueError, "gradient must be one of"),
        ({"optimizer": "adam"}, TypeError, "optax GradientTransformation"),
        ({"loss": nn.chi2(np.eye(64))}, ValueError, "does not split into mini-batches"),
        ({"key": 3}, TypeError, "JAX random key"),
        ({"loss": nn.chi2(sigma=np.ones(10))}, ValueError, "does not fit targets y"),
        ({"activation": "gelu"}, ValueError, "activation must be one of"),
        ({"lookback": 1}, TypeError, "lookback must be True or False"),
    ],
)
def test_train_rejects_bad_settings(kwargs, error, match):
    with pytest.raises(error, match=match):
        _train(**kwargs)


def test_train_rejects_bad_data():
    x, y = _data()
    params = nn.init_mlp(jax.random.key(0), [1, 4, 1])
    common = {"key": jax.random.key(0), "activation": "tanh", "steps": 2}
    with pytest.raises(ValueError, match="x must be finite"):
        nn.train(params, np.where(x > 0.5, np.nan, x), y, **common)
    with pytest.raises(ValueError, match="y must be finite"):
        nn.train(params, x, np.where(x > 0.5, np.inf, y), **common)
    with pytest.raises(ValueError, match="same number of rows"):
        nn.train(params, x, y[:-1], **common)


def test_train_inside_the_users_jit_and_vmap_gives_the_same_numbers():
    """All chunks become one program when the inputs are traced (no progress, no checkpoint);
    the histories then hold `epochs` entries, NaN after the last epoch run."""
    x, y = _data(n=32)

    def run(key):
        return _train(data=(x, y), key=key, steps=40, patience=5)

    keys = jax.random.split(jax.random.key(7), 3)
    direct = [run(k) for k in keys]
    jitted = jax.jit(run)(keys[0])
    vmapped = jax.vmap(run)(keys)
    for i, one in enumerate(direct):
        n = int(one.nit)
        for got in (jax.tree.map(lambda a, i=i: a[i], vmapped),) + ((jitted,) if i == 0 else ()):
            assert int(got.nit) == n and int(got.status) == int(one.status)
            np.testing.assert_allclose(got.fun, one.fun, rtol=1e-10)
            np.testing.assert_allclose(got.train_loss[:n], one.train_loss[:n], rtol=1e-10)
            assert np.all(np.isnan(np.asarray(got.train_loss[n:])))
            for a, b in zip(jax.tree.leaves(got.params), jax.tree.leaves(one.params), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="checkpoint needs concrete inputs"):
        jax.jit(lambda k: _train(key=k, checkpoint="run.npz").fun)(keys[0])


def test_a_fresh_optimiser_with_the_same_settings_compiles_nothing():
    compiled = train_module._chunk_many._cache_size  # programs compiled for the chunk so far
    _train(optimizer=optim.adam(1e-2), steps=20, l2=1e-4)
    programs = compiled()
    _train(optimizer=optim.adam(1e-2), steps=20, l2=1e-4)  # a fresh optax object
    assert compiled() == programs
    _train(optimizer=optim.adam(2e-2), steps=20, l2=1e-4)  # other settings: a new program
    assert compiled() == programs + 1


def test_a_second_call_with_the_same_loss_and_shapes_traces_nothing():
    """nn.train's checks run on shapes (the loss's fit to y checked once per loss function
    content and shapes): a repeated call traces the loss neither for a check nor for a
    program."""

    def squared(yhat, y):
        _tracing.count("squared loss")
        return jnp.mean((yhat - y) ** 2)

    loss = nn.custom(squared)
    first = _train(loss=loss, steps=20)
    traced = _tracing.COUNTS["squared loss"]
    assert traced > 0
    again = _train(loss=loss, steps=20)
    assert _tracing.COUNTS["squared loss"] == traced
    np.testing.assert_array_equal(again.train_loss, first.train_loss)
