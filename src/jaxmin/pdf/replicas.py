"""Training all replicas at once: one compiled, ``vmap``-ed program, in chunks of epochs.

Each replica k has its own pseudo-data D⁽ᵏ⁾, its own training/validation split of the data
points, and its own initial parameters. One epoch of replica k:

1. evaluate F on the grid, O = T F, r = O − D⁽ᵏ⁾;
   χ²_tr = r_trᵀ C_tr⁻¹ r_tr / N_tr and χ²_val = r_valᵀ C_val⁻¹ r_val / N_val, with C_tr and
   C_val the blocks of C on the replica's training and validation points, computed as
   ‖L⁻¹T F − L⁻¹D‖²/N with C = LLᵀ: the whitened table and data are computed once per replica,
   so an epoch's χ² is one matrix–vector product (C itself is never inverted);
2. look-back: if χ²_val is the lowest so far, keep these parameters and the epoch;
   once χ²_val has fallen below ``threshold``, count epochs without improvement, and stop the
   replica (``stopped_early``) when the count reaches the patience;
3. an optimiser update with ∂χ²_tr/∂θ, plus 2λW for the network's weights under a weight decay
   λ (exponents projected onto their bounds).

The learning rate, the patience and the weight decay are per-member values
(:class:`MemberSettings`), not
compiled-in constants: members with different settings train in one program (hyperparameter
scans, :mod:`jaxmin.hyperopt`), and fits that differ only in them share one compilation.

A replica whose χ² or parameters turn non-finite stops (``diverged``) with its last finite
parameters; one that runs all epochs ends ``max_steps``. Everything a replica does derives from
its own keys and data, so it gives the same numbers among 10 or among 100 replicas.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from ..nn.dropout import dropout_masks
from ..nn.mlp import with_weight_decay
from ..result import Status
from . import buckets, model

RUNNING = -1


class EngineConfig(NamedTuple):
    """Static settings of the training loop (hashable: a ``jit`` static argument)."""

    model: model.ModelConfig
    method: Any
    """A training method of :mod:`jaxmin.pdf.methods` (hashable)."""
    epochs: int
    threshold: float
    chunk: int
    block: int
    """Replicas per vectorised block (see :data:`BLOCK`)."""
    devices: int
    """Devices the blocks are shared between (see :func:`engine_devices`)."""
    dropout: float = 0.0
    """Rate p of the hidden units dropped in each epoch's gradient (inverted dropout)."""


class ReplicaData(NamedTuple):
    """One replica's pseudo-data, split and Cholesky factors."""

    target: jax.Array
    train_rows: jax.Array
    val_rows: jax.Array
    design_train: jax.Array
    """L_tr⁻¹ T_tr: the whitened rows of the observable table on the training points."""
    whitened_train: jax.Array
    """L_tr⁻¹ D_tr: the whitened training data."""
    design_val: jax.Array
    whitened_val: jax.Array


class MemberSettings(NamedTuple):
    """A member's settings that may differ between the members of one program."""

    learning_rate: jax.Array
    """η of a gradient method (unused by the population methods)."""
    patience: jax.Array
    """Epochs without a better validation χ² after which the member stops (int32)."""
    l2: jax.Array
    """λ of the weight decay λ Σ_l ‖W⁽ˡ⁾‖² added to the training χ² of a gradient method."""


def member_settings(
    learning_rate: Any, patience: Any, l2: Any, members: int, dtype
) -> MemberSettings:
    """:class:`MemberSettings` of ``members`` members from scalars or per-member sequences."""
    return MemberSettings(  # host arrays, as the stacks they join (:mod:`~jaxmin.pdf.buckets`)
        np.broadcast_to(np.asarray(learning_rate, dtype), (members,)).copy(),
        np.broadcast_to(np.asarray(patience, np.int32), (members,)).copy(),
        np.broadcast_to(np.asarray(l2, dtype), (members,)).copy(),
    )


