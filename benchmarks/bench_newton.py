"""``jaxmin.newton``: iterations, evaluations and time to ‖∇f‖ ≤ 1e-8; Newton-CG scaling in M.

Two parts, all in float64 (the script turns on ``jax_enable_x64``):

- **Part A, to the target** ‖∇f‖₂ ≤ 1e-8 on the chained Rosenbrock function
  f(x) = Σᵢ 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)² (``jaxmin.objectives.rosenbrock(n)``) at n = 2, 10,
  100 from the standard start (−1.2, 1, −1.2, 1, …), every contender in one run: the four
  ``jaxmin.newton`` methods (Gauss–Newton on the residuals r = (10(xᵢ₊₁ − xᵢ²), 1 − xᵢ), with
  a dense J and matrix-free), our GD and Adam (``jaxmin.minimize``), optax's L-BFGS in a jitted
  ``lax.while_loop`` and SciPy's BFGS. Per row: whether the target was reached, iterations,
  f / gradient / Hessian evaluations, final f, ‖∇f‖, where the run ended (for n ≥ 4 chained
  Rosenbrock has a local minimum near x₁ = −1), compile time apart from the median run time.
  Target: damped Newton on 2D Rosenbrock in ≤ 30 iterations.
- **Part B, Newton-CG scaling**: ``jaxmin.newton(method="newton-cg")`` for a fixed number of
  iterations K with a fixed number of CG products C per iteration on Rosenbrock(M),
  M = 10⁴ … 10⁶: wall time per iteration and per Hessian-vector product, and peak memory from
  XLA's memory analysis of the compiled loop and from the peak RSS of a fresh subprocess per M.
  Target: time and memory growing linearly in M (the fitted log-log slopes are reported).

Run: ``python benchmarks/bench_newton.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import scipy.optimize
from _harness import (
    LOWER_COMPILE,
    OtherLoad,
    Timing,
    blas_controller,
    capture_run,
    compile_seconds,
    one_blas_thread,
    parse_args,
    repeats_for,
    source_state,
    time_calls,
    time_interleaved,
    timed_call,
    warn,
    write_results,
)

import jaxmin

jax.config.update("jax_enable_x64", True)

NAME = "bench_newton"
GTOL = 1e-8
"""The target: ‖∇f‖₂ ≤ GTOL."""
SECOND_ORDER_STEPS = 2_000
FIRST_ORDER_STEPS = 200_000
QUASI_NEWTON_MAXITER = 10_000
ADAM_LR = 1e-2
GD_LR_CANDIDATES = (1e-3, 5e-4, 2e-4, 1e-4)
DAMPED_TARGET_NIT = 30
LOCAL_MINIMUM_F = 3.9866
"""f at chained Rosenbrock's local minimum near (−1, 1, …, 1) for n ≥ 4 (to 4 decimals)."""
SCALING_STEPS = 10
SCALING_CG_MAXITER = 20
SCALING_CG_RTOL = 1e-12
"""So small that every CG solve makes SCALING_CG_MAXITER products (unless curvature is ≤ 0)."""
RSS_CHILD_FLAG = "--rss-child"

NEWTON_MODULE = importlib.import_module("jaxmin.second_order._minimize")
MINIMIZE_MODULE = importlib.import_module("jaxmin.minimize")


# --- problems ----------------------------------------------------------------------------------


def alternating_start(n: int) -> jax.Array:
    """The standard start (−1.2, 1, −1.2, 1, …) in float64."""
    return jnp.asarray(np.resize([-1.2, 1.0], n), dtype=jnp.float64)


@functools.cache
def rosenbrock(n: int) -> Callable[[jax.Array], jax.Array]:
    """Chained Rosenbrock f (one object per n, so that jaxmin's compiled loops are reused)."""
    return jaxmin.objectives.rosenbrock(n).fun


@functools.cache
def rosenbrock_residuals(n: int) -> Callable[[jax.Array], jax.Array]:
    """r(x) = (10(xᵢ₊₁ − xᵢ²), 1 − xᵢ), i < n, so that ‖r‖² = f and ½‖r‖² = f/2."""

    def residuals(x: jax.Array) -> jax.Array:
        head, tail = x[:-1], x[1:]
        return jnp.concatenate([10.0 * (tail - head**2), 1.0 - head])

    return residuals


@functools.cache
def value_and_grad_norm(n: int) -> Callable[[jax.Array], tuple[jax.Array, jax.Array]]:
    """f(x) and ‖∇f(x)‖₂, jitted: every contender's end point is checked with the same code."""
    value_and_grad = jax.value_and_grad(rosenbrock(n))

    @jax.jit
    def check(x: jax.Array) -> tuple[jax.Array, jax.Array]:
        f, g = value_and_grad(x)
        return f, jnp.linalg.norm(g)

    return check


