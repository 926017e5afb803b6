"""The search: optuna asks for trials in batches, jaxmin trains them in groups, optuna is told.

Every trial is stored in optuna's storage as soon as its group is trained — a SQLite file by
default, any database URL optuna accepts otherwise (PostgreSQL for workers on many machines).
The study records its settings (problem, space, sampler, seed, batch); a study resumes only
with the same ones.

- **Same seed, same scan.** Before each batch the sampler is seeded from the seed and the
  number of trials finished so far, so a scan's trials depend on its history only. A worker
  that finds others' trials running once its own are asked mixes its process into the seed,
  so that workers do not repeat each other.
- **Resume.** Trials left unfinished by a process that was interrupted (or killed: its
  heartbeat goes stale after ``grace_s`` seconds) are marked failed and asked again, with the
  same settings, before any new trial: an interrupted-and-resumed scan finishes the same trials
  with the same rewards as an uninterrupted one, repeats no finished trial and loses none.
- **Workers.** Several processes on one study share its trials: each asks what remains when
  it asks, so together they may end up to a batch per extra worker beyond ``trials``.
- **Failures.** A trial whose models diverge, or whose reward is not finite, is told to the
  study as failed, its reason in the trial's ``outcome`` attribute — never as a number.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import warnings
from collections.abc import Mapping
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from .. import _checks
from .._progress import ProgressBar
from . import space as spaces

STUDY_NAME = "jaxmin-hyperopt"
SAMPLERS = ("tpe", "random", "grid")
HEARTBEAT_S = 5
GRACE_S = 90
"""Seconds without a heartbeat after which a running trial is taken for lost (longer than a
worker may wait for a SQLite lock, :data:`SQLITE_TIMEOUT_S`)."""


def optuna_module():
    """optuna, or a ``ValueError`` that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise ValueError("hyperoptimisation needs optuna: pip install 'jaxmin[hyperopt]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    return optuna


def storage_url(out: str | Path | None, storage: str | None) -> str:
    """The study's database: ``storage`` if given, else ``out/study.db`` (SQLite)."""
    if storage is not None:
        return storage
    if out is None:
        raise ValueError("give an output folder or a storage URL for the study")
    return f"sqlite:///{Path(out) / 'study.db'}"


SQLITE_TIMEOUT_S = 60
"""How long a worker waits for another's write to a SQLite study (SQLite locks the file)."""


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
    return {}


def _sqlite_exists(url: str) -> bool:
    """False for a SQLite URL whose file does not exist (opening it would create it)."""
    return not url.startswith("sqlite:///") or Path(url[len("sqlite:///") :]).exists()


def _check_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        check_sqlite_file(Path(url[len("sqlite:///") :]))


def check_sqlite_file(path: Path) -> None:
    """Refuse a SQLite file that is unreadable or holds something other than optuna's tables
    (opened read-only: a foreign file is never modified)."""
    if not path.exists():
        return
    query = "SELECT name FROM sqlite_master WHERE type='table'"
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
            tables = {row[0] for row in connection.execute(query)}
    except sqlite3.Error as err:
        raise ValueError(f"{str(path)!r} is not a readable SQLite database ({err})") from None
    if tables and not {"studies", "trials"} <= tables:
        raise ValueError(
            f"{str(path)!r} is a database of something else (tables {sorted(tables)[:5]}), "
            "not an optuna study: choose another --out or --storage"
        )


def open_study(
    url: str,
    settings: Mapping[str, Any] | None,
    *,
    resume: bool,
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
):
    """The study in ``url``: created (refused if one is there, unless ``resume``), or loaded
    (refused unless ``resume`` and its recorded settings equal ``settings``; None: whatever
    they are, for a study that must exist)."""
    optuna = optuna_module()
    _check_sqlite(url)
    missing = f"no jaxmin study in {url!r} to continue"
    if resume and not _sqlite_exists(url):
        raise ValueError(missing)
    try:
        storage = optuna.storages.RDBStorage(
            url,
            engine_kwargs=_engine_kwargs(url),
            heartbeat_interval=heartbeat_s,
            grace_period=grace_s,
            heartbeat_stale_trial_callback=_requeue,
        )
        names = optuna.study.get_all_study_names(storage)
    except Exception as err:  # sqlalchemy's errors: a bad URL, an unreachable server
        raise ValueError(f"storage {url!r} cannot be opened: {type(err).__name__}: {err}") from None
    if STUDY_NAME not in names:
        if names:
            raise ValueError(f"storage {url!r} holds other studies {names}, not jaxmin's")
        if resume:
            raise ValueError(missing)
        study = optuna.create_study(
            storage=storage, study_name=STUDY_NAME, direction="minimize", load_if_exists=True
        )
        if "jaxmin" not in study.user_attrs:
            study.set_user_attr("jaxmin", dict(settings))
    else:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        if not resume:
            raise ValueError(
                f"{url!r} already holds a study: pass --resume to continue it (or join it as "
                "a second worker), or choose another --out/--storage"
            )
    recorded = study.user_attrs.get("jaxmin")
    if recorded is None:
        raise ValueError(f"the study in {url!r} records no jaxmin settings")
    if settings is not None and recorded != _plain(settings):
        differ = sorted(k for k in settings if recorded.get(k) != _plain(settings[k]))
        raise ValueError(
            f"{url!r} holds another study (settings that differ: {', '.join(differ) or 'all'}): "
            "choose another --out/--storage"
        )
    return study


def _plain(value: Any) -> Any:
    """``value`` as it reads back from the storage's JSON (tuples as lists)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def make_sampler(name: str, seed: int, space: spaces.Space):
    optuna = optuna_module()
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)

    class Grid(optuna.samplers.GridSampler):
        def after_trial(self, *args: Any) -> None:
            """Nothing: the scan stops at the grid's size itself (optuna's own sampler stops
            the study, which only ``study.optimize`` allows)."""

    return Grid(spaces.grid(space), seed=seed)


def finished(trial) -> bool:
    """Whether a trial ended with an outcome of its own: a reward (complete), or a failure of
    its settings (failed, with the reason) — not one lost with its worker."""
    state = trial.state.name
    status = trial.user_attrs.get("outcome", {}).get("status")
    return (state, status) in (("COMPLETE", "complete"), ("FAIL", "failed"))


def _finished(study) -> list:
    return [t for t in study.get_trials(deepcopy=False) if finished(t)]


def _requeue(study, trial) -> None:
    """Queue a lost trial's settings again (called once per lost trial, by the process that
    marked it failed: its own worker on an interruption, or the one that found it stale)."""
    study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})


def _reclaim(study) -> int:
    """Mark the trials of dead workers failed (:func:`_requeue` queues them again); returns
    the number of trials waiting to be asked."""
    optuna = optuna_module()
    optuna.storages.fail_stale_trials(study)
    return len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))


@contextmanager
def _heartbeat(study, trials: list, interval: int):
    """Record the trials' heartbeats every ``interval`` s while their group trains."""
    storage = study._storage
    stop = threading.Event()

    def beat():
        while not stop.wait(interval):
            for trial in trials:
                storage.record_heartbeat(trial._trial_id)

    for trial in trials:
        storage.record_heartbeat(trial._trial_id)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def run(
    problem,
    space: spaces.Space,
    *,
    trials: int,
    storage: str,
    sampler: str = "tpe",
    seed: int = 0,
    batch: int = 16,
    resume: bool = False,
    progress: bool = False,
    heartbeat_s: int = HEARTBEAT_S,
    grace_s: int = GRACE_S,
):
    """Search ``space`` for the settings of ``problem`` with the lowest reward.

    **Arguments**

    - ``problem``: e.g. :class:`~jaxmin.hyperopt.GluonProblem` (``evaluate``-able by groups).
    - ``space``: the search space (checked against the problem first).
    - ``trials``: finished trials the study should hold at the end.
    - ``storage``: a database URL (:func:`storage_url`).
    - ``sampler``: ``tpe`` (default), ``random`` or ``grid``; ``seed``: its seed.
    - ``batch``: trials asked at once (and trained together where their shapes agree).
    - ``resume``: continue (or join) the study in ``storage``.
    - ``heartbeat_s``, ``grace_s``: a running trial's heartbeat interval, and the silence after
      which another process takes it for lost.

    **Returns** the optuna study.
    """
    optuna = optuna_module()
    trials = _checks.integer_at_least("trials", trials, 1)
    batch = _checks.integer_at_least("batch", batch, 1)
    seed = _checks.integer_at_least("seed", seed, 0)
    _checks.one_of("sampler", sampler, SAMPLERS)
    spaces.check(space, problem.accepts, problem.hyperparameters)
    if sampler == "grid":
        size = 1
        for values in spaces.grid(space).values():
            size *= len(values)
        trials = min(trials, size)
    settings = {
        "problem": problem.describe(),
        "space": spaces.describe(space),
        "sampler": sampler,
        "seed": seed,
        "batch": batch,
    }
    study = open_study(storage, settings, resume=resume, heartbeat_s=heartbeat_s, grace_s=grace_s)
    bar = ProgressBar(trials, "hyperopt", enabled=progress)
    if progress:
        bar.resumed(len(_finished(study)))
    started = time.perf_counter()
    ran = 0
    try:
        while True:
            waiting = _reclaim(study)
            done = len(_finished(study))
            running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
            todo = waiting or min(batch, trials - done - len(running))
            if todo <= 0:
                if done >= trials:
                    break
                time.sleep(heartbeat_s)  # the rest is running elsewhere: wait for it, or for
                continue  # its worker to go stale
            if sampler == "grid":  # its order of points is the seed's alone
                study.sampler = make_sampler(sampler, seed, space)
            asked: list = []
            try:
                for _ in range(todo):
                    asked.append(study.ask())
                    study._storage.record_heartbeat(asked[-1]._trial_id)
                if sampler != "grid":
                    study.sampler = make_sampler(sampler, _batch_seed(study, seed, asked), space)
                settings_of = [spaces.suggest(trial, space) for trial in asked]
                with _heartbeat(study, asked, heartbeat_s):
                    for indices, outcomes in problem.groups(settings_of):
                        for index, outcome in zip(indices, outcomes, strict=True):
                            _tell(study, asked[index], outcome)
                        ran += len(indices)
                        bar.update(len(_finished(study)), _note(study, ran, started))
            except BaseException:
                for trial in asked:  # an interruption: this worker's unfinished trials are lost
                    if _fail(study, trial):
                        _requeue(study, study._storage.get_trial(trial._trial_id))
                raise
    finally:
        bar.close()
    return study


