"""The replica fit (``jaxmin.pdf.fit``): one vmapped program vs a loop of single fits, vs Keras,
and the wall time and peak memory of the default ``jaxmin fit``.

1. **Replicas at once vs one by one.** The same 100 replicas of the default closure data,
   the same network and Adam, ``epochs`` epochs each (patience off, so every replica does the
   same work): ``pdf.fit`` (all replicas in one compiled program, blocks of 8 under
   ``vmap``) against (a) a Python loop of 100 single-replica ``pdf.fit`` calls
   (``replica_range=k:k+1``, compiled once), with the default block (each call pads its one
   replica to a block of 8) and with ``block=1`` (no padding: the fastest single fit), and
   (b) the floor of one-at-a-time: a loop over replicas of the per-replica compiled chunk
   (``jax.jit`` of ``replicas.chunk`` on one replica, no padding, training only), compared
   with ``pdf.fit``'s training time.
2. **Against the tutorial's tool**: a Keras 3 model (JAX backend) 2–20–1 sigmoid on (x, ln x),
   χ² with the full covariance (a whitening layer-free loss ‖L⁻¹(ŷ − y)‖²/N), Adam (η = 3·10⁻³),
   full batch, the same replica data and epochs, against ``pdf.fit`` with the same network
   (``hidden=(20,), activation="sigmoid"``; our model also carries the preprocessing and the
   sum rule, extra work on our side). Keras fits one replica per ``model.fit``; its time for
   100 replicas is 100 × its median per replica (labelled as extrapolated), since running 100
   Keras fits here would take many minutes.
3. **The default command**: ``jaxmin fit`` in a fresh process: wall time (compile included)
   and the peak resident memory of that process.

The benchmark gives XLA one CPU device per core (:func:`jaxmin.devices.use_cpu_cores`, as the
``jaxmin fit`` command does), so ``pdf.fit`` shares its blocks of replicas between the cores;
every contender runs in this process with the same devices (a single fit, a bare loop and
Keras use one core: a replica is too small to share). The 100-replica fit is also timed in a
fresh process with one device, to show what the cores add.

Run: ``python benchmarks/bench_fit.py [--quick]`` (Keras from the ``bench`` extra).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial

import jax
import numpy as np
from _harness import parse_args, warn, write_results

from jaxmin import pdf
from jaxmin.devices import use_cpu_cores
from jaxmin.pdf import fitting, replicas, setup

NAME = "bench_fit"
CORES = use_cpu_cores()  # before JAX's first computation


def one_device_seconds(n_replicas: int, epochs: int) -> float:
    """Seconds of the same 100-replica ``pdf.fit`` in a fresh process with one CPU device."""
    script = (
        "import time\n"
        "from jaxmin import pdf\n"
        f"kwargs = dict(replicas_count={n_replicas}, steps={epochs}, chunk_steps={epochs}, "
        "patience=1.0)\n"
        "pdf.fit(**kwargs)\n"
        "start = time.perf_counter()\n"
        "pdf.fit(**kwargs)\n"
        "print(time.perf_counter() - start)\n"
    )
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def vmapped_vs_loop(n_replicas: int, epochs: int) -> dict:
    """Seconds for all replicas in one program and for a loop of single-replica programs."""
    kwargs = dict(replicas_count=n_replicas, steps=epochs, chunk_steps=epochs, patience=1.0)
    pdf.fit(**kwargs)  # compile (cached for the timed run)
    start = time.perf_counter()
    result = pdf.fit(**kwargs)
    together = time.perf_counter() - start
    pdf.fit(**(kwargs | {"replica_range": "0:1"}))  # compile the one-replica shapes
    start = time.perf_counter()
    for k in range(n_replicas):
        pdf.fit(**(kwargs | {"replica_range": f"{k}:{k + 1}"}))
    user_loop = time.perf_counter() - start
    pdf.fit(**(kwargs | {"replica_range": "0:1", "block": 1}))
    start = time.perf_counter()
    for k in range(n_replicas):
        pdf.fit(**(kwargs | {"replica_range": f"{k}:{k + 1}", "block": 1}))
    user_loop_unpadded = time.perf_counter() - start

    captured = {}
    original = fitting.train

    def capture(start, rdata, fit_grid, cfg, **kwargs):
        params, keys, member = start
        captured.update(params=params, keys=keys, member=member, rdata=rdata, grid=fit_grid)
        captured["cfg"] = cfg
        return original(start, rdata, fit_grid, cfg, **kwargs)

    fitting.train = capture
    try:
        pdf.fit(**(kwargs | {"steps": 1, "chunk_steps": 1}))
    finally:
        fitting.train = original
    cfg = captured["cfg"]._replace(epochs=epochs, chunk=epochs)
    one = jax.jit(partial(replicas.chunk, cfg=cfg))
    init = jax.jit(partial(replicas.init_state, cfg=cfg))

    def member(tree, k):
        return jax.tree.map(lambda a: a[k], tree)

    def run_loop():
        out = []
        for k in range(n_replicas):
            data = member(captured["rdata"], k)
            state = init(*member(members, k), data, captured["grid"])
            state, _ = one(state, data, captured["grid"])
            out.append(state.best_params["exponents"])
        return jax.block_until_ready(out)

    members = (captured["params"], captured["keys"], captured["member"])
    start = time.perf_counter()
    data0 = member(captured["rdata"], 0)
    state0 = init(*member(members, 0), data0, captured["grid"])
    jax.block_until_ready(one(state0, data0, captured["grid"]))
    loop_compile = time.perf_counter() - start
    start = time.perf_counter()
    loop_out = run_loop()
    loop = time.perf_counter() - start
    same = np.allclose(np.asarray(loop_out), np.asarray(result.params["exponents"]), rtol=1e-5)
    if not same:
        warn("the loop's replicas differ from pdf.fit's beyond 1e-5")
    return {
        "replicas": n_replicas,
        "epochs": epochs,
        "CPU devices": jax.device_count(),
        "pdf.fit s (whole call)": together,
        "pdf.fit s (whole call, 1 device)": one_device_seconds(n_replicas, epochs),
        "pdf.fit training s": result.timings["train_s"],
        "loop of pdf.fit(replica_range=k:k+1) s": user_loop,
        "loop of pdf.fit(replica_range=k:k+1, block=1) s": user_loop_unpadded,
        "bare per-replica loop s (training only)": loop,
        "bare loop compile s": loop_compile,
        "speed-up vs pdf.fit loop": user_loop / together,
        "speed-up vs pdf.fit loop (block 1)": user_loop_unpadded / together,
        "speed-up vs bare loop (training)": loop / result.timings["train_s"],
        "same replicas": same,
    }


def keras_fit_seconds(n_keras: int, epochs: int) -> tuple[list[float], float]:
    """Seconds per Keras replica fit, and the χ²/N of the last one to its replica data."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    truth = pdf.load_truth(None)
    obs = pdf.observables.default()
    data_sets, cov = setup.closure_data_sets(truth, obs, 2, 1, 0, 0.02)
    chol = np.linalg.cholesky(cov)
    whiten = np.linalg.inv(chol).T.astype("float32")  # rows: r @ whiten = (L⁻¹ r)ᵀ
    x = obs.x[: obs.n_points]
    features = np.stack([x, np.log(x)], axis=1).astype("float32")
    times, chi2 = [], float("nan")
    rng = np.random.default_rng(0)
    for _ in range(n_keras):
        y = (data_sets[0].central + chol @ rng.normal(size=len(obs))).astype("float32")

        def loss(y_true, y_pred):
            residual = keras.ops.reshape(y_pred - y_true, (1, -1))
            return keras.ops.sum(keras.ops.square(keras.ops.matmul(residual, whiten))) / len(x)

        model = keras.Sequential(
            [
                keras.Input((2,)),
                keras.layers.Dense(20, activation="sigmoid"),
                keras.layers.Dense(1),
            ]
        )
        model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
        start = time.perf_counter()
        history = model.fit(
            features, y[:, None], batch_size=len(x), epochs=epochs, verbose=0, shuffle=False
        )
        times.append(time.perf_counter() - start)
        chi2 = float(history.history["loss"][-1])
    return times, chi2


