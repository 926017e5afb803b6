"""``jaxmin.pdf.fit``: the gluon from (pseudo-)data by an ensemble of networks, one per replica.

The default is NNPDF's level-2 closure test: pseudo-data of the default observables generated
from the default truth, shifted once by η ~ N(0, C) (level 1), and fitted by ``replicas``
networks, each to its own Monte Carlo replica D⁽ᵏ⁾ = D + ε⁽ᵏ⁾ with its own training/validation
split, look-back stopping with patience, all replicas in one compiled program. With
``closure_fits = K`` the whole test is repeated on K independent level-1 data sets (all
K × replicas networks still train at once) for the bias–variance ratio.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .. import _checks
from .. import checkpoint as checkpoints
from .._progress import ProgressBar
from ..nn.activations import activation as get_activation
from ..nn.dropout import check_rate
from ..nn.initializers import INIT_NAMES
from ..result import Status
from . import buckets, methods, model, observables, replicas, setup
from . import data as pdf_data
from . import grid as pdf_grid
from .result import FitResult
from .truth import MOMENTUM_FRACTION, Truth, load_truth

OPTIMIZERS = methods.METHODS
"""Training methods of the replicas: ``adam`` (the default), ``gd``, ``momentum``, ``nesterov``,
``rmsprop`` (the lecture's first-order rules), ``cmaes``, ``ga``."""
POPULATION_DEFAULTS = {
    "cmaes": {"sigma0": 0.1, "popsize": None},
    "ga": {"popsize": 40, "elitism": 2, "tournament_size": 3, "rate": 0.05, "scale": 0.02},
}
"""Settings of the gradient-free methods (one epoch = one generation)."""
DEFAULTS = {"steps": 4000, "learning_rate": 3e-3, "hidden": (10,)}
"""Defaults of the training budget and network shared by the API and the command."""
BAND_POINTS = 200
"""Points of the band's log-spaced x-grid over the data range."""


def _replica_range(spec: Any, replicas_total: int) -> np.ndarray:
    if spec is None:
        return np.arange(replicas_total)
    if isinstance(spec, str):
        start, sep, stop = spec.partition(":")
        try:
            spec = (int(start), int(stop)) if sep else None
        except ValueError:
            spec = None
        if spec is None:
            raise ValueError("replica_range must look like START:STOP (e.g. 40:80)")
    start, stop = _pair("replica_range", spec, "(start, stop)")
    start, stop = (
        _checks.integer_at_least("replica_range's ends", end, 0) for end in (start, stop)
    )
    if not (start < stop <= replicas_total):
        raise ValueError(
            f"replica_range must satisfy 0 <= start < stop <= replicas_count ({replicas_total}),"
            f" got {start}:{stop}"
        )
    return np.arange(start, stop)


def _pair(name: str, value: Any, pair: str = "(low, high)") -> tuple[Any, Any]:
    """``value`` as a pair: a sequence of two."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError(f"{name} must be a pair {pair}, got {value!r}")
    if len(value) != 2:
        raise ValueError(f"{name} must be a pair {pair}, got {len(value)} values: {value!r}")
    return value[0], value[1]


def _hidden(hidden: Any) -> tuple[int, ...]:
    """The hidden layers' widths: a sequence of integers >= 1 (possibly empty)."""
    if isinstance(hidden, str | bytes) or not isinstance(hidden, Sequence | np.ndarray):
        raise TypeError(f"hidden must be a sequence of layer widths such as (10,), got {hidden!r}")
    return tuple(_checks.integer_at_least(f"hidden[{i}]", h, 1) for i, h in enumerate(hidden))


def _bounds(name: str, bounds: Any) -> tuple[float, float]:
    lo, hi = (_checks.finite_number(name, v) for v in _pair(name, bounds))
    if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name} must be finite (low, high) with low <= high, got {bounds!r}")
    return lo, hi


