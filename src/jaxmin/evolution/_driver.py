"""The one driver of the population methods: generations compiled in chunks, a history per
generation, stopping by status, checkpoints and a progress bar between chunks.

A method supplies a *generation*: a hashable callable ``generation(operands, carry, active) ->
(carry, status, record)`` — one ask–evaluate–tell, the :class:`jaxmin.Status` code that holds
after it (−1: keep running; the budget is one of the codes, so the method knows when it is done)
and a dict of scalars (or small arrays) to record. ``operands`` are the traced inputs (keys,
data, budgets), ``carry`` the method's state, ``active`` whether the run is still running
(False for a run of a batch that has stopped, whose generation is computed and thrown away:
work it may skip). The driver runs generations in one ``lax.while_loop`` per chunk of at most
``chunk`` generations, writing the records into a chunk-sized buffer:

- with concrete inputs, chunk after chunk until the status is not −1; between chunks the
  history grows on the host, a checkpoint is written and the progress bar redrawn. Chunking
  changes no number: generation g samples from ``fold_in(key, g)`` wherever it runs;
- inside the user's ``jit`` or ``vmap`` (traced inputs, or any input inside a trace),
  :func:`run_chunk` once, as long as the budget, the history padded after the last generation
  (NaN, −1 in the integer records).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _batch
from .. import checkpoint as checkpoints
from .._identity import ByContent, fingerprint
from .._progress import ProgressBar
from ..result import Status

RUNNING = -1


@functools.partial(jax.jit, static_argnames=("generation", "length", "axis_name", "packed"))
def run_chunk(
    generation: Callable,
    operands: Any,
    carry: Any,
    status: jax.Array,
    length: int,
    axis_name: str | None = None,
    packed: bool = False,
) -> tuple[Any, jax.Array, dict, jax.Array] | tuple[jax.Array, ...]:
    """Up to ``length`` generations from ``carry`` while ``status`` is −1; returns (carry,
    status, records of shape (length, …) — after the last generation run NaN, or −1 for an
    integer record —, generations run); with ``packed``, those as one flat array per dtype
    (:class:`Packing`; what :func:`run_chunked` reads on the host).

    Under ``jax.vmap(..., axis_name=axis_name)`` (many runs, :func:`batch_axis`) the loop is
    one loop for the batch, running while any run runs (a ``psum`` over the axis): a run that
    has stopped keeps its state, status and count, and its records are not written (a write out
    of bounds, dropped) — where a plain ``vmap`` of the loop would select the whole record
    buffer of every run on every generation."""
    template = jax.eval_shape(generation, operands, carry, True)[2]
    buffer = jax.tree.map(
        lambda leaf: jnp.full(
            (length, *leaf.shape), padding(leaf.dtype), recorded_dtype(leaf.dtype)
        ),
        template,
    )

    def body(state):
        carry, status, i, buffer = state
        running = status == RUNNING
        new_carry, new_status, record = generation(operands, carry, running)
        new_status = jnp.asarray(new_status, jnp.int32)
        if axis_name is None:
            buffer = jax.tree.map(lambda h, r: h.at[i].set(r.astype(h.dtype)), buffer, record)
            return new_carry, new_status, i + 1, buffer
        buffer = jax.tree.map(lambda h, r: _batch.write_if(h, i, r, running), buffer, record)
        new_carry, new_status = _batch.keep(running, (new_carry, new_status), (carry, status))
        return new_carry, new_status, i + running, buffer

    def running(state):
        return _batch.anywhere((state[1] == RUNNING) & (state[2] < length), axis_name)

    state = (carry, jnp.asarray(status, jnp.int32), jnp.asarray(0), buffer)
    carry, status, count, buffer = jax.lax.while_loop(running, body, state)
    if packed:
        leaves, structure = jax.tree.flatten((carry, status, buffer, count))
        return Packing.of(leaves, structure).pack(leaves)
    return carry, status, buffer, count


_traced_run_chunk = run_chunk.__wrapped__
"""The function :func:`run_chunk` compiles (for abstract evaluation: tests replace the jitted
name)."""


@dataclasses.dataclass(frozen=True)
class Packing:
    """Where each leaf of a pytree of arrays lies in one flat array per dtype.

    A compiled program hands each output array back as a buffer of its own, at ~1.5–3 µs each on
    a CPU: a chunk's ~35 outputs (the CMA-ES state, the records) cost more than 0.1 ms a call,
    where its ~3 dtypes packed cost ~10 µs. The host then reads each flat array once and cuts
    the leaves out of it as NumPy views (:meth:`unpack`)."""

    structure: Any
    dtypes: tuple[np.dtype, ...]
    slots: tuple[tuple[int, int, tuple[int, ...]], ...]
    """Per leaf: (which flat array, where the leaf starts in it, its shape)."""

    @classmethod
    def of(cls, leaves: list, structure: Any) -> Packing:
        """The packing of leaves with these shapes and dtypes (arrays, tracers or abstract
        values), in leaf order."""
        dtypes: list[np.dtype] = []
        sizes: list[int] = []
        slots = []
        for leaf in leaves:
            dtype = np.dtype(leaf.dtype)
            if dtype not in dtypes:
                dtypes.append(dtype)
                sizes.append(0)
            which = dtypes.index(dtype)
            slots.append((which, sizes[which], tuple(leaf.shape)))
            sizes[which] += math.prod(leaf.shape)
        return cls(structure, tuple(dtypes), tuple(slots))

    def pack(self, leaves: list) -> tuple[jax.Array, ...]:
        """The leaves (inside a program) as one flat array per dtype."""
        parts: list[list] = [[] for _ in self.dtypes]
        for leaf, (which, _, _) in zip(leaves, self.slots, strict=True):
            parts[which].append(jnp.ravel(leaf))
        return tuple(jnp.concatenate(part) for part in parts)

    def unpack(self, flat: tuple) -> Any:
        """The pytree, its leaves NumPy views of the flat arrays (one transfer each)."""
        host = [np.asarray(array) for array in flat]
        if [array.dtype for array in host] != list(self.dtypes):
            raise RuntimeError(f"packed outputs {[a.dtype for a in host]} for {self.dtypes}")
        leaves = [
            host[which][start : start + math.prod(shape)].reshape(shape)
            for which, start, shape in self.slots
        ]
        return jax.tree.unflatten(self.structure, leaves)


_PACKINGS: dict = {}
"""The packing of :func:`run_chunk`'s outputs, by its static arguments, the structure, shapes,
dtypes and weak types of its inputs, and whether 64-bit types are on."""
_PACKINGS_MOST = 64


def _packing(generation: Callable, operands: Any, carry: Any, length: int) -> Packing:
    """How :func:`run_chunk` packs its outputs for these inputs (found once per signature by
    abstract evaluation, as its program computes it)."""
    leaves, structure = jax.tree.flatten((operands, carry))
    signature = tuple(
        (
            getattr(leaf, "shape", None),
            getattr(leaf, "dtype", type(leaf)),
            getattr(leaf, "weak_type", isinstance(leaf, int | float | complex)),
        )
        for leaf in leaves
    )
    key = (generation, length, structure, signature, jax.config.jax_enable_x64)
    packing = _PACKINGS.get(key)
    if packing is None:
        if len(_PACKINGS) >= _PACKINGS_MOST:  # the oldest first (each holds its objective)
            del _PACKINGS[next(iter(_PACKINGS))]
        outputs = jax.eval_shape(
            functools.partial(_traced_run_chunk, generation, length=length),
            operands,
            carry,
            RUNNING,
        )
        packing = _PACKINGS[key] = Packing.of(*jax.tree.flatten(outputs))
    return packing


@jax.jit
def on_device(*values: Any) -> tuple[jax.Array, ...]:
    """Host values as device arrays, in one call (one transfer each costs a dispatch)."""
    return values


def run_chunked(
    generation: Callable,
    operands: Any,
    carry: Any,
    status: Any,
    *,
    length: int,
    chunk: int,
    history: dict | None = None,
    save: Callable[[Any, Any, dict], None] | None = None,
    bar: ProgressBar | None = None,
    done: Callable[[Any], int] = lambda carry: 0,
) -> tuple[Any, int, dict]:
    """Chunks of up to ``min(chunk, 2^⌈log₂ length⌉)`` generations until the status is not −1
    (``length``: the most generations the run can have; a generation sets the status when the
    budget is spent, so the chunk's length only bounds its loop and sizes its record buffer).
    Rounding the length up to a power of two lets runs whose budgets differ by less than a
    factor of two share one compiled program: a loop over seeds of IPOP runs, whose later
    restarts each have what the earlier ones left of ``max_evals``, otherwise compiled a
    program for every seed and restart.

    ``history`` (host arrays, generations first) is what earlier chunks recorded (a resumed
    run); ``save(carry, status, history)`` runs after every chunk (a checkpoint); ``bar`` shows
    ``done(carry)`` generations. Returns (carry, status, history): on the host (NumPy: the
    chunk's outputs come back packed, :class:`Packing`; a next chunk takes them as its inputs),
    or the carry as given where no chunk ran (a status other than −1 on entry).
    """
    length = min(chunk, 1 << (max(1, length) - 1).bit_length())
    status = int(status)
    if bar is not None and bar.enabled:
        bar.resumed(done(carry))
    while status == RUNNING:
        packing = _packing(generation, operands, carry, length)
        flat = run_chunk(generation, operands, carry, status, length, packed=True)
        carry, status, records, count = packing.unpack(flat)
        status, count = int(status), int(count)
        records = {name: value[:count] for name, value in records.items()}
        history = (
            records
            if history is None
            else {name: np.concatenate([history[name], records[name]]) for name in records}
        )
        if save is not None:
            save(carry, status, history)
        if bar is not None and bar.enabled:
            bar.update(done(carry), f"best f {np.nanmin(history['best']):.4g}")
    return carry, status, history


def extended(path: str | Path, status: int, spent: dict[str, tuple[int, int]], more: bool) -> int:
    """The status to resume a checkpoint with under a budget that may differ from its run's.

    ``spent`` maps each budget argument to (what the checkpoint has used, what it allows now):
    a checkpoint beyond the budget is refused. A run that ended on its budget (``max_steps``),
    or was stopped while running, runs on when ``more`` (the new budget allows another
    generation) — as one longer run would — and otherwise ends with ``max_steps``, with no
    generation beyond the budget.
    """
    for name, (used, allowed) in spent.items():
        if used > allowed:
            raise ValueError(
                f"checkpoint {str(path)!r} has used {used}, more than {name}={allowed}: "
                f"pass {name} >= {used} to resume it"
            )
    if status in (RUNNING, int(Status.MAX_STEPS)):
        return RUNNING if more else int(Status.MAX_STEPS)
    return status


def settings_of(arguments: dict) -> dict:
    """A population method's settings: its arguments (``locals()`` on entry) without the
    objective, the start, the key and ``batched`` — what each run of a batch shares."""
    return {
        name: value
        for name, value in arguments.items()
        if name not in ("fun", "x0", "key", "batched")
    }


def recorded_dtype(dtype: Any) -> Any:
    """The dtype a record is kept in: a signed integer record (a count) as it is, padded with −1, so
    that it stays exact (a float32 history holds integers exactly only up to 2²⁴); any other
    floating, padded with NaN (:func:`padding`)."""
    return dtype if jnp.issubdtype(dtype, jnp.signedinteger) else jnp.result_type(dtype, float)


def one_run_restarts(nfev: Any) -> Any:
    """The ``restart`` column of a run without restarts: 0 where a generation ran, −1 in the
    padding after the last (where ``nfev`` is −1); int32, NumPy or JAX as ``nfev`` is."""
    xp = jnp if isinstance(nfev, jax.Array) else np
    return xp.where(xp.asarray(nfev) < 0, -1, 0).astype(xp.int32)


def padding(dtype: Any) -> Any:
    """What a history holds after a run's last generation: −1 for an integer record, else NaN."""
    return -1 if jnp.issubdtype(dtype, jnp.signedinteger) else np.nan


def as_history(record: dict) -> dict:
    """One record as a history of one generation (host arrays, in :func:`recorded_dtype`)."""
    return {
        name: np.asarray(value)[None].astype(recorded_dtype(np.asarray(value).dtype))
        for name, value in record.items()
    }


def empty_history(generation: Callable, operands: Any, carry: Any) -> dict:
    """A history of no generations, with the fields, shapes and dtypes :func:`run_chunk`
    records."""
    record = jax.eval_shape(generation, operands, carry, True)[2]
    return {
        name: np.zeros((0, *leaf.shape), recorded_dtype(leaf.dtype))
        for name, leaf in record.items()
    }


def identity(
    settings: dict,
    *,
    left_out: tuple[str, ...],
    fingerprinted: tuple[str, ...],
    fun: ByContent,
    start: Any,
    key: jax.Array,
) -> dict:
    """A run's identity in its checkpoint: the settings (those in ``fingerprinted`` by their
    :func:`~jaxmin._identity.fingerprint`, those in ``left_out`` not at all) and fingerprints of
    the objective, the start and the key."""
    meta = {
        name: value
        for name, value in settings.items()
        if name not in left_out and name not in fingerprinted
    }
    meta |= {name: fingerprint(settings[name]) for name in fingerprinted}
    return meta | {"fun": fun.key, "x0": fingerprint(start), "key": fingerprint(key)}


def save(path: str | Path, meta: dict, carry: Any, status: int, history: dict, *extra: Any):
    """Write a run's checkpoint: its state, status, history so far and ``extra`` leaves."""
    checkpoints.save(path, (carry, np.int64(status), to_stored(history), *extra), meta)


def load(path: str | Path, meta: dict, carry: Any, history: dict, *extra: Any) -> tuple:
    """Read a checkpoint written by :func:`save` into the structure of a fresh run's ``carry``,
    a ``history`` of the same fields (any length) and ``extra`` templates; returns (carry,
    status, history, *extra). Another run's checkpoint is refused (see
    :func:`jaxmin.checkpoint.load`)."""
    template = (carry, np.int64(0), growing(history), *extra)
    carry, status, stored, *extra = checkpoints.load(path, template, meta)
    return carry, int(status), from_stored(stored), *extra


def growing(history: dict) -> dict:
    """Templates for a checkpoint of ``history`` (generations first), which grows. Integer
    records were floats in checkpoints written before 2026-12-04: those still resume."""
    return {
        name: checkpoints.AnyLength(
            value.shape[1:], value.dtype, counts=np.issubdtype(value.dtype, np.signedinteger)
        )
        for name, value in history.items()
    }


def to_stored(history: dict) -> dict:
    """A history with generations last (the growing axis of :class:`checkpoint.AnyLength`)."""
    return {name: np.moveaxis(np.asarray(value), 0, -1) for name, value in history.items()}


def from_stored(history: dict) -> dict:
    """The inverse of :func:`to_stored`."""
    return {name: np.moveaxis(np.asarray(value), -1, 0) for name, value in history.items()}


def stored_field(path: str | Path, name: str) -> Any:
    """One field of a checkpoint's meta, or None without a checkpoint at ``path``."""
    if not Path(path).exists():
        return None
    return checkpoints.stored_meta(path).get(name)