def _batch_seed(study, seed: int, asked: list) -> int:
    """The sampler's seed for a batch whose trials are asked (and so stored as running) but not
    yet sampled: the scan's seed and the number of other trials finished or running, mixed
    with this process where other trials are running.

    A lone worker's batches thus depend on the scan's history only. Of two workers asking at
    once, the later to look sees the other's trials (running, or finished and counted), so
    their seeds differ and they do not repeat each other (a shared scan is not reproducible
    anyway)."""
    optuna = optuna_module()
    mine = {trial._trial_id for trial in asked}
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    others = [trial for trial in running if trial._trial_id not in mine]
    mixed = [seed, len(_finished(study)) + len(others)]
    if others:
        mixed += [os.getpid(), time.time_ns()]
    return int(np.random.SeedSequence(mixed).generate_state(1)[0])


def _fail(study, trial) -> bool:
    """Mark a trial failed unless it has ended already; whether this call failed it."""
    optuna = optuna_module()
    try:
        return study._storage.set_trial_state_values(
            trial._trial_id, state=optuna.trial.TrialState.FAIL
        )
    except optuna.exceptions.UpdateFinishedTrialError:
        return False


def _tell(study, trial, outcome) -> None:
    """Store the outcome (one attribute: one write) and tell the study; a trial that another
    worker has meanwhile taken for lost (and queued again) is left to its re-run."""
    optuna = optuna_module()
    failed = outcome.reward is None
    record = {"status": "failed" if failed else "complete", "reason": outcome.reason}
    try:
        trial.set_user_attr(
            "outcome", record | {"fold_chi2": outcome.fold_chi2, "epochs": outcome.epochs}
        )
        if failed:
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        else:
            study.tell(trial, outcome.reward, skip_if_finished=True)
    except optuna.exceptions.UpdateFinishedTrialError:
        return


def _note(study, ran: int, started: float) -> str:
    try:
        best = f"best reward {study.best_value:.4g}"
    except ValueError:
        best = "no reward yet"
    minutes = (time.perf_counter() - started) / 60
    return f"{best}, {ran / max(minutes, 1e-9):.1f} trials/min"
