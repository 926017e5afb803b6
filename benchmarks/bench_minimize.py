"""``jaxmin.minimize`` (one compiled loop) vs optax, same rule, same problem.

For every problem and rule, four ways of running the same number of steps are timed:

- ``minimize+jaxmin``: ``jaxmin.minimize`` with the ``jaxmin.optim`` rule (ours);
- ``minimize+optax``: ``jaxmin.minimize`` with optax's equivalent rule, i.e. optax's rule inside
  the same compiled loop (target: ours/optax ≤ 1 within noise);
- ``python-loop+optax``: a per-step ``jax.jit`` (value_and_grad, optax update, apply_updates)
  called ``steps`` times from Python (target: python-loop/ours ≥ 5 at n = 2, dispatch-bound);
- ``fori_loop+optax``: a bare ``lax.fori_loop`` with the optax rule and nothing else, as the
  floor that shows the cost of ``minimize``'s bookkeeping (status, recording, divergence guard);
- ``_run-exec+jaxmin`` / ``_run-exec+optax``: the compiled executable of ``minimize``'s loop
  called directly, which separates ``minimize``'s per-call Python overhead (input checks,
  dispatch) from its loop, and compares the two rules in the loop alone;
- ``user-jit+jaxmin``: ``minimize`` called inside the user's own ``jax.jit``, which returns
  (x, f) as the floor does: the checks run once, at tracing, and the program hands back the two
  arrays the caller keeps instead of the result's eleven.

Run: ``python benchmarks/bench_minimize.py [--quick] [--repeats N]``.
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
    LOWER_COMPILE,
    Measurement,
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

NAME = "bench_minimize"
IMPLS = (
    "minimize+jaxmin",
    "minimize+optax",
    "python-loop+optax",
    "fori_loop+optax",
    "_run-exec+jaxmin",
    "_run-exec+optax",
    "user-jit+jaxmin",
)


# --- problems and rules ------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Problem:
    """An objective, its start, the number of steps, and the hyperparameters of each rule."""

    name: str
    fun: Callable[[jax.Array], jax.Array]
    x0: jax.Array
    steps: int
    hyper: dict[str, dict[str, float]]


def diagonal_quadratic(x: jax.Array) -> jax.Array:
    """f(x) = ½ Σᵢ dᵢ xᵢ², with dᵢ evenly spread over [1, 10] (built from an iota, no constant)."""
    d = jnp.linspace(1.0, 10.0, x.shape[-1], dtype=x.dtype)
    return 0.5 * jnp.sum(d * x * x)


def problems(quick: bool) -> list[Problem]:
    """Rosenbrock n = 2 (dispatch-bound; 10⁴ steps as well, where the loop's cost per step
    outweighs the fixed cost of a call) and the diagonal quadratic at n = 10⁴ and 10⁶.

    Learning rates keep every run finite for all steps (a diverged run would stop early and
    make its timing meaningless) and, for the quadratic, keep the iterates far from float32
    underflow, so that no run ever touches subnormal numbers.
    """
    rosen_hyper = {
        "gd": {"lr": 1e-3},
        "momentum": {"lr": 1e-4, "gamma": 0.9},
        "rmsprop": {"lr": 1e-3, "beta": 0.9, "eps": 1e-8},
        "adam": {"lr": 1e-2, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    }
    quad_hyper = {
        "gd": {"lr": 2e-3},
        "momentum": {"lr": 2e-4, "gamma": 0.9},
        "rmsprop": {"lr": 1e-3, "beta": 0.9, "eps": 1e-8},
        "adam": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
    }
    rosen = jaxmin.objectives.rosenbrock(2).fun
    steps = 200 if quick else 1000
    big, big_steps = (10**5, 50) if quick else (10**6, 200)
    start = jnp.array([-1.2, 1.0])
    rosen_long = [] if quick else [Problem("rosenbrock", rosen, start, 10**4, rosen_hyper)]
    return [
        Problem("rosenbrock", rosen, start, steps, rosen_hyper),
        *rosen_long,
        Problem("quadratic", diagonal_quadratic, jnp.ones(10**4), steps, quad_hyper),
        Problem("quadratic", diagonal_quadratic, jnp.ones(big), big_steps, quad_hyper),
    ]


def rule_pair(
    rule: str, hp: dict[str, float]
) -> tuple[optax.GradientTransformation, optax.GradientTransformation]:
    """Our rule and optax's equivalent configuration (the lecture's form, ε inside the root)."""
    if rule == "gd":
        return jaxmin.optim.gd(hp["lr"]), optax.sgd(hp["lr"])
    if rule == "momentum":
        return (
            jaxmin.optim.momentum(hp["lr"], hp["gamma"]),
            optax.sgd(hp["lr"], momentum=hp["gamma"]),
        )
    if rule == "rmsprop":
        return (
            jaxmin.optim.rmsprop(hp["lr"], hp["beta"], hp["eps"]),
            optax.rmsprop(hp["lr"], decay=hp["beta"], eps=hp["eps"]),
        )
    if rule == "adam":
        return (
            jaxmin.optim.adam(hp["lr"], hp["beta1"], hp["beta2"], hp["eps"]),
            optax.adam(hp["lr"], hp["beta1"], hp["beta2"], eps=0.0, eps_root=hp["eps"]),
        )
    raise ValueError(f"unknown rule {rule!r}")


# --- the four contenders -----------------------------------------------------------------------


def minimize_runner(
    problem: Problem, optimizer: optax.GradientTransformation, *, executable: bool = False
) -> tuple[float | None, Callable[[], Any]]:
    """Exact compile time of ``minimize``'s jitted loop, and a call of the public ``minimize``.

    ``minimize`` caches its compiled loop on (fun, optimizer, steps, record_every, batched), so
    the same objects are reused for every call and only the first one compiles. With
    ``executable=True`` the call is the compiled loop itself, without ``minimize``'s checks.
    """
    steps = problem.steps
    fun, rule = ByContent(problem.fun), ByContent(optimizer)  # as minimize keys its programs
    seconds, compiled = compile_seconds(
        minimize_run, fun, rule, steps, steps, False, problem.x0, (), None
    )
    if executable:
        # The program was compiled for minimize+* already (jax reuses it): no compile time.
        return None, functools.partial(compiled, problem.x0, (), None)

    def call() -> Any:
        return jaxmin.minimize(
            problem.fun, problem.x0, optimizer, steps=steps, record_every=steps, gtol=None
        )

    return seconds, call


def user_jit_runner(
    problem: Problem, optimizer: optax.GradientTransformation
) -> tuple[float, Callable[[], Any]]:
    """``minimize`` inside the user's ``jax.jit``, returning (x, f) like the floor; the call is
    the user's jitted function itself."""
    steps = problem.steps

    @jax.jit
    def run(x0: jax.Array) -> tuple[jax.Array, jax.Array]:
        res = jaxmin.minimize(
            problem.fun, x0, optimizer, steps=steps, record_every=steps, gtol=None
        )
        return res.x, res.fun

    seconds, _ = compile_seconds(run, problem.x0)
    return seconds, functools.partial(run, problem.x0)