class ReplicaState(NamedTuple):
    """What a replica carries from epoch to epoch (everything a checkpoint needs)."""

    params: Any
    opt_state: Any
    settings: MemberSettings
    best_params: Any
    best_val: jax.Array
    best_train: jax.Array
    best_epoch: jax.Array
    epoch: jax.Array
    armed: jax.Array
    waited: jax.Array
    status: jax.Array
    key: jax.Array
    """The member's dropout key (its method key folded with 1), one mask per epoch from it."""


def _chi2(f_grid: jax.Array, design: jax.Array, whitened: jax.Array) -> jax.Array:
    return jnp.sum(jnp.square(design @ f_grid - whitened)) / whitened.shape[0]


def chi2_split(f_grid: jax.Array, data: ReplicaData):
    """(χ²_tr, χ²_val) of F on the grid against the replica's data: ‖L⁻¹(T F − D)‖²/N on
    each part (see :func:`jaxmin.pdf.setup.whitened_system`)."""
    train = _chi2(f_grid, data.design_train, data.whitened_train)
    if data.val_rows.shape[0] == 0:
        return train, train
    return train, _chi2(f_grid, data.design_val, data.whitened_val)


def _objective(data: ReplicaData, grid: model.Grid, cfg: EngineConfig):
    """(χ²_tr, χ²_val) of parameters (projected onto the exponents' bounds)."""
    return lambda params: chi2_split(
        model.evaluate(model.project(params, cfg.model), grid, cfg.model), data
    )


def init_state(
    params: Any,
    key: jax.Array,
    settings: MemberSettings,
    data: ReplicaData,
    grid: model.Grid,
    cfg: EngineConfig,
) -> ReplicaState:
    """The state before the first epoch (``key`` drives a population method's sampling)."""
    dtype = params["exponents"].dtype
    zero = jnp.zeros((), jnp.int32)
    inf = jnp.asarray(jnp.inf, dtype)
    return ReplicaState(
        params=params,
        opt_state=cfg.method.init(params, key, _objective(data, grid, cfg)),
        settings=settings,
        best_params=params,
        best_val=inf,
        best_train=inf,
        best_epoch=zero,
        epoch=zero,
        armed=jnp.zeros((), bool),
        waited=zero,
        status=jnp.full((), RUNNING, jnp.int32),
        key=jax.random.fold_in(key, 1),
    )


def _finite(tree: Any) -> jax.Array:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(leaf)) for leaf in jax.tree.leaves(tree)]))


def _where(condition: jax.Array, new: Any, old: Any) -> Any:
    return jax.tree.map(lambda a, b: jnp.where(condition, a, b), new, old)


def epoch(state: ReplicaState, data: ReplicaData, grid: model.Grid, cfg: EngineConfig):
    """One epoch of one replica; a replica that has stopped is left unchanged.

    Returns the new state and (χ²_tr, χ²_val) at the epoch's parameters (NaN once stopped).
    """

    masks = None
    if cfg.dropout > 0:
        masks = dropout_masks(
            jax.random.fold_in(state.key, state.epoch),
            cfg.model.sizes,
            grid.features.shape[0],
            cfg.dropout,
            state.best_val.dtype,
        )

    def value_and_grad(params):
        values, grads = model.value_and_grad(
            lambda f: chi2_split(f, data), params, grid, cfg.model, masks
        )
        if masks is not None:  # the χ² that look-back watches: the whole network's
            values = _objective(data, grid, cfg)(params)
        net = with_weight_decay(grads["net"], params["net"], state.settings.l2)
        return values, {**grads, "net": net}

    (train, val), params, opt_state = cfg.method.step(
        state.params,
        state.opt_state,
        state.epoch,
        _objective(data, grid, cfg),
        value_and_grad,
        state.settings.learning_rate,
    )
    params = model.project(params, cfg.model)
    if not cfg.model.fit_exponents:
        params = {**params, "exponents": state.params["exponents"]}
    finite = jnp.isfinite(train) & jnp.isfinite(val) & _finite(params)
    improved = finite & (val < state.best_val)
    armed = state.armed | (finite & (val < cfg.threshold))
    waited = jnp.where(improved, 0, state.waited + armed.astype(jnp.int32))
    count = state.epoch + 1
    status = jnp.where(finite, RUNNING, int(Status.DIVERGED))
    status = jnp.where(
        finite & (waited >= state.settings.patience), int(Status.STOPPED_EARLY), status
    )
    status = jnp.where((status == RUNNING) & (count >= cfg.epochs), int(Status.MAX_STEPS), status)
    stepped = ReplicaState(
        params=_where(finite, params, state.params),
        opt_state=_where(finite, opt_state, state.opt_state),
        settings=state.settings,
        best_params=_where(improved, state.params, state.best_params),
        best_val=jnp.where(improved, val, state.best_val),
        best_train=jnp.where(improved, train, state.best_train),
        best_epoch=jnp.where(improved, state.epoch, state.best_epoch),
        epoch=count,
        armed=armed,
        waited=waited,
        status=status.astype(jnp.int32),
        key=state.key,
    )
    running = state.status == RUNNING
    nan = jnp.full_like(train, jnp.nan)
    return _where(running, stepped, state), (
        jnp.where(running, train, nan),
        jnp.where(running, val, nan),
    )


