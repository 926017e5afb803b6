"""10⁴ starts on Himmelblau in one ``minimize`` call (``batched=True``) vs a Python loop.

Contenders, all with ``jaxmin.optim.adam`` and the same number of steps:

- ``minimize batched``: ``jaxmin.minimize(fun, starts, opt, batched=True)``, all starts at once
  under ``vmap`` in one compiled program;
- ``Python loop of minimize``: one unbatched ``jaxmin.minimize`` call per start (the compiled
  loop is cached, so only the first call compiles). Looping over all 10⁴ starts would take long,
  so the loop runs over a subset, and its total for all starts is *extrapolated* (per-start time
  × number of starts), and labelled so;
- ``Python loop of compiled _run``: the same loop calling ``minimize``'s compiled executable
  directly, which shows how much of the loop is ``minimize``'s per-call Python overhead;
- ``vmapped fori_loop (floor)``: a bare ``vmap`` of ``lax.fori_loop`` (gradient, update) with the
  same rule, without ``minimize``'s status, recording and divergence guard.

It also checks that the batched run finds the four minima of Himmelblau (a start "reaches" a
minimum when it ends within 1e-3 of it) and that the loop agrees with the batched run.

Run: ``python benchmarks/bench_multistart.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _harness import (
    Timing,
    compile_seconds,
    parse_args,
    repeats_for,
    time_interleaved,
    timed_call,
    warn,
    write_results,
)

import jaxmin
from jaxmin._identity import ByContent
from jaxmin.minimize import _run as minimize_run
from jaxmin.result import Status

NAME = "bench_multistart"
REACH_TOL = 1e-3


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes of the benchmark."""

    n_starts: int
    loop_starts: int
    steps: int
    learning_rate: float
    repeats: int
    seed: int = 0


def config_for(quick: bool, repeats: int) -> Config:
    """Full: 10⁴ starts, 1000 Adam steps, loop timed over 1000 starts; --quick: smaller."""
    if quick:
        return Config(n_starts=1000, loop_starts=50, steps=200, learning_rate=0.05, repeats=repeats)
    return Config(
        n_starts=10_000, loop_starts=1000, steps=1000, learning_rate=0.05, repeats=repeats
    )


def uniform_starts(cfg: Config, lower: np.ndarray, upper: np.ndarray) -> jax.Array:
    """``n_starts`` points drawn uniformly in the box [lower, upper] (float32)."""
    key = jax.random.key(cfg.seed)
    return jax.random.uniform(key, (cfg.n_starts, lower.size), minval=lower, maxval=upper)


# --- contenders --------------------------------------------------------------------------------


def batched_call(fun: Callable, starts: jax.Array, opt: Any, steps: int) -> Callable[[], Any]:
    """All starts in one ``minimize`` call."""
    return functools.partial(
        jaxmin.minimize, fun, starts, opt, steps=steps, batched=True, record_every=steps, gtol=None
    )


def loop_call(fun: Callable, starts: list[jax.Array], opt: Any, steps: int) -> Callable[[], Any]:
    """One unbatched ``minimize`` call per start; blocks once, at the end."""

    def run() -> list[Any]:
        return [
            jaxmin.minimize(fun, x0, opt, steps=steps, record_every=steps, gtol=None)
            for x0 in starts
        ]

    return run


def loop_exec_call(executable: Any, starts: list[jax.Array]) -> Callable[[], Any]:
    """One call of ``minimize``'s compiled (unbatched) executable per start."""

    def run() -> list[Any]:
        return [executable(x0, (), None) for x0 in starts]

    return run


def vmapped_fori_loop(fun: Callable, opt: optax.GradientTransformation, steps: int) -> Callable:
    """The floor: ``vmap`` of a bare ``fori_loop`` of gradient + update, f at the end."""
    grad = jax.grad(fun)

    def one(x0: jax.Array) -> tuple[jax.Array, jax.Array]:
        def body(_: Any, carry: tuple[jax.Array, Any]) -> tuple[jax.Array, Any]:
            x, state = carry
            updates, state = opt.update(grad(x), state, x)
            return optax.apply_updates(x, updates), state

        x, _ = jax.lax.fori_loop(0, steps, body, (x0, opt.init(x0)))
        return x, fun(x)

    return jax.jit(jax.vmap(one))


# --- checks ------------------------------------------------------------------------------------


def minima_reached(x: np.ndarray, minima: np.ndarray) -> tuple[int, float]:
    """How many known minima some start reached, and the fraction of starts that reached one."""
    dist = np.linalg.norm(x[:, None, :] - minima[None, :, :], axis=-1)
    return int(np.sum(dist.min(axis=0) < REACH_TOL)), float(np.mean(dist.min(axis=1) < REACH_TOL))


def check_loop_agrees(batched: Any, looped: list[Any], cfg: Config) -> float:
    """Largest |x_loop − x_batched| over the looped starts; warns above 1e-3."""
    x_loop = np.stack([np.asarray(r.x) for r in looped])
    x_batch = np.asarray(batched.x)[: len(looped)]
    gap = float(np.max(np.abs(x_loop - x_batch)))
    if gap > 1e-3:
        warn(f"loop and batched runs disagree on the same starts by up to {gap:.3g}")
    if np.any(np.asarray(batched.status) == Status.DIVERGED):
        warn("some batched starts diverged")
    if np.any(np.asarray(batched.nit) != cfg.steps):
        warn("some batched starts did not run all steps")
    return gap