def python_loop_runner(
    problem: Problem, optimizer: optax.GradientTransformation
) -> tuple[float, Callable[[], Any]]:
    """A per-step jitted optax step driven by a Python ``for`` loop (blocks once, at the end)."""
    value_and_grad = jax.value_and_grad(problem.fun)

    @jax.jit
    def step(x: jax.Array, state: Any) -> tuple[jax.Array, Any, jax.Array]:
        f, g = value_and_grad(x)
        updates, state = optimizer.update(g, state, x)
        return optax.apply_updates(x, updates), state, f

    init = jax.jit(optimizer.init)
    state0 = init(problem.x0)
    seconds, _ = compile_seconds(step, problem.x0, state0)

    def call() -> jax.Array:
        x, state = problem.x0, init(problem.x0)
        for _ in range(problem.steps):
            x, state, _ = step(x, state)
        return x

    return seconds, call


def fori_loop_runner(
    problem: Problem, optimizer: optax.GradientTransformation
) -> tuple[float, Callable[[], Any]]:
    """The bare floor: ``lax.fori_loop`` over value_and_grad + optax update, nothing else."""
    value_and_grad = jax.value_and_grad(problem.fun)

    @jax.jit
    def run(x0: jax.Array) -> tuple[jax.Array, jax.Array]:
        def body(_: Any, carry: tuple[jax.Array, Any]) -> tuple[jax.Array, Any]:
            x, state = carry
            _, g = value_and_grad(x)
            updates, state = optimizer.update(g, state, x)
            return optax.apply_updates(x, updates), state

        x, _ = jax.lax.fori_loop(0, problem.steps, body, (x0, optimizer.init(x0)))
        return x, problem.fun(x)

    seconds, compiled = compile_seconds(run, problem.x0)
    return seconds, functools.partial(compiled, problem.x0)


