"""Hyperoptimisation throughput: trials per minute, vmapped same-shape groups vs one at a time.

The gluon problem (:class:`jaxmin.hyperopt.GluonProblem`, the default closure data, k = 2 folds,
one replica per fold, the default network and epochs with patience) and 32 learning rates
log-spaced in [10⁻⁴, 10⁻¹], one architecture:

1. **One program vs one at a time** (medians of 3 repeats): ``problem.evaluate`` of the 32
   trials at once (all 64 models in one compiled program) against a Python loop of 32
   single-trial evaluations, with the default block of 8 models (each single trial padded to a
   block) and with ``block=1`` (the fastest single trial). Compilation is done by a warm-up
   call of the same shapes first and reported apart.
2. **Through optuna**: the whole search, ``jaxmin.hyperopt.study.run`` (random sampler, batches
   of 32, an in-memory SQLite study) against the same search driven by optuna's plain
   ``study.optimize`` loop (one trial per objective call, the same problem and sampler).

Run: ``python benchmarks/bench_hyperopt.py [--quick]`` (optuna from the ``hyperopt`` extra).
"""

from __future__ import annotations

import tempfile
import time

import jax
import numpy as np
from _harness import parse_args, repeats_for, warn, write_results

from jaxmin.devices import use_cpu_cores
from jaxmin.hyperopt import Float, GluonProblem, study

NAME = "bench_hyperopt"
CORES = use_cpu_cores()  # as the jaxmin hyperopt command does
TRIALS = 32


def per_minute(trials: int, seconds: float) -> float:
    return 60 * trials / seconds


def median_seconds(fn, repeats: int) -> tuple[float, object]:
    """The median wall time of ``repeats`` calls (each a whole evaluation, results on the
    host), and the last call's result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def one_program_vs_loop(epochs: int, repeats: int) -> list[dict]:
    rates = np.geomspace(1e-4, 1e-1, TRIALS)
    trials = [{"learning_rate": float(eta)} for eta in rates]
    rows = []
    grouped = GluonProblem(fixed={"steps": epochs})
    start = time.perf_counter()
    grouped.evaluate([{"learning_rate": 1e-3}] * TRIALS)  # compiles the 64-model program
    compile_grouped = time.perf_counter() - start
    seconds, together = median_seconds(lambda: grouped.evaluate(trials), repeats)
    rows.append(
        {
            "how": f"{TRIALS} trials in one program",
            "first call s (compile incl.)": compile_grouped,
            "s": seconds,
            "trials/min": per_minute(TRIALS, seconds),
        }
    )
    for block in (8, 1):
        single = GluonProblem(fixed={"steps": epochs, "block": block})
        start = time.perf_counter()
        single.evaluate([trials[0]])
        first = time.perf_counter() - start
        seconds_loop, alone = median_seconds(
            lambda single=single: [single.evaluate([trial])[0] for trial in trials], repeats
        )
        rows.append(
            {
                "how": f"one at a time, block {block}",
                "first call s (compile incl.)": first,
                "s": seconds_loop,
                "trials/min": per_minute(TRIALS, seconds_loop),
            }
        )
        if block == 8:
            same = [a.reward for a in alone] == [t.reward for t in together]
            if not same:
                warn("a trial's reward differs between one program and one at a time")
    for row in rows:
        row["speed-up of one program"] = rows[0]["trials/min"] / row["trials/min"]
    return rows


def through_optuna(epochs: int) -> list[dict]:
    optuna = study.optuna_module()
    space = {"learning_rate": Float(1e-4, 1e-1, log=True)}
    problem = GluonProblem(fixed={"steps": epochs, "block": 1})
    problem.evaluate([{"learning_rate": 1e-3}])  # compile the single-trial program
    grouped = GluonProblem(fixed={"steps": epochs})
    grouped.evaluate([{"learning_rate": 1e-3}] * TRIALS)  # and the 32-trial one
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        optuna.create_study(storage=f"sqlite:///{folder}/warm-up.db")  # imports, not timed
        start = time.perf_counter()
        study.run(
            grouped,
            space,
            trials=TRIALS,
            storage=f"sqlite:///{folder}/ours.db",
            sampler="random",
            batch=TRIALS,
        )
        seconds = time.perf_counter() - start
        rows.append(
            {
                "search": "jaxmin study.run, batches of 32",
                "s": seconds,
                "trials/min": per_minute(TRIALS, seconds),
            }
        )

        def objective(trial):
            params = {"learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)}
            return problem.evaluate([params])[0].reward

        plain = optuna.create_study(
            storage=f"sqlite:///{folder}/plain.db",
            sampler=optuna.samplers.RandomSampler(seed=0),
        )
        start = time.perf_counter()
        plain.optimize(objective, n_trials=TRIALS)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "search": "optuna study.optimize, one trial per call (block 1)",
                "s": seconds,
                "trials/min": per_minute(TRIALS, seconds),
            }
        )
    for row in rows:
        row["speed-up of jaxmin"] = rows[0]["trials/min"] / row["trials/min"]
    return rows


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    epochs = 500 if args.quick else 4000
    loop = one_program_vs_loop(epochs, repeats_for(args, 3, 1))
    searches = through_optuna(epochs)
    if loop[0]["trials/min"] < 5 * min(r["trials/min"] for r in loop[1:]):
        warn("target missed: one program < 5x the trials/min of one at a time")
    write_results(
        NAME,
        {
            f"{TRIALS} learning rates, one architecture, k = 2 folds": loop,
            "The whole search through optuna": searches,
        },
        notes=[
            "CPU timings, float32; each row's time (the median of 3 repeats) excludes "
            "compilation (done by a warm-up call of the same shapes, shown in 'first call').",
            f"One XLA CPU device per core ({CORES}), as the jaxmin hyperopt command sets.",
            "A trial: 2 folds x 1 replica = 2 networks, patience 10% of the epochs.",
        ],
        config={"epochs": epochs, "trials": TRIALS, "jax": jax.__version__},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
