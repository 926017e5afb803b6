"""Training: mini-batch epochs compiled in chunks, look-back and patience stopping, ensembles.

:func:`train` fits one network, or with ``batched=True`` many at once (different seeds,
different data, or both) under ``vmap`` in one compiled program; a single network is an ensemble
of one, so a member gives the same numbers alone and inside an ensemble. Between compiled chunks
of ``chunk_steps`` epochs the Python side updates a progress bar, writes a checkpoint, and
stops once every member has stopped. See :mod:`jaxmin.nn.epoch` for what one epoch does.
"""

from __future__ import annotations

import math
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _checks, checkpoint
from .._identity import ByContent, compiled, fingerprint
from .._progress import ProgressBar
from ..optim import adam
from ..result import Status, status_names
from .activations import Activation
from .backprop import prepare
from .dropout import check_rate
from .epoch import Config, chunk, init_state, split_data
from .losses import Loss
from .mlp import Params, sizes_of

GRADIENTS = ("backprop", "autodiff")
"""Where the gradients come from: the hand-written backward pass, or ``jax.grad``."""


class TrainResult(NamedTuple):
    """Outcome of :func:`train` (with ``batched=True``, every field has a leading member axis).

    **Fields**

    - ``params``: the parameters at the best epoch (look-back) — or the last ones with
      ``lookback=False``.
    - ``final_params``: the parameters after the last epoch run (the last finite ones if the
      run diverged).
    - ``best_epoch``: the epoch (1-based) with the lowest monitored loss: the validation loss,
      or the training loss without a validation split; 0 where no epoch ended with a finite
      one (``params`` are then the initial ones).
    - ``fun``: the monitored loss at ``params``, as ``fun`` is for every result of jaxmin: the
      lowest, or with ``lookback=False`` that of the last epoch whose parameters were kept.
    - ``nit``: epochs completed (the iterations of training).
    - ``status``: ``max_steps`` (all epochs ran), ``stopped_early`` (patience ran out) or
      ``diverged`` (a non-finite loss or parameter stopped the run), as an integer code.
    - ``train_loss``, ``val_loss``: the loss on the whole training / validation set after each
      epoch (without dropout or the L2 penalty), one column per epoch up to the last epoch of
      the member that ran longest (NaN after a member stopped); inside the user's ``jit`` or
      ``vmap``, where the length cannot depend on the run, ``steps`` columns, NaN after the
      last epoch (as the population methods' histories); ``val_loss`` has length 0 without a
      validation split.
    - ``val_rows``: the indices of the rows of ``x`` held out for validation.
    """

    params: Params
    final_params: Params
    best_epoch: np.ndarray
    fun: np.ndarray
    nit: np.ndarray
    status: np.ndarray
    train_loss: np.ndarray
    val_loss: np.ndarray
    val_rows: np.ndarray

    @property
    def status_name(self) -> str | list:
        """The status as a name, or a list of names for an ensemble."""
        return status_names(self.status)

    def summary(self) -> dict:
        """A JSON-serialisable dict of the outcome (no parameters)."""
        return {
            "best_epoch": np.asarray(self.best_epoch).tolist(),
            "fun": np.asarray(self.fun).tolist(),
            "nit": np.asarray(self.nit).tolist(),
            "status": self.status_name,
            "train_loss": np.asarray(self.train_loss).tolist(),
            "val_loss": np.asarray(self.val_loss).tolist(),
        }


@partial(jax.jit, static_argnums=(4, 5))
def _split_many(keys, x, y, loss, cfg, data_axis):
    return jax.vmap(split_data, in_axes=(0, data_axis, data_axis, None, None))(
        keys, x, y, loss, cfg
    )


@partial(jax.jit, static_argnums=2)
def _init_many(params, keys, cfg):
    return jax.vmap(init_state, in_axes=(0, 0, None))(params, keys, cfg)


@partial(jax.jit, static_argnums=2)
def _chunk_many(state, data, cfg):
    return jax.vmap(chunk, in_axes=(0, 0, None))(state, data, cfg)


