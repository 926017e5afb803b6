"""IPOP-CMA-ES: one compiled program per population size against one padded program.

Problem: Rastrigin at n = 10 from x0 ~ U(−4, 4)ⁿ, σ₀ = 2, λ₀ = 10 and 6 restarts (λ up to 640),
to f ≤ 1e-8 or 3·10⁵ evaluations, float32 (JAX's default). Contenders:

- ``separate``: ``cmaes.minimize(..., restarts=6, padded_restarts=False)`` — the default for
  concrete inputs: each λ that a run reaches is one compiled program (compiled on first use);
- ``padded``: ``padded_restarts=True`` — every restart in one program that samples and
  evaluates 640 candidates a generation and counts the current λ of them.

Table 1 times single runs (one seed per call, several seeds): the first call of each contender
(compilation included, in a process that has compiled nothing of it) and the median of the
later calls; the two contenders follow the same algorithm from the same draws, but in float32
their sums over the padded rows round differently in the last bits and the runs drift apart, so
their evaluations and successes are reported side by side. Table 2 runs many seeds at once:
``batched=True`` (restarts inside ``vmap`` run padded) against a Python loop of separate runs.

Run: ``python benchmarks/bench_ipop.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _harness import parse_args, repeats_for, time_interleaved, timed_call, write_results

from jaxmin.evolution import cmaes

NAME = "bench_ipop"
N = 10
RESTARTS = 6
SETTINGS = {"restarts": RESTARTS, "ftarget": 1e-8, "max_evals": 300_000}


def rastrigin(x: jax.Array) -> jax.Array:
    return 10 * x.shape[0] + jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x))


def starts(runs: int) -> tuple[jax.Array, jax.Array]:
    """``runs`` starts and keys (seed i: start i, key i)."""
    x0 = jnp.asarray(np.random.default_rng(0).uniform(-4, 4, (runs, N)), jnp.float32)
    return x0, jax.random.split(jax.random.key(1), runs)


def solve(x0: jax.Array, key: jax.Array, padded: bool, batched: bool = False) -> Any:
    return cmaes.minimize(
        rastrigin, x0, 2.0, key=key, padded_restarts=padded, batched=batched, **SETTINGS
    )


def single_runs(seeds: int, repeats: int) -> list[dict[str, Any]]:
    """Table 1: per contender, the first call, then every seed once per repeat."""
    x0, keys = starts(seeds)
    rows = []
    first = {name: timed_call(solve, x0[0], keys[0], padded) for name, padded in CONTENDERS}
    every_seed = {
        name: lambda padded=padded: [solve(x0[i], keys[i], padded) for i in range(seeds)]
        for name, padded in CONTENDERS
    }
    runs = {name: call() for name, call in every_seed.items()}
    timing = time_interleaved(every_seed, repeats=repeats, warmup=0)
    for name, _ in CONTENDERS:
        results = runs[name]
        rows.append(
            {
                "contender": name,
                "seeds": seeds,
                "first call s (compile included)": first[name][0],
                "later call s (median per run)": timing[name].median / seeds,
                "median evaluations": float(np.median([int(r.nfev) for r in results])),
                "median generations": float(np.median([int(r.nit) for r in results])),
                "µs per generation": timing[name].median / sum(int(r.nit) for r in results) * 1e6,
                "reached f ≤ 1e-8": f"{sum(r.status_name == 'ftarget' for r in results)}/{seeds}",
                "largest λ reached": max(max(r.popsizes) for r in results),
            }
        )
    return rows


def many_runs(runs: int, repeats: int) -> list[dict[str, Any]]:
    """Table 2: all seeds in one batched (padded) call against a loop of separate runs."""
    x0, keys = starts(runs)

    def batched() -> Any:
        return solve(x0, keys, padded=True, batched=True)

    def loop() -> list[Any]:
        return [solve(x0[i], keys[i], padded=False) for i in range(runs)]

    compile_batched, together = timed_call(batched)
    compile_loop, alone = timed_call(loop)
    timing = time_interleaved({"batched": batched, "loop": loop}, repeats=repeats, warmup=0)
    return [
        {
            "runs": runs,
            "batched first call s (compile included)": compile_batched,
            "loop first pass s (compile included)": compile_loop,
            "batched s": timing["batched"].median,
            "loop s": timing["loop"].median,
            "loop/batched": timing["loop"].median / timing["batched"].median,
            "generations batched (max over runs)": int(np.max(np.asarray(together.nit))),
            "reached f ≤ 1e-8 batched": f"{int(np.sum(np.asarray(together.fun) <= 1e-8))}/{runs}",
            "reached f ≤ 1e-8 loop": f"{sum(float(r.fun) <= 1e-8 for r in alone)}/{runs}",
        }
    ]


CONTENDERS = (("separate", False), ("padded", True))


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=3, quick=1)
    seeds = 2 if args.quick else 5
    runs = 4 if args.quick else 20
    start = time.perf_counter()
    tables = {
        f"One run at a time (Rastrigin n = {N}, {RESTARTS} restarts)": single_runs(seeds, repeats),
        f"{runs} runs at once: batched=True (padded) vs a loop of separate runs": many_runs(
            runs, repeats
        ),
    }
    write_results(
        NAME,
        tables,
        notes=[
            "Each contender's first call is its first in the process: it compiles what it "
            "needs (separate: one program per λ reached, up to 7; padded: one).",
            "Later calls: medians of interleaved repeats (separate, padded, …) over all seeds, "
            "divided by the seeds; µs per generation over all their generations.",
            f"float32 (JAX's default) on the {jax.default_backend().upper()}; the two "
            "contenders' runs drift apart from the first generations (last-bit differences "
            "of sums over 640 rows instead of λ), so each reaches its own evaluations; in "
            "float64 the tests find the same runs.",
            "The compile cache of the jaxmin command (jaxmin.compile_cache) is not used: a "
            "second process would pay the compilation again.",
            f"Wall time of this run: {time.perf_counter() - start:.0f} s.",
        ],
        config={"n": N, "restarts": RESTARTS, **SETTINGS, "repeats": repeats},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