# --- checks ------------------------------------------------------------------------------------


def final_value(impl: str, out: Any, fun: Callable[[jax.Array], jax.Array]) -> float:
    """f at the final iterate of any contender's output."""
    if impl.startswith(("minimize", "_run")):
        return float(out.fun)
    if impl.startswith(("fori_loop", "user-jit")):
        return float(out[1])
    return float(fun(out))


def check_outputs(label: str, outputs: dict[str, Any], problem: Problem) -> dict[str, float]:
    """Final values of all contenders; warn if a run stopped early or if they disagree."""
    for impl in ("minimize+jaxmin", "minimize+optax"):
        res = outputs[impl]
        if int(res.status) != Status.MAX_STEPS or int(res.nit) != problem.steps:
            warn(f"{label} {impl}: status {int(res.status)}, nit {int(res.nit)} != steps")
    values = {impl: final_value(impl, out, problem.fun) for impl, out in outputs.items()}
    ref = values["minimize+optax"]
    for impl, value in values.items():
        if not np.isclose(value, ref, rtol=1e-3, atol=1e-6):
            warn(f"{label}: final f of {impl} = {value:.6g} differs from minimize+optax {ref:.6g}")
    x_ours = np.asarray(outputs["minimize+jaxmin"].x)
    x_optax = np.asarray(outputs["minimize+optax"].x)
    if not np.allclose(x_ours, x_optax, rtol=1e-3, atol=1e-5):
        gap = float(np.max(np.abs(x_ours - x_optax)))
        warn(f"{label}: final x of ours and optax differ by up to {gap:.3g}")
    return values


# --- one benchmark -----------------------------------------------------------------------------


def measure(
    problem: Problem, rule: str, repeats: int, min_sample_s: float
) -> dict[str, Measurement | float]:
    """Compile, warm up and time the four contenders for one problem and rule (interleaved)."""
    ours, ref = rule_pair(rule, problem.hyper[rule])
    builders = {
        "minimize+jaxmin": (minimize_runner, ours),
        "minimize+optax": (minimize_runner, ref),
        "python-loop+optax": (python_loop_runner, ref),
        "fori_loop+optax": (fori_loop_runner, ref),
        "_run-exec+jaxmin": (functools.partial(minimize_runner, executable=True), ours),
        "_run-exec+optax": (functools.partial(minimize_runner, executable=True), ref),
        "user-jit+jaxmin": (user_jit_runner, ours),
    }
    compiled: dict[str, float | None] = {}
    calls: dict[str, Callable[[], Any]] = {}
    first: dict[str, float] = {}
    outputs: dict[str, Any] = {}
    for impl, (builder, optimizer) in builders.items():
        compiled[impl], calls[impl] = builder(problem, optimizer)
        first[impl], outputs[impl] = timed_call(calls[impl])
    label = f"{problem.name} n={problem.x0.size} steps={problem.steps} {rule}"
    values = check_outputs(label, outputs, problem)
    timings = time_interleaved(calls, repeats=repeats, warmup=1, min_sample_s=min_sample_s)
    result: dict[str, Any] = {}
    for impl in IMPLS:
        method = LOWER_COMPILE if compiled[impl] is not None else "reused (see minimize+*)"
        result[impl] = Measurement(compiled[impl], method, timings[impl], first[impl])
        result[f"{impl}:f"] = values[impl]
    return result


