"""The compiled iteration loop shared by every gradient-based solver.

A solver is a :class:`Stepper`: ``init`` evaluates (f, ∇f) at the start, ``step`` makes one
iteration θ_k → θ_{k+1} and returns (f, ∇f) there. :func:`run_loop` wraps it in one
``lax.while_loop`` with the stopping rules, evaluation counters and the recorded path, so that
first-order rules and Newton methods stop, count and record in exactly the same way.

A step that never reads f (a first-order rule) runs in chunks of c steps: the first c − 1 steps
of a chunk only advance θ (the compiler drops the value f they do not need), the last one is
checked as every step otherwise is; a chunk in which anything would have stopped the run is
replayed step by step from its start, so that the run stops, counts and records exactly where
the step-by-step loop does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from . import _batch
from .result import MinimizeResult, Status

_RUNNING = -1


class Stepper(NamedTuple):
    """One iterative solver, as two pure functions (and two more for a value-free one).

    - ``init(x) -> (f, g, aux, counts)``: f and ∇f at the start, the solver's own state ``aux``
      (optimiser state, damping, …) and the evaluations it cost, ``counts = (nfev, ngev, nhev)``.
    - ``step(x, f, g, aux) -> (x, f, g, aux, counts, stalled)``: one iteration, f and ∇f at the
      new iterate, the evaluations it cost, and whether the solver can make no further progress.
    - ``gradient`` and ``update``: where the step never reads f and never stalls (a first-order
      rule, :func:`gradient_stepper`), its two halves, which :func:`run_loop` runs in chunks.
    """

    init: Callable[[Any], tuple]
    step: Callable[[Any, jax.Array, Any, Any], tuple]
    gradient: Callable[[Any], Any] | None = None
    """For a value-free stepper (:func:`gradient_stepper`): x ↦ ∇f(x)."""
    update: Callable[[Any, Any, Any], tuple] | None = None
    """For a value-free stepper: ``update(x, g, aux) -> (x, aux)``, the step before f and ∇f
    are evaluated at the new iterate."""


def counts(nfev: int, ngev: int, nhev: Any = 0) -> jax.Array:
    """Evaluation counts (f, ∇f, Hessian or Hessian-vector products) as one int32 vector."""
    return jnp.stack([jnp.asarray(c, jnp.int32) for c in (nfev, ngev, nhev)])


def value_and_grad_init(
    fun: Callable[[Any], jax.Array], state: Callable[[Any], Any] = lambda x: ()
) -> Callable[[Any], tuple]:
    """A :class:`Stepper` ``init`` that evaluates f and ∇f at the start and sets up ``state(x)``."""
    value_and_grad = jax.value_and_grad(fun)

    def init(x):
        f, g = value_and_grad(x)
        return f, g, state(x), counts(1, 1)

    return init


def gradient_stepper(
    fun: Callable[[Any], jax.Array],
    state: Callable[[Any], Any],
    update: Callable[[Any, Any, Any], tuple],
) -> Stepper:
    """A value-free :class:`Stepper`: θ_{k+1} = update(θ_k, ∇f(θ_k), state) never reads f and
    never stalls (a first-order rule), so that :func:`run_loop` may skip f between checks."""
    value_and_grad = jax.value_and_grad(fun)

    def step(x, f, g, aux):
        del f
        x, aux = update(x, g, aux)
        f, g = value_and_grad(x)
        return x, f, g, aux, counts(1, 1), False

    return Stepper(value_and_grad_init(fun, state), step, jax.grad(fun), update)


def squared_norm_if_finite(grad: Any, x: Any) -> jax.Array:
    """‖∇f‖₂² over all leaves, made NaN if any entry of x is not finite: one fused reduction.

    Σ (g² + (x − x)) adds 0 for a finite x and NaN otherwise; a non-finite gradient, or one whose
    squared norm overflows the dtype, makes it non-finite as well.
    """
    terms = [
        jnp.sum(jnp.square(g) + (xi - xi))
        for g, xi in zip(jax.tree.leaves(grad), jax.tree.leaves(x), strict=True)
    ]
    return sum(terms[1:], terms[0])


CHUNK_MAX = 256
"""The most steps in one chunk of a value-free stepper's loop that watches ‖∇f‖ (``gtol``
set), or runs many starts at once: a chunk in which a run stops runs to its end and is then
replayed step by step (in a batch, by every start)."""
CHUNK_MAX_UNWATCHED = 4096
"""The most steps in one chunk of a run that only divergence stops early (``gtol`` None) and
that is not one of many starts at once: its one replay, on the way to a failure, may be longer
(under a plain ``vmap`` of such runs, every start that diverges makes the batch replay its
chunk), while each chunk costs a fixed ~0.4 µs on a CPU (its checked last step and two
branches): 1.6 ns a step at 256 steps a chunk, 12 % of a gradient step of Rosenbrock's
function, under 1 % at 4096."""


def chunk_length(record_every: int, steps: int, long: bool = False) -> int:
    """Steps per chunk: the largest divisor of ``record_every`` up to :data:`CHUNK_MAX`, so that
    every recorded step ends a chunk (1, the step-by-step loop, when ``record_every`` is 1 or
    has no divisor from 2 to the limit, a prime above it). With ``long``, the largest divisor up
    to :data:`CHUNK_MAX_UNWATCHED` that leaves no more of the ``steps`` after the last whole
    chunk (they go step by step) than that one does."""

    def singles(d: int) -> int:  # the steps that go one by one with chunks of d
        return steps if d == 1 else steps % d

    def largest(most: int, singles_at_most: int) -> int:
        divisors = (d for d in range(min(most, record_every), 0, -1) if record_every % d == 0)
        return next(d for d in divisors if singles(d) <= singles_at_most)

    short = largest(CHUNK_MAX, steps)
    return largest(CHUNK_MAX_UNWATCHED, singles(short)) if long else short


def run_loop(
    stepper: Stepper,
    x0: Any,
    *,
    steps: int,
    record_every: int,
    gtol: jax.Array | None,
    axis_name: str | None = None,
) -> MinimizeResult:
    """Iterate ``stepper`` from ``x0`` in one ``lax.while_loop`` (call inside ``jit``).

    The run stops with status ``diverged`` when f, ∇f or the iterate become non-finite (the last
    finite iterate is returned), ``converged`` when ‖∇f‖₂ ≤ ``gtol`` (None never converges),
    ``stalled`` when the stepper reports it, and ``max_steps`` after ``steps`` steps.

    A value-free stepper (:func:`gradient_stepper`) runs in chunks of :func:`chunk_length`
    steps: inside a chunk ∇f is checked every step when ``gtol`` is set (‖∇f‖ ≤ gtol, or
    non-finite), and f, ∇f and θ at the chunk's end; a chunk with anything to stop for is
    replayed step by step. This catches every divergence that reaches the iterate (a non-finite
    θ stays non-finite under the update) but not a loss that is non-finite at some step inside
    a chunk while θ stays finite — nor, with ``gtol`` None, a ∇f non-finite (or with a squared
    norm beyond the dtype's range) inside a chunk that leaves θ finite — when f, ∇f and θ are
    finite again at the chunk's end.

    Called under ``jax.vmap(..., axis_name=axis_name)`` for many starts, the loop is one loop
    for the batch: it runs while any start runs (a ``psum`` over the axis), a start that has
    stopped keeps its iterate, counts, status and path (selected per start), and the solver's
    own state is never selected, so that what it shares across starts (Adam's step count) stays
    one value instead of one per start; a chunk in which any start stops is replayed by all.
    Without ``axis_name`` a ``vmap`` of the loop is batched by JAX (every carried value
    selected per start on every iteration).
    """
    watch_gradient = gtol is not None
    gtol = jnp.asarray(-1.0 if gtol is None else gtol)
    n_records = steps // record_every + 1
    batched = axis_name is not None

    def anywhere(flag):
        return _batch.anywhere(flag, axis_name)

    def keep(running, new, old):
        # a single run has stopped the loop instead
        return _batch.keep(running, new, old) if batched else new

    def buffer(leaf):
        return jnp.zeros((n_records, *jnp.shape(leaf)), jnp.result_type(leaf))

    def write(path, path_fun, slot, x, f):
        path = jax.tree.map(lambda p, leaf: p.at[slot].set(leaf), path, x)
        return path, path_fun.at[slot].set(f)

    def record(path, path_fun, step, x, f, running=True):
        if batched:  # a stopped start, or a step between records, writes nothing
            due = running & (step % record_every == 0)
            slot = step // record_every
            path = jax.tree.map(lambda p, leaf: _batch.write_if(p, slot, leaf, due), path, x)
            return path, _batch.write_if(path_fun, slot, f, due)
        if record_every == 1:
            return write(path, path_fun, step, x, f)
        return jax.lax.cond(
            step % record_every == 0,
            lambda: write(path, path_fun, step // record_every, x, f),
            lambda: (path, path_fun),
        )

    def status_of(step, f, sq_norm, stalled):
        return jnp.where(
            ~(jnp.isfinite(f) & jnp.isfinite(sq_norm)),
            Status.DIVERGED,
            jnp.where(
                sq_norm <= gtol * jnp.abs(gtol),
                Status.CONVERGED,
                jnp.where(
                    stalled, Status.STALLED, jnp.where(step >= steps, Status.MAX_STEPS, _RUNNING)
                ),
            ),
        ).astype(jnp.int32)

    # The carry is (run, aux, path, path_fun) with run = (step, previous, current, counts,
    # status). It keeps the previous iterate beside the current one, so that a step that turns
    # non-finite can be undone once after the loop instead of selecting on every step.
    def careful_step(carry):
        run, aux, path, path_fun = carry
        step, _, (x, f, g, sq), n_evals, status = run
        running = status == _RUNNING
        new_x, new_f, new_g, aux, cost, stalled = stepper.step(x, f, g, aux)
        new_sq = squared_norm_if_finite(new_g, new_x)
        path, path_fun = record(path, path_fun, step + 1, new_x, new_f, running)
        new_status = status_of(step + 1, new_f, new_sq, stalled)
        current = (new_x, new_f, new_g, new_sq)
        new_run = (step + 1, (x, f, sq), current, n_evals + cost, new_status)
        return keep(running, new_run, run), aux, path, path_fun

    def step_by_step(carry, until, active=True):
        def cond(carry):
            step, status = carry[0][0], carry[0][4]
            return anywhere(active & (status == _RUNNING) & (step < until))

        return jax.lax.while_loop(cond, careful_step, carry)

    long = not (watch_gradient or batched)  # a single run replays one chunk, when it fails
    chunk = 1 if stepper.update is None else chunk_length(record_every, steps, long)

    def chunk_of_steps(carry):
        run, aux, path, path_fun = carry
        step, _, (x, f, g, _), n_evals, status = run
        running = status == _RUNNING

        def gradient_stops(g, stop):
            # ‖∇f‖ ≤ gtol or non-finite; θ itself is checked at the chunk's end (a non-finite
            # θ stays non-finite under the update).
            if not watch_gradient:
                return stop
            sq_norm = sum(jnp.sum(jnp.square(leaf)) for leaf in jax.tree.leaves(g))
            return stop | ~((sq_norm > gtol * jnp.abs(gtol)) & (sq_norm < jnp.inf))

        def advance(_, state):
            x, aux, stop = state
            g = stepper.gradient(x)
            x, aux = stepper.update(x, g, aux)
            return x, aux, gradient_stops(g, stop)

        # Steps 1 … c − 1 of the chunk (∇f at the chunk's start is known), then step c as ever.
        x, new_aux = stepper.update(x, g, aux)
        x, new_aux, stop = jax.lax.fori_loop(
            0, chunk - 2, advance, (x, new_aux, jnp.asarray(False))
        )
        g = stepper.gradient(x)
        stop = gradient_stops(g, stop)
        new_x, new_f, new_g, new_aux, cost, stalled = stepper.step(x, f, g, new_aux)
        new_sq = squared_norm_if_finite(new_g, new_x)
        new_status = status_of(step + chunk, new_f, new_sq, stalled)
        replay = running & (stop | (new_status == Status.DIVERGED))

        def accept():
            recorded = record(path, path_fun, step + chunk, new_x, new_f, running)
            current = (new_x, new_f, new_g, new_sq)
            end = (new_x, new_f, new_sq)
            new_run = (step + chunk, end, current, n_evals + chunk * cost, new_status)
            return keep(running, new_run, run), new_aux, *recorded

        # Batched with an axis, every start replays (one loop); under a plain vmap both
        # branches run, and the replay's loop runs for the starts that need it.
        def again():
            return step_by_step(carry, step + chunk, True if batched else replay)

        return jax.lax.cond(anywhere(replay), again, accept)

    def chunk_or_rest(carry):
        # The last, shorter chunk of a budget that chunks do not divide goes step by step.
        step, status = carry[0][0], carry[0][4]
        rest = (status == _RUNNING) & (step + chunk > steps)
        return jax.lax.cond(
            anywhere(rest),
            lambda: step_by_step(carry, steps, True if batched else rest),
            lambda: chunk_of_steps(carry),
        )

    f0, g0, aux0, counts0 = stepper.init(x0)
    sq0 = squared_norm_if_finite(g0, x0)
    path, path_fun = record(jax.tree.map(buffer, x0), buffer(f0), 0, x0, f0)
    zero = jnp.asarray(0, jnp.int32)
    run = (zero, (x0, f0, sq0), (x0, f0, g0, sq0), counts0, status_of(0, f0, sq0, False))
    carry = (run, aux0, path, path_fun)
    if chunk > 1:
        carry = jax.lax.while_loop(lambda c: anywhere(c[0][4] == _RUNNING), chunk_or_rest, carry)
    else:
        carry = step_by_step(carry, steps)
    (loops, previous, current, n_evals, status), _, path, path_fun = carry
    undo = (status == Status.DIVERGED) & (loops > 0)
    x, f, sq = jax.tree.map(
        lambda old, new: jnp.where(undo, old, new), previous, (current[0], current[1], current[3])
    )
    nit = loops - undo.astype(jnp.int32)
    path_step = jnp.arange(n_records, dtype=jnp.int32) * record_every
    if batched:  # the slots after each start's end repeat its final iterate: one select
        after = path_step > nit

        def fill(p, final):
            return jnp.where(after.reshape(-1, *[1] * jnp.ndim(final)), final, p)

        path, path_fun = jax.tree.map(fill, path, x), fill(path_fun, f)
    else:
        # Written one by one, so that a run that uses its whole budget pays nothing here (a
        # select over the buffer would read it all).
        path, path_fun = jax.lax.fori_loop(
            nit // record_every + 1,
            n_records,
            lambda slot, paths: write(*paths, slot, x, f),
            (path, path_fun),
        )
    return MinimizeResult(
        x=x,
        fun=f,
        grad_norm=jnp.sqrt(sq),
        nit=nit,
        nfev=n_evals[0],
        status=status,
        path=path,
        path_fun=path_fun,
        path_step=path_step,
        ngev=n_evals[1],
        nhev=n_evals[2],
    )