def check_residuals(n: int) -> None:
    """Make sure ‖r‖² equals f at the start and at a random point (the Gauss–Newton rows rely on
    ½‖r‖² = f/2, so that ‖∇(½‖r‖²)‖ ≤ GTOL/2 is the same target as ‖∇f‖ ≤ GTOL)."""
    for x in (alternating_start(n), jnp.asarray(np.random.default_rng(0).normal(size=n))):
        r = rosenbrock_residuals(n)(x)
        if not np.isclose(float(jnp.vdot(r, r)), float(rosenbrock(n)(x)), rtol=1e-12):
            raise AssertionError(f"‖r‖² != f for n = {n}")


def hessian_max_eigenvalue(n: int, x: jax.Array) -> float:
    """The largest eigenvalue of ∇²f(x) (NumPy eigvalsh of jax.hessian)."""
    return float(np.linalg.eigvalsh(np.asarray(jax.hessian(rosenbrock(n))(x)))[-1])


def gd_learning_rate(n: int) -> tuple[float, float]:
    """The largest of GD_LR_CANDIDATES with lr·λ_max < 2 at the start and at (1, …, 1) (GD is
    stable near both), and lr·λ_max itself."""
    curvature = max(
        hessian_max_eigenvalue(n, alternating_start(n)), hessian_max_eigenvalue(n, jnp.ones(n))
    )
    for lr in GD_LR_CANDIDATES:
        if lr * curvature < 2:
            return lr, lr * curvature
    lr = GD_LR_CANDIDATES[-1]
    return lr, lr * curvature


# --- contenders --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Where a run ended and what it cost, read from a contender's raw output."""

    x: np.ndarray
    nit: int
    nfev: int | None
    ngev: int | None
    nhev: int | None
    status: str
    reported_grad_norm: float | None = None


@dataclasses.dataclass(frozen=True)
class Contender:
    """One row of Part A: how to call it, how to read its output, what compiling it cost."""

    method: str
    settings: str
    call: Callable[[], Any]
    outcome: Callable[[Any], Outcome]
    compile_s: float | None
    compile_method: str


def jaxmin_outcome(result: Any, grad_scale: float = 1.0) -> Outcome:
    """The end point and counts of a MinimizeResult (``grad_scale`` converts its gradient norm
    to ‖∇f‖: 2 for Gauss–Newton, whose objective is ½‖r‖² = f/2)."""
    return Outcome(
        x=np.asarray(result.x),
        nit=int(result.nit),
        nfev=int(result.nfev),
        ngev=None if result.ngev is None else int(result.ngev),
        nhev=None if result.nhev is None else int(result.nhev),
        status=str(result.status_name),
        reported_grad_norm=grad_scale * float(result.grad_norm),
    )


def jaxmin_contender(
    method: str, settings: str, module: ModuleType, call: Callable[[], Any], grad_scale: float = 1
) -> Contender:
    """A public jaxmin call, with the exact compile time of its jitted loop (``module._run``)."""
    loop, args, kwargs = capture_run(module, call)
    seconds, _ = compile_seconds(loop, *args, **kwargs)
    return Contender(
        method,
        settings,
        call,
        functools.partial(jaxmin_outcome, grad_scale=grad_scale),
        seconds,
        LOWER_COMPILE,
    )


def newton_call(fun: Callable, x0: jax.Array, gtol: float, **options: Any) -> Callable[[], Any]:
    """``jaxmin.newton(fun, x0, steps=2000, gtol=gtol, record_every=2000, **options)``."""

    def call() -> Any:
        return jaxmin.newton(
            fun,
            x0,
            steps=SECOND_ORDER_STEPS,
            gtol=gtol,
            record_every=SECOND_ORDER_STEPS,
            **options,
        )

    return call


def newton_contender(n: int, method: str) -> Contender:
    """``jaxmin.newton(f, x0, method=method, gtol=1e-8)`` with default settings otherwise."""
    call = newton_call(rosenbrock(n), alternating_start(n), GTOL, method=method)
    return jaxmin_contender(method, "defaults", NEWTON_MODULE, call)


def gauss_newton_contender(n: int, matrix_free: bool) -> Contender:
    """Gauss–Newton on the residuals, gtol = 1e-8/2 on ∇(½‖r‖²) = ∇f/2, i.e. ‖∇f‖ ≤ 1e-8."""
    call = newton_call(
        rosenbrock_residuals(n),
        alternating_start(n),
        GTOL / 2,
        method="gauss-newton",
        matrix_free=matrix_free,
    )
    name = "gauss-newton (matrix-free)" if matrix_free else "gauss-newton (dense J)"
    return jaxmin_contender(name, f"matrix_free={matrix_free}", NEWTON_MODULE, call, 2.0)


