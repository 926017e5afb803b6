"""CMA-ES: the options for the eigendecomposition of C — update interval, precision, an O(n²)
factor update — timed per generation and, where they change the run, by evaluations to target.

Issue 15 asks for the eigendecomposition "as cheap as it can be while keeping pycma's
evaluation counts". Variants of ``jaxmin.evolution.cmaes`` (ask / evaluate / tell in one jitted
loop, float64, the rotated ellipsoid of bench_cmaes, default λ):

- ``pycma gap``: C = B diag(D²) Bᵀ every k = ⌈0.1/(n (c₁ + c_μ))⌉ generations, the lazy
  interval of pycma's class (ours until 2026-12-04);
- ``gap ×2``: the interval doubled (``StrategyParameters.eigen_gap``);
- ``purecma gap (×5)``: 0.5/(n (c₁ + c_μ)) generations, the interval of Hansen's purecma.py
  (``lazy_gap_evals = 0.5 N λ (c₁ + c_μ)⁻¹ / N²`` evaluations; "chosen such that eig takes 2
  times the time of tell in >= 20-D"), five times pycma's — ours since 2026-12-04;
- ``every generation``: k = 1 (as evosax);
- ``float32 eigh``: the decomposition of C cast to float32, its result cast back (the rest of
  the update in float64), with purecma's interval;
- ``Cholesky rank-one ×(μ+1)`` (time only): μ + 1 rank-one updates of a Cholesky factor A,
  C = AAᵀ — the O(n²)-per-update alternative (Cholesky-CMA-ES) that would replace the
  eigendecomposition; timed alone, as a lower bound of what it would cost per generation (it is
  a different algorithm, without pycma's evaluation counts to compare with, and the negative
  weights of active CMA would need downdates).

Table 1: ms per generation at n = 40, 100, 400 (interleaved samples, medians). Table 2:
evaluations to f ≤ 1e-8 at n = 10 and 40 (median over seeds, all seeds of a variant in one
vmapped program), and their ratio to pycma's interval.

Run: ``python benchmarks/bench_eigen.py [--quick] [--repeats N]``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from _harness import one_blas_thread, parse_args, repeats_for, time_interleaved, write_results

jax.config.update("jax_enable_x64", True)  # as bench_cmaes: float64, pycma's precision

from jaxmin.evolution import cmaes  # noqa: E402
from jaxmin.evolution.cmaes import _strategy  # noqa: E402

NAME = "bench_eigen"
SIGMA0 = 0.5
FTARGET = 1e-8


def rotated_ellipsoid(n: int) -> Callable[[jax.Array], jax.Array]:
    """f(x) = Σᵢ 10^(6(i−1)/(n−1)) (Rx)ᵢ², R a fixed random rotation (bench_cmaes's)."""
    rotation = np.linalg.qr(np.random.default_rng(12345).standard_normal((n, n)))[0]
    scales = jnp.asarray(10.0 ** (6 * np.arange(n) / max(n - 1, 1)))
    rotation = jnp.asarray(rotation)

    def f(x: jax.Array) -> jax.Array:
        y = rotation @ x
        return jnp.sum(scales * y * y)

    return f


def float32_eigh(C: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``jnp.linalg.eigh`` of C in float32, the result in C's dtype."""
    eigenvalues, vectors = jnp.linalg.eigh(C.astype(jnp.float32))
    return eigenvalues.astype(C.dtype), vectors.astype(C.dtype)


VARIANTS: dict[str, tuple[float, Any]] = {
    "pycma gap": (0.1, None),
    "gap ×2": (0.2, None),
    "purecma gap (×5)": (0.5, None),
    "every generation": (0.0, None),
    "float32 eigh": (0.5, float32_eigh),
}
"""name → (the factor a of the interval a/(n (c₁ + c_μ)) generations, the eigh to use; None:
ours)."""


def started(variant: str, x0: jax.Array) -> cmaes.CMAState:
    """A fresh state with the variant's interval between eigendecompositions."""
    factor, _ = VARIANTS[variant]
    state = cmaes.init(x0, SIGMA0)
    p = state.params
    gap = factor / (p.c1 + p.cmu) / x0.shape[0]
    return state._replace(params=p._replace(eigen_gap=jnp.asarray(gap, p.eigen_gap.dtype)))


def generation(f: Callable, key: jax.Array, state: cmaes.CMAState) -> cmaes.CMAState:
    """One ask / evaluate / tell; generation g samples with fold_in(key, g)."""
    x, state = cmaes.ask(jax.random.fold_in(key, state.generation), state)
    return cmaes.tell(key, x, jax.vmap(f)(x), state)[0]


def traced_with(variant: str, build: Callable[[], Any]) -> Any:
    """``build()`` (which traces) with the variant's eigh in place of ours (JAX's caches of
    traced functions cleared before and after: ``lax.cond`` keeps its branches' traces)."""
    _, eigh = VARIANTS[variant]
    ours = _strategy.eigh
    _strategy.eigh = eigh or ours
    jax.clear_caches()
    try:
        return build()
    finally:
        _strategy.eigh = ours
        jax.clear_caches()


def fixed_generations(variant: str, n: int, generations: int) -> Callable[[], Any]:
    """A compiled call of ``generations`` generations from a fixed start."""
    f = rotated_ellipsoid(n)
    x0 = jnp.asarray(np.random.default_rng(0).uniform(-3, 3, n))
    key = jax.random.key(0)

    def run(state: cmaes.CMAState) -> jax.Array:
        return jax.lax.fori_loop(0, generations, lambda _, s: generation(f, key, s), state).best_f

    state = started(variant, x0)
    compiled = traced_with(variant, lambda: jax.jit(run).lower(state).compile())
    return lambda: compiled(state)


def cholesky_rank_one(A: jax.Array, v: jax.Array, beta: float) -> jax.Array:
    """The lower Cholesky factor of AAᵀ + β vvᵀ (β ≥ 0), one column at a time: with
    w = √β v, for k = 1…n: r = √(A_kk² + w_k²), c = r/A_kk, s = w_k/A_kk, A_kk ← r,
    A_{>k,k} ← (A_{>k,k} + s w_{>k})/c, w_{>k} ← c w_{>k} − s A_{>k,k}. O(n²)."""
    n = A.shape[0]
    index = jnp.arange(n)

    def column(k: int, carry: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        A, w = carry
        r = jnp.sqrt(A[k, k] ** 2 + w[k] ** 2)
        c, s = r / A[k, k], w[k] / A[k, k]
        below = index > k
        col = jnp.where(below, (A[:, k] + s * w) / c, A[:, k]).at[k].set(r)
        return A.at[:, k].set(col), jnp.where(below, c * w - s * col, w)

    return jax.lax.fori_loop(0, n, column, (A, jnp.sqrt(beta) * v))[0]


def cholesky_updates(n: int, generations: int) -> Callable[[], Any]:
    """``generations`` × (μ + 1) rank-one Cholesky updates of an n × n factor."""
    mu = int(np.sum(np.asarray(cmaes.init(jnp.zeros(n), 1.0).params.weights) > 0))
    vectors = jax.random.normal(jax.random.key(1), (mu + 1, n)) * 0.1

    def run(A: jax.Array) -> jax.Array:
        def one(_, A):
            return jax.lax.fori_loop(
                0, mu + 1, lambda i, A: cholesky_rank_one(A, vectors[i], 0.01), A * 0.999
            )

        return jax.lax.fori_loop(0, generations, one, A)

    A = jnp.eye(n)
    compiled = jax.jit(run).lower(A).compile()
    return lambda: compiled(A)


def time_per_generation(sizes: tuple[int, ...], repeats: int) -> list[dict[str, Any]]:
    """Table 1: ms per generation of each variant, and of the Cholesky updates alone."""
    rows = []
    for n in sizes:
        generations = {40: 200, 100: 100, 400: 20}.get(n, 50)
        calls = {name: fixed_generations(name, n, generations) for name in VARIANTS}
        calls["Cholesky rank-one ×(μ+1)"] = cholesky_updates(n, generations)
        with one_blas_thread():
            timing = time_interleaved(calls, repeats=repeats, min_sample_s=0.1)
        default = timing["pycma gap"].median
        row: dict[str, Any] = {"n": n, "generations": generations}
        for name, measured in timing.items():
            row[f"{name} ms/gen"] = measured.median / generations * 1e3
        for name in timing:
            if name != "pycma gap":
                row[f"pycma gap/{name}"] = default / timing[name].median
        rows.append(row)
    return rows


def evaluations_to_target(variant: str, n: int, seeds: int) -> np.ndarray:
    """Evaluations to f ≤ 1e-8 (or the budget: 2·10⁵) of ``seeds`` runs in one vmapped loop."""
    f = rotated_ellipsoid(n)
    starts = jnp.asarray(np.random.default_rng(1).uniform(-3, 3, (seeds, n)))
    keys = jax.random.split(jax.random.key(2), seeds)
    budget = 200_000

    def run(x0: jax.Array, key: jax.Array) -> jax.Array:
        def going(state):
            return (state.best_f > FTARGET) & (state.nfev < budget)

        state = jax.lax.while_loop(going, lambda s: generation(f, key, s), started(variant, x0))
        return state.nfev

    counts = traced_with(variant, lambda: jax.jit(jax.vmap(run))(starts, keys))
    return np.asarray(counts)


def evaluation_counts(sizes: tuple[int, ...], seeds: int) -> list[dict[str, Any]]:
    """Table 2: median evaluations to target of each variant and its ratio to pycma's interval."""
    rows = []
    for n in sizes:
        counts = {name: evaluations_to_target(name, n, seeds) for name in VARIANTS}
        default = float(np.median(counts["pycma gap"]))
        for name, values in counts.items():
            rows.append(
                {
                    "n": n,
                    "variant": name,
                    "seeds": seeds,
                    "median evals": float(np.median(values)),
                    "min": int(values.min()),
                    "max": int(values.max()),
                    "ratio to pycma gap": float(np.median(values)) / default,
                }
            )
    return rows


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    repeats = repeats_for(args, full=7, quick=2)
    sizes = (40, 100) if args.quick else (40, 100, 400)
    seeds = 3 if args.quick else 11
    start = time.perf_counter()
    tables = {
        "ms per generation (rotated ellipsoid, default λ)": time_per_generation(sizes, repeats),
        f"evaluations to f ≤ {FTARGET:g} (rotated ellipsoid, cond 10⁶)": evaluation_counts(
            (10, 40), seeds
        ),
    }
    write_results(
        NAME,
        tables,
        notes=[
            "float64; JAX's LAPACK (eigh) limited to one OpenBLAS thread, as bench_cmaes.",
            "Times: medians of interleaved samples (each ≥ 0.1 s), compile excluded; "
            "'pycma gap/X' > 1 means X is faster than pycma's interval.",
            "Evaluations: every variant from the same starts and keys; runs that reach the "
            "budget (2·10⁵) count with it.",
            f"Wall time of this run: {time.perf_counter() - start:.0f} s.",
        ],
        config={"sizes": sizes, "seeds": seeds, "repeats": repeats},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
