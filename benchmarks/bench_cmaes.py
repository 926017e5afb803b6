"""CMA-ES: ``jaxmin.evolution.cmaes`` vs pycma (evaluations to target), pycma and evosax (time).

Two parts, all in float64 (pycma computes in float64; the script turns on ``jax_enable_x64``):

- **Part A, evaluations to f < 1e-8**: ours (``cmaes.minimize``) and pycma
  (``cma.CMAEvolutionStrategy(...).optimize``) from the same starts x0 ~ U(-3, 3)ⁿ, σ₀ = 0.5,
  the default λ, on the sphere, a rotated ellipsoid (condition 10⁶) and Rosenbrock at n = 10
  and 40. Per (function, n): the median evaluation counts, their ratio (target |ratio − 1| ≤
  0.10), the fraction of runs that reached the target, and the extremes. Runs that end in a
  local minimum (Rosenbrock) are counted too; the success fraction says how many did.
- **Part B, wall time per generation** (ask, evaluate, tell) on the rotated ellipsoid, with all
  stopping criteria off so that every contender runs exactly G generations:
  ``cmaes.minimize`` (ours, the public call), its compiled loop alone (diagnostic), a Python
  ``es.ask()`` / ``es.tell()`` loop of pycma with a NumPy objective, and evosax's ``CMA_ES``
  with G generations of ask / vmap(f) / tell in one jitted ``lax.scan``. Targets: ours faster
  than evosax, and at least 3× faster than pycma, at every size.

Run: ``python benchmarks/bench_cmaes.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import math
import os
import statistics
import time
from collections.abc import Callable
from importlib import metadata
from typing import Any

import _harness
import cma
import jax
import jax.numpy as jnp
import numpy as np
from _harness import (
    LOWER_COMPILE,
    Timing,
    compile_seconds,
    parse_args,
    repeats_for,
    time_calls,
    timed_call,
    warn,
    write_results,
)

from jaxmin.evolution import _driver as evolution_driver
from jaxmin.evolution import cmaes

jax.config.update("jax_enable_x64", True)  # pycma is float64; ours and evosax run in float64 too

NAME = "bench_cmaes"
SIGMA0 = 0.5
FTARGET = 1e-8
MAX_EVALS_A = 10**6
ROTATION_SEED = 12345
"""Seed of the normal matrix whose QR gives the rotation of the ellipsoid."""
ISSUE_PYCMA = {
    ("sphere", 10): 1410,
    ("sphere", 40): 5175,
    ("rotated ellipsoid", 10): 4330,
    ("rotated ellipsoid", 40): 48075,
    ("rosenbrock", 10): 5130,
    ("rosenbrock", 40): 61035,
}
"""Median evaluations of pycma 4.5 to f < 1e-8 quoted in the issue (orientation only)."""
NO_STOPPING = {
    "tolfun": 0.0,
    "tolfunhist": 0.0,
    "tolx": 0.0,
    "tolconditioncov": 0.0,
    "tolfacupx": 0.0,
    "tolflatfitness": None,
}
"""Our stopping criteria switched off (the two no-effect criteria stay on)."""
PYCMA_NO_STOPPING = {
    "tolfun": 0,
    "tolx": 0,
    "tolfunhist": 0,
    "tolflatfitness": 1e9,
    "tolconditioncov": 0,
    "tolstagnation": 0,
}
"""pycma's stopping criteria switched off (Part B never calls ``es.stop()`` anyway)."""


# --- objectives --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Objective:
    """One test function in two forms: a jax function (ours, evosax) and a NumPy one (pycma).

    The jax function is created once per (name, n) and reused, so that ``cmaes.minimize``'s
    compiled loop (cached on the ``fun`` object) is compiled once per configuration.
    """

    name: str
    n: int
    fun: Callable[[jax.Array], jax.Array]
    fun_np: Callable[[np.ndarray], float]


def rotation(n: int) -> np.ndarray:
    """A fixed random orthogonal matrix: Q of the QR decomposition of a seeded normal matrix."""
    q, _ = np.linalg.qr(np.random.default_rng(ROTATION_SEED).standard_normal((n, n)))
    return q