def timing_row(problem: Problem, rule: str, impl: str, m: Measurement, f: float) -> dict:
    """One row of the timings table."""
    run: Timing = m.run
    return {
        "problem": problem.name,
        "n": problem.x0.size,
        "dtype": str(problem.x0.dtype),
        "rule": rule,
        "impl": impl,
        "steps": problem.steps,
        "compile_s": m.compile_s,
        "compile_method": m.compile_method,
        "first_call_s": m.first_call_s,
        "run_median_s": run.median,
        "run_min_s": run.min,
        "run_max_s": run.max,
        "ms_per_step": 1e3 * run.median / problem.steps,
        "final_f": f,
        "repeats": len(run.samples),
        "calls_per_sample": run.number,
        "samples_s": list(run.samples),
    }


def ratio_row(problem: Problem, rule: str, result: dict[str, Any]) -> dict:
    """One row of the ratios table (ratios of median run times)."""

    def med(impl: str) -> float:
        return result[impl].run.median

    ours_over_optax = med("minimize+jaxmin") / med("minimize+optax")
    python_over_ours = med("python-loop+optax") / med("minimize+jaxmin")
    overhead_ms = 1e3 * (med("minimize+jaxmin") - med("_run-exec+jaxmin"))
    ours_over_floor = med("minimize+jaxmin") / med("fori_loop+optax")
    row = {
        "problem": problem.name,
        "n": problem.x0.size,
        "steps": problem.steps,
        "rule": rule,
        "ours/optax": ours_over_optax,
        "ours/optax (loop only)": med("_run-exec+jaxmin") / med("_run-exec+optax"),
        "python-loop/ours": python_over_ours,
        "ours/fori_loop": ours_over_floor,
        "ours loop only/fori_loop": med("_run-exec+jaxmin") / med("fori_loop+optax"),
        "python-loop/fori_loop": med("python-loop+optax") / med("fori_loop+optax"),
        "ours in user's jit/fori_loop": med("user-jit+jaxmin") / med("fori_loop+optax"),
        "minimize overhead ms/call": overhead_ms if problem.x0.size == 2 else None,
        "ours<=optax (10% noise)": ours_over_optax <= 1.10,
        "ours/fori_loop<=1.3": ours_over_floor <= 1.3,
        "ours in user's jit/fori_loop<=1.3": med("user-jit+jaxmin") / med("fori_loop+optax") <= 1.3,
    }
    row["python-loop/ours>=5"] = python_over_ours >= 5 if problem.x0.size == 2 else None
    return row


TIMING_COLUMNS = (
    "problem",
    "n",
    "dtype",
    "rule",
    "impl",
    "steps",
    "compile_s",
    "run_median_s",
    "run_min_s",
    "run_max_s",
    "ms_per_step",
    "final_f",
)