# --- main --------------------------------------------------------------------------------------


def row(impl: str, starts: int, timed_starts: int, compile_s: float | None, t: Timing) -> dict:
    """One row: the measured time for ``timed_starts`` starts, scaled to all ``starts``."""
    per_start = t.median / timed_starts
    return {
        "impl": impl,
        "starts": starts,
        "timed_starts": timed_starts,
        "compile_s": compile_s,
        "run_median_s": t.median,
        "run_min_s": t.min,
        "run_max_s": t.max,
        "per_start_ms": 1e3 * per_start,
        "total_s (all starts)": per_start * starts,
        "total is": "measured" if timed_starts == starts else "extrapolated",
        "repeats": len(t.samples),
        "calls_per_sample": t.number,
        "samples_s": list(t.samples),
    }


COLUMNS = (
    "impl",
    "starts",
    "timed_starts",
    "compile_s",
    "run_median_s",
    "run_min_s",
    "run_max_s",
    "per_start_ms",
    "total_s (all starts)",
    "total is",
)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    cfg = config_for(args.quick, repeats_for(args, full=7, quick=3))
    objective = jaxmin.objectives.himmelblau()
    fun, steps = objective.fun, cfg.steps
    opt = jaxmin.optim.adam(cfg.learning_rate)
    starts = uniform_starts(cfg, objective.lower, objective.upper)
    subset = [jnp.asarray(x) for x in np.asarray(starts[: cfg.loop_starts])]

    keyed = ByContent(fun), ByContent(opt)  # as minimize keys its programs
    compile_batched, _ = compile_seconds(minimize_run, *keyed, steps, steps, True, starts, (), None)
    compile_one, executable = compile_seconds(
        minimize_run, *keyed, steps, steps, False, subset[0], (), None
    )
    floor = vmapped_fori_loop(fun, optax.adam(cfg.learning_rate, eps=0.0, eps_root=1e-8), steps)
    compile_floor, floor_exec = compile_seconds(floor, starts)
    calls = {
        "minimize batched (one call)": batched_call(fun, starts, opt, steps),
        "Python loop of minimize": loop_call(fun, subset, opt, steps),
        "Python loop of compiled _run": loop_exec_call(executable, subset),
        "vmapped fori_loop (floor)": functools.partial(floor_exec, starts),
    }
    _, batched = timed_call(calls["minimize batched (one call)"])
    _, looped = timed_call(calls["Python loop of minimize"])
    gap = check_loop_agrees(batched, looped, cfg)
    min_sample_s = 0.01 if args.quick else 0.05
    timings = time_interleaved(calls, repeats=cfg.repeats, warmup=1, min_sample_s=min_sample_s)

    n, k = cfg.n_starts, cfg.loop_starts
    timed = {  # impl: (number of starts timed, compile time)
        "minimize batched (one call)": (n, compile_batched),
        "Python loop of minimize": (k, compile_one),
        "Python loop of compiled _run": (k, None),
        "vmapped fori_loop (floor)": (n, compile_floor),
    }
    rows = [row(impl, n, m, c, timings[impl]) for impl, (m, c) in timed.items()]
    total = {r["impl"]: r["total_s (all starts)"] for r in rows}
    batched_s = total["minimize batched (one call)"]
    reached, fraction = minima_reached(np.asarray(batched.x), objective.minima)
    summary = {
        "starts": n,
        "steps": steps,
        "speedup vs Python loop of minimize (extrapolated)": total["Python loop of minimize"]
        / batched_s,
        "speedup vs loop of compiled _run (extrapolated)": total["Python loop of compiled _run"]
        / batched_s,
        "batched / floor": batched_s / total["vmapped fori_loop (floor)"],
        "minima reached (of 4)": reached,
        "fraction of starts at a minimum": fraction,
        "max abs(x_loop - x_batched)": gap,
    }
    if reached != len(objective.minima):
        warn(f"the batched run reached only {reached} of {len(objective.minima)} minima")
    notes = [
        f"Himmelblau, {n} starts uniform in [-5, 5]² (seed {cfg.seed}), jaxmin.optim.adam("
        f"{cfg.learning_rate}) (β₁ 0.9, β₂ 0.999, ε 1e-8 inside the root), {steps} steps, "
        "gtol None, record_every = steps, float32.",
        "run = median over interleaved repeats after one warm-up, each ending in "
        "jax.block_until_ready (the loops block once, at the end of the loop).",
        f"The Python loops are timed over the first {k} starts only; 'total_s (all starts)' for "
        "them is per-start time × number of starts, i.e. EXTRAPOLATED, not measured.",
        "compile_s = jax.jit(...).lower(...).compile() of minimize's private _run (batched, or "
        "one start for the loop, which compiles once and is then cached) and of the floor.",
        "Python loop of compiled _run calls minimize's compiled executable directly, without "
        "minimize's argument checks (jax.eval_shape of fun etc.): the gap to 'Python loop of "
        "minimize' is minimize's per-call Python overhead.",
        "vmapped fori_loop (floor) = vmap of a bare lax.fori_loop(grad, optax.adam(lr, eps=0, "
        "eps_root=1e-8) update) without minimize's per-step status, recording and guard.",
        f"A start reaches a minimum when it ends within {REACH_TOL:g} of it (Euclidean).",
    ]
    write_results(
        NAME,
        {"Timings": rows, "Summary": [summary]},
        notes=notes,
        config=dataclasses.asdict(cfg),
        columns={"Timings": COLUMNS},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