@functools.cache
def objective(name: str, n: int) -> Objective:
    """Sphere Σx², rotated ellipsoid Σ 10^(6(i-1)/(n-1)) (Rx)ᵢ², or Rosenbrock."""
    if name == "sphere":

        def fun(x: jax.Array) -> jax.Array:
            return jnp.sum(x * x)

        def fun_np(x: np.ndarray) -> float:
            return float(np.dot(x, x))

    elif name == "rotated ellipsoid":
        r_np = rotation(n)
        scale_np = 1e6 ** (np.arange(n) / (n - 1))
        r, scale = jnp.asarray(r_np), jnp.asarray(scale_np)

        def fun(x: jax.Array) -> jax.Array:
            y = r @ x
            return jnp.sum(scale * y * y)

        def fun_np(x: np.ndarray) -> float:
            y = r_np @ x
            return float(np.dot(scale_np, y * y))

    elif name == "rosenbrock":

        def fun(x: jax.Array) -> jax.Array:
            return jnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

        def fun_np(x: np.ndarray) -> float:
            return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))

    else:
        raise ValueError(f"unknown objective {name!r}")
    return Objective(name, n, fun, fun_np)


def start(seed: int, n: int) -> np.ndarray:
    """x0 ~ U(-3, 3)ⁿ from ``np.random.default_rng(seed)``."""
    return np.random.default_rng(seed).uniform(-3.0, 3.0, n)


def counts(labels: list[str]) -> str:
    """'a×3, b×1': how often each label occurs, most frequent first."""
    return ", ".join(f"{k}×{v}" for k, v in collections.Counter(labels).most_common())


# --- part A: evaluations to target -------------------------------------------------------------


def run_ours_to_target(obj: Objective, seed: int) -> dict[str, Any]:
    """One ``cmaes.minimize`` run from seed ``seed`` until f ≤ 1e-8 or a stopping criterion."""
    t0 = time.perf_counter()
    res = cmaes.minimize(
        obj.fun,
        start(seed, obj.n),
        SIGMA0,
        key=jax.random.key(seed),
        ftarget=FTARGET,
        max_evals=MAX_EVALS_A,
    )
    jax.block_until_ready(res.fun)
    return {
        "evals": int(res.nfev),
        "fbest": float(res.fun),
        "status": res.status_name,
        "seconds": time.perf_counter() - t0,
    }


def run_pycma_to_target(obj: Objective, seed: int) -> dict[str, Any]:
    """One pycma run from the same x0 (seed s + 1: pycma reads seed 0 as 'random')."""
    opts = {"verbose": -9, "ftarget": FTARGET, "seed": seed + 1, "maxfevals": MAX_EVALS_A}
    t0 = time.perf_counter()
    es = cma.CMAEvolutionStrategy(start(seed, obj.n), SIGMA0, opts).optimize(obj.fun_np)
    return {
        "evals": int(es.countevals),
        "fbest": float(es.result.fbest),
        "status": ",".join(sorted(es.stop())),
        "seconds": time.perf_counter() - t0,
    }


def ratio_interval(ours: list[int], ref: list[int], draws: int = 2000) -> tuple[float, float]:
    """A 95 % bootstrap interval of median(ours) / median(ref): both samples resampled with
    replacement ``draws`` times (seeded), the 2.5 and 97.5 percentiles of the ratio."""
    rng = np.random.default_rng(0)
    ours_a, ref_a = np.asarray(ours), np.asarray(ref)
    ratios = [
        np.median(rng.choice(ours_a, ours_a.size)) / np.median(rng.choice(ref_a, ref_a.size))
        for _ in range(draws)
    ]
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(low), float(high)


def part_a(seeds: int) -> list[dict[str, Any]]:
    """Evaluations to f < 1e-8 for every (function, n), ours and pycma, ``seeds`` starts each."""
    rows = []
    for name in ("sphere", "rotated ellipsoid", "rosenbrock"):
        for n in (10, 40):
            obj = objective(name, n)
            print(f"... part A: {name} n={n}", flush=True)
            other = _harness.OtherLoad()
            ours = [run_ours_to_target(obj, s) for s in range(seeds)]
            ref = [run_pycma_to_target(obj, s) for s in range(seeds)]
            ours_evals = [r["evals"] for r in ours]
            ref_evals = [r["evals"] for r in ref]
            ratio = statistics.median(ours_evals) / statistics.median(ref_evals)
            low, high = ratio_interval(ours_evals, ref_evals)
            rows.append(
                {
                    "function": name,
                    "n": n,
                    "popsize": cmaes.default_popsize(n),
                    "runs": seeds,
                    "ours median evals": statistics.median(ours_evals),
                    "pycma median evals": statistics.median(ref_evals),
                    "ours/pycma": ratio,
                    "95% interval": f"{low:.3f}–{high:.3f}",
                    "|ratio-1|<=0.05": abs(ratio - 1) <= 0.05,
                    "ours success": sum(r["fbest"] <= FTARGET for r in ours) / seeds,
                    "pycma success": sum(r["fbest"] <= FTARGET for r in ref) / seeds,
                    "ours min": min(ours_evals),
                    "ours max": max(ours_evals),
                    "pycma min": min(ref_evals),
                    "pycma max": max(ref_evals),
                    "pycma 4.5 (issue)": ISSUE_PYCMA[(name, n)],
                    "ours status": counts([r["status"] for r in ours]),
                    "pycma stop": counts([r["status"] for r in ref]),
                    "ours median s/run": statistics.median(r["seconds"] for r in ours),
                    "pycma median s/run": statistics.median(r["seconds"] for r in ref),
                    "other CPU load": other.fraction(),
                    "ours evals": ours_evals,
                    "pycma evals": ref_evals,
                    "ours fbest": [r["fbest"] for r in ours],
                    "pycma fbest": [r["fbest"] for r in ref],
                }
            )
    return rows


