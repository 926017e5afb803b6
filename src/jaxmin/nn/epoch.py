"""The compiled core of training: one member's data split, epoch and chunk of epochs.

Everything here acts on one network and is written to be ``vmap``-ed over an ensemble. All
randomness derives from the member's key by ``fold_in`` of the epoch (and mini-batch) number, so
an epoch's shuffle and dropout masks do not depend on how the run was chunked, batched with
other members, or resumed from a checkpoint.

One epoch, with n_b = ⌊n_train / B⌋ mini-batches of B rows (a remainder of rows sits the
epoch out; the shuffle changes which):

    for each mini-batch b:  g = ∂E_b/∂θ + 2λ W   (backprop, with an inverted-dropout mask)
                            (u, s) = optimizer.update(g, s, θ);  θ ← θ + u
    E_train, E_val = E(θ) on the whole training and validation rows (no dropout, no penalty)

then look-back bookkeeping: the parameters with the lowest monitored loss (E_val, or E_train
without a validation split) so far are kept with their epoch, and patience stops a member whose
monitored loss has not improved for ``patience`` epochs.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..result import Status
from .activations import Activation
from .backprop import autodiff_loss_and_grad, loss_and_grad, loss_value
from .dropout import dropout_masks
from .losses import Loss
from .mlp import with_weight_decay

RUNNING = -1
"""Status of a member that is still training."""


class Config(NamedTuple):
    """Static settings of a run (hashable: a ``jit`` static argument)."""

    sizes: tuple[int, ...]
    hidden: Activation
    output: Activation
    optimizer: Any
    """The optax GradientTransformation, wrapped in :class:`jaxmin._identity.ByContent` so that
    a fresh optimiser with the same settings finds the compiled program."""
    epochs: int
    batch_size: int
    n_train: int
    n_val: int
    dropout: float
    l2: float
    gradient: str
    patience: int
    chunk: int


class MemberData(NamedTuple):
    """One member's training and validation rows, with the loss restricted to each."""

    x_train: jax.Array
    y_train: jax.Array
    loss_train: Loss
    x_val: jax.Array
    y_val: jax.Array
    loss_val: Loss
    val_rows: jax.Array


class MemberState(NamedTuple):
    """What a member carries from epoch to epoch (everything a checkpoint needs)."""

    params: Any
    opt_state: Any
    best_params: Any
    best_monitor: jax.Array
    best_epoch: jax.Array
    epoch: jax.Array
    status: jax.Array
    key: jax.Array


def split_data(key: jax.Array, x: jax.Array, y: jax.Array, loss: Loss, cfg: Config) -> MemberData:
    """A key-driven random split into n_train training and n_val validation rows."""
    rows = jax.random.permutation(jax.random.fold_in(key, 0), x.shape[0])
    if cfg.n_val == 0:
        rows = jnp.arange(x.shape[0])
    train_rows, val_rows = rows[: cfg.n_train], rows[cfg.n_train :]
    return MemberData(
        x[train_rows],
        y[train_rows],
        loss.restrict(train_rows),
        x[val_rows],
        y[val_rows],
        loss.restrict(val_rows),
        val_rows,
    )


def init_state(params: Any, key: jax.Array, cfg: Config) -> MemberState:
    """The state before the first epoch."""
    zero = jnp.zeros((), jnp.int32)
    return MemberState(
        params=params,
        opt_state=cfg.optimizer.value.init(params),
        best_params=params,
        best_monitor=jnp.asarray(jnp.inf, jax.tree.leaves(params)[0].dtype),
        best_epoch=zero,
        epoch=zero,
        status=jnp.full((), RUNNING, jnp.int32),
        key=key,
    )


def _with_grid(x: jax.Array, loss: Loss) -> jax.Array:
    return x if loss.grid is None else jnp.concatenate([x, loss.grid.astype(x.dtype)], axis=0)


def _value(params: Any, x: jax.Array, y: jax.Array, loss: Loss, cfg: Config) -> jax.Array:
    return loss_value(params, _with_grid(x, loss), y, cfg.hidden, cfg.output, loss)