def _as_keys(keys: Any, members: int) -> jax.Array:
    keys = jnp.asarray(keys) if not isinstance(keys, jax.Array) else keys
    if not jax.dtypes.issubdtype(keys.dtype, jax.dtypes.prng_key):
        if keys.dtype != jnp.uint32 or keys.shape[-1:] != (2,):
            raise TypeError(f"key must be a JAX random key (jax.random.key), got {keys!r}")
        keys = jax.random.wrap_key_data(keys)
    if keys.shape != (members,):
        raise ValueError(f"key must hold one key per member ({members}), got shape {keys.shape}")
    return keys


def _config(sizes, hidden, output, loss: Loss, optimizer, n_rows: int, settings: dict) -> Config:
    """Check the training settings and build the static configuration."""
    epochs = _checks.integer_at_least("steps", settings["steps"], 1, _checks.COUNT_MAX)
    validation = settings["validation"]
    if not isinstance(validation, float | int) or isinstance(validation, bool):
        raise TypeError(f"validation must be a fraction in [0, 1), got {validation!r}")
    _checks.unit_interval("validation", validation)
    n_val = int(round(validation * n_rows))
    if validation > 0 and (n_val == 0 or n_val == n_rows):
        raise ValueError(
            f"validation={validation} of {n_rows} rows leaves an empty training or validation set"
        )
    n_train = n_rows - n_val
    batch_size = settings["batch_size"]
    batch_size = n_train if batch_size is None else batch_size
    batch_size = _checks.integer_at_least("batch_size", batch_size, 1)
    if batch_size > n_train:
        raise ValueError(f"batch_size must be <= the {n_train} training rows, got {batch_size}")
    if not loss.mini_batch and batch_size != n_train:
        raise ValueError(
            f"loss {loss.name!r} does not split into mini-batches (correlated rows): "
            f"use batch_size=None (all {n_train} training rows)"
        )
    dropout = check_rate(settings["dropout"])
    if dropout > 0 and len(sizes) < 3:
        raise ValueError("dropout needs a hidden layer: sizes has none")
    patience = settings["patience"]
    patience = 0 if patience is None else _checks.integer_at_least("patience", patience, 1)
    if not (hasattr(optimizer, "init") and hasattr(optimizer, "update")):
        raise TypeError(f"optimizer must be an optax GradientTransformation, got {optimizer!r}")
    return Config(
        sizes=sizes,
        hidden=hidden,
        output=output,
        optimizer=ByContent(optimizer),
        epochs=epochs,
        batch_size=batch_size,
        n_train=n_train,
        n_val=n_val,
        dropout=dropout,
        l2=_checks.non_negative("l2", settings["l2"]),
        gradient=_checks.one_of("gradient", settings["gradient"], GRADIENTS),
        patience=patience,
        chunk=min(_checks.integer_at_least("chunk_steps", settings["chunk_steps"], 1), epochs),
    )


def _meta(cfg: Config, chunk_steps: int, members: int, identity: dict) -> dict:
    """What identifies a run in its checkpoint: everything that determines its numbers — the
    settings, and fingerprints (:func:`jaxmin._identity.fingerprint`) of the optimiser, the loss,
    the activations, the data, the initial parameters and the keys — except the budget
    (``steps``), so that a finished run can be extended."""
    fields = cfg._asdict()
    for name in ("optimizer", "hidden", "output", "epochs", "chunk"):
        fields.pop(name)
    fields |= {"sizes": list(cfg.sizes), "chunk_steps": chunk_steps, "members": members}
    return fields | {name: fingerprint(value) for name, value in identity.items()}


def _extend(state: Any, epochs: int, path: Any) -> Any:
    """A resumed state for a run of ``epochs``: members that ended on the epoch budget of a
    shorter run (``max_steps``) run on, and members stopped while running that have reached
    ``epochs`` end with ``max_steps``; a checkpoint further than ``steps`` is refused."""
    done = int(jnp.max(state.epoch))
    if done > epochs:
        raise ValueError(
            f"checkpoint {str(path)!r} has run {done} epochs, more than steps={epochs}: "
            f"pass steps >= {done} to resume it"
        )
    budget = (state.status == int(Status.MAX_STEPS)) | (state.status == -1)
    status = jnp.where(state.epoch < epochs, -1, int(Status.MAX_STEPS))
    return state._replace(status=jnp.where(budget, status, state.status).astype(state.status.dtype))


