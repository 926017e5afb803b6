"""Training throughput of ``jaxmin.nn.train`` vs an optax + ``jax.value_and_grad`` training loop.

Every contender does the same work: the same network, data and initial parameters,
``optax.adam(1e-3)``, the same number of epochs and mini-batch size B, a key-driven shuffle per
epoch into ⌊N/B⌋ mini-batches (none for full-batch descent), one optimiser update per mini-batch,
and the MSE on the whole training set after every epoch. The contenders are:

- ``train backprop`` (ours): ``nn.train(..., gradient="backprop", validation=0,
  chunk_steps=epochs)``, the hand-written backward pass, all epochs in one compiled chunk;
- ``train autodiff``: the same call with ``gradient="autodiff"`` (``jax.grad`` inside nn.train);
- ``scan reference``: written here: one ``jax.jit`` of a ``lax.scan`` over epochs (with a
  ``lax.scan`` over the mini-batches of an epoch), plain jax.numpy MLP, value_and_grad, optax;
- ``python loop``: what a typical user writes: a Python loop over epochs and mini-batches that
  calls a jitted per-mini-batch step (value_and_grad + optax update), a jitted shuffle per
  epoch and a jitted full-set loss per epoch.

The reference derives each epoch's shuffle from the key exactly as ``nn.train`` does, so all
contenders see the same mini-batches and should end at the same loss (checked).

Run: ``python benchmarks/bench_train.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import (
    FIRST_CALL_ESTIMATE,
    LOWER_COMPILE,
    compile_seconds,
    parse_args,
    repeats_for,
    time_interleaved,
    timed_call,
    warn,
    write_results,
)

from jaxmin import nn
from jaxmin.nn import training

NAME = "bench_train"
IMPLS = ("train backprop", "train autodiff", "scan reference", "python loop")
CHUNK = "train chunk exec"
"""Diagnostic: nn.train's compiled chunk of epochs called directly (no per-call Python work)."""
LOSS_RTOL = 1e-3
"""Largest accepted relative difference of the final training loss between contenders."""

Params = list[dict[str, jax.Array]]


# --- cases -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """A network, its data size, the mini-batch size (None: full batch) and the epochs."""

    label: str
    sizes: tuple[int, ...]
    activation: str
    rows: int
    batch_size: int | None
    epochs: int

    @property
    def network(self) -> str:
        """The widths as ``1–20–1`` with the activation."""
        return "–".join(str(n) for n in self.sizes) + f" {self.activation}"

    @property
    def batch(self) -> int:
        """Rows per mini-batch."""
        return self.rows if self.batch_size is None else self.batch_size

    @property
    def batches_per_epoch(self) -> int:
        """⌊N / B⌋."""
        return self.rows // self.batch


def cases(quick: bool) -> list[Case]:
    """The tutorial network full batch and with B = 32, and a 2–64–64–1 tanh MLP with B = 128."""
    if quick:
        return [
            Case("tutorial, full batch", (1, 20, 1), "sigmoid", 1000, None, 50),
            Case("tutorial, B = 32", (1, 20, 1), "sigmoid", 1000, 32, 50),
            Case("tanh MLP, B = 128", (2, 64, 64, 1), "tanh", 1024, 128, 20),
        ]
    return [
        Case("tutorial, full batch", (1, 20, 1), "sigmoid", 1000, None, 500),
        Case("tutorial, B = 32", (1, 20, 1), "sigmoid", 1000, 32, 500),
        Case("tanh MLP, B = 128", (2, 64, 64, 1), "tanh", 4096, 128, 200),
    ]


def make_data(case: Case) -> tuple[Params, jax.Array, jax.Array]:
    """Glorot-normal float32 parameters and y = sin(3 Σ_j x_j), x uniform in [−1, 1]."""
    key_params, key_x = jax.random.split(jax.random.key(0))
    params = nn.init_mlp(key_params, case.sizes, dtype=jnp.float32)
    x = jax.random.uniform(key_x, (case.rows, case.sizes[0]), jnp.float32, -1.0, 1.0)
    y = jnp.sin(3 * jnp.sum(x, axis=1, keepdims=True))
    return jax.block_until_ready((params, x, y))


# --- the reference: plain MLP, value_and_grad, optax -------------------------------------------

