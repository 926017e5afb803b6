"""Hand-written backprop (``jaxmin.nn.backprop``) vs ``jax.value_and_grad`` of the same MSE loss.

For each network, batch size and dtype, three jitted functions of ``(params, x, y)`` that all
return ``(E, ∂E/∂params)`` are compiled and timed in turn, in the same process:

- ``backprop`` (ours): ``nn.backprop(params, x, y, activation=…, loss="mse")``, the lecture's
  backward pass written as one matrix product per layer and per direction;
- ``autodiff`` (the reference): ``nn.autodiff_grad`` with the same arguments, i.e.
  ``jax.value_and_grad`` of jaxmin's own forward pass and loss (target: backprop/autodiff ≤ 1);
- ``plain autodiff`` (a cross-check of the reference): ``jax.value_and_grad`` of an MLP and MSE
  written here in plain ``jax.numpy`` (``x @ W + b``, ``jax.nn`` activations), independent of
  jaxmin, so that the reference cannot be slow for a reason of jaxmin's own.

Each row also gives the matmul FLOPs of one forward + backward pass, the achieved GFLOP/s of
each contender, and that as a fraction of this machine's matmul rate, measured in the same run
as a jitted ``a @ b`` of square matrices in the same dtype. The benchmark checks that the three
give the same loss and gradients (max relative difference, recorded in the table).

Run: ``python benchmarks/bench_backprop.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _harness import (
    LOWER_COMPILE,
    Timing,
    compile_seconds,
    parse_args,
    repeats_for,
    time_interleaved,
    timed_call,
    warn,
    write_results,
)

from jaxmin import nn

jax.config.update("jax_enable_x64", True)  # float64 rows; float32 rows pass explicit dtypes

NAME = "bench_backprop"
IMPLS = ("backprop", "autodiff", "plain autodiff")
GRAD_RTOL = {"float32": 1e-4, "float64": 1e-12}
"""Largest accepted relative gradient difference between contenders, per dtype."""


# --- cases -------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Case:
    """A network (layer widths, hidden activation), the number of rows and the dtype."""

    label: str
    sizes: tuple[int, ...]
    activation: str
    rows: int
    dtype: str

    @property
    def network(self) -> str:
        """The widths as ``1–20–1`` with the activation."""
        return "–".join(str(n) for n in self.sizes) + f" {self.activation}"


def cases(quick: bool) -> list[Case]:
    """The tutorial network, a small tanh MLP and a wide ReLU MLP, each in float32 and float64."""
    if quick:
        specs = [
            ("tutorial", (1, 20, 1), "sigmoid", 256),
            ("tanh MLP", (2, 64, 64, 1), "tanh", 256),
            ("relu MLP", (10, 64, 64, 64, 1), "relu", 1024),
        ]
    else:
        specs = [
            ("tutorial", (1, 20, 1), "sigmoid", 1000),
            ("tanh MLP", (2, 64, 64, 1), "tanh", 1000),
            ("relu MLP", (10, 256, 256, 256, 1), "relu", 4096),
        ]
    return [
        Case(label, sizes, act, rows, dtype)
        for label, sizes, act, rows in specs
        for dtype in ("float32", "float64")
    ]


def matmul_flops(sizes: Sequence[int], rows: int) -> dict[str, int]:
    """Matmul FLOPs of one forward + backward pass over ``rows`` rows (elementwise ops ignored).

    Per layer l with n_in × n_out weights: forward z = aW costs 2·N·n_in·n_out; backward ∂W = aᵀΔ
    costs the same for every layer, and the back-propagated error ΔWᵀ the same again for every
    layer except the first (the gradient with respect to the inputs x is never needed).
    """
    layers = [n_in * n_out for n_in, n_out in zip(sizes, sizes[1:], strict=False)]
    forward = 2 * rows * sum(layers)
    grad_w = 2 * rows * sum(layers)
    back_error = 2 * rows * sum(layers[1:])
    return {
        "forward": forward,
        "grad_W": grad_w,
        "back_error": back_error,
        "total": forward + grad_w + back_error,
    }


def make_data(case: Case) -> tuple[list[dict[str, jax.Array]], jax.Array, jax.Array]:
    """Glorot-normal parameters and a smooth regression target, on device in the case's dtype."""
    key_params, key_x = jax.random.split(jax.random.key(0))
    params = nn.init_mlp(key_params, case.sizes, dtype=case.dtype)
    x = jax.random.uniform(key_x, (case.rows, case.sizes[0]), case.dtype, -1.0, 1.0)
    y = jnp.sin(3 * jnp.sum(x, axis=1, keepdims=True)) * jnp.ones((1, case.sizes[-1]), case.dtype)
    return jax.block_until_ready((params, x, y.astype(case.dtype)))