def fit(
    *,
    truth: str | Path | Truth | None = None,
    data: str | Path | None = None,
    covariance: str | Path | None = None,
    observables_set: str = "points",
    level: int = 2,
    replicas_count: int = 100,
    closure_fits: int = 1,
    replica_range: Any = None,
    steps: int = DEFAULTS["steps"],
    learning_rate: float = DEFAULTS["learning_rate"],
    hidden: tuple[int, ...] = DEFAULTS["hidden"],
    activation: str = "tanh",
    output: str = "sigmoid",
    init: str = "glorot_normal",
    validation: float = 0.25,
    patience: float = 0.1,
    threshold: float = 3.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    fit_exponents: bool = True,
    random_exponents: bool = False,
    alpha_bounds: tuple[float, float] = model.ALPHA_BOUNDS,
    beta_bounds: tuple[float, float] = model.BETA_BOUNDS,
    normalisation: float = pdf_data.NORMALISATION,
    seed: int = 0,
    data_seed: int | None = None,
    split_seed: int | None = None,
    init_seed: int | None = None,
    optimizer: str = "adam",
    optimizer_settings: dict | None = None,
    chunk_steps: int = 250,
    block: int = replicas.BLOCK,
    progress: bool = False,
    checkpoint: str | Path | None = None,
) -> FitResult:
    """Fit x·g(x) with Monte Carlo replicas; a closure test when the truth is known.

    **Arguments**

    - ``truth``: None (the default Beta-function gluon), a JSON file of its parameters, a text
      table (x, x·g, optional σ) or a truth object (:mod:`jaxmin.pdf.truth`).
    - ``data``: a table of x, value, σ and optional systematic columns (real data: no truth,
      no closure estimators; replicas D⁽ᵏ⁾ ~ N(D, C)). Excludes ``truth``.
    - ``covariance``: with ``data``, a file of the full N × N covariance (replaces the table's
      σ and systematic columns; refused unless symmetric positive definite).
    - ``observables_set``: ``points`` (F on a log x-grid), ``convolution`` (x P_qg ⊗ g and
      Mellin moments N = 3, 4) or ``both``.
    - ``level``: closure level 0, 1 or 2 (see :mod:`jaxmin.pdf.data`).
    - ``replicas_count``: replicas per fit (≥ 2: the band's spread); ``closure_fits``:
      independent level-1 data sets K.
    - ``replica_range``: fit only replicas ``start:stop`` of each data set (a string or a pair),
      to share a large fit between processes; :func:`jaxmin.pdf.merge` joins the outputs.
      Replicas are stacked in a power of two of blocks (setup stacks in a power of two of
      rows, :mod:`jaxmin.pdf.buckets`), so a range or a count that falls in the same bucket
      as one fitted before in the process (5 after 6 replicas, 0:50 after 50:100) compiles
      nothing; the padding never trains.
    - ``steps``, ``learning_rate``: the budget in epochs and the gradient rule's step (full
      batch: one update per epoch; one generation per epoch for ``cmaes`` and ``ga``).
    - ``hidden``, ``activation``, ``output``, ``init``: the network (inputs (x, ln x), one
      output), from :mod:`jaxmin.nn`.
    - ``validation``: fraction of each kind of data held out per replica for look-back.
    - ``patience``: fraction of ``steps`` without a better validation χ² after which a
      replica stops, counted once its validation χ²/N has fallen below ``threshold``.
    - ``l2``: weight decay λ ≥ 0, the training cost χ²_tr + λ Σ_l ‖W⁽ˡ⁾‖² of a gradient rule
      (the network's weights only; the χ² reported are without it).
    - ``dropout``: rate p ∈ [0, 1) of the hidden units dropped (a fresh mask each epoch,
      inverted dropout) in a gradient rule's update; look-back and the reported χ² use the
      whole network.
    - ``fit_exponents``, ``alpha_bounds``, ``beta_bounds``: preprocessing x^(1−α)(1−x)^β;
      ``random_exponents``: each replica starts its exponents uniformly within the bounds
      (False: at the middle of the bounds).
    - ``normalisation``: the correlated normalisation uncertainty of the default model.
    - ``optimizer``: ``adam`` or another first-order rule of :data:`OPTIMIZERS` (gradients by
      the hand-written backprop, step ``learning_rate``), ``cmaes`` or ``ga`` (one generation
      per epoch); ``optimizer_settings`` overrides the population methods'
      :data:`POPULATION_DEFAULTS`.
    - ``seed`` (and ``data_seed``, ``split_seed``, ``init_seed``, each defaulting to ``seed``).
    - ``block``: replicas per vectorised block. Replica k's numbers do not depend on how many
      replicas run, for a given block size (pass the same one to compare runs bit by bit); 1
      is fastest for one or a few replicas on a CPU, larger blocks for many replicas or a GPU.
    - ``chunk_steps``: epochs per compiled chunk; ``progress``: a progress bar on stderr;
      ``checkpoint``: a path written after every chunk, resumed from when it exists (to the
      numbers of an uninterrupted fit; a checkpoint of other settings, data or replicas, the
      budget ``steps`` included, is refused).

    **Returns** a :class:`~jaxmin.pdf.FitResult`.
    """
    p = _plan(**locals())
    begun = time.perf_counter()
    data_sets, obs, truth_obj, level, ids, seeds, validation = (
        p.data_sets,
        p.observables,
        p.truth,
        p.level,
        p.replica_ids,
        p.seeds,
        p.validation,
    )
    settings, cfg, dtype, model_cfg = p.settings, p.engine, p.dtype, p.engine.model
    fits = np.repeat(np.arange(len(data_sets)), ids.size)
    replica_ids = np.tile(ids, len(data_sets))
    rdata = buckets.concatenate(
        [
            setup.replica_data(ds, index, ids, level, seeds, validation, dtype)
            for index, ds in enumerate(data_sets)
        ]
    )
    settings["validation_points"] = int(rdata.val_rows.shape[1])
    params = buckets.concatenate(
        [
            setup.initial_params(index, ids, seeds.init, model_cfg, dtype)
            for index in range(len(data_sets))
        ]
    )
    keys = buckets.concatenate(
        [setup.method_keys(index, ids, seeds.init) for index in range(len(data_sets))]
    )
    fit_grid = p.grid()
    member = replicas.member_settings(
        p.learning_rate, p.patience_epochs, p.l2, keys.shape[0], dtype
    )

    start = time.perf_counter()
    state, history, compile_s = train(
        (params, keys, member),
        rdata,
        fit_grid,
        cfg,
        progress=progress,
        checkpoint=checkpoint,
        meta={"settings": settings, "data": [ds.fingerprint() for ds in data_sets]},
    )
    train_s = time.perf_counter() - start - compile_s

    x_band = np.geomspace(*obs.data_range(), BAND_POINTS)
    nodes = pdf_grid.nodes()
    band_grid = model.make_grid(
        np.concatenate([x_band, nodes]),
        np.zeros((1, x_band.size + nodes.size)),
        np.concatenate([np.zeros(x_band.size), obs.sum_rule[obs.n_points :]]),
        dtype,
    )
    best = state.best_params
    f_eval = replicas.evaluate_many(best, fit_grid, model_cfg, cfg.block).astype(np.float64)
    f_band = replicas.evaluate_many(best, band_grid, model_cfg, cfg.block).astype(np.float64)
    return FitResult(
        settings=settings,
        fits=fits,
        replica_ids=replica_ids,
        params=jax.tree.map(np.asarray, best),
        x_band=x_band,
        f_band=f_band[:, : x_band.size],
        truth_band=None if truth_obj is None else truth_obj(x_band),
        f_nodes=f_eval[:, obs.n_points :],
        predictions=obs.predict(f_eval),
        sum_rule=f_eval @ obs.sum_rule,
        data_central=np.stack([ds.central for ds in data_sets]),
        data_truth=None if truth_obj is None else data_sets[0].truth,
        covariance=data_sets[0].covariance,
        observables=obs,
        train_rows=np.asarray(rdata.train_rows),
        chi2_train=np.asarray(history["train"]),
        chi2_val=np.asarray(history["val"]),
        best_epoch=np.asarray(state.best_epoch),
        nit=np.asarray(state.epoch),
        status=np.asarray(state.status),
        timings={
            # the rest of the call after the checks and closure data sets: replica data, keys,
            # initial parameters, the final evaluation (with their programs for a new bucket)
            "setup_s": time.perf_counter() - begun - compile_s - train_s,
            "compile_s": compile_s,
            "train_s": train_s,
        },
    )