def chunk(state: ReplicaState, data: ReplicaData, grid: model.Grid, cfg: EngineConfig):
    """``cfg.chunk`` epochs in one ``lax.scan``: the new state and the per-epoch χ²."""
    return jax.lax.scan(lambda s, _: epoch(s, data, grid, cfg), state, None, length=cfg.chunk)


BLOCK = 8
"""Default replicas per vectorised block. Replicas run as ``lax.map`` over blocks of ``vmap``-ed
replicas, padded to whole blocks, so a replica's arithmetic is the same program whatever the
number of replicas: replica k gives bit-identical numbers among 10 or among 100. With several
devices the blocks are shared out between them (``shard_map``), each device mapping over its
own blocks with the same per-block program."""


def engine_devices(method: Any) -> int:
    """The devices a fit shares its blocks between: all of them, except for CMA-ES on CPU
    devices, which keeps to one: jaxlib's (0.10) batched eigendecomposition waits for the CPU
    thread pool that the host devices themselves run on, and a program partitioned over
    several host devices deadlocks (on one device the replicas' batched decomposition is safe,
    and gives the same numbers as in a one-device process)."""
    devices = jax.devices()
    if getattr(method, "eigendecomposition", False) and devices[0].platform == "cpu":
        return 1
    return len(devices)


def pad_to_blocks(tree: Any, block: int, devices: int, *, power_of_two: bool = False) -> Any:
    """Pad the leading (replica) axis with copies of the first replica to whole blocks, and to a
    number of blocks that the devices share evenly (with ``power_of_two``, a power of two of
    blocks per device: batches of similar sizes then share one compiled program). Concrete
    arrays are padded on the host and put on the device (no program compiled per shape,
    :mod:`~jaxmin.pdf.buckets`); traced ones inside their program."""
    leaves = jax.tree.leaves(tree)
    n = leaves[0].shape[0]
    per_round = block * devices
    rounds = math.ceil(n / per_round)
    if power_of_two:
        rounds = buckets.size(rounds)
    rows = rounds * per_round
    if any(isinstance(leaf, jax.core.Tracer) for leaf in leaves):
        return jax.tree.map(lambda a: jnp.concatenate([a, jnp.repeat(a[:1], rows - n, 0)]), tree)
    return buckets.on_device(buckets.padded(tree, rows))


def _vmapped(fn, shared: int):
    """``fn`` over a block: mapped over the first argument, the ``shared`` others broadcast."""
    return jax.vmap(fn, in_axes=(0, *(None,) * shared))


def _blocked(block_fn, block: int, devices: int, tree: Any, *shared: Any) -> Any:
    """``block_fn`` on each block of ``tree`` (leading axis padded by :func:`pad_to_blocks`),
    the blocks split between the devices where there are several."""

    def local(tree, *shared):
        blocks = jax.tree.map(lambda a: a.reshape(a.shape[0] // block, block, *a.shape[1:]), tree)
        out = jax.lax.map(lambda block: block_fn(block, *shared), blocks)
        return jax.tree.map(lambda a: a.reshape(-1, *a.shape[2:]), out)

    if devices == 1:
        return local(tree, *shared)
    mesh = Mesh(np.asarray(jax.devices()[:devices]), ("replicas",))
    return jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P("replicas"), *(P(),) * len(shared)),
        out_specs=P("replicas"),
    )(tree, *shared)