def first_order_contender(n: int, rule: str) -> Contender:
    """Our GD (largest stable lr of GD_LR_CANDIDATES) or Adam (lr = 1e-2), jaxmin.minimize."""
    fun, x0 = rosenbrock(n), alternating_start(n)
    if rule == "gd":
        lr, stability = gd_learning_rate(n)
        optimizer = jaxmin.optim.gd(lr)
        settings = f"lr={lr:g} (lr·λmax={stability:.2f})"
    else:
        optimizer = jaxmin.optim.adam(ADAM_LR)
        settings = f"lr={ADAM_LR:g}"

    def call() -> Any:
        return jaxmin.minimize(
            fun, x0, optimizer, steps=FIRST_ORDER_STEPS, gtol=GTOL, record_every=FIRST_ORDER_STEPS
        )

    return jaxmin_contender(f"{rule} (jaxmin)", settings, MINIMIZE_MODULE, call)


def lbfgs_loop(n: int) -> Callable[[jax.Array], tuple]:
    """optax.lbfgs() (zoom line search) in one ``lax.while_loop``, optax's documented pattern.

    Stops when ‖∇f‖₂ ≤ GTOL (the gradient kept in the line search's state) or after
    QUASI_NEWTON_MAXITER iterations. Value-and-gradient evaluations are counted exactly: one at
    the start (``value_and_grad_from_state`` on the fresh state) plus the line search's
    ``num_linesearch_steps`` in every iteration (each is one value-and-gradient evaluation;
    checked against a counting callback while this benchmark was written).
    """
    fun = rosenbrock(n)
    solver = optax.lbfgs()
    value_and_grad = optax.value_and_grad_from_state(fun)

    def cond(carry: tuple) -> jax.Array:
        _, state, k, _ = carry
        grad_norm = optax.tree.norm(optax.tree.get(state, "grad"))
        return (k == 0) | ((k < QUASI_NEWTON_MAXITER) & (grad_norm > GTOL))

    def body(carry: tuple) -> tuple:
        x, state, k, evaluations = carry
        value, grad = value_and_grad(x, state=state)
        updates, state = solver.update(grad, state, x, value=value, grad=grad, value_fn=fun)
        searched = jnp.asarray(optax.tree.get(state, "num_linesearch_steps"), jnp.int32)
        evaluations = evaluations + searched
        return optax.apply_updates(x, updates), state, k + 1, evaluations

    @jax.jit
    def run(x0: jax.Array) -> tuple:
        zero = jnp.asarray(0, jnp.int32)
        x, state, k, evaluations = jax.lax.while_loop(
            cond, body, (x0, solver.init(x0), zero, zero + 1)
        )
        return x, k, evaluations, optax.tree.norm(optax.tree.get(state, "grad"))

    return run


def lbfgs_outcome(out: tuple) -> Outcome:
    """End point and counts of the optax L-BFGS loop."""
    x, k, evaluations, grad_norm = out
    status = "converged" if float(grad_norm) <= GTOL else "max_steps"
    evals = int(evaluations)
    return Outcome(np.asarray(x), int(k), evals, evals, None, status, float(grad_norm))


def lbfgs_contender(n: int) -> Contender:
    """optax.lbfgs() in a jitted while_loop; exact compile time of the loop."""
    run, x0 = lbfgs_loop(n), alternating_start(n)
    seconds, compiled = compile_seconds(run, x0)
    return Contender(
        "optax.lbfgs",
        "defaults (memory 10, zoom)",
        functools.partial(compiled, x0),
        lbfgs_outcome,
        seconds,
        LOWER_COMPILE,
    )


SCIPY_STATUS = {0: "converged", 1: "max_steps", 2: "precision loss", 3: "nan"}
"""SciPy BFGS's ``status`` codes, named like jaxmin's (2: 'desired error not achieved')."""


def bfgs_call(n: int) -> scipy.optimize.OptimizeResult:
    """SciPy BFGS with NumPy's rosen / rosen_der, stopping on ‖∇f‖₂ ≤ 1e-8."""
    x0 = np.resize([-1.2, 1.0], n).astype(np.float64)
    return scipy.optimize.minimize(
        scipy.optimize.rosen,
        x0,
        jac=scipy.optimize.rosen_der,
        method="BFGS",
        options={"gtol": GTOL, "norm": 2, "maxiter": QUASI_NEWTON_MAXITER},
    )


def bfgs_outcome(res: scipy.optimize.OptimizeResult) -> Outcome:
    """End point and counts of SciPy's BFGS."""
    status = SCIPY_STATUS.get(int(res.status), str(res.message))
    grad_norm = float(np.linalg.norm(res.jac))
    return Outcome(
        np.asarray(res.x), int(res.nit), int(res.nfev), int(res.njev), None, status, grad_norm
    )


def bfgs_contender(n: int) -> Contender:
    """SciPy's BFGS (nothing to compile)."""
    call = functools.partial(bfgs_call, n)
    return Contender("scipy BFGS", "NumPy rosen/rosen_der", call, bfgs_outcome, None, "none")