PART_A_COLUMNS = (
    "function",
    "n",
    "popsize",
    "runs",
    "ours median evals",
    "pycma median evals",
    "ours/pycma",
    "95% interval",
    "|ratio-1|<=0.05",
    "ours success",
    "pycma success",
    "ours min",
    "ours max",
    "pycma min",
    "pycma max",
    "pycma 4.5 (issue)",
    "ours status",
    "pycma stop",
)


# --- part B: time per generation ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Config:
    """A timing configuration: dimension, population size, number of generations."""

    n: int
    popsize: int
    generations: int


def timing_configs(quick: bool) -> tuple[list[Config], list[str]]:
    """The Part B configurations, and notes on what was left out."""
    if quick:
        default = [Config(n, cmaes.default_popsize(n), 100) for n in (10, 40, 100)]
        big = [Config(n, 1000, 20) for n in (10, 40)]
        return default + big, ["--quick: n = 400 and λ = 1000 at n = 100, 400 left out."]
    default = [Config(n, cmaes.default_popsize(n), 200) for n in (10, 40, 100)]
    default.append(Config(400, cmaes.default_popsize(400), 100))
    big = [Config(10, 1000, 50), Config(40, 1000, 50), Config(100, 1000, 50)]
    big.append(Config(400, 1000, 20))
    return default + big, []


def cpu_busy_fraction(seconds: float = 1.0) -> float | None:
    """The fraction of CPU time not idle over the next ``seconds`` (Linux /proc/stat), or None."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="utf-8") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 1.0 - (idle1 - idle0) / max(total1 - total0, 1)


def package_version(name: str) -> str | None:
    """The installed version of a package, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def evosax_version() -> str | None:
    """The installed evosax version, or None."""
    return package_version("evosax")


def evosax_runner(
    obj: Objective, cfg: Config, x0: np.ndarray
) -> tuple[float, Callable[[], Any]] | str:
    """evosax's CMA_ES: G generations of ask / vmap(f) / tell in one jitted ``lax.scan``.

    Returns (compile seconds, a zero-argument call of the compiled program), or the reason why
    evosax could not be used (not installed, a different API).
    """
    try:
        from evosax.algorithms import CMA_ES
    except ImportError as exc:  # evosax missing, or an API before 0.2
        return f"evosax unavailable: {exc}"
    mean = jnp.asarray(x0)
    es = CMA_ES(population_size=cfg.popsize, solution=mean)
    params = es.default_params.replace(std_init=jnp.asarray(SIGMA0))
    evaluate = jax.vmap(obj.fun)

    def run(key: jax.Array, mean: jax.Array) -> tuple[jax.Array, jax.Array]:
        key, init_key = jax.random.split(key)
        state = es.init(init_key, mean, params)

        def generation(state: Any, key: jax.Array) -> tuple[Any, None]:
            ask_key, tell_key = jax.random.split(key)
            population, state = es.ask(ask_key, state, params)
            state, _ = es.tell(tell_key, population, evaluate(population), state, params)
            return state, None

        state, _ = jax.lax.scan(generation, state, jax.random.split(key, cfg.generations))
        return state.best_fitness, state.generation_counter

    key = jax.random.key(0)
    seconds, compiled = compile_seconds(jax.jit(run), key, mean)
    return seconds, functools.partial(compiled, key, mean)


def pycma_setup(cfg: Config, x0: np.ndarray) -> cma.CMAEvolutionStrategy:
    """A fresh pycma instance (constructed outside the timed region)."""
    opts = {"verbose": -9, "popsize": cfg.popsize, "seed": 1} | PYCMA_NO_STOPPING
    return cma.CMAEvolutionStrategy(x0, SIGMA0, opts)