class Plan(NamedTuple):
    """A fit's checked settings and data, before anything is trained (see :func:`plan`)."""

    settings: dict
    """What the fit's report records of its settings."""
    data_sets: list
    observables: observables.Observables
    truth: Truth | None
    level: int
    replica_ids: np.ndarray
    seeds: setup.Seeds
    validation: float
    learning_rate: float
    patience_epochs: int
    l2: float
    engine: replicas.EngineConfig
    dtype: Any

    def grid(self) -> model.Grid:
        """The grid the fit evaluates F on: the observables' points and integration nodes."""
        obs = self.observables
        return model.make_grid(obs.x_eval, obs.table, obs.sum_rule, self.dtype)


def plan(**kwargs: Any) -> Plan:
    """Check :func:`fit`'s arguments (the same names and defaults) and build its data, without
    training: what :mod:`jaxmin.hyperopt` builds its trials from."""
    bound = inspect.signature(fit).bind(**kwargs)
    bound.apply_defaults()
    return _plan(**bound.arguments)


def _plan(
    *,
    truth,
    data,
    covariance,
    observables_set,
    level,
    replicas_count,
    closure_fits,
    replica_range,
    steps,
    learning_rate,
    hidden,
    activation,
    output,
    init,
    validation,
    patience,
    threshold,
    l2,
    dropout,
    fit_exponents,
    random_exponents,
    alpha_bounds,
    beta_bounds,
    normalisation,
    seed,
    data_seed,
    split_seed,
    init_seed,
    optimizer,
    optimizer_settings,
    chunk_steps,
    block,
    **_: Any,
) -> Plan:
    """The checks and data of :func:`fit` (its arguments by name; the run's own, such as
    ``progress`` and ``checkpoint``, ignored)."""
    if truth is not None and data is not None:
        raise ValueError("give either truth (a closure test) or data (a fit to your data)")
    if covariance is not None and data is None:
        raise ValueError("covariance needs data (a table of your data points)")
    _checks.one_of("optimizer", optimizer, OPTIMIZERS)
    method_settings = _method_settings(optimizer, optimizer_settings)
    level = pdf_data.closure_levels(level)
    replicas_count = _checks.integer_at_least("replicas_count", replicas_count, 2)
    closure_fits = _checks.integer_at_least("closure_fits", closure_fits, 1)
    epochs = _checks.integer_at_least("steps", steps, 1, _checks.COUNT_MAX)
    chunk_steps = min(_checks.integer_at_least("chunk_steps", chunk_steps, 1), epochs)
    block = _checks.integer_at_least("block", block, 1)
    member = member_values(learning_rate, patience, l2, epochs, optimizer)
    learning_rate, patience, l2, patience_epochs = member
    validation = _checks.unit_interval("validation", validation)
    threshold = _checks.positive("threshold", threshold)
    dropout = check_rate(dropout)
    if dropout > 0 and optimizer in POPULATION_DEFAULTS:
        raise ValueError(f"dropout applies to the gradient rules, not to {optimizer!r}")
    normalisation = _checks.non_negative("normalisation", normalisation)
    hidden = _hidden(hidden)
    _checks.one_of("init", init, INIT_NAMES)
    ids = _replica_range(replica_range, replicas_count)
    named_seeds = {"seed": seed, "data_seed": data_seed, "split_seed": split_seed}
    for name, value in (named_seeds | {"init_seed": init_seed}).items():
        if value is not None:
            _checks.integer_at_least(name, value, 0)
    seeds = setup.Seeds(
        seed if data_seed is None else data_seed,
        seed if split_seed is None else split_seed,
        seed if init_seed is None else init_seed,
    )
    if data is not None:
        closure_only = {
            "observables_set": (observables_set, "points"),
            "level": (level, 2),
            "closure_fits": (closure_fits, 1),
            "normalisation": (normalisation, pdf_data.NORMALISATION),
        }
        for name, (value, default) in closure_only.items():
            if value != default:
                raise ValueError(
                    f"{name} sets up a closure test's pseudo-data, not a fit to your data: "
                    f"leave it at {default!r} when fitting data (got {value!r})"
                )
        obs, central, cov = pdf_data.read_data_table(data, covariance)
        data_sets = [pdf_data.DataSet(obs, central, cov, None)]
        truth_obj, level, closure_fits = None, 2, 1
    else:
        obs = observables.default(observables_set)
        truth_obj = load_truth(truth)
        data_sets, cov = setup.closure_data_sets(
            truth_obj, obs, level, closure_fits, seeds.data, normalisation
        )
    model_cfg = model.ModelConfig(
        sizes=(2, *hidden, 1),
        hidden=get_activation(activation),
        output=get_activation(output),
        alpha_bounds=_bounds("alpha_bounds", alpha_bounds),
        beta_bounds=_bounds("beta_bounds", beta_bounds),
        fit_exponents=bool(fit_exponents),
        random_exponents=bool(random_exponents),
        momentum=getattr(truth_obj, "momentum", MOMENTUM_FRACTION),
        init=init,
    )
    if len(obs) < 4:
        raise ValueError(f"a fit needs at least 4 data points, got {len(obs)}")
    dtype = jnp.zeros(()).dtype
    method = _method(optimizer, method_settings)
    cfg = replicas.EngineConfig(
        model=model_cfg,
        method=method,
        epochs=epochs,
        threshold=threshold,
        chunk=chunk_steps,
        block=block,
        devices=replicas.engine_devices(method),
        dropout=dropout,
    )
    settings = {
        "truth": None if truth_obj is None else truth_obj.describe(),
        "data": None if data is None else str(data),
        "covariance": None if covariance is None else str(covariance),
        "observables": obs.describe() | {"set": observables_set if data is None else "points"},
        "level": level,
        "replicas": replicas_count,
        "replica_range": [int(ids[0]), int(ids[-1]) + 1],
        "closure_fits": closure_fits,
        "steps": epochs,
        "optimizer": optimizer,
        "learning_rate": learning_rate,
        "optimizer_settings": method_settings,
        "network": {
            "sizes": list(model_cfg.sizes),
            "activation": activation,
            "output": output,
            "init": init,
        },
        "validation": validation,
        "patience": patience,
        "patience_epochs": patience_epochs,
        "threshold": threshold,
        "l2": l2,
        "dropout": dropout,
        "fit_exponents": model_cfg.fit_exponents,
        "random_exponents": model_cfg.random_exponents,
        "alpha_bounds": list(model_cfg.alpha_bounds),
        "beta_bounds": list(model_cfg.beta_bounds),
        "normalisation": normalisation,
        "momentum": model_cfg.momentum,
        "seeds": seeds._asdict(),
        "chunk_steps": chunk_steps,
        "block": block,
        "dtype": str(dtype),
    }

    return Plan(
        settings=settings,
        data_sets=data_sets,
        observables=obs,
        truth=truth_obj,
        level=level,
        replica_ids=ids,
        seeds=seeds,
        validation=validation,
        learning_rate=learning_rate,
        patience_epochs=patience_epochs,
        l2=l2,
        engine=cfg,
        dtype=dtype,
    )


