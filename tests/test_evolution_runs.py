"""The shared driver of CMA-ES and the GA: chunks, checkpoints, budgets, many runs at once."""

import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jaxmin import find_minima, nn
from jaxmin.evolution import _driver, cmaes, ga


def rastrigin(x, shift):
    z = x - shift
    return 10 * z.shape[0] + jnp.sum(z**2 - 10 * jnp.cos(2 * jnp.pi * z))


SHIFT = (jnp.array([0.3, -0.2, 0.1]),)
X0 = jnp.array([2.0, -1.5, 1.0])


def run_cmaes(**kwargs):
    """IPOP-CMA-ES on Rastrigin: restarts happen (tolx), so checkpoints cross them."""
    settings = dict(x0=X0, key=jax.random.key(4), steps=60, restarts=2, args=SHIFT, tolx=1e-2)
    settings["chunk_steps"] = 8  # one chunk length (one program per λ) for the whole file
    return cmaes.minimize(rastrigin, sigma0=0.5, **(settings | kwargs))


def run_ga(**kwargs):
    settings = dict(x0=X0, key=jax.random.key(4), popsize=12, steps=45, args=SHIFT, chunk_steps=8)
    return ga.minimize(rastrigin, mutation="additive", **(settings | kwargs))


def run_cmaes_padded(**kwargs):
    """The same IPOP sequence in one program (every population sampled at the largest λ)."""
    return run_cmaes(**({"padded_restarts": True} | kwargs))


RUNS = {"cmaes": run_cmaes, "cmaes-padded": run_cmaes_padded, "ga": run_ga}