def pycma_loop(obj: Objective, cfg: Config, es: cma.CMAEvolutionStrategy) -> float:
    """G generations of ``X = es.ask(); es.tell(X, [f(x) for x in X])``; returns the best f."""
    f = obj.fun_np
    for _ in range(cfg.generations):
        candidates = es.ask()
        es.tell(candidates, [f(x) for x in candidates])
    return float(es.best.f)


@dataclasses.dataclass(frozen=True)
class Contender:
    """One timed contender: ``run(setup())``."""

    run: Callable[[Any], Any]
    setup: Callable[[], Any] | None = None


def time_with_setup(
    contenders: dict[str, Contender], *, repeats: int, warmup: int = 1, min_sample_s: float = 0.0
) -> tuple[dict[str, Timing], dict[str, Any], dict[str, float]]:
    """Time the contenders in turn (A, B, C, A, B, C, …), each sample timed warm.

    Every sample is preceded by an untimed call of the same contender, so that each one is
    timed in its steady state, whatever ran before it. ``setup()``
    (untimed) makes the argument of ``run``. A contender without setup averages as many calls
    per sample as make it last ≥ ``min_sample_s`` (decided from its warm-up). Returns the
    timings, the last output of each, and the median setup seconds. The BLAS thread limit is
    the caller's (set once around a block of contenders, never toggled between samples: see
    the notes).
    """
    outputs: dict[str, Any] = {}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    setups: dict[str, list[float]] = {name: [] for name in contenders}
    numbers = dict.fromkeys(contenders, 1)

    def prepare(contender: Contender) -> Any:
        return contender.setup() if contender.setup is not None else None

    for i in range(warmup + repeats):
        for name, contender in contenders.items():
            timed_call(contender.run, prepare(contender))  # pre-roll, untimed
            t0 = time.perf_counter()
            arg = prepare(contender)
            setups[name].append(time.perf_counter() - t0)
            start = time.perf_counter()
            for _ in range(numbers[name]):
                outputs[name] = jax.block_until_ready(contender.run(arg))
            seconds = (time.perf_counter() - start) / numbers[name]
            if i < warmup:
                if contender.setup is None and min_sample_s > 0:
                    numbers[name] = min(50, max(1, math.ceil(min_sample_s / max(seconds, 1e-7))))
            else:
                samples[name].append(seconds)
    timings = {name: Timing(tuple(samples[name]), numbers[name]) for name in contenders}
    return timings, outputs, {name: statistics.median(s) for name, s in setups.items()}


def per_iteration_seconds(
    fn: Callable[[jax.Array], Any], arg: jax.Array, iterations: int, repeats: int
) -> float:
    """Median seconds of one ``fn(arg)`` inside a jitted ``fori_loop`` of ``iterations`` calls.

    The argument is scaled by (1 + i·1e-12) in iteration i, so that XLA cannot hoist the call
    out of the loop; the loop amortises the dispatch of the jitted call.
    """

    @jax.jit
    def loop(a: jax.Array) -> jax.Array:
        def body(i: jax.Array, acc: jax.Array) -> jax.Array:
            out = fn(a * (1.0 + i * 1e-12))
            return acc + sum(jnp.ravel(leaf)[0] for leaf in jax.tree.leaves(out))

        return jax.lax.fori_loop(0, iterations, body, jnp.zeros((), a.dtype))

    timing = time_calls(loop, arg, repeats=repeats, warmup=1)
    return timing.median / iterations


def split_ours(obj: Objective, cfg: Config, repeats: int) -> dict[str, float]:
    """Cost of eigh(C) and of evaluating the population, each per call (ms), for the notes."""
    n, lam = cfg.n, cfg.popsize
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    cov = jnp.asarray(a @ a.T / n + np.eye(n))
    population = jnp.asarray(rng.standard_normal((lam, n)))
    iterations = max(5, min(200, int(2e6 / (n * n * max(n, lam)))))
    eigh_s = per_iteration_seconds(jnp.linalg.eigh, cov, iterations, repeats)
    eval_s = per_iteration_seconds(jax.vmap(obj.fun), population, iterations, repeats)
    gap = cmaes.strategy_parameters(n, lam).eigen_gap
    every = max(1, int(np.ceil(gap)))
    return {"eigh ms": 1e3 * eigh_s, "eigh every": every, "evaluate ms": 1e3 * eval_s}