@partial(jax.jit, static_argnums=5)
def chunk_many(
    state: ReplicaState,
    data: ReplicaData,
    grid: model.Grid,
    state_order: jax.Array,
    data_order: jax.Array,
    cfg: EngineConfig,
):
    """:func:`chunk` for every replica (padded to whole blocks; the grid is shared), after
    putting the members of ``state`` in ``state_order`` and taking their data in
    ``data_order``. A block whose replicas have all stopped is skipped (its χ² NaN), so that
    replicas still running, gathered into few blocks by :func:`running_first`, cost what they
    alone cost.

    Returns the new state and the χ², both in the new order."""
    state = permute(state, state_order)
    data = permute(data, data_order)
    vmapped = _vmapped(lambda sd, g: chunk(*sd, g, cfg), 1)

    def skip(members, grid):
        best_val = members[0].best_val  # NaN made from the members' values: under shard_map
        nan = best_val[:, None] * jnp.full(cfg.chunk, jnp.nan, best_val.dtype)  # it varies
        return members[0], (nan, nan)

    def block_fn(members, grid):
        running = jnp.any(members[0].status == RUNNING)
        return jax.lax.cond(running, vmapped, skip, members, grid)

    return _blocked(block_fn, cfg.block, cfg.devices, (state, data), grid)


def running_first(running: np.ndarray, block: int, devices: int) -> np.ndarray | None:
    """A reordering of the members that gathers the running ones into as few blocks as possible,
    shared evenly between the devices (each device's share at the front of its blocks, in their
    order); None if the present order already needs no more blocks. A member's numbers do not
    depend on its place (the same per-member program in every block)."""
    n = running.size
    per_device = n // devices
    active = running.reshape(devices, -1, block).any(axis=2).sum(axis=1).max()
    needed = math.ceil(math.ceil(running.sum() / devices) / block)
    if active <= needed:
        return None
    moving, resting = np.flatnonzero(running), np.flatnonzero(~running)
    order, rest = [], 0
    for device in range(devices):
        mine = moving[device::devices]
        fill = per_device - mine.size
        order += [mine, resting[rest : rest + fill]]
        rest += fill
    return np.concatenate(order)


@jax.jit
def permute(tree: Any, order: jax.Array) -> Any:
    """The members of ``tree`` in the given order (leading axis)."""
    return jax.tree.map(lambda a: a[order], tree)


@partial(jax.jit, static_argnums=5)
def init_many(
    params: Any,
    keys: jax.Array,
    settings: MemberSettings,
    data: ReplicaData,
    grid: model.Grid,
    cfg: EngineConfig,
) -> ReplicaState:
    """:func:`init_state` for every replica (padded to whole blocks, as :func:`chunk_many`)."""
    members = (params, keys, settings, data)
    vmapped = _vmapped(lambda m, g: init_state(*m, g, cfg), 1)
    return _blocked(vmapped, cfg.block, cfg.devices, members, grid)


def evaluate_many(params: Any, grid: model.Grid, cfg: model.ModelConfig, block: int) -> np.ndarray:
    """F on the grid for every replica, ``(replicas, n_eval)`` (a host array; one program for a
    bucket of replica counts, :mod:`~jaxmin.pdf.buckets`)."""
    return buckets.per_replica(_evaluate_blocks, params, grid, cfg, block)


@partial(jax.jit, static_argnums=(2, 3))
def _evaluate_blocks(params: Any, grid: model.Grid, cfg: model.ModelConfig, block: int):
    n = jax.tree.leaves(params)[0].shape[0]
    devices = jax.device_count()
    padded = pad_to_blocks(params, block, devices)
    vmapped = _vmapped(lambda p, g: model.evaluate(p, g, cfg), 1)
    return _blocked(vmapped, block, devices, padded, grid)[:n]