_SETTINGS = (
    "activation",
    "loss",
    "output",
    "optimizer",
    "steps",
    "batch_size",
    "validation",
    "lookback",
    "patience",
    "dropout",
    "l2",
    "gradient",
    "chunk_steps",
    "progress",
    "checkpoint",
)
"""The settings of :func:`train` that reach the compiled program."""


def _settings(arguments: dict) -> dict:
    """The shared settings out of a call's arguments (``locals()``)."""
    return {name: arguments[name] for name in _SETTINGS}


@jax.jit
def _with_member_axis(tree: Any) -> Any:
    """Every leaf with a leading member axis of one (one dispatch for the whole tree)."""
    return jax.tree.map(lambda leaf: leaf[None], tree)


@jax.jit
def _first_members(leaves: list) -> list:
    return [leaf[0] for leaf in leaves]


def _first_member_of(tree: Any) -> Any:
    """``leaf[0]`` of every leaf: NumPy leaves indexed on the host, JAX arrays in one dispatch."""
    leaves, structure = jax.tree.flatten(tree)
    firsts = iter(_first_members([leaf for leaf in leaves if not isinstance(leaf, np.ndarray)]))
    return jax.tree.unflatten(
        structure, [leaf[0] if isinstance(leaf, np.ndarray) else next(firsts) for leaf in leaves]
    )


def _run(params, x, y, keys, data_axis, members, **settings) -> TrainResult:
    # one member's shapes (no values are needed to check the network and its data)
    single = jax.tree.map(lambda leaf: jax.ShapeDtypeStruct(leaf.shape[1:], leaf.dtype), params)
    sizes = sizes_of(single)
    x_rows = x if data_axis is None else x[0]
    y_rows = y if data_axis is None else y[0]
    _, x_checked, y_checked, hidden, output, loss, _ = prepare(
        single,
        x_rows,
        y_rows,
        settings.pop("activation"),
        settings.pop("loss"),
        settings.pop("output"),
    )
    n_rows = y_checked.shape[0]
    dtype = jax.tree.leaves(single)[0].dtype
    if data_axis is None:  # the rows of x without the loss's grid rows, if it has any
        x = x_checked if x_checked.shape[0] == n_rows else x_checked[:n_rows]
        x, y = (data if data.dtype == dtype else data.astype(dtype) for data in (x, y_checked))
    else:
        x = jnp.asarray(x, dtype).reshape(members, n_rows, sizes[0])
        y = jnp.asarray(y, dtype).reshape(members, n_rows, sizes[-1])
    optimizer = settings.pop("optimizer")
    optimizer = adam(1e-3) if optimizer is None else optimizer
    lookback = _checks.flag("lookback", settings.pop("lookback"))
    progress = settings.pop("progress")
    path = settings.pop("checkpoint")
    chunk_steps = settings["chunk_steps"]
    cfg = _config(sizes, hidden, output, loss, optimizer, n_rows, settings)

    traced = _checks.traced((params, x, y, keys))
    # the optimiser and the loss's functions are static arguments of the programs: inside the
    # user's trace either may hold their traced values (then no program is cached for them)
    statics = (cfg.optimizer, ByContent(loss.functions()) if traced else None)
    data = compiled(_split_many, *statics)(keys, x, y, loss, cfg, data_axis)
    state = compiled(_init_many, *statics)(params, keys, cfg)
    if traced:
        if path is not None:
            raise ValueError(
                "checkpoint needs concrete inputs: inside jit or vmap the run is one program"
            )
        state, history = _all_chunks(state, data, cfg, statics)
        return _result(state, history, data, cfg, lookback, jnp.asarray)
    history = {"train": np.zeros((members, 0), dtype), "val": np.zeros((members, 0), dtype)}
    if path is not None:
        identity = {
            "optimizer": optimizer,
            "loss": loss,
            "activations": (hidden, output),
            "data": (x, y),
            "params": params,
            "keys": keys,
        }
        meta = _meta(cfg, chunk_steps, members, identity)
        if Path(path).exists():
            growing = checkpoint.AnyLength((members,), dtype)
            state, history = checkpoint.load(
                path, (state, {"train": growing, "val": growing}), meta
            )
            state = _extend(state, cfg.epochs, path)
    bar = ProgressBar(cfg.epochs, "train", enabled=progress)
    # the history holds one column per epoch up to the furthest member (running members are
    # all there; stopped ones have NaN after their last epoch)
    done = int(np.max(np.asarray(state.epoch)))
    bar.resumed(done)
    while done < cfg.epochs and np.any(np.asarray(state.status) == -1):
        state, losses = _chunk_many(state, data, cfg)
        done = int(np.max(np.asarray(state.epoch)))
        history = {
            name: np.concatenate([history[name], np.asarray(new)], axis=1)[:, :done]
            for name, new in zip(("train", "val"), losses, strict=True)
        }
        if path is not None:
            checkpoint.save(path, (state, history), meta)
        if progress:
            bar.update(done, f"training loss {np.nanmin(history['train'][:, done - 1]):.4g}")
    bar.close()

    return _result(state, history, data, cfg, lookback, np.asarray)