def part_b(cfg: Config, repeats: int, min_sample_s: float) -> tuple[dict[str, Any], list[str]]:
    """Time pycma, then ours, our jitted loop and evosax, for one configuration."""
    obj = objective("rotated ellipsoid", cfg.n)
    x0 = start(0, cfg.n)
    key = jax.random.key(0)
    g, lam = cfg.generations, cfg.popsize
    issues = []

    def ours(_: Any) -> Any:
        return cmaes.minimize(
            obj.fun, x0, SIGMA0, key=key, popsize=lam, max_evals=g * lam, **NO_STOPPING
        )

    # exact compile time of minimize's jitted loop, for exactly the arguments minimize passes it
    loop, loop_args, loop_kwargs = _harness.capture_run(
        evolution_driver, lambda: ours(None), "run_chunk"
    )
    ours_compile, _ = compile_seconds(loop, *loop_args, **loop_kwargs)
    jax_contenders = {
        "ours": Contender(ours),
        "ours loop": Contender(lambda _: loop(*loop_args, **loop_kwargs)),
    }
    evosax = evosax_runner(obj, cfg, x0)
    if isinstance(evosax, str):
        issues.append(evosax)
        evosax_compile = None
    else:
        evosax_compile, evosax_call = evosax
        jax_contenders["evosax"] = Contender(lambda _: evosax_call())
    pycma_contender = Contender(
        functools.partial(pycma_loop, obj, cfg), functools.partial(pycma_setup, cfg, x0)
    )
    with _harness.one_blas_thread():
        first_call, _ = timed_call(ours, None)
    other = _harness.OtherLoad()
    # pycma in a block of its own at OpenBLAS's default threads, then the JAX contenders
    # interleaved, the limit of one thread set once for their whole block (see the notes)
    timings, outputs, setups = time_with_setup({"pycma": pycma_contender}, repeats=repeats)
    with _harness.one_blas_thread():
        jax_timings, jax_outputs, _ = time_with_setup(
            jax_contenders, repeats=repeats, min_sample_s=min_sample_s
        )
        split = split_ours(obj, cfg, repeats=max(3, repeats // 2))
    timings |= jax_timings
    outputs |= jax_outputs
    other_load = other.fraction()
    if other_load is not None and other_load > 0.05:
        issues.append(
            f"n={cfg.n} λ={lam}: other processes used {100 * other_load:.0f} % of the CPUs "
            "while it was timed: its timings are not trustworthy"
        )
    # diagnostic: ours again, alone, with OpenBLAS at its default number of threads
    default_threads = time_calls(ours, None, repeats=3, warmup=1)

    res = outputs["ours"]
    if int(res.nit) != g or res.status_name != "max_steps":
        issues.append(
            f"n={cfg.n} λ={lam}: ours did {int(res.nit)} generations "
            f"(status {res.status_name}), expected {g}"
        )
    loop_generations = getattr(outputs["ours loop"][0], "generation", None)
    if loop_generations is not None and int(loop_generations) != g:
        issues.append(f"n={cfg.n} λ={lam}: ours loop did {int(loop_generations)} generations")
    if "evosax" in outputs and int(outputs["evosax"][1]) != g:
        issues.append(f"n={cfg.n} λ={lam}: evosax did {int(outputs['evosax'][1])} generations")

    def per_gen(name: str) -> float | None:
        return 1e3 * timings[name].median / g if name in timings else None

    ms = {name: per_gen(name) for name in ("ours", "ours loop", "pycma", "evosax")}
    pycma_es = pycma_setup(cfg, x0)
    candidates = pycma_es.ask()
    eval_timing = time_calls(lambda: [obj.fun_np(x) for x in candidates], repeats=5, warmup=1)
    row = {
        "n": cfg.n,
        "popsize": lam,
        "generations": g,
        "ours ms/gen": ms["ours"],
        "ours loop ms/gen": ms["ours loop"],
        "ours ms/gen (OpenBLAS default threads)": 1e3 * default_threads.median / g,
        "pycma ms/gen": ms["pycma"],
        "evosax ms/gen": ms["evosax"],
        "pycma/ours": ms["pycma"] / ms["ours"],
        "evosax/ours": ms["evosax"] / ms["ours"] if ms["evosax"] else None,
        "pycma/ours>=3": ms["pycma"] / ms["ours"] >= 3,
        "evosax/ours>1": ms["evosax"] / ms["ours"] > 1 if ms["evosax"] else None,
        "evosax/ours loop": ms["evosax"] / ms["ours loop"] if ms["evosax"] else None,
        "ours compile s": ours_compile,
        "evosax compile s": evosax_compile,
        "other CPU load": other_load,
        "ours first call s": first_call,
        "ours nit": int(res.nit),
        "ours final f": float(res.fun),
        "pycma final f": float(outputs["pycma"]),
        "evosax final f": float(outputs["evosax"][0]) if "evosax" in outputs else None,
        "pycma setup ms": 1e3 * setups["pycma"],
        "pycma f-eval ms/gen": 1e3 * eval_timing.median,
        "eigh(C) ms": split["eigh ms"],
        "eigh every k gens": split["eigh every"],
        "eigh ms/gen (amortised)": split["eigh ms"] / split["eigh every"],
        "vmap(f) ms/gen": split["evaluate ms"],
        "compile method": LOWER_COMPILE,
        "timings": {name: t.as_dict() for name, t in timings.items()}
        | {"ours (OpenBLAS default threads)": default_threads.as_dict()},
    }
    return row, issues


PART_B_COLUMNS = (
    "n",
    "popsize",
    "generations",
    "ours ms/gen",
    "pycma ms/gen",
    "evosax ms/gen",
    "pycma/ours",
    "evosax/ours",
    "pycma/ours>=3",
    "evosax/ours>1",
    "ours compile s",
    "evosax compile s",
    "other CPU load",
)
DIAGNOSTIC_COLUMNS = (
    "n",
    "popsize",
    "ours ms/gen",
    "ours loop ms/gen",
    "ours ms/gen (OpenBLAS default threads)",
    "evosax/ours loop",
    "eigh(C) ms",
    "eigh every k gens",
    "eigh ms/gen (amortised)",
    "vmap(f) ms/gen",
    "pycma f-eval ms/gen",
    "pycma setup ms",
    "ours final f",
    "pycma final f",
    "evosax final f",
)


NOTES = [
    "float64 throughout (jax_enable_x64 on); pycma always computes in float64.",
    "Part A: x0 = np.random.default_rng(s).uniform(-3, 3, n), σ₀ = 0.5, default λ = 4 + ⌊3 ln "
    "n⌋, ftarget = 1e-8, max_evals = 10⁶, every other stopping criterion at its default (ours "
    "has pycma's defaults but purecma's eigendecomposition interval). Ours: "
    "cmaes.minimize(..., key=jax.random.key(s)); "
    "pycma: CMAEvolutionStrategy(x0, 0.5, {verbose: -9, ftarget: 1e-8, seed: s + 1, "
    "maxfevals: 10⁶}).optimize(f) and es.countevals. Evaluation counts of runs that stopped "
    "elsewhere (Rosenbrock's local minimum: tolfun) are included in the medians; 'success' is "
    "the fraction of runs with best f ≤ 1e-8. Target |ours/pycma − 1| ≤ 0.05 (the issue's); "
    "'95% interval': a bootstrap interval of the ratio of medians (2000 resamples of both "
    "sides), which says how much of a deviation is the seeds' noise. 'pycma 4.5 "
    "(issue)' is the orientation median quoted in the issue, not measured here.",
    "Rotated ellipsoid: f(x) = Σᵢ 10^(6(i−1)/(n−1)) (Rx)ᵢ², R = Q of the QR decomposition of "
    f"np.random.default_rng({ROTATION_SEED}).standard_normal((n, n)).",
    "Part B objective: the rotated ellipsoid (one n×n matrix-vector product per evaluation), "
    "from x0 = default_rng(0).uniform(-3, 3, n), σ₀ = 0.5, for every contender.",
    "Part B 'ours' = the public cmaes.minimize(fun, x0, 0.5, key=…, popsize=λ, max_evals=G·λ, "
    "tolfun=tolfunhist=tolx=tolconditioncov=tolfacupx=0, tolflatfitness=None), i.e. exactly G "
    "generations (checked: nit = G, status max_steps), including its Python-side setup "
    "(argument checks, init, history copied to NumPy). 'ours loop' (diagnostics table) is the "
    "jitted while_loop alone (the population driver's run_chunk called with the recorded "
    "arguments, compiled already). ms/gen = median run / G.",
    "Compile: 'ours compile s' = lower+compile of minimize's jitted loop "
    "(jaxmin.evolution._driver.run_chunk) for exactly the arguments minimize passes it "
    "(recorded by a stand-in for one call, so the benchmark does not depend on run_chunk's "
    "private signature); 'ours first call s' is the first public call after that. "
    "'evosax compile s' = "
    "lower+compile of the jitted lax.scan of G generations (init, ask, vmap(f), tell).",
    "pycma: es = CMAEvolutionStrategy(x0, 0.5, {verbose: -9, popsize: λ, seed: 1, tolfun: 0, "
    "tolx: 0, tolfunhist: 0, tolflatfitness: 1e9, tolconditioncov: 0, tolstagnation: 0}) built "
    "untimed before each sample ('pycma setup ms'), then G × (X = es.ask(); es.tell(X, [f(x) "
    "for x in X])) with a NumPy f, es.stop() never called. 'pycma f-eval ms/gen' is the part of "
    "that spent in the Python list of λ f calls. pycma 4.5 uses TPA instead of CSA step-size "
    "adaptation for n ≥ 300 (cma.evolution_strategy.TPA_dimension), so at n = 400 pycma runs a "
    "slightly different algorithm (TPA injects two mean-shift samples per generation).",
    "evosax: CMA_ES(population_size=λ, solution=x0); params = default_params with std_init = "
    "0.5; state = es.init(key, x0, params); G × (ask, jax.vmap(f), tell) in one jitted "
    "lax.scan, timed as a call of the compiled executable (no Python-side work, which favours "
    "evosax against the public 'ours' call). evosax's CMA_ES eigendecomposes C in every ask "
    "(no lazy update) and adds 1e-8·I to C each time.",
    "Timing: pycma is timed first, in a block of its own (one warm-up call, then its samples); "
    "then the JAX contenders in turn (ours, ours loop, evosax, ours, …) after one warm-up "
    "round. pycma is not interleaved with them because, on this 2-core machine, NumPy's "
    "OpenBLAS worker threads keep spinning for a while after a pycma call and slowed the next "
    "~20 ms of JAX work by up to 50 % (while writing this benchmark: evosax at n = 10, λ = 1000 "
    "0.60 ms/gen right after pycma, 0.40 ms/gen otherwise). Every JAX sample is preceded by an "
    "untimed call of the same contender, so that each is timed in its steady state, and is "
    "the mean of as many calls (G generations each, ending in jax.block_until_ready) as make "
    "it last ≥ min_sample_s (calls_per_sample in the JSON); a pycma sample is one call on a "
    "fresh instance. Medians over the samples; n = 400 rows use 2 repeats fewer. Judge "
    "ratios within about ±10 %.",
    "Split of our generation (diagnostics table): eigh(C) = jnp.linalg.eigh of an n×n SPD "
    "matrix, per call, inside a jitted fori_loop; our C is eigendecomposed every k = "
    "max(1, ⌈0.5/(n (c₁ + c_μ))⌉) generations (lazy, at purecma's interval), so "
    "'eigh ms/gen (amortised)' = eigh / k; vmap(f) = evaluating λ candidates, per call, "
    "measured the same way. The rest of 'ours loop' is sampling, ranking, the rank-μ update "
    "of C and the loop's bookkeeping.",
    "Final f values are a sanity check only (different random streams, same G).",
    "'other CPU load' = the share of the machine's CPU time that other processes used while a "
    "row was measured (/proc/stat busy time minus this process's own CPU time); a row with "
    "more than 5 % is flagged in the warnings and its timings are not trustworthy (pycma's "
    "multi-threaded OpenBLAS in particular slows down many-fold on a busy 2-core machine).",
    "BLAS threads: jaxlib's CPU LAPACK kernels (eigh) call SciPy's OpenBLAS, which by default "
    "runs one thread per core; inside XLA's own thread pool that oversubscribes this 2-core "
    "machine. The JAX contenders (ours, ours loop, evosax, the split) therefore run with "
    "OpenBLAS limited to one thread (threadpoolctl), while pycma (NumPy's OpenBLAS) keeps its "
    "default threads: each side in its faster setting (while writing this benchmark, pycma "
    "with one thread was 5–20 % slower at n = 100–400; ours with the default threads was "
    "slower and much noisier). The limit is set once around the whole block of JAX samples. "
    "'ours ms/gen (OpenBLAS default threads)' is ours without the limit, timed alone after "
    "the interleaved samples.",
    "Two speeds on this machine: XLA's CPU runtime runs a program's independent kernels on its "
    "thread pool, and on this two-vCPU virtual machine a process switches, at random moments, "
    "between a fast and a slow state of those hand-offs (seen 2026-12-04 in repeated runs of "
    "the same compiled loop, unaffected by the BLAS limit; always the fast one when the process "
    "is pinned to one CPU): at n = 10, λ = 10 ours loop 17–18 µs/gen fast and 23–25 slow, "
    "evosax 22 and 25. A row at small n can therefore move by ±15 % from one run to the next; "
    "larger rows, whose kernels are longer, much less.",
]


def options(parser: Any) -> None:
    """This benchmark's own options: Part A's starts, and which parts to run."""
    parser.add_argument("--seeds", type=int, default=None, help="Part A starts (11; --quick 3)")
    parser.add_argument(
        "--part",
        choices=("a", "b", "ab"),
        default="ab",
        help="the parts to run (one alone writes bench_cmaes_a.* or bench_cmaes_b.*)",
    )


def main() -> None:
    args = parse_args(__doc__.splitlines()[0], extra=options)
    repeats = repeats_for(args, full=7, quick=3)
    seeds = args.seeds or (3 if args.quick else 11)
    min_sample_s = 0.01 if args.quick else 0.05
    load = {"start": os.getloadavg()}
    busy = cpu_busy_fraction()
    if busy is not None and busy > 0.25:
        warn(f"the CPUs were {100 * busy:.0f} % busy just before the start: timings will be noisy")
    t_start = time.perf_counter()
    rows_a = part_a(seeds) if "a" in args.part else []
    load["after part A"] = os.getloadavg()
    t_a = time.perf_counter() - t_start
    for row in rows_a:
        if not row["|ratio-1|<=0.05"]:
            warn(
                f"part A {row['function']} n={row['n']}: ours/pycma = {row['ours/pycma']:.3f} "
                "outside 1 ± 0.05"
            )
    configs, skipped = timing_configs(args.quick) if "b" in args.part else ([], [])
    rows_b, issues = [], []
    for cfg in configs:
        print(f"... part B: n={cfg.n} λ={cfg.popsize} G={cfg.generations}", flush=True)
        row_repeats = repeats if cfg.n < 400 else max(3, repeats - 2)
        row, row_issues = part_b(cfg, row_repeats, min_sample_s)
        rows_b.append(row)
        issues += row_issues
    for issue in issues:
        warn(issue)
    for row in rows_b:
        if not row["pycma/ours>=3"]:
            warn(f"part B n={row['n']} λ={row['popsize']}: pycma/ours = {row['pycma/ours']:.2f}")
        if row["evosax/ours>1"] is False:
            warn(f"part B n={row['n']} λ={row['popsize']}: evosax/ours = {row['evosax/ours']:.2f}")
    t_b = time.perf_counter() - t_start - t_a
    load["end"] = os.getloadavg()
    notes = NOTES + skipped + sorted(set(i for i in issues if i.startswith("evosax")))
    if _harness.blas_controller() is None:
        notes.append("threadpoolctl is not installed: no BLAS thread limits were applied.")
    notes.append(
        f"Wall time of this run: part A {t_a:.0f} s, part B {t_b:.0f} s. CPUs busy just "
        f"before the start: {'?' if busy is None else f'{100 * busy:.0f} %'}. Load average (1 min) "
        f"at start {load['start'][0]:.2f}, after part A {load['after part A'][0]:.2f}, at end "
        f"{load['end'][0]:.2f} (this benchmark itself keeps it near 1–2 on 2 CPUs)."
    )
    config = {
        "quick": args.quick,
        "repeats": repeats,
        "min_sample_s": min_sample_s,
        "seeds": seeds,
        "sigma0": SIGMA0,
        "ftarget": FTARGET,
        "max_evals_part_a": MAX_EVALS_A,
        "rotation_seed": ROTATION_SEED,
        "part_b_objective": "rotated ellipsoid",
        "part_b_configs": [dataclasses.asdict(c) for c in configs],
        "versions": {
            "cma": metadata.version("cma"),
            "evosax": evosax_version(),
            "flax": package_version("flax"),
        },
        "issues": issues,
        "source": _harness.source_state(),
        "load_average": load,
        "cpu_busy_before_start": busy,
        "threadpoolctl": package_version("threadpoolctl"),
    }
    tables = {
        "Part A: evaluations to f < 1e-8 (ours vs pycma)": rows_a,
        "Part B: ms per generation (rotated ellipsoid)": rows_b,
        "Part B diagnostics": [{c: row[c] for c in DIAGNOSTIC_COLUMNS} for row in rows_b],
    }
    columns = dict(zip(tables, (PART_A_COLUMNS, PART_B_COLUMNS, DIAGNOSTIC_COLUMNS), strict=True))
    write_results(
        NAME if args.part == "ab" else f"{NAME}_{args.part}",
        {title: rows for title, rows in tables.items() if rows},
        notes=notes,
        config=config,
        columns={title: columns[title] for title, rows in tables.items() if rows},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