_PLAIN_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}


def plain_mse(activation: str) -> Callable[[Params, jax.Array, jax.Array], jax.Array]:
    """E(params) = mean((MLP(x) − y)²) in plain jax.numpy, with a linear output layer."""
    sigma = _PLAIN_ACTIVATIONS[activation]

    def loss(params: Params, x: jax.Array, y: jax.Array) -> jax.Array:
        a = x
        for layer in params[:-1]:
            a = sigma(a @ layer["W"] + layer["b"])
        yhat = a @ params[-1]["W"] + params[-1]["b"]
        return jnp.mean(jnp.square(yhat - y))

    return loss


def shuffle_key(key: jax.Array) -> jax.Array:
    """The key of the per-epoch shuffles, derived from the run's key as nn.train does."""
    return jax.random.split(jax.random.fold_in(key, 1))[0]


def epoch_batches(key: jax.Array, epoch: jax.Array, case: Case) -> jax.Array:
    """Row indices of the epoch's mini-batches, shape (⌊N/B⌋, B), from a key-driven shuffle."""
    order = jax.random.permutation(jax.random.fold_in(key, epoch), case.rows)
    n_b = case.batches_per_epoch
    return order[: n_b * case.batch].reshape(n_b, case.batch)


def make_step(case: Case, optimizer: optax.GradientTransformation) -> Callable[..., Any]:
    """One optimiser update on one mini-batch: value_and_grad of the MSE, optax update."""
    value_and_grad = jax.value_and_grad(plain_mse(case.activation))

    def step(params: Params, opt_state: Any, xb: jax.Array, yb: jax.Array) -> tuple[Params, Any]:
        _, grads = value_and_grad(params, xb, yb)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


def scan_runner(
    case: Case, optimizer: optax.GradientTransformation, params: Params, x, y, key
) -> tuple[float, Callable[[], Any]]:
    """All epochs in one jax.jit: lax.scan over epochs, and over mini-batches within each."""
    step = make_step(case, optimizer)
    loss = plain_mse(case.activation)

    @jax.jit
    def run(params: Params, x: jax.Array, y: jax.Array, key: jax.Array):
        skey = shuffle_key(key)

        def epoch(carry: tuple[Params, Any], e: jax.Array):
            if case.batch == case.rows:
                carry = step(*carry, x, y)
            else:

                def minibatch(inner: tuple[Params, Any], rows: jax.Array):
                    return step(*inner, x[rows], y[rows]), None

                carry, _ = jax.lax.scan(minibatch, carry, epoch_batches(skey, e, case))
            return carry, loss(carry[0], x, y)

        init = (params, optimizer.init(params))
        (params, _), losses = jax.lax.scan(epoch, init, jnp.arange(case.epochs, dtype=jnp.int32))
        return params, losses

    seconds, compiled = compile_seconds(run, params, x, y, key)
    return seconds, functools.partial(compiled, params, x, y, key)


def python_loop_runner(
    case: Case, optimizer: optax.GradientTransformation, params: Params, x, y, key
) -> tuple[float, Callable[[], Any]]:
    """A Python loop over epochs and mini-batches calling jitted functions (a typical user's).

    Per epoch: one jitted shuffle that gathers the epoch's mini-batches, ⌊N/B⌋ calls of a
    jitted step (which picks its mini-batch by index), and one jitted full-set loss. Nothing
    blocks until the end (async dispatch may overlap Python with compute, which favours it).
    """
    step = make_step(case, optimizer)
    loss = jax.jit(plain_mse(case.activation))
    full_batch = case.batch == case.rows

    @jax.jit
    def full_step(params: Params, opt_state: Any, x: jax.Array, y: jax.Array):
        return step(params, opt_state, x, y)

    @jax.jit
    def batch_step(params: Params, opt_state: Any, xs: jax.Array, ys: jax.Array, b: jax.Array):
        return step(params, opt_state, xs[b], ys[b])

    @jax.jit
    def shuffle(x: jax.Array, y: jax.Array, skey: jax.Array, e: jax.Array):
        rows = epoch_batches(skey, e, case)
        return x[rows], y[rows]

    skey = shuffle_key(key)
    opt_state = optimizer.init(params)
    zero = jnp.zeros((), jnp.int32)
    seconds = compile_seconds(loss, params, x, y)[0]
    if full_batch:
        seconds += compile_seconds(full_step, params, opt_state, x, y)[0]
    else:
        xs, ys = shuffle(x, y, skey, zero)
        seconds += compile_seconds(shuffle, x, y, skey, zero)[0]
        seconds += compile_seconds(batch_step, params, opt_state, xs, ys, zero)[0]

    def call() -> tuple[Params, list[jax.Array]]:
        p, s = params, optimizer.init(params)
        losses = []
        for e in range(case.epochs):
            if full_batch:
                p, s = full_step(p, s, x, y)
            else:
                xs, ys = shuffle(x, y, skey, e)
                for b in range(case.batches_per_epoch):
                    p, s = batch_step(p, s, xs, ys, b)
            losses.append(loss(p, x, y))
        return p, losses

    return seconds, call