def versus_keras(epochs: int, n_keras: int, n_ours: int) -> list[dict]:
    kwargs = dict(
        hidden=(20,),
        activation="sigmoid",
        steps=epochs,
        chunk_steps=epochs,
        patience=1.0,
        validation=0.0,
    )
    rows = []
    for count, block in ((1, replicas.BLOCK), (1, 1), (n_ours, replicas.BLOCK), (n_ours, 1)):
        ours_kwargs = kwargs | {
            "replicas_count": max(count, 2),
            "replica_range": f"0:{count}",
            "block": block,
        }
        pdf.fit(**ours_kwargs)
        start = time.perf_counter()
        result = pdf.fit(**ours_kwargs)
        ours = time.perf_counter() - start
        rows.append(
            {
                "replicas": count,
                "contender": f"jaxmin pdf.fit (block {block})",
                "seconds": ours,
                "chi2/N (replica data, last epoch)": float(np.nanmean(result.chi2_train[:, -1])),
            }
        )
    try:
        times, chi2 = keras_fit_seconds(n_keras, epochs)
    except ImportError as err:
        warn(f"Keras not installed ({err}); pip install '.[bench]'")
        return rows
    per = float(np.median(times))
    import keras

    rows.append(
        {
            "replicas": 1,
            "contender": f"Keras {keras.__version__} (median of {n_keras})",
            "seconds": per,
            "chi2/N (replica data, last epoch)": chi2,
        }
    )
    rows.append(
        {
            "replicas": n_ours,
            "contender": "Keras, extrapolated (100 × one fit)",
            "seconds": per * n_ours,
            "chi2/N (replica data, last epoch)": chi2,
        }
    )
    for row in rows:
        if row["contender"].startswith("Keras"):
            for block in sorted({replicas.BLOCK, 1}):
                ours = next(
                    r["seconds"]
                    for r in rows
                    if r["replicas"] == row["replicas"] and r["contender"].endswith(f"{block})")
                )
                row[f"jaxmin speed-up (block {block})"] = row["seconds"] / ours
    return rows