def _all_chunks(state: Any, data: Any, cfg: Config, statics: tuple) -> tuple[Any, dict]:
    """Every chunk in one program (for traced inputs): the final state and the history,
    ``epochs`` columns per member (NaN after a member's last epoch). ``statics``: the
    content-keyed parts of ``cfg`` (:func:`~jaxmin._identity.compiled`)."""
    n_chunks = math.ceil(cfg.epochs / cfg.chunk)
    chunk = compiled(_chunk_many, *statics)
    state, losses = jax.lax.scan(lambda s, _: chunk(s, data, cfg), state, None, length=n_chunks)

    def columns(chunks):  # (n_chunks, members, chunk) -> (members, epochs)
        return jnp.moveaxis(chunks, 0, 1).reshape(chunks.shape[1], -1)[:, : cfg.epochs]

    return state, {"train": columns(losses[0]), "val": columns(losses[1])}


def _result(state, history, data, cfg: Config, lookback: bool, as_array) -> TrainResult:
    """The result; its counts, status and histories as NumPy arrays (``as_array=np.asarray``)
    or, inside the user's ``jit``/``vmap``, as JAX arrays (``jnp.asarray``)."""
    monitored = history["val"] if cfg.n_val else history["train"]
    fun = state.best_monitor
    if not lookback:  # the monitored loss at the last parameters
        fun = _last_finite(history["train"], monitored, state.best_monitor)
    return TrainResult(
        params=state.best_params if lookback else state.params,
        final_params=state.params,
        best_epoch=as_array(state.best_epoch),
        fun=as_array(fun),
        nit=as_array(state.epoch),
        status=as_array(state.status),
        train_loss=as_array(history["train"]),
        val_loss=as_array(history["val"] if cfg.n_val else history["val"][:, :0]),
        val_rows=as_array(data.val_rows),
    )


def _last_finite(train: Any, monitored: Any, fallback: Any) -> Any:
    """Per member (rows), ``monitored`` at the last epoch (column) whose training and monitored
    losses are both finite — the epoch whose parameters a run keeps, as a diverging epoch's
    are undone —, or ``fallback`` where there is none (NumPy or JAX arrays)."""
    xp = np if isinstance(monitored, np.ndarray) else jnp
    if monitored.shape[1] == 0:
        return fallback
    finite = xp.isfinite(train) & xp.isfinite(monitored)
    last = monitored.shape[1] - 1 - xp.argmax(finite[:, ::-1], axis=1)
    value = xp.take_along_axis(monitored, last[:, None], axis=1)[:, 0]
    return xp.where(xp.any(finite, axis=1), value, fallback)