def train_call(
    case: Case, optimizer: optax.GradientTransformation, params: Params, x, y, key, gradient: str
) -> Callable[[], nn.TrainResult]:
    """``nn.train`` with validation=0 and all epochs in one compiled chunk."""
    return functools.partial(
        nn.train,
        params,
        x,
        y,
        key=key,
        activation=case.activation,
        loss="mse",
        optimizer=optimizer,
        steps=case.epochs,
        batch_size=case.batch_size,
        validation=0.0,
        gradient=gradient,
        chunk_steps=case.epochs,
    )


def chunk_runner(
    case: Case, optimizer: optax.GradientTransformation, params: Params, x, y, key
) -> Callable[[], Any] | None:
    """Diagnostic: the compiled executable of nn.train's chunk of epochs (gradient="backprop").

    It is built with nn.train's private helpers, as nn.train builds it, and separates the
    per-call Python work of nn.train from its compiled loop. It runs after nn.train's first
    call, so its compilation comes from JAX's cache (no compile time is reported for it).
    Returns None (with a warning) if those private helpers have changed.
    """
    settings = {
        "steps": case.epochs,
        "validation": 0.0,
        "batch_size": case.batch_size,
        "dropout": 0.0,
        "patience": None,
        "l2": 0.0,
        "gradient": "backprop",
        "chunk_steps": case.epochs,
    }
    try:
        keys = key[None]
        stacked = jax.tree.map(lambda leaf: leaf[None], params)
        hidden, output, loss = nn.activation(case.activation), nn.activation("linear"), nn.mse()
        cfg = training._config(case.sizes, hidden, output, loss, optimizer, case.rows, settings)
        data = training._split_many(keys, x, y, loss, cfg, None)
        state = training._init_many(stacked, keys, cfg)
        compiled = training._chunk_many.lower(state, data, cfg).compile()
    except (AttributeError, KeyError, TypeError, ValueError) as err:
        warn(f"{case.label}: cannot build nn.train's chunk executable ({err!r}); skipped")
        return None
    return functools.partial(compiled, state, data)


# --- one case ----------------------------------------------------------------------------------


def final_loss(impl: str, out: Any) -> float:
    """The full-set training loss after the last epoch, from any contender's output."""
    if impl.startswith("train"):
        return float(out.train_loss[-1])
    return float(out[1][-1])  # (params, per-epoch losses) of the references