def member_values(
    learning_rate: Any, patience: Any, l2: Any, epochs: int, optimizer: str
) -> tuple[float, float, float, int]:
    """A member's settings checked as :func:`fit` checks them: (η, patience, λ, patience in
    epochs ⌈patience × epochs⌉ ≥ 1)."""
    learning_rate = _checks.positive("learning_rate", learning_rate)
    patience = _checks.positive("patience", patience)
    l2 = _checks.non_negative("l2", l2)
    if l2 > 0 and optimizer in POPULATION_DEFAULTS:
        raise ValueError(f"l2 is a weight decay of the gradient rules, not of {optimizer!r}")
    return learning_rate, patience, l2, max(1, math.ceil(patience * epochs))


def _method_settings(name: str, overrides: dict | None) -> dict:
    settings = dict(POPULATION_DEFAULTS.get(name, {}))
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(
            f"optimizer_settings: {unknown} are not settings of {name!r}; "
            f"allowed: {sorted(settings)}"
        )
    settings |= overrides
    if name == "cmaes":
        _checks.positive("sigma0", settings["sigma0"])
        if settings["popsize"] is not None:
            _checks.integer_at_least("popsize", settings["popsize"], 2)
    if name == "ga":
        popsize = _checks.integer_at_least("popsize", settings["popsize"], 2)
        _checks.integer_at_least("elitism", settings["elitism"], 0)
        if settings["elitism"] >= popsize:
            raise ValueError(f"elitism must be < popsize ({popsize}), got {settings['elitism']}")
        _checks.integer_at_least("tournament_size", settings["tournament_size"], 1)
        _checks.non_negative("rate", settings["rate"])
        _checks.non_negative("scale", settings["scale"])
    return settings