def _minibatch_step(params, opt_state, x, y, loss: Loss, key, cfg: Config):
    """One optimiser update on one mini-batch."""
    inputs = _with_grid(x, loss)
    masks = None
    if cfg.dropout > 0:
        masks = dropout_masks(key, cfg.sizes, inputs.shape[0], cfg.dropout, x.dtype)
    grad_fn = loss_and_grad if cfg.gradient == "backprop" else autodiff_loss_and_grad
    _, grads = grad_fn(params, inputs, y, cfg.hidden, cfg.output, loss, masks)
    if cfg.l2 > 0:
        grads = with_weight_decay(grads, params, cfg.l2)
    updates, opt_state = cfg.optimizer.value.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _train_one_epoch(state: MemberState, data: MemberData, cfg: Config):
    """θ after one epoch of mini-batches, and the optimiser state."""
    shuffle_key, dropout_key = jax.random.split(jax.random.fold_in(state.key, 1))
    epoch_dropout_key = jax.random.fold_in(dropout_key, state.epoch)
    if cfg.batch_size == cfg.n_train:
        return _minibatch_step(
            state.params,
            state.opt_state,
            data.x_train,
            data.y_train,
            data.loss_train,
            jax.random.fold_in(epoch_dropout_key, 0),
            cfg,
        )
    n_batches = cfg.n_train // cfg.batch_size
    order = jax.random.permutation(jax.random.fold_in(shuffle_key, state.epoch), cfg.n_train)
    batches = order[: n_batches * cfg.batch_size].reshape(n_batches, cfg.batch_size)

    def step(carry, inputs):
        rows, index = inputs
        return _minibatch_step(
            *carry,
            data.x_train[rows],
            data.y_train[rows],
            data.loss_train.restrict(rows),
            jax.random.fold_in(epoch_dropout_key, index),
            cfg,
        ), None

    carry, _ = jax.lax.scan(step, (state.params, state.opt_state), (batches, jnp.arange(n_batches)))
    return carry


def _finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def epoch(state: MemberState, data: MemberData, cfg: Config):
    """One epoch and its bookkeeping; a member that has stopped is left unchanged.

    Returns the new state and ``(E_train, E_val)`` of the epoch (NaN where nothing ran).
    """
    params, opt_state = _train_one_epoch(state, data, cfg)
    train_loss = _value(params, data.x_train, data.y_train, data.loss_train, cfg)
    val_loss = (
        _value(params, data.x_val, data.y_val, data.loss_val, cfg) if cfg.n_val else train_loss
    )
    finite = jnp.isfinite(train_loss) & jnp.isfinite(val_loss) & _finite(params)
    count = state.epoch + 1
    improved = finite & (val_loss < state.best_monitor)
    best_epoch = jnp.where(improved, count, state.best_epoch)
    status = jnp.where(finite, RUNNING, int(Status.DIVERGED))
    if cfg.patience:
        patience_out = finite & (count - best_epoch >= cfg.patience)
        status = jnp.where(patience_out, int(Status.STOPPED_EARLY), status)
    status = jnp.where((status == RUNNING) & (count >= cfg.epochs), int(Status.MAX_STEPS), status)
    stepped = MemberState(
        params=jax.tree.map(lambda new, old: jnp.where(finite, new, old), params, state.params),
        opt_state=jax.tree.map(
            lambda new, old: jnp.where(finite, new, old), opt_state, state.opt_state
        ),
        best_params=jax.tree.map(
            lambda new, old: jnp.where(improved, new, old), params, state.best_params
        ),
        best_monitor=jnp.where(improved, val_loss, state.best_monitor),
        best_epoch=best_epoch,
        epoch=count,
        status=status.astype(jnp.int32),
        key=state.key,
    )
    running = state.status == RUNNING
    new_state = jax.tree.map(
        lambda new, old: jnp.where(running, new, old),
        stepped._replace(key=None),
        state._replace(key=None),
    )._replace(key=state.key)
    nan = jnp.full_like(train_loss, jnp.nan)
    return new_state, (jnp.where(running, train_loss, nan), jnp.where(running, val_loss, nan))


def chunk(state: MemberState, data: MemberData, cfg: Config):
    """``cfg.chunk`` epochs in one ``lax.scan``: the new state and the per-epoch losses."""
    return jax.lax.scan(lambda s, _: epoch(s, data, cfg), state, None, length=cfg.chunk)