def measure(case: Case, repeats: int, min_sample_s: float) -> dict[str, Any]:
    """Build, compile (or first-call) and time the four contenders on one case, interleaved."""
    params, x, y = make_data(case)
    key = jax.random.key(2)
    optimizer = optax.adam(1e-3)
    calls: dict[str, Callable[[], Any]] = {}
    compile_s: dict[str, float | None] = {}
    method: dict[str, str] = {}
    first: dict[str, float] = {}
    outputs: dict[str, Any] = {}
    for impl, gradient in (("train backprop", "backprop"), ("train autodiff", "autodiff")):
        calls[impl] = train_call(case, optimizer, params, x, y, key, gradient)
        first[impl], outputs[impl] = timed_call(calls[impl])
        method[impl] = FIRST_CALL_ESTIMATE
    for impl, runner in (("scan reference", scan_runner), ("python loop", python_loop_runner)):
        compile_s[impl], calls[impl] = runner(case, optimizer, params, x, y, key)
        first[impl], outputs[impl] = timed_call(calls[impl])
        method[impl] = LOWER_COMPILE
    chunk = chunk_runner(case, optimizer, params, x, y, key)
    if chunk is not None:
        compile_s[CHUNK], calls[CHUNK] = None, chunk
        first[CHUNK], _ = timed_call(calls[CHUNK])
        method[CHUNK] = "cached (compiled by the first call of train backprop)"
    timings = time_interleaved(calls, repeats=repeats, warmup=1, min_sample_s=min_sample_s)
    for impl in ("train backprop", "train autodiff"):
        compile_s[impl] = max(first[impl] - timings[impl].median, 0.0)
    losses = {impl: final_loss(impl, out) for impl, out in outputs.items()}
    ref = losses["scan reference"]
    for impl, value in losses.items():
        if not np.isfinite(value) or abs(value - ref) > LOSS_RTOL * abs(ref):
            warn(f"{case.label}: final loss of {impl} {value:.6g} differs from reference {ref:.6g}")
    for impl in ("train backprop", "train autodiff"):
        result = outputs[impl]
        if int(result.nit) != case.epochs or result.status_name != "max_steps":
            warn(f"{case.label} {impl}: {int(result.nit)} epochs, {result.status_name}")
    return {
        "compile_s": compile_s,
        "method": method,
        "first_s": first,
        "timings": timings,
        "losses": losses,
    }


def summary_row(case: Case, result: dict[str, Any]) -> dict[str, Any]:
    """One row of the main table: epochs/s of every contender and the ratios of run times."""
    med = {impl: timing.median for impl, timing in result["timings"].items()}
    ours = med["train backprop"]
    chunk = med.get(CHUNK)
    return {
        "case": case.label,
        "network": case.network,
        "N": case.rows,
        "B": case.batch,
        "batches/epoch": case.batches_per_epoch,
        "epochs": case.epochs,
        "train backprop s": ours,
        "train backprop epochs/s": case.epochs / ours,
        "train autodiff epochs/s": case.epochs / med["train autodiff"],
        "scan ref epochs/s": case.epochs / med["scan reference"],
        "python loop epochs/s": case.epochs / med["python loop"],
        "ours/scan ref": ours / med["scan reference"],
        "ours/python loop": ours / med["python loop"],
        "autodiff/scan ref": med["train autodiff"] / med["scan reference"],
        "ours/train autodiff": ours / med["train autodiff"],
        "python loop/scan ref": med["python loop"] / med["scan reference"],
        "chunk exec/scan ref": None if chunk is None else chunk / med["scan reference"],
        "train overhead ms/call": None if chunk is None else 1e3 * (ours - chunk),
        "µs/update ours": 1e6 * ours / (case.epochs * case.batches_per_epoch),
        "µs/update scan ref": 1e6 * med["scan reference"] / (case.epochs * case.batches_per_epoch),
        "final loss ours": result["losses"]["train backprop"],
        "final loss ref": result["losses"]["scan reference"],
    }