# --- contenders --------------------------------------------------------------------------------

_PLAIN_ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
}


def plain_mse(activation: str) -> Callable[..., jax.Array]:
    """E(params) = mean((MLP(x) − y)²) in plain jax.numpy, with a linear output layer."""
    sigma = _PLAIN_ACTIVATIONS[activation]

    def loss(params: list[dict[str, jax.Array]], x: jax.Array, y: jax.Array) -> jax.Array:
        a = x
        for layer in params[:-1]:
            a = sigma(a @ layer["W"] + layer["b"])
        yhat = a @ params[-1]["W"] + params[-1]["b"]
        return jnp.mean(jnp.square(yhat - y))

    return loss


def contenders(activation: str) -> dict[str, Any]:
    """The three jitted ``(params, x, y) -> (E, grads)`` functions."""
    return {
        "backprop": jax.jit(
            lambda p, x, y: nn.backprop(p, x, y, activation=activation, loss="mse")
        ),
        "autodiff": jax.jit(
            lambda p, x, y: nn.autodiff_grad(p, x, y, activation=activation, loss="mse")
        ),
        "plain autodiff": jax.jit(jax.value_and_grad(plain_mse(activation))),
    }


# --- checks ------------------------------------------------------------------------------------


def max_relative_difference(ours: Any, ref: Any) -> float:
    """max over leaves of ‖ours − ref‖_∞ / ‖ref‖_∞ (per leaf, so that no tiny entry dominates)."""
    gaps = []
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref), strict=True):
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = float(np.max(np.abs(b64)))
        gaps.append(float(np.max(np.abs(a64 - b64))) / (scale if scale > 0 else 1.0))
    return max(gaps)


def check_outputs(case: Case, outputs: dict[str, Any]) -> dict[str, float]:
    """Relative loss and gradient differences of backprop and plain autodiff vs autodiff."""
    ref_loss, ref_grads = outputs["autodiff"]
    result = {}
    for impl in ("backprop", "plain autodiff"):
        loss, grads = outputs[impl]
        dtypes = {str(leaf.dtype) for leaf in jax.tree.leaves((loss, grads))}
        if dtypes != {case.dtype}:
            warn(f"{case.network} {case.dtype} {impl}: outputs have dtypes {sorted(dtypes)}")
        loss_gap = abs(float(loss) - float(ref_loss)) / abs(float(ref_loss))
        grad_gap = max_relative_difference(grads, ref_grads)
        if grad_gap > GRAD_RTOL[case.dtype] or loss_gap > GRAD_RTOL[case.dtype]:
            warn(
                f"{case.network} N={case.rows} {case.dtype}: {impl} differs from autodiff "
                f"(loss {loss_gap:.3g}, gradients {grad_gap:.3g})"
            )
        result[f"{impl}:loss"] = loss_gap
        result[f"{impl}:grads"] = grad_gap
    return result


# --- matmul peak -------------------------------------------------------------------------------


def matmul_rates(
    dtypes: Sequence[str], sizes: Sequence[int], repeats: int, min_sample_s: float, when: str
) -> list[dict[str, Any]]:
    """GFLOP/s of a jitted ``a @ b`` for square n × n matrices (2n³ FLOPs), per dtype and n."""
    rows = []
    matmul = jax.jit(lambda a, b: a @ b)
    for dtype in dtypes:
        for n in sizes:
            key_a, key_b = jax.random.split(jax.random.key(n))
            a = jax.random.normal(key_a, (n, n), dtype)
            b = jax.random.normal(key_b, (n, n), dtype)
            seconds, compiled = compile_seconds(matmul, a, b)
            timing = time_interleaved(
                {"matmul": lambda c=compiled, a=a, b=b: c(a, b)},
                repeats=repeats,
                min_sample_s=min_sample_s,
            )["matmul"]
            rows.append(
                {
                    "measured": when,
                    "dtype": dtype,
                    "n": n,
                    "flops": 2 * n**3,
                    "compile_s": seconds,
                    "run_median_ms": 1e3 * timing.median,
                    "run_min_ms": 1e3 * timing.min,
                    "GFLOP/s (median)": 2 * n**3 / timing.median / 1e9,
                    "GFLOP/s (best sample)": 2 * n**3 / timing.min / 1e9,
                    "repeats": len(timing.samples),
                    "calls_per_sample": timing.number,
                }
            )
    return rows