def assert_same(a, b):
    for field in ("x", "fun", "nfev", "nit", "status"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    for field in ("nfev", "best", "median", "sigma", "axis_ratio", "restart"):
        np.testing.assert_array_equal(getattr(a.history, field), getattr(b.history, field))
    for field in ("nfev", "restart"):  # counts: int32 on every path (alone, batched, traced)
        assert getattr(a.history, field).dtype == getattr(b.history, field).dtype == np.int32
    assert a.popsizes == b.popsizes


def killed_in_chunk(chunk, method, path, monkeypatch):
    """Run ``method`` with a checkpoint at ``path``, killed (KeyboardInterrupt) in its
    ``chunk``-th compiled chunk."""
    real = _driver.run_chunk
    calls = {"n": 0}

    def dies(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == chunk:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(_driver, "run_chunk", dies)
    with pytest.raises(KeyboardInterrupt):
        RUNS[method](checkpoint=path)
    monkeypatch.setattr(_driver, "run_chunk", real)


@pytest.mark.parametrize("method", RUNS)
def test_the_numbers_do_not_depend_on_the_chunk_length(method):
    whole = RUNS[method]()
    if method != "ga":
        assert len(whole.popsizes) > 1  # the restarts are exercised
    assert_same(RUNS[method](chunk_steps=1000), whole)  # one chunk per run


@pytest.mark.parametrize("method", RUNS)
def test_a_killed_run_resumes_from_its_checkpoint_with_identical_results(
    method, tmp_path, monkeypatch
):
    path = tmp_path / "run.npz"
    whole = RUNS[method]()
    killed_in_chunk(5, method, path, monkeypatch)
    assert path.exists()
    resumed = RUNS[method](checkpoint=path)
    assert_same(resumed, whole)
    assert_same(RUNS[method](checkpoint=path), whole)  # finished: read back


@pytest.mark.parametrize("stored", [np.float64, np.int64])
@pytest.mark.parametrize("method", RUNS)
def test_a_checkpoint_with_counts_stored_as_floats_still_resumes(
    method, stored, tmp_path, monkeypatch
):
    """Checkpoints written before 2026-12-04 held the history's integer records (evaluations,
    restarts) as floats, or as int64 where CMA-ES had merged its restarts: such a checkpoint
    resumes to the same result; a count that is not a whole number is refused."""
    path = tmp_path / "run.npz"
    whole = RUNS[method]()
    killed_in_chunk(3, method, path, monkeypatch)
    with np.load(path) as data:
        arrays = {name: data[name] for name in data.files}
    # what was stored as floats before: the current run's history of evaluations (and restarts)
    # — int64 in the GA's (its first record is counted on the host), int32 in CMA-ES's
    width = np.int64 if method == "ga" else np.int32
    counts = [n for n, v in arrays.items() if v.dtype == width and v.ndim == 1]
    assert counts
    old = arrays | {name: arrays[name].astype(stored) for name in counts}
    np.savez(path, **old)
    assert_same(RUNS[method](checkpoint=path), whole)
    broken = arrays[counts[0]].astype(np.float64) + 0.5
    np.savez(tmp_path / "broken.npz", **(old | {counts[0]: broken}))
    with pytest.raises(ValueError, match="does not match this run's state"):
        RUNS[method](checkpoint=tmp_path / "broken.npz")


@pytest.mark.parametrize("method", RUNS)
@pytest.mark.parametrize(
    ("change", "differs"),
    [
        ({"key": jax.random.key(5)}, "key"),
        ({"args": (jnp.zeros(3),)}, "args"),
        ({"x0": jnp.ones(3)}, "x0"),
    ],
)
def test_a_checkpoint_of_another_run_is_refused_saying_what_differs(
    method, change, differs, tmp_path
):
    path = tmp_path / "run.npz"
    RUNS[method](checkpoint=path)
    with pytest.raises(ValueError, match=rf"belongs to a different run \(.*\b{differs}\b"):
        RUNS[method](checkpoint=path, **change)


@pytest.mark.parametrize("method", ["cmaes", "cmaes-padded"])
def test_a_restart_the_budget_stopped_starts_when_a_resume_allows_it(method, tmp_path):
    """The first run stops (tolx) with too few evaluations left for the next λ; resumed with
    no evaluation budget, the sequence goes on as one run without that budget does."""
    path = tmp_path / "run.npz"
    whole = RUNS[method]()
    first = whole.history.restart == 0
    assert not first.all()  # the first run ended and a restart followed
    cap = int(whole.history.nfev[first][-1]) + 7  # room for λ₀ = 7, not for λ₁ = 14
    short = RUNS[method](checkpoint=path, max_evals=cap)
    assert short.popsizes == (7,) and short.status_name == "tolx"
    assert_same(RUNS[method](checkpoint=path), whole)


def test_padded_and_separate_programs_refuse_each_others_checkpoints(tmp_path):
    separate, padded = tmp_path / "separate.npz", tmp_path / "padded.npz"
    run_cmaes(checkpoint=separate)
    run_cmaes_padded(checkpoint=padded)
    with pytest.raises(ValueError, match=r"belongs to a different run \(.*padded_restarts"):
        run_cmaes_padded(checkpoint=separate)
    with pytest.raises(ValueError, match=r"belongs to a different run \(.*padded_restarts"):
        run_cmaes(checkpoint=padded)
    with pytest.raises(ValueError, match=r"belongs to a different run \(.*restarts"):
        run_cmaes_padded(checkpoint=padded, restarts=3)  # the padded arrays are sized by it


def test_a_cmaes_checkpoint_of_another_eigendecomposition_interval_is_refused(tmp_path):
    """A checkpoint written before the interval became purecma's (no ``lazy_gap`` in its
    identity) would resume a run of mixed intervals: it is refused."""
    path = tmp_path / "run.npz"
    run_cmaes(checkpoint=path, steps=8, restarts=0)
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays["meta"]))
    assert meta.pop("lazy_gap") == 0.5
    arrays["meta"] = np.asarray(json.dumps(meta, sort_keys=True))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"different run \(lazy_gap differ: lazy_gap: <absent>"):
        run_cmaes(checkpoint=path, steps=8, restarts=0)


def test_a_checkpoint_of_another_objective_is_refused(tmp_path):
    path = tmp_path / "run.npz"
    run_ga(checkpoint=path)
    with pytest.raises(ValueError, match=r"belongs to a different run \(.*\bfun\b"):
        ga.minimize(
            lambda x, s: jnp.sum((x - s) ** 2),
            X0,
            key=jax.random.key(4),
            popsize=12,
            steps=45,
            args=SHIFT,
            mutation="additive",
            checkpoint=path,
        )