def default_command() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "jaxmin.cli", "fit", "--out", f"{tmp}/fit"],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
    if done.returncode != 0:
        warn(f"jaxmin fit failed: {done.stderr.strip()[-300:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "command": "jaxmin fit (defaults: 100 replicas, 4000 epochs)",
        "wall s (compile included)": wall,
        "peak RSS GiB": peak_kib / 2**20,
        "target": "< 180 s, < 2 GiB",
        "summary": done.stdout.strip().splitlines()[:3],
    }


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    epochs = 300 if args.quick else 2000
    n = 20 if args.quick else 100
    loop = vmapped_vs_loop(n, epochs)
    keras_rows = versus_keras(epochs, 2 if args.quick else 3, n)
    command = default_command()
    write_results(
        NAME,
        {
            "100 replicas: one program vs a Python loop": [loop],
            "Against Keras 3 (the tutorial's tool)": keras_rows,
            "The default jaxmin fit": [command],
        },
        notes=[
            "CPU timings, float32 (JAX's default); compile excluded from pdf.fit's timed calls "
            "(a warm-up fit of the same shapes compiles first).",
            f"One XLA CPU device per core ({CORES}): pdf.fit shares its blocks of replicas "
            "between them; a single replica, the bare loop and Keras run on one core.",
            "Keras 100-replica time is extrapolated from its median single fit.",
        ],
        config={"epochs": epochs, "replicas": n, "jax": jax.__version__},
        quick=args.quick,
    )


if __name__ == "__main__":
    main()