def _method(name: str, settings: dict):
    if name not in POPULATION_DEFAULTS:
        return methods.FirstOrder(name)
    if name == "cmaes":
        return methods.CMAES(**settings)
    return methods.GeneticAlgorithm(**settings)


_COMPILED: dict = {}
"""Compiled chunks by configuration and argument shapes: a second fit of the same shapes in
the same process (a replica range or count in the same power-of-two bucket, a merge check, a
notebook re-run) compiles nothing."""


def _compiled_chunk(state, rdata, fit_grid, order, cfg):
    """``replicas.chunk_many`` compiled ahead of time for these shapes (cached)."""
    signature = jax.tree.map(lambda a: (a.shape, str(a.dtype)), (state, rdata, fit_grid))
    key = (cfg, jax.tree.structure(signature), tuple(jax.tree.leaves(signature)))
    if key not in _COMPILED:
        lowered = replicas.chunk_many.lower(state, rdata, fit_grid, order, order, cfg)
        _COMPILED[key] = lowered.compile()
    return _COMPILED[key]


def train(
    start: tuple,
    rdata: replicas.ReplicaData,
    fit_grid: model.Grid,
    cfg: replicas.EngineConfig,
    *,
    members: int | None = None,
    progress: bool = False,
    checkpoint: str | Path | None = None,
    meta: dict | None = None,
) -> tuple[replicas.ReplicaState, dict, float]:
    """Train members until every one has stopped, in compiled chunks of ``cfg.chunk`` epochs.

    ``start`` = (initial parameters, method keys, :class:`~replicas.MemberSettings`), stacked
    over members like ``rdata``; the first ``members`` of them are trained (all by default),
    the others are padding that never runs. With ``progress``, a progress bar on stderr; with
    ``checkpoint``, the state is written after every chunk and resumed from when the file
    exists (refused unless its ``meta`` equals this run's).

    **Returns** the final state (host arrays, the members in order), the per-epoch χ² history
    (``train``, ``val``) and the compile time in seconds.
    """
    path = checkpoint
    members = int(rdata.target.shape[0]) if members is None else members
    # a power of two of blocks: fits of similar sizes share their programs
    rdata = replicas.pad_to_blocks(rdata, cfg.block, cfg.devices, power_of_two=True)
    start = replicas.pad_to_blocks(start, cfg.block, cfg.devices, power_of_two=True)
    state = replicas.init_many(*start, rdata, fit_grid, cfg)
    padded = int(rdata.target.shape[0])
    # the padding copies never run: their blocks are skipped once the members have moved out
    real = np.arange(padded) < members
    state = state._replace(status=jnp.where(real, state.status, int(Status.MAX_STEPS)))
    n_chunks = math.ceil(cfg.epochs / cfg.chunk)
    width = n_chunks * cfg.chunk
    history = {
        "train": np.full((padded, width), np.nan, np.float32),
        "val": np.full((padded, width), np.nan, np.float32),
        "chunks_done": np.zeros((), np.int64),
        "slots": np.arange(padded),
    }
    # the padded rows: a checkpoint of another layout (an older version's) is another run
    meta = (meta or {}) | {"jax": jax.__version__, "devices": cfg.devices, "rows": padded}
    if path is not None and Path(path).exists():
        loaded, history = checkpoints.load(path, (state, history), meta)
        history = jax.tree.map(np.array, history)
        # placed as a fresh state is (sharded over the devices), as the compiled chunk expects
        state = jax.tree.map(lambda new, fresh: jax.device_put(new, fresh.sharding), loaded, state)
    # slot i of the state holds member slots[i]: the running members are moved together
    # (replicas.running_first), so that the blocks of stopped ones are skipped
    slots = history["slots"]
    unchanged = jnp.arange(padded)
    bar = ProgressBar(cfg.epochs, "fit", enabled=progress)
    compile_s = 0.0
    first = int(history["chunks_done"])
    if first and progress:
        bar.resumed(int(jnp.max(state.epoch)))
    for index in range(first, n_chunks):
        running = np.asarray(state.status) == replicas.RUNNING
        if not running.any():
            break
        order = replicas.running_first(running, cfg.block, cfg.devices)
        if order is not None:
            slots = history["slots"] = slots[order]
        tick = time.perf_counter()
        if index == first:
            compiled = _compiled_chunk(state, rdata, fit_grid, unchanged, cfg)
            compile_s = time.perf_counter() - tick
            tick = time.perf_counter()
        state_order = unchanged if order is None else jnp.asarray(order)
        state, (train, val) = compiled(state, rdata, fit_grid, state_order, jnp.asarray(slots))
        columns = slice(index * cfg.chunk, (index + 1) * cfg.chunk)
        history["train"][slots, columns] = np.asarray(train)
        history["val"][slots, columns] = np.asarray(val)
        history["chunks_done"] = np.asarray(index + 1)
        if path is not None:
            checkpoints.save(path, (state, history), meta)
        rate = cfg.chunk / max(time.perf_counter() - tick, 1e-9)
        real = slots < members
        stopped = int(np.sum(np.asarray(state.status)[real] != replicas.RUNNING))
        best = float(np.min(np.asarray(state.best_val)[real]))
        bar.update(
            int(jnp.max(state.epoch)),
            f"stopped {stopped}/{members}, best val χ²/N {best:.3g}, {rate:.0f} epochs/s",
        )
    bar.close()
    state = buckets.take(state, np.argsort(slots)[:members])
    run = int(np.max(state.epoch))
    history = {key: history[key][:members, :run] for key in ("train", "val")}
    return state, history, compile_s


__all__ = ["OPTIMIZERS", "Status", "fit"]