def contenders(n: int) -> list[Contender]:
    """Every Part A contender at dimension n, compiled (compile timed) but not yet called."""
    rows = [newton_contender(n, method) for method in ("newton", "damped", "newton-cg")]
    rows += [gauss_newton_contender(n, matrix_free) for matrix_free in (False, True)]
    rows += [first_order_contender(n, rule) for rule in ("gd", "adam")]
    return rows + [lbfgs_contender(n), bfgs_contender(n)]


# --- part A ------------------------------------------------------------------------------------


def where_it_ended(n: int, x: np.ndarray, f: float) -> str:
    """'global' at (1, …, 1), 'local (x₁≈−1)' at the n ≥ 4 local minimum, else 'elsewhere'."""
    if np.linalg.norm(x - 1.0) < 1e-4:
        return "global"
    if n >= 4 and x[0] < -0.9 and abs(f - LOCAL_MINIMUM_F) < 1e-3:
        return "local (x₁≈−1)"
    return "elsewhere"


def part_a_row(n: int, c: Contender, first_s: float, out: Any, timing: Timing) -> dict[str, Any]:
    """One Part A row: the end point checked with the same jitted f and ∇f for every method."""
    o = c.outcome(out)
    f, grad_norm = (float(v) for v in value_and_grad_norm(n)(jnp.asarray(o.x)))
    return {
        "method": c.method,
        "n": n,
        "settings": c.settings,
        "reached": grad_norm <= GTOL,
        "status": o.status,
        "nit": o.nit,
        "nfev": o.nfev,
        "ngev": o.ngev,
        "nhev": o.nhev,
        "final f": f,
        "‖∇f‖": grad_norm,
        "‖∇f‖ reported": o.reported_grad_norm,
        "‖x−1‖": float(np.linalg.norm(o.x - 1.0)),
        "x₁": float(o.x[0]),
        "ended at": where_it_ended(n, o.x, f),
        "compile s": c.compile_s,
        "compile method": c.compile_method,
        "first call s": first_s,
        "run ms": 1e3 * timing.median,
        "ms/iter": 1e3 * timing.median / max(o.nit, 1),
        **timing.row_fields("ms"),
    }


def part_a(dims: tuple[int, ...], repeats: int, min_sample_s: float) -> list[dict[str, Any]]:
    """Every contender at every n: compile, one first call, then interleaved timed repeats."""
    rows = []
    for n in dims:
        print(f"... part A: n={n}", flush=True)
        check_residuals(n)
        rows_n = contenders(n)
        firsts = [timed_call(c.call) for c in rows_n]
        other = OtherLoad()
        timings = time_interleaved(
            {c.method: c.call for c in rows_n}, repeats=repeats, min_sample_s=min_sample_s
        )
        load = other.fraction()
        for c, (first_s, out) in zip(rows_n, firsts, strict=True):
            row = part_a_row(n, c, first_s, out, timings[c.method])
            row["other CPU load"] = load
            rows.append(row)
    return rows


PART_A_COLUMNS = (
    "method",
    "n",
    "settings",
    "reached",
    "status",
    "nit",
    "nfev",
    "ngev",
    "nhev",
    "final f",
    "‖∇f‖",
    "‖x−1‖",
    "ended at",
    "compile s",
    "run ms",
    "run_min_ms",
    "run_max_ms",
    "ms/iter",
)


# --- part B ------------------------------------------------------------------------------------


def newton_cg_call(m: int) -> Callable[[], Any]:
    """K Newton-CG iterations on Rosenbrock(m) with C CG products each (gtol off)."""
    fun, x0 = rosenbrock(m), alternating_start(m)

    def call() -> Any:
        return jaxmin.newton(
            fun,
            x0,
            method="newton-cg",
            steps=SCALING_STEPS,
            gtol=None,
            record_every=SCALING_STEPS,
            cg_maxiter=SCALING_CG_MAXITER,
            cg_rtol=SCALING_CG_RTOL,
        )

    return call


def xla_memory(compiled: Any) -> dict[str, int | None]:
    """XLA's compiled memory analysis: argument, output, temporary and alias bytes, and the
    total argument + output + temp − alias (None where the backend gives no analysis)."""
    stats = compiled.memory_analysis()
    if stats is None:
        return {"argument": None, "output": None, "temp": None, "alias": None, "total": None}
    fields = {
        "argument": int(stats.argument_size_in_bytes),
        "output": int(stats.output_size_in_bytes),
        "temp": int(stats.temp_size_in_bytes),
        "alias": int(stats.alias_size_in_bytes),
    }
    fields["total"] = fields["argument"] + fields["output"] + fields["temp"] - fields["alias"]
    return fields