NOTES = [
    "run = median wall time of the public call (e.g. jaxmin.minimize(...), including its input "
    "checks and dispatch) over interleaved repeats after one warm-up, each call ending in "
    "jax.block_until_ready; a sample averages as many calls as make it last ≥ min_sample_s "
    "(calls_per_sample in the JSON); min/max over the samples.",
    "compile_s = jax.jit(...).lower(...).compile() of the jitted program: minimize's private "
    "_run(fun, optimizer, steps, record_every, batched, x0, gtol) for minimize+*, the per-step "
    "function for python-loop+optax (one step only), the whole loop for fori_loop+optax.",
    "python-loop+optax dispatches one jitted step per iteration from Python and blocks once at "
    "the end (async dispatch may overlap Python with compute, which favours the loop).",
    "fori_loop+optax is a bare lax.fori_loop(value_and_grad, optax update, apply_updates): the "
    "floor without minimize's per-step status, gradient norm, recording and divergence guard "
    "(f is evaluated once, at the end; the gradient alone each step).",
    "_run-exec+* call the compiled executable of minimize's loop directly (no compile time: it "
    "is the program compiled for minimize+*); 'minimize overhead ms/call' = minimize+jaxmin − "
    "_run-exec+jaxmin, the Python-side cost of one minimize call (argument checks, "
    "jax.eval_shape of fun, jit dispatch), shown at n = 2 only, both step counts (at larger n "
    "it is below the noise of the difference). Every call passes the same start array: its "
    "finiteness, checked at the first call, is remembered (JAX arrays are immutable), so the "
    "column leaves out the host read and scan of a fresh start (~9 µs after a run).",
    "user-jit+jaxmin calls minimize inside the user's own jax.jit, which returns (res.x, "
    "res.fun) as fori_loop+optax returns (x, f): minimize's checks and the fingerprints of fun "
    "and the rule run once, at tracing, and the program returns two arrays instead of the "
    "result's eleven (XLA drops what only the others need); jaxmin's rule, against optax's in "
    "the floor. It is timed as a call of that jitted function (the user's call, through "
    "jax.jit's dispatch, where the floor calls its compiled executable; "
    "compile_s is its lower + compile), and shows what a caller of a tiny problem who needs "
    "only some fields pays: the loop itself against the floor.",
    "Rules: optax equivalents are sgd(lr), sgd(lr, momentum=γ), rmsprop(lr, decay=β, eps=ε), "
    "adam(lr, b1, b2, eps=0, eps_root=ε) (ε inside the square root, the lecture's form).",
    "Problems: Rosenbrock 2D from (-1.2, 1); diagonal quadratic ½Σdᵢxᵢ², dᵢ evenly in [1, 10], "
    "from x = 1. float32 (JAX default). record_every = steps, gtol = None (every run does all "
    "steps; checked).",
    "Targets: ours/optax ≤ 1 within noise (flagged at ≤ 1.10); python-loop/ours ≥ 5 at n = 2; "
    "ours/fori_loop ≤ 1.3 (issue 15). 'ours loop only/fori_loop' is the compiled loop alone "
    "against the floor: the public call adds its Python-side cost (the overhead column) to it; "
    "'ours in user's jit/fori_loop' is the same target for minimize inside the user's jit.",
    "Rosenbrock at 10⁴ steps as well as 10³: the fixed cost of a call (its checks, dispatch and "
    "the result's 11 arrays, about 0.9 µs each in JAX's dispatch) against the cost per step. "
    "With gtol = None a single run's chunk runs up to 4096 steps (256 with gtol set, or for "
    "many starts at once): each chunk costs a fixed ~0.4 µs, 12 % of a Rosenbrock gradient "
    "step at 256 steps a chunk.",
]


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=7, quick=3)
    min_sample_s = 0.01 if args.quick else 0.05
    rules = ("gd", "adam") if args.quick else ("gd", "momentum", "rmsprop", "adam")
    timing_rows, ratio_rows = [], []
    for problem in problems(args.quick):
        for rule in rules:
            print(f"... {problem.name} n={problem.x0.size} {rule}", flush=True)
            result = measure(problem, rule, repeats, min_sample_s)
            for impl in IMPLS:
                row = timing_row(problem, rule, impl, result[impl], result[f"{impl}:f"])
                timing_rows.append(row)
            ratio_rows.append(ratio_row(problem, rule, result))
    for row in ratio_rows:
        label = f"{row['problem']} n={row['n']} steps={row['steps']} {row['rule']}"
        if not row["ours<=optax (10% noise)"]:
            warn(f"ours slower than optax: {label}")
        if row["python-loop/ours>=5"] is False:
            warn(f"python-loop/ours < 5: {label}")
        if not row["ours/fori_loop<=1.3"]:
            warn(f"ours/fori_loop = {row['ours/fori_loop']:.2f} > 1.3: {label}")
    config = {
        "repeats": repeats,
        "min_sample_s": min_sample_s,
        "rules": list(rules),
        "quick": args.quick,
    }
    write_results(
        NAME,
        {"Timings": timing_rows, "Ratios (of median run times)": ratio_rows},
        notes=NOTES,
        config=config,
        columns={"Timings": TIMING_COLUMNS},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