@pytest.mark.parametrize("method", RUNS)
def test_batched_runs_give_what_each_run_gives_alone(method):
    starts = jnp.array([[2.0, -1.5, 1.0], [0.5, 0.5, -2.0]])
    keys = jax.random.split(jax.random.key(7), 2)
    single = {"restarts": 0} if method == "cmaes" else {}  # batched restarts run padded
    together = RUNS[method](x0=starts, key=keys, batched=True, **single)
    schedule = (7, 14, 28) if method == "cmaes-padded" else RUNS[method](**single).popsizes
    assert together.popsizes == schedule
    for i in range(2):
        alone = RUNS[method](x0=starts[i], key=keys[i], **single)
        n = len(alone.history.best)
        assert int(together.nit[i]) == int(alone.nit)
        assert int(together.status[i]) == int(alone.status)
        assert int(together.nfev[i]) == int(alone.nfev)
        np.testing.assert_array_equal(together.history.restart[i, :n], alone.history.restart)
        np.testing.assert_allclose(together.x[i], alone.x, rtol=1e-10)
        np.testing.assert_allclose(together.history.best[i, :n], alone.history.best, rtol=1e-10)
        assert np.all(np.isnan(np.asarray(together.history.best[i, n:])))
    summary = together.summary()
    assert len(summary["fun"]) == 2 and len(summary["status"]) == 2


def test_batched_runs_need_one_key_per_run():
    with pytest.raises(ValueError, match="one key per run"):
        run_ga(x0=jnp.zeros((3, 3)), key=jax.random.split(jax.random.key(0), 2), batched=True)
    with pytest.raises(TypeError, match="key must be JAX random keys"):
        run_ga(x0=jnp.zeros((3, 3)), key=np.zeros((3, 2), np.uint32), batched=True)