def timing_rows(case: Case, result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per contender with its compile time, first call and run-time statistics."""
    rows = []
    for impl, timing in result["timings"].items():
        rows.append(
            {
                "case": case.label,
                "impl": impl,
                "epochs": case.epochs,
                "compile_s": result["compile_s"][impl],
                "compile_method": result["method"][impl],
                "first_call_s": result["first_s"][impl],
                "ms/epoch": 1e3 * timing.median / case.epochs,
                "final_loss": result["losses"].get(impl),
            }
            | timing.row_fields("s")
        )
    return rows


SUMMARY_COLUMNS = (
    "case",
    "network",
    "N",
    "B",
    "batches/epoch",
    "epochs",
    "train backprop s",
    "train backprop epochs/s",
    "train autodiff epochs/s",
    "scan ref epochs/s",
    "python loop epochs/s",
    "ours/scan ref",
    "ours/python loop",
    "autodiff/scan ref",
    "ours/train autodiff",
    "µs/update ours",
    "µs/update scan ref",
    "chunk exec/scan ref",
    "train overhead ms/call",
)
TIMING_COLUMNS = (
    "case",
    "impl",
    "epochs",
    "compile_s",
    "compile_method",
    "first_call_s",
    "run_median_s",
    "run_min_s",
    "run_max_s",
    "ms/epoch",
    "final_loss",
)

NOTES = [
    "Same work for every contender: float32, the same glorot_normal initial parameters and "
    "data (x uniform in [−1, 1]^{n_0}, y = sin(3 Σ_j x_j)), optax.adam(1e-3), the same epochs and "
    "mini-batch size B; per epoch a key-driven shuffle into ⌊N/B⌋ mini-batches (none when B = N), "
    "one update per mini-batch, then the MSE on all N rows. The reference derives its shuffles "
    "from the key as nn.train does, so all contenders take the same steps; their final losses "
    "are checked to agree within 1e-3 (relative) and listed in the Timings table.",
    "train backprop / train autodiff = the public nn.train(params, x, y, key=…, activation=…, "
    "optimizer=…, steps=E, batch_size=B, validation=0, chunk_steps=E, gradient=…), timed per "
    "call: its wall time includes the Python-side setup of every call (argument checks, a "
    "finiteness check of x and y, the data split and state initialisation as two small jitted "
    "calls, the conversion of the loss history to NumPy), and its per-epoch bookkeeping in the "
    "compiled loop (look-back copy of the best parameters, finiteness checks, status), which "
    "the references do not do. nn.train cannot be lowered as one function, so its compile time "
    "is estimated as first call − median run (labelled so).",
    "scan reference = one jax.jit of lax.scan over epochs (lax.scan over mini-batches inside), "
    "value_and_grad of a plain jax.numpy MLP + MSE, optax.adam; compile = lower+compile, and "
    "the call is the compiled executable.",
    "python loop = Python for-loops over epochs and mini-batches calling a jitted step "
    "(value_and_grad + optax update; it picks its mini-batch by index from the epoch's "
    "gathered batches), a jitted shuffle per epoch and a jitted full-set loss per epoch; nothing "
    "blocks until the end, so async dispatch may overlap Python with compute. compile = sum of "
    "lower+compile of those jitted functions (its first call compiles them again, as jit's call "
    "cache is separate).",
    "run = median wall time over interleaved repeats after one warm-up, each call ending in "
    "jax.block_until_ready; a sample averages as many calls as make it last ≥ min_sample_s. "
    "Ratios are of median run times (< 1: ours faster); epochs/s = epochs / median run.",
    "µs/update = median run / (epochs × ⌊N/B⌋): the time per optimiser update, including the "
    "per-epoch shuffle and full-set loss.",
    "Diagnostic 'train chunk exec': the compiled executable of nn.train's chunk of epochs "
    "(private jaxmin.nn.training._chunk_many, built with nn.train's private helpers exactly as "
    "nn.train builds it, gradient='backprop'), called directly; it is built after nn.train's "
    "first call, so JAX's cache already holds it (no compile time). 'train overhead ms/call' = "
    "train backprop − chunk exec: nn.train's per-call Python-side work; 'chunk exec/scan ref' "
    "compares the compiled loops alone (nn.train's loop is vmapped over an ensemble of one "
    "member and does per-epoch look-back, finiteness and status bookkeeping that the "
    "reference does not).",
]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=7, quick=3)
    min_sample_s = 0.02 if args.quick else 0.2
    load = {"before": os.getloadavg()}
    summary, timings = [], []
    for case in cases(args.quick):
        print(f"... {case.label}: {case.network} N={case.rows} B={case.batch}", flush=True)
        result = measure(case, repeats, min_sample_s)
        summary.append(summary_row(case, result))
        timings.extend(timing_rows(case, result))
    for row in summary:
        if row["ours/scan ref"] > 1.10:
            ratio = row["ours/scan ref"]
            warn(f"nn.train slower than the scan reference: {row['case']} ({ratio:.3g})")
    load["after"] = os.getloadavg()
    config = {
        "repeats": repeats,
        "min_sample_s": min_sample_s,
        "load_average_1_5_15_min": load,
        "optimizer": "optax.adam(1e-3)",
        "dtype": "float32",
        "cases": [dataclasses.asdict(case) for case in cases(args.quick)],
        "quick": args.quick,
    }
    write_results(
        NAME,
        {"Training throughput": summary, "Timings per contender": timings},
        notes=NOTES,
        config=config,
        columns={"Training throughput": SUMMARY_COLUMNS, "Timings per contender": TIMING_COLUMNS},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