def train(
    params: Params,
    x: Any,
    y: Any,
    *,
    key: jax.Array,
    activation: str | Activation,
    loss: str | Loss = "mse",
    output: str | Activation = "linear",
    optimizer: optax.GradientTransformation | None = None,
    steps: int = 1000,
    batch_size: int | None = None,
    validation: float = 0.0,
    lookback: bool = True,
    patience: int | None = None,
    dropout: float = 0.0,
    l2: float = 0.0,
    gradient: str = "backprop",
    batched: bool = False,
    data_axis: int | None = None,
    chunk_steps: int = 100,
    progress: bool = False,
    checkpoint: str | Path | None = None,
) -> TrainResult:
    """Train a network by mini-batch gradient descent, compiled in chunks of epochs.

    Each epoch shuffles the training rows (from ``key``), runs one optimiser update per
    mini-batch with gradients of E + λΣ‖W‖² from the hand-written backprop, then records the
    training and validation losses. Look-back keeps the parameters of the epoch with the lowest
    validation loss; patience stops once it has not improved for ``patience`` epochs.

    **Arguments**

    - ``params``: initial parameters (:func:`~jaxmin.nn.init_mlp`); ``x``, ``y``: data rows.
    - ``key``: a JAX random key: validation split, shuffles and dropout masks derive from it.
    - ``activation``, ``output``, ``loss``: as for :func:`~jaxmin.nn.backprop`.
    - ``optimizer``: any optax GradientTransformation (default ``jaxmin.optim.adam(1e-3)``).
    - ``steps``: the budget, the most epochs (≥ 1); an epoch is one pass over the training
      rows, ⌊n_train/B⌋ optimiser updates.
    - ``batch_size``: rows per mini-batch, at most the training rows (default: all of them,
      full-batch descent); the ⌊n_train/B⌋ batches of an epoch leave out the remainder of a
      random shuffle.
    - ``validation``: the fraction of rows held out at random for validation (0: none).
    - ``lookback``: return the parameters of the best epoch (True) or of the last (False).
    - ``patience``: stop after this many (≥ 1) epochs without improvement (None: never).
    - ``dropout``: the rate p ∈ [0, 1) of inverted dropout on hidden units, training only.
    - ``l2``: λ ≥ 0 of the penalty λ Σ_l ‖W⁽ˡ⁾‖² on the weights (not the biases).
    - ``gradient``: ``"backprop"`` (hand-written) or ``"autodiff"`` (``jax.grad``).
    - ``batched``: train many networks at once in one compiled program (``vmap`` over
      members): every leaf of ``params`` has a leading member axis (e.g. from
      ``jax.vmap(lambda k: init_mlp(k, sizes))(keys)``) and ``key`` holds one key per member.
      Each member has its own validation split, shuffles and dropout masks, from its key, and
      gives the same numbers as when trained alone.
    - ``data_axis``: with ``batched=True``, ``0`` if ``x`` and ``y`` also carry a leading
      member axis (a data set per member, such as Monte Carlo replicas); None: shared data.
    - ``chunk_steps``: epochs per compiled chunk (progress and checkpoints between chunks).
    - ``progress``: show a progress bar on stderr.
    - ``checkpoint``: a ``.npz`` path written after every chunk; if it exists when the run
      starts, the run resumes from it and ends with the same numbers as an uninterrupted run.
      A checkpoint of another run (other data, network, settings or key) is refused; ``steps``
      may grow (members that ran out of epochs run on, as in one longer run), and fewer steps
      than the checkpoint has run are refused.

    **Returns**

    A :class:`TrainResult` (with ``batched=True``, every field has a leading member axis).
    """
    if not batched:
        if data_axis is not None:
            raise ValueError("data_axis needs batched=True (a leading member axis on params)")
        sizes_of(params)  # a malformed network is named before anything is stacked
        if isinstance(key, jax.Array):
            stacked, key = _with_member_axis((params, key))
        else:
            stacked = _with_member_axis(params)
        result = _run(stacked, x, y, _as_keys(key, 1), None, 1, **_settings(locals()))
        return _first_member_of(result)
    members = _checks.leading_axis("params", params)
    if data_axis not in (None, 0):
        raise ValueError(f"data_axis must be None (shared data) or 0, got {data_axis!r}")
    if data_axis == 0:
        for name, data in (("x", x), ("y", y)):
            if jnp.ndim(data) < 2 or jnp.shape(data)[0] != members:
                raise ValueError(
                    f"with data_axis=0, {name} must have a leading axis of {members} members, "
                    f"got shape {jnp.shape(data)}"
                )
            _checks.finite_where_known(name, data)
    return _run(params, x, y, _as_keys(key, members), data_axis, members, **_settings(locals()))