def proc_status_kib(field: str) -> int | None:
    """A 'VmRSS' / 'VmHWM'-style field of /proc/self/status in KiB (Linux), or None."""
    try:
        with open("/proc/self/status", encoding="utf-8") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def reset_peak_rss() -> bool:
    """Reset the peak RSS (VmHWM) to the current RSS: write 5 to /proc/self/clear_refs."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as clear:
            clear.write("5")
    except OSError:
        return False
    return True


def rss_child(m: int) -> dict[str, Any]:
    """In a fresh process: RSS after importing jax and jaxmin, after compiling the loop, and the
    peak RSS of one public call, which runs that executable (MiB). Printed as JSON on the last
    line of stdout by ``python bench_newton.py --rss-child M``."""
    mib = 1 / 1024  # /proc and ru_maxrss (Linux) report KiB
    rss_import = proc_status_kib("VmRSS")
    call = newton_cg_call(m)
    loop, args, kwargs = capture_run(NEWTON_MODULE, call)
    loop.lower(*args, **kwargs).compile()  # the public call below reuses this executable
    rss_compiled = proc_status_kib("VmRSS")
    maxrss_compiled = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    reset = reset_peak_rss()
    jax.block_until_ready(call())
    hwm = proc_status_kib("VmHWM")
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ok = None not in (rss_import, rss_compiled)
    return {
        "rss after import MiB": rss_import * mib if ok else None,
        "rss after compile MiB": rss_compiled * mib if ok else None,
        "peak over compile MiB": (maxrss_compiled - rss_import) * mib if ok else None,
        "run peak over pre-run RSS MiB": (hwm - rss_compiled) * mib if reset and ok else None,
        "peak over import MiB": (maxrss - rss_import) * mib if ok else None,
    }


def measure_rss(m: int) -> dict[str, Any]:
    """Run :func:`rss_child` in a fresh interpreter (this script with RSS_CHILD_FLAG)."""
    command = [sys.executable, str(Path(__file__).resolve()), RSS_CHILD_FLAG, str(m)]
    try:
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=600)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, json.JSONDecodeError, IndexError) as exc:
        warn(f"RSS subprocess for M={m} failed: {exc}")
        return {}


def scaling_row(m: int, repeats: int) -> dict[str, Any]:
    """Time K Newton-CG iterations at size m; XLA memory of the loop; peak RSS (subprocess)."""
    call = newton_cg_call(m)
    loop, args, kwargs = capture_run(NEWTON_MODULE, call)
    compile_s, compiled = compile_seconds(loop, *args, **kwargs)
    memory = xla_memory(compiled)
    first_s, res = timed_call(call)
    other = OtherLoad()
    timing = time_calls(call, repeats=repeats, warmup=1)
    other_load = other.fraction()
    nit, nhev = int(res.nit), int(res.nhev)
    if nit != SCALING_STEPS or res.status_name != "max_steps":
        warn(f"part B M={m}: {nit} iterations, status {res.status_name} (expected K, max_steps)")
    rss = measure_rss(m)
    return {
        "M": m,
        "K": SCALING_STEPS,
        "C": SCALING_CG_MAXITER,
        "nit": nit,
        "nhev": nhev,
        "HVP/iter": nhev / max(nit, 1),
        "nfev": int(res.nfev),
        "ngev": int(res.ngev),
        "final f": float(res.fun),
        "compile s": compile_s,
        "first call s": first_s,
        "run ms": 1e3 * timing.median,
        "ms/iter": 1e3 * timing.median / max(nit, 1),
        "µs/HVP": 1e6 * timing.median / max(nhev, 1),
        "ns/HVP/param": 1e9 * timing.median / max(nhev, 1) / m,
        "XLA total MiB": None if memory["total"] is None else memory["total"] / 2**20,
        "XLA temp MiB": None if memory["temp"] is None else memory["temp"] / 2**20,
        "XLA bytes/param": None if memory["total"] is None else memory["total"] / m,
        "xla memory bytes": memory,
        **rss,
        "RSS run peak bytes/param": (
            rss["run peak over pre-run RSS MiB"] * 2**20 / m
            if rss.get("run peak over pre-run RSS MiB") is not None
            else None
        ),
        "other CPU load": other_load,
        **timing.row_fields("ms"),
    }


def loglog_slope(sizes: list[int], values: list[float | None]) -> float | None:
    """Slope of log(value) against log(M) (np.polyfit, degree 1), or None if a value is missing."""
    pairs = [(s, v) for s, v in zip(sizes, values, strict=True) if v is not None and v > 0]
    if len(pairs) < 2 or len(pairs) < len(sizes):
        return None
    x, y = np.log([p[0] for p in pairs]), np.log([p[1] for p in pairs])
    return float(np.polyfit(x, y, 1)[0])


SLOPE_QUANTITIES = {
    "ms/iter": (1e6, "ns/param/iter"),
    "µs/HVP": (1e3, "ns/param/HVP"),
    "XLA total MiB": (2**20, "bytes/param"),
    "XLA temp MiB": (2**20, "bytes/param"),
    "run peak over pre-run RSS MiB": (2**20, "bytes/param"),
    "peak over import MiB": (2**20, "bytes/param"),
}
"""Quantity → (factor from its unit per parameter to the unit of the linear fit's slope, unit)."""
LINEAR_TOLERANCE = 0.15
"""A slope within 1 ± this counts as 'linear in M'."""


def linear_fit(sizes: list[int], values: list[float | None]) -> tuple[float, float] | None:
    """(slope, intercept) of value = a·M + b by least squares, or None if a value is missing."""
    if len(sizes) < 2 or any(v is None for v in values):
        return None
    slope, intercept = np.polyfit(np.asarray(sizes, float), np.asarray(values, float), 1)
    return float(slope), float(intercept)


def slope_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log-log slopes over all M and over M ≥ 10⁵ (where fixed per-call costs matter least),
    and the straight-line fit value = a·M + b: a per parameter, b the part that does not grow."""
    out = []
    sizes = [r["M"] for r in rows]
    for quantity, (factor, unit) in SLOPE_QUANTITIES.items():
        values = [r.get(quantity) for r in rows]
        slope = loglog_slope(sizes, values)
        large = [(s, v) for s, v in zip(sizes, values, strict=True) if s >= 10**5]
        slope_large = loglog_slope([s for s, _ in large], [v for _, v in large])
        fit = linear_fit(sizes, values)
        out.append(
            {
                "quantity": quantity,
                "M range": f"{min(sizes):.0e}–{max(sizes):.0e}",
                "slope (all M)": slope,
                "slope (M ≥ 1e5)": slope_large,
                f"linear (|slope−1| ≤ {LINEAR_TOLERANCE})": (
                    None if slope is None else abs(slope - 1) <= LINEAR_TOLERANCE
                ),
                "fit a·M + b: a": None if fit is None else f"{factor * fit[0]:.4g} {unit}",
                "fit: b": None if fit is None else fit[1],
            }
        )
    return out


def part_b(sizes: tuple[int, ...], repeats: int) -> list[dict[str, Any]]:
    """The Newton-CG scaling rows, one per M."""
    rows = []
    for m in sizes:
        print(f"... part B: M={m}", flush=True)
        rows.append(scaling_row(m, repeats))
    return rows


PART_B_COLUMNS = (
    "M",
    "nit",
    "HVP/iter",
    "nfev",
    "compile s",
    "run ms",
    "ms/iter",
    "µs/HVP",
    "ns/HVP/param",
    "XLA total MiB",
    "XLA bytes/param",
    "run peak over pre-run RSS MiB",
    "RSS run peak bytes/param",
    "peak over import MiB",
    "other CPU load",
)


# --- targets, machine state --------------------------------------------------------------------


def target_rows(rows_a: list[dict[str, Any]], slopes: list[dict[str, Any]]) -> list[dict]:
    """The issue's targets: damped Newton ≤ 30 iterations at n = 2; Newton-CG linear in M."""
    out = []
    for row in rows_a:
        if row["method"] == "damped" and row["n"] == 2:
            met = row["reached"] and row["nit"] <= DAMPED_TARGET_NIT
            goal = f"damped Newton, n = 2: ‖∇f‖ ≤ 1e-8 in ≤ {DAMPED_TARGET_NIT} iterations"
            out.append(
                {
                    "target": goal,
                    "measured": f"{row['nit']} iterations, ‖∇f‖ = {row['‖∇f‖']:.2g}",
                    "met": met,
                }
            )
    wanted = {
        "ms/iter": "Newton-CG time per iteration linear in M",
        "XLA total MiB": "Newton-CG peak memory (XLA analysis) linear in M",
        "run peak over pre-run RSS MiB": "Newton-CG peak memory (RSS of one run) linear in M",
    }
    for row in slopes:
        if row["quantity"] in wanted:
            slope = row["slope (all M)"]
            out.append(
                {
                    "target": wanted[row["quantity"]],
                    "measured": "n/a" if slope is None else f"log-log slope {slope:.3f}",
                    "met": None if slope is None else abs(slope - 1) <= LINEAR_TOLERANCE,
                }
            )
    return out


NOTES = [
    "float64 throughout (jax_enable_x64). f = jaxmin.objectives.rosenbrock(n).fun, the chained "
    "Rosenbrock Σᵢ<n 100(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)²; start (−1.2, 1, −1.2, 1, …). The target is "
    "‖∇f‖₂ ≤ 1e-8; 'reached', 'final f' and '‖∇f‖' are recomputed at every contender's end "
    "point with the same jitted jax.value_and_grad (the JSON keeps each method's own gradient "
    "norm as '‖∇f‖ reported'). 'ended at': global = within 1e-4 of (1, …, 1); local (x₁≈−1) = "
    "the local minimum of chained Rosenbrock for n ≥ 4 (f ≈ 3.9866).",
    "jaxmin.newton rows: jaxmin.newton(f, x0, method=…, steps=2000, gtol=1e-8, "
    "record_every=2000) with every other setting at its default (damping 1e-3, Armijo c₁ = "
    "1e-4, 30 backtracks; Newton-CG: cg_maxiter = n and the forcing term min(½, √‖∇f‖)). "
    "Counts as jaxmin reports them: newton = one f, ∇f and H per iteration; damped = one H and "
    "∇f, 1 + backtracks f; newton-cg nhev = Hessian-vector products (forward-over-reverse), "
    "ngev = 2 per iteration (jax.linearize of ∇f at x, and ∇f at the new x).",
    "Gauss–Newton rows: residuals r(x) = (10(xᵢ₊₁ − xᵢ²), 1 − xᵢ) with ½‖r‖² = f/2, so "
    "gtol = 0.5e-8 on its gradient is the same ‖∇f‖ ≤ 1e-8; matrix_free=False forms J by "
    "jacfwd and factorises JᵀJ + λI (nhev = Jacobians), matrix_free=True runs CG on J/Jᵀ "
    "products (nhev = products, 2 per CG iteration); nfev counts evaluations of r, ngev "
    "Jᵀr products.",
    "GD and Adam: jaxmin.minimize(f, x0, jaxmin.optim.gd(lr) / adam(1e-2), steps=200000, "
    "gtol=1e-8, record_every=200000); nfev = ngev = value-and-gradient evaluations = nit + 1. "
    "GD's lr is the largest of 1e-3, 5e-4, 2e-4, 1e-4 with lr·λmax(∇²f) < 2 both at the start "
    "and at (1, …, 1) (the value is in 'settings').",
    "optax.lbfgs: optax.lbfgs() with its defaults (memory 10, zoom line search), optax's "
    "documented loop (value_and_grad_from_state, update(grad, state, x, value=, grad=, "
    "value_fn=f)) inside one jitted lax.while_loop stopping when the gradient in the state has "
    "‖·‖₂ ≤ 1e-8 or after 10⁴ iterations; nfev = ngev = value-and-gradient evaluations = 1 + "
    "Σ num_linesearch_steps (checked against a counting callback).",
    "scipy BFGS: scipy.optimize.minimize(rosen, x0, jac=rosen_der, method='BFGS', options="
    "{gtol: 1e-8, norm: 2, maxiter: 10⁴}) with SciPy's NumPy rosen/rosen_der (the same chained "
    "Rosenbrock); status 'precision loss' = SciPy's 'Desired error not necessarily achieved "
    "due to precision loss' (its line search failed before the target).",
    "Timing: compile s = jax.jit(...).lower(...).compile() of the jitted loop, for exactly the "
    "arguments the public call passes it (jaxmin.newton / jaxmin.minimize: their private _run, "
    "arguments recorded by a stand-in for one call); jax reuses that executable, so 'first call "
    "s' (JSON) is a warm call. run = median wall time of the public call (jaxmin.newton(...), "
    "jaxmin.minimize(...), the compiled L-BFGS loop, scipy.optimize.minimize(...)) over "
    "interleaved repeats after one warm-up round, each call ending in jax.block_until_ready; a "
    "sample averages as many calls as make it last ≥ min_sample_s. ms/iter = run / nit.",
    "Part B: jaxmin.newton(f, x0, method='newton-cg', steps=K, gtol=None, record_every=K, "
    "cg_maxiter=C, cg_rtol=1e-12) on Rosenbrock(M) from the alternating start, K = 10, C = 20: "
    "the tiny cg_rtol makes every CG solve use C products (unless it meets curvature ≤ 0), so "
    "that each iteration does the same work at every M. From the 5th iteration on CG meets "
    "negative curvature after ~4 products (Rosenbrock's Hessian is indefinite there), so "
    "HVP/iter is ≈ 10, not C; the path is the same for every M (HVP/iter, nfev), hence so is "
    "the work. µs/HVP = run / nhev (it includes each iteration's gradients and line-search f "
    "evaluations).",
    "Part B memory: 'XLA total' = argument + output + temp − alias bytes of the compiled loop's "
    "memory_analysis(); 'run peak over pre-run RSS' = peak RSS (VmHWM, reset through "
    "/proc/self/clear_refs just before the run) of one run of the compiled loop in a fresh "
    "Python process, minus its RSS after compiling (the start x0 is resident already, so this "
    "excludes the argument); 'peak over import' = ru_maxrss at the end minus the RSS after "
    "importing jax and jaxmin (compile included: XLA's compiler dominates it, a few hundred "
    "MiB that do not grow with M). Slopes are np.polyfit(log M, log value, 1); 'linear' means "
    f"|slope − 1| ≤ {LINEAR_TOLERANCE}. At small M fixed per-call and per-iteration costs "
    "(dispatch, loop bookkeeping, allocator and compiler memory) flatten the curves, hence the "
    "separate slope over M ≥ 1e5, and the straight-line fit value = a·M + b, whose a is the "
    "cost per parameter (bytes/param: 8 per float64 vector of size M) and b the constant part. "
    "Time per parameter can also rise with M where the working set (XLA total) outgrows the "
    "CPU caches: about 1 MiB at M = 1e4, 115 MiB at M = 1e6.",
    "Threads: every BLAS library (NumPy's and SciPy's OpenBLAS, used by jaxlib's LAPACK "
    "kernels for LU / Cholesky) is limited to one thread with threadpoolctl for the whole run, "
    "so that idle OpenBLAS threads spinning after a NumPy call cannot slow the next JAX call on "
    "a 2-core machine (see bench_cmaes); XLA's own CPU thread pool is left as it is.",
    "'other CPU load' = the share of the machine's CPU time used by other processes while a "
    "row (Part A: all rows of one n) was timed; above 5 % its timings are not trustworthy.",
]


def config_of(args: Any, repeats: int, min_sample_s: float, dims: tuple, sizes: tuple) -> dict:
    """The run's configuration for the JSON file."""
    return {
        "quick": args.quick,
        "repeats": repeats,
        "min_sample_s": min_sample_s,
        "gtol": GTOL,
        "part_a_dims": list(dims),
        "second_order_steps": SECOND_ORDER_STEPS,
        "first_order_steps": FIRST_ORDER_STEPS,
        "quasi_newton_maxiter": QUASI_NEWTON_MAXITER,
        "adam_lr": ADAM_LR,
        "part_b_sizes": list(sizes),
        "part_b_steps": SCALING_STEPS,
        "part_b_cg_maxiter": SCALING_CG_MAXITER,
        "part_b_cg_rtol": SCALING_CG_RTOL,
        "versions": {"scipy": scipy.__version__, "threadpoolctl": _version("threadpoolctl")},
        "source": source_state(),
        "threadpoolctl_limit": blas_controller() is not None,
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def report_warnings(rows_a: list[dict], rows_b: list[dict], targets: list[dict]) -> None:
    """Warn about missed targets and rows timed while the machine was busy."""
    for row in targets:
        if row["met"] is False:
            warn(f"target not met: {row['target']} ({row['measured']})")
    busy = {
        f"n={row['n']}" if "n" in row else f"M={row['M']}": row["other CPU load"]
        for row in rows_a + rows_b
        if row.get("other CPU load") is not None and row["other CPU load"] > 0.05
    }
    for where, load in busy.items():
        warn(f"{where}: other processes used {100 * load:.0f} % of the CPUs while timed")


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=5, quick=2)
    min_sample_s = 0.01 if args.quick else 0.05
    dims = (2, 10) if args.quick else (2, 10, 100)
    sizes = (10**4, 3 * 10**4, 10**5) if args.quick else (10**4, 3 * 10**4, 10**5, 3 * 10**5, 10**6)
    t0 = time.perf_counter()
    load_start = os.getloadavg()
    with one_blas_thread():
        rows_a = part_a(dims, repeats, min_sample_s)
        t_a = time.perf_counter() - t0
        rows_b = part_b(sizes, repeats)
    t_b = time.perf_counter() - t0 - t_a
    slopes = slope_rows(rows_b)
    targets = target_rows(rows_a, slopes)
    report_warnings(rows_a, rows_b, targets)
    notes = NOTES + [
        f"Wall time of this run: part A {t_a:.0f} s, part B {t_b:.0f} s; load average (1 min) "
        f"{load_start[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end."
    ]
    if args.quick:
        notes.append("--quick: n = 100 and M = 3e5, 1e6 left out; fewer repeats.")
    tables = {
        "Targets": targets,
        "Part A: to ‖∇f‖ ≤ 1e-8 on Rosenbrock": rows_a,
        "Part B: Newton-CG scaling in M": rows_b,
        "Part B: log-log slopes against M": slopes,
    }
    write_results(
        NAME,
        tables,
        notes=notes,
        config=config_of(args, repeats, min_sample_s, dims, sizes),
        columns={
            "Part A: to ‖∇f‖ ≤ 1e-8 on Rosenbrock": PART_A_COLUMNS,
            "Part B: Newton-CG scaling in M": PART_B_COLUMNS,
        },
        quick=args.quick,
    )


if __name__ == "__main__":
    if sys.argv[1:2] == [RSS_CHILD_FLAG]:
        print(json.dumps(rss_child(int(sys.argv[2]))))
    else:
        main()