def test_cmaes_budget_in_generations_defaults_to_pycmas_maxiter():
    assert cmaes.default_steps(10, 10) == 100 + int(150 * 13**2 // 10**0.5)
    short = run_cmaes(steps=5, restarts=0)
    assert int(short.nit) == 5 and short.status_name == "max_steps"
    capped = run_cmaes(steps=None, max_evals=70, restarts=0)
    assert int(capped.nfev) <= 70 and capped.status_name == "max_steps"


@pytest.mark.parametrize("method", RUNS)
def test_a_finished_run_extended_gives_what_one_longer_run_gives(method, tmp_path):
    path = tmp_path / "run.npz"
    budget = {"steps": 15, "restarts": 0} if method == "cmaes" else {"steps": 15}
    longer = RUNS[method](**(budget | {"steps": 40}))
    short = RUNS[method](checkpoint=path, **budget)
    assert int(short.nit) <= 16 and short.status_name == "max_steps"
    resumed = RUNS[method](checkpoint=path, **(budget | {"steps": 40}))
    assert_same(resumed, longer)
    restart = np.asarray(resumed.history.restart)
    done = int(resumed.nit) - int(np.sum(restart < restart.max()))  # its last run's generations
    with pytest.raises(ValueError, match=f"more than steps={done - 1}: pass steps >= {done}"):
        RUNS[method](checkpoint=path, **(budget | {"steps": done - 1}))


@pytest.mark.parametrize("method", ["cmaes", "ga"])
def test_a_run_stopped_while_running_resumes_within_a_smaller_budget(method, tmp_path, monkeypatch):
    """Killed after two chunks of 8 generations and resumed with steps=16: it ends there with
    max_steps, as a run of 16 steps does, with no generation beyond the budget."""
    path = tmp_path / "run.npz"
    budget = {"steps": 60, "restarts": 0} if method == "cmaes" else {"steps": 45}
    monkeypatch.setitem(RUNS, method, functools.partial(RUNS[method], **budget))
    killed_in_chunk(3, method, path, monkeypatch)
    resumed = RUNS[method](checkpoint=path, steps=16)
    assert int(resumed.nit) == 16 and resumed.status_name == "max_steps"
    assert_same(resumed, RUNS[method](steps=16))


@pytest.mark.parametrize("method", ["cmaes", "cmaes-padded"])
def test_a_checkpoint_whose_earlier_restart_ran_beyond_the_steps_is_refused(
    method, tmp_path, monkeypatch
):
    """Killed in restart 1: under steps below restart 0's generations a run would have ended in
    restart 0 with max_steps, so the checkpoint is refused, saying so."""
    path = tmp_path / "run.npz"
    whole = RUNS[method]()
    first = int(np.sum(np.asarray(whole.history.restart) == 0))
    assert 16 <= first < 60 and int(np.max(np.asarray(whole.history.restart))) >= 1
    killed_in_chunk(-(-first // 8) + 2, method, path, monkeypatch)  # after restart 1's first
    pattern = f"has run {first} generations in restart 0, more than steps={first - 1}"
    with pytest.raises(ValueError, match=pattern):
        RUNS[method](checkpoint=path, steps=first - 1)
    # a budget below the checkpoint's restart's λ: refused as spent, not a restart skipped
    with pytest.raises(ValueError, match="more than max_evals=10: pass max_evals >= "):
        RUNS[method](checkpoint=path, max_evals=10)


def test_a_padded_checkpoint_at_a_restart_s_start_is_refused_under_a_budget_without_it(
    tmp_path, monkeypatch
):
    """A chunk that ends on the generation that stopped restart 0 leaves restart 1 started (at
    its generation 0) in the checkpoint: a max_evals that leaves no room for its λ is refused
    (a run with that budget would have ended in restart 0)."""
    path = tmp_path / "run.npz"
    whole = run_cmaes_padded()
    restart = np.asarray(whole.history.restart)
    first, used = int(np.sum(restart == 0)), int(np.asarray(whole.history.nfev)[restart == 0][-1])
    monkeypatch.setitem(
        RUNS, "cmaes-padded", functools.partial(run_cmaes_padded, chunk_steps=first)
    )
    killed_in_chunk(2, "cmaes-padded", path, monkeypatch)
    with pytest.raises(ValueError, match=f"has started restart 1 .* pass max_evals >= {used + 14}"):
        run_cmaes_padded(checkpoint=path, chunk_steps=first, max_evals=used)


def test_runs_of_nearby_budgets_share_one_chunk_program(compilations):
    """A chunk's record buffer is sized to the smallest power of two at or above the generations
    left (at most the chunk): budgets of 5 and 7 generations run one program, 9 another; the
    status set by the generation, not the buffer, ends each run."""
    compiled = {}
    for budget in (5, 7, 9):
        (_, status, history), programs = compilations(
            lambda budget=budget: _driver.run_chunked(
                _CountingTo(), jnp.int32(budget), jnp.int32(0), -1, length=budget, chunk=1000
            )
        )
        assert status == 1
        np.testing.assert_array_equal(history["count"], np.arange(1, budget + 1))
        compiled[budget] = programs.count("jit(run_chunk)")
    assert compiled == {5: 1, 7: 0, 9: 1}


class _CountingTo:
    """A toy generation for the driver: counts up by one until the count its operand gives."""

    def __call__(self, target, count, active):
        del active
        count = count + 1
        return count, jnp.where(count >= target, 1, -1), {"count": count}

    def __hash__(self):
        return 1

    def __eq__(self, other):
        return isinstance(other, _CountingTo)


class _Counting:
    """A toy generation for the driver: counts up by one, records the count and a float."""

    def __call__(self, operands, count, active):
        del operands, active
        count = count + 1
        return count, jnp.where(count >= 2**24 + 3, 1, -1), {"count": count, "x": 0.5 * count}

    def __hash__(self):
        return 0

    def __eq__(self, other):
        return isinstance(other, _Counting)


def test_integer_records_stay_exact_beyond_float32s_integers():
    """A count recorded in a float32 run stays an exact integer (float32 holds integers only
    up to 2^24), padded with -1 where floating records are padded with NaN."""
    with jax.enable_x64(False):
        start = jnp.int32(2**24 - 1)
        *_, history, count = _driver.run_chunk(_Counting(), (), start, -1, 6)
        assert int(count) == 4 and history["count"].dtype == jnp.int32
        np.testing.assert_array_equal(
            history["count"], [2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3, -1, -1]
        )
        assert history["x"].dtype == jnp.float32
        assert np.all(np.isnan(np.asarray(history["x"][4:])))
        _, _, host = _driver.run_chunked(_Counting(), (), start, -1, length=6, chunk=2)
        np.testing.assert_array_equal(host["count"], [2**24, 2**24 + 1, 2**24 + 2, 2**24 + 3])


LEAF = hnp.arrays(
    st.sampled_from([np.float64, np.float32, np.int32, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
)


@given(st.dictionaries(st.text("abc", min_size=1, max_size=2), st.lists(LEAF, max_size=3)))
def test_packed_outputs_unpack_to_the_same_leaves(tree):
    """A chunk's outputs cross to the host as one flat array per dtype: any pytree of arrays
    (scalars, empty arrays, mixed dtypes in any order) unpacks to its leaves, bit for bit."""
    leaves, structure = jax.tree.flatten(tree)
    packing = _driver.Packing.of(leaves, structure)
    flat = packing.pack([jnp.asarray(leaf) for leaf in leaves]) if leaves else ()
    assert len(flat) == len({leaf.dtype for leaf in leaves})
    back = packing.unpack(flat)
    assert jax.tree.structure(back) == structure
    for got, leaf in zip(jax.tree.leaves(back), leaves, strict=True):
        assert got.dtype == leaf.dtype and got.shape == leaf.shape
        np.testing.assert_array_equal(got, leaf)


@pytest.mark.slow  # two fresh processes compile every program: ~30 s
def test_a_run_on_two_devices_resumes_in_a_fresh_process_to_identical_results(tmp_path):
    """The population is sharded over the devices while the state is not: a checkpoint read
    back in a new process (two CPU devices, fixed at JAX's start) continues as the whole run.
    IPOP-CMA-ES, killed in its third chunk, across restarts."""
    path, best = str(tmp_path / "c.npz"), str(tmp_path / "best.npy")
    setup = f"""
import os, jax, jax.numpy as jnp, numpy as np
from jaxmin.evolution import _driver, cmaes
assert jax.device_count() == 2
def run(**kwargs):
    f = lambda x: 10 * x.shape[0] + jnp.sum(x**2 - 10 * jnp.cos(2 * jnp.pi * x))
    return cmaes.minimize(f, jnp.array({X0.tolist()}), 0.5, key=jax.random.key(4), steps=60,
                          restarts=2, tolx=1e-2, chunk_steps=8, **kwargs)
"""
    killed = f"""
np.save({best!r}, np.asarray(run().history.best))
real, calls = _driver.run_chunk, []
def killed_in_the_third_chunk(*args, **kwargs):
    calls.append(1)
    if len(calls) == 3:
        raise KeyboardInterrupt
    return real(*args, **kwargs)
_driver.run_chunk = killed_in_the_third_chunk
try:
    run(checkpoint={path!r})
except KeyboardInterrupt:
    pass
assert len(calls) == 3 and os.path.exists({path!r})  # killed with two chunks saved
"""
    resumed = f"""
np.testing.assert_array_equal(np.asarray(run(checkpoint={path!r}).history.best), np.load({best!r}))
"""
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    for script in (killed, resumed):
        subprocess.run([sys.executable, "-c", setup + script], check=True, env=env, timeout=300)


KEY = jax.random.key(0)


@pytest.mark.parametrize(
    "call, error, message",
    [
        (lambda: run_cmaes(key=None), TypeError, "key must be a JAX random key"),
        (lambda: run_ga(key=0), TypeError, "key must be a JAX random key"),
        (lambda: run_cmaes(key=jax.random.split(KEY, 2)), ValueError, r"needs batched=True"),
        (lambda: run_ga(key=jax.random.PRNGKey(0)[None]), ValueError, "one random key"),
        (lambda: run_cmaes(x0=jnp.zeros(0)), ValueError, "x0 must hold at least one number"),
        (lambda: run_ga(x0={"a": jnp.zeros((0, 2))}), ValueError, "x0 must hold at least one"),
        (lambda: find_minima(jnp.sum, [0], [1], key=None), TypeError, "key must be a JAX"),
        (lambda: nn.init_mlp(jax.random.split(KEY, 3), (1, 2)), ValueError, "one random key"),
        (lambda: run_cmaes(ftarget=float("nan")), ValueError, "ftarget must be a finite number"),
        (lambda: run_ga(ftarget="a"), TypeError, "ftarget must be a real"),
        (lambda: run_ga(batched="yes"), TypeError, "batched must be True or False"),
    ],
)
def test_a_bad_argument_is_named_before_tracing(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_stacked_raw_keys_run_as_their_typed_keys():
    """jax.random.PRNGKey keys stacked for batched=True, as they are accepted for one run."""
    raw = jnp.stack([jax.random.PRNGKey(seed) for seed in (1, 2)])
    x0 = jnp.stack([X0, -X0])
    typed = ga.minimize(
        rastrigin,
        x0,
        key=jax.random.wrap_key_data(raw),
        popsize=8,
        steps=4,
        args=SHIFT,
        batched=True,
    )
    ours = ga.minimize(rastrigin, x0, key=raw, popsize=8, steps=4, args=SHIFT, batched=True)
    np.testing.assert_array_equal(ours.fun, typed.fun)
    np.testing.assert_array_equal(ours.x, typed.x)