def peak_rates(matmul_rows: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The highest median-based matmul rate per dtype (GFLOP/s): the 'peak' of the fractions."""
    peaks: dict[str, float] = {}
    for row in matmul_rows:
        peaks[row["dtype"]] = max(peaks.get(row["dtype"], 0.0), row["GFLOP/s (median)"])
    return peaks


# --- one case ----------------------------------------------------------------------------------


def measure(case: Case, repeats: int, min_sample_s: float) -> dict[str, Any]:
    """Compile (timed) and time the three contenders on one case, interleaved."""
    params, x, y = make_data(case)
    compiled: dict[str, Any] = {}
    compile_s: dict[str, float] = {}
    first: dict[str, float] = {}
    outputs: dict[str, Any] = {}
    for impl, jitted in contenders(case.activation).items():
        compile_s[impl], compiled[impl] = compile_seconds(jitted, params, x, y)
        first[impl], outputs[impl] = timed_call(compiled[impl], params, x, y)
    checks = check_outputs(case, outputs)
    calls = {impl: (lambda c=c: c(params, x, y)) for impl, c in compiled.items()}
    timings = time_interleaved(calls, repeats=repeats, warmup=2, min_sample_s=min_sample_s)
    return {"compile_s": compile_s, "first_s": first, "timings": timings, "checks": checks}


def summary_row(case: Case, result: dict[str, Any], peaks: dict[str, float]) -> dict[str, Any]:
    """One row of the main table: times, ratio, GFLOP/s, fraction of peak, gradient check."""
    flops = matmul_flops(case.sizes, case.rows)["total"]
    med = {impl: result["timings"][impl].median for impl in IMPLS}
    rate = {impl: flops / med[impl] / 1e9 for impl in IMPLS}
    peak = peaks[case.dtype]
    return {
        "network": case.network,
        "N": case.rows,
        "dtype": case.dtype,
        "MFLOP/call": flops / 1e6,
        "compile ours s": result["compile_s"]["backprop"],
        "compile autodiff s": result["compile_s"]["autodiff"],
        "run ours ms": 1e3 * med["backprop"],
        "run autodiff ms": 1e3 * med["autodiff"],
        "run plain ms": 1e3 * med["plain autodiff"],
        "ours/autodiff": med["backprop"] / med["autodiff"],
        "ours/plain": med["backprop"] / med["plain autodiff"],
        "GFLOP/s ours": rate["backprop"],
        "GFLOP/s autodiff": rate["autodiff"],
        "ours % of peak": 100 * rate["backprop"] / peak,
        "autodiff % of peak": 100 * rate["autodiff"] / peak,
        "grad max rel diff": result["checks"]["backprop:grads"],
        "loss rel diff": result["checks"]["backprop:loss"],
        "plain grad max rel diff": result["checks"]["plain autodiff:grads"],
        "ours<=autodiff (10% noise)": med["backprop"] / med["autodiff"] <= 1.10,
    }


def timing_rows(case: Case, result: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per contender with the full timing statistics."""
    rows = []
    for impl in IMPLS:
        timing: Timing = result["timings"][impl]
        rows.append(
            {
                "network": case.network,
                "N": case.rows,
                "dtype": case.dtype,
                "impl": impl,
                "compile_s": result["compile_s"][impl],
                "compile_method": LOWER_COMPILE,
                "first_call_s": result["first_s"][impl],
            }
            | timing.row_fields("ms")
        )
    return rows


SUMMARY_COLUMNS = (
    "network",
    "N",
    "dtype",
    "MFLOP/call",
    "compile ours s",
    "compile autodiff s",
    "run ours ms",
    "run autodiff ms",
    "ours/autodiff",
    "ours/plain",
    "GFLOP/s ours",
    "GFLOP/s autodiff",
    "ours % of peak",
    "autodiff % of peak",
    "grad max rel diff",
    "loss rel diff",
)
TIMING_COLUMNS = (
    "network",
    "N",
    "dtype",
    "impl",
    "compile_s",
    "first_call_s",
    "run_median_ms",
    "run_q1_ms",
    "run_q3_ms",
    "run_min_ms",
    "run_max_ms",
    "calls_per_sample",
)
MATMUL_COLUMNS = (
    "measured",
    "dtype",
    "n",
    "run_median_ms",
    "run_min_ms",
    "GFLOP/s (median)",
    "GFLOP/s (best sample)",
)

NOTES = [
    "Every contender is a jax.jit of (params, x, y) -> (E, ∂E/∂params), compiled for the case's "
    "arrays (already on device) and called as the compiled executable; compile = "
    "lower(...).compile() (tracing + lowering + XLA), run = median over interleaved repeats "
    "after two warm-up calls, each call ending in jax.block_until_ready; a sample averages as "
    "many calls as make it last ≥ min_sample_s (calls_per_sample in the JSON).",
    "ours = nn.backprop(params, x, y, activation=…, loss='mse') (the hand-written backward "
    "pass); autodiff = nn.autodiff_grad(...) with the same arguments, i.e. jax.value_and_grad of "
    "jaxmin's forward pass and MSE; plain = jax.value_and_grad of an MLP + MSE written in plain "
    "jax.numpy in this script (jax.nn.sigmoid / jnp.tanh / jax.nn.relu), a cross-check that the "
    "reference is not slow for reasons of jaxmin's own. Target: ours/autodiff ≤ 1 (within "
    "about 10 % noise).",
    "MFLOP/call counts matmul FLOPs only: forward 2·N·n_in·n_out per layer; backward 2·N·n_in·"
    "n_out for ∂W of every layer plus 2·N·n_in·n_out for the back-propagated error of every "
    "layer except the first. Elementwise work (activations and their derivatives, bias adds and "
    "bias gradients, the loss) is ignored, so GFLOP/s slightly understate the work done; for "
    "the 1–20–1 network (almost no matmul work) it is a large part of the real work.",
    "'% of peak' = achieved GFLOP/s / the highest median GFLOP/s of a jitted a @ b of square "
    "matrices in the same dtype, measured in this run before and after the cases (the Matmul "
    "rate table; the highest of both passes counts, so that a busy spell does not lower the "
    "peak). The small "
    "networks are far below peak by nature: their calls take tens of microseconds, dominated by "
    "dispatch and elementwise work, and matrices with 1, 2 or 20 columns cannot use the matmul "
    "units well.",
    "grad max rel diff = max over parameter leaves of ‖g_ours − g_autodiff‖_∞ / ‖g_autodiff‖_∞; "
    "loss rel diff = |E_ours − E_autodiff| / |E_autodiff|; plain grad max rel diff is the same "
    "for the plain reference. A warning is printed above 1e-4 (float32) or 1e-12 (float64).",
    "float64 needs jax_enable_x64, which this script turns on at import; float32 rows use "
    "explicitly float32 parameters and data (checked: every output has the case's dtype).",
    "Data: x uniform in [−1, 1]^{n_0}, y = sin(3 Σ_j x_j); glorot_normal parameters from "
    "jax.random.key(0).",
]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=15, quick=3)
    min_sample_s = 0.02 if args.quick else 0.1
    matmul_sizes = (512, 1024) if args.quick else (1024, 2048)
    dtypes = ("float32", "float64")
    load = {"before": os.getloadavg()}
    print("... matmul rate", flush=True)
    matmul_rows = matmul_rates(dtypes, matmul_sizes, repeats, min_sample_s, "before")
    results = []
    for case in cases(args.quick):
        print(f"... {case.network} N={case.rows} {case.dtype}", flush=True)
        results.append((case, measure(case, repeats, min_sample_s)))
    print("... matmul rate again", flush=True)
    matmul_rows += matmul_rates(dtypes, matmul_sizes, repeats, min_sample_s, "after")
    load["after"] = os.getloadavg()
    peaks = peak_rates(matmul_rows)
    summary = [summary_row(case, result, peaks) for case, result in results]
    timings = [row for case, result in results for row in timing_rows(case, result)]
    for row in summary:
        if not row["ours<=autodiff (10% noise)"]:
            warn(
                f"ours slower than autodiff: {row['network']} N={row['N']} {row['dtype']} "
                f"(ratio {row['ours/autodiff']:.3f})"
            )
    peak_note = "Matmul peak used for '% of peak' (GFLOP/s): " + ", ".join(
        f"{dtype} {rate:.0f}" for dtype, rate in peaks.items()
    )
    config = {
        "repeats": repeats,
        "min_sample_s": min_sample_s,
        "warmup": 2,
        "matmul_sizes": list(matmul_sizes),
        "load_average_1_5_15_min": load,
        "peak_GFLOP/s": peaks,
        "cases": [dataclasses.asdict(case) for case in cases(args.quick)],
        "flops": {
            f"{case.network} N={case.rows}": matmul_flops(case.sizes, case.rows)
            for case in cases(args.quick)
            if case.dtype == "float32"
        },
        "quick": args.quick,
    }
    write_results(
        NAME,
        {
            "Backprop vs autodiff (one forward + backward pass)": summary,
            "Matmul rate (jitted a @ b, n × n)": matmul_rows,
            "Timings per contender": timings,
        },
        notes=[*NOTES, peak_note],
        config=config,
        columns={
            "Backprop vs autodiff (one forward + backward pass)": SUMMARY_COLUMNS,
            "Matmul rate (jitted a @ b, n × n)": MATMUL_COLUMNS,
            "Timings per contender": TIMING_COLUMNS,
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
