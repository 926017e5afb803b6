"""jaxmin.hyperopt: spaces, folds, rewards on the gluon problem, and the optuna study (resume,
workers, bad databases). The study's own logic is tested on a cheap problem whose reward is a
known function of the settings; the gluon problem on a short fit."""

import hashlib
import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxmin.hyperopt import Choice, Float, GluonProblem, Int, folds, report, space, study
from jaxmin.hyperopt.gluon import Outcome
from jaxmin.result import Status

optuna = pytest.importorskip("optuna")


class Quadratic:
    """A problem whose reward is (log10 η + 2)² + (width − 10)²/100: best at η = 0.01, width 10;
    η > 1 'diverges' (fails). Trials are grouped by width, as the gluon problem groups them."""

    hyperparameters = ("learning_rate", "hidden")

    def __init__(self, interrupt_after: int | None = None):
        self.groups_done = 0
        self.interrupt_after = interrupt_after

    def accepts(self, name, value):
        if name == "learning_rate" and not value > 0:
            raise ValueError(f"learning_rate must be > 0, got {value}")

    def describe(self):
        return {"problem": "quadratic"}

    def groups(self, trials):
        by_width = {}
        for index, trial in enumerate(trials):
            by_width.setdefault(trial["hidden"], []).append(index)
        for width, indices in by_width.items():
            if self.interrupt_after is not None and self.groups_done == self.interrupt_after:
                raise KeyboardInterrupt
            outcomes = []
            for i in indices:
                eta = trials[i]["learning_rate"]
                if eta > 1:
                    outcomes.append(Outcome(None, "diverged (1 of 1 models)"))
                else:
                    reward = (math.log10(eta) + 2) ** 2 + (width[0] - 10) ** 2 / 100
                    outcomes.append(Outcome(reward, None, [[reward]], 1.0))
            self.groups_done += 1
            yield indices, outcomes


SPACE = {"learning_rate": Float(1e-5, 10.0, log=True), "hidden": Choice([[5], [10], [20]])}


def _url(tmp_path, name="study.db"):
    return f"sqlite:///{tmp_path / name}"


def _finished(scan):
    return sorted(
        (t.params["learning_rate"], t.params["hidden"], t.value, t.state.name)
        for t in scan.get_trials(deepcopy=False)
        if study.finished(t)
    )


# -- spaces -------------------------------------------------------------------------------------


def test_space_file_round_trip(tmp_path):
    path = tmp_path / "space.toml"
    path.write_text(
        textwrap.dedent(
            """
            [learning_rate]
            type = "float"
            low = 1e-4
            high = 0.1
            log = true
            [steps]
            type = "int"
            low = 10
            high = 20
            [hidden]
            type = "choice"
            choices = [[10], [20, 20]]
            """
        )
    )
    loaded = space.load(path)
    assert loaded == {
        "learning_rate": Float(1e-4, 0.1, log=True),
        "steps": Int(10, 20),
        "hidden": Choice([[10], [20, 20]]),
    }
    assert space.from_dict(space.describe(loaded)) == loaded
    json_path = tmp_path / "space.json"
    json_path.write_text('{"hidden": {"type": "choice", "choices": [[5]]}}')
    assert space.load(json_path) == {"hidden": Choice([[5]])}


@pytest.mark.parametrize(
    "entries, message",
    [
        ({}, "the search space is empty"),
        ({"lr": {"type": "float", "low": 1, "high": 2}}, "'lr' is not a hyperparameter"),
        ({"learning_rate": {"type": "float", "low": 2, "high": 1}}, "low must be < high"),
        ({"learning_rate": {"type": "float", "low": 0, "high": 1, "log": True}}, "low > 0"),
        ({"learning_rate": {"type": "float", "low": -1, "high": 1}}, "learning_rate must be"),
        ({"hidden": {"type": "choice", "choices": []}}, "choices must not be empty"),
        ({"hidden": {"type": "choice", "choices": [[5], [5]]}}, "a choice is given twice"),
        ({"hidden": {"type": "list"}}, "type must be one of"),
        ({"hidden": {"type": "choice", "values": [1]}}, "unknown keys ['values']"),
        ({"learning_rate": {"type": "float", "low": 1}}, "missing 'high'"),
        ({"learning_rate": {"type": "int", "low": 1.5, "high": 3}}, "must be integers"),
    ],
)
def test_bad_spaces_are_refused_naming_the_entry(entries, message):
    with pytest.raises(ValueError) as err:
        space.check(space.from_dict(entries), Quadratic().accepts, Quadratic.hyperparameters)
    assert message in str(err.value)


def test_choices_must_be_a_list_of_plain_values():
    with pytest.raises(ValueError, match="choices must be a list"):
        Choice("tanh")
    with pytest.raises(ValueError, match="space entry 'init': a choice must be"):
        space.from_dict({"init": {"type": "choice", "choices": [{"a": 1}]}})


def test_unreadable_space_file(tmp_path):
    with pytest.raises(ValueError, match="cannot be read"):
        space.load(tmp_path / "missing.toml")
    (tmp_path / "bad.toml").write_text("[learning_rate\n")
    with pytest.raises(ValueError, match="is not valid"):
        space.load(tmp_path / "bad.toml")


def test_gluon_problem_refuses_values_fit_refuses():
    problem = GluonProblem(fixed={"steps": 10})
    bad = {"hidden": Choice([[10], [0]])}
    with pytest.raises(ValueError, match="space entry 'hidden'"):
        space.check(bad, problem.accepts, problem.hyperparameters)
    with pytest.raises(ValueError, match="space entry 'dropout'"):
        space.check({"dropout": Float(0.0, 1.0)}, problem.accepts, problem.hyperparameters)
    with pytest.raises(ValueError, match="space entry 'l2'"):
        space.check({"l2": Float(-1.0, 1.0)}, problem.accepts, problem.hyperparameters)
    space.check(
        {"dropout": Float(0.0, 0.5), "l2": Float(1e-6, 1e-2, log=True)},
        problem.accepts,
        problem.hyperparameters,
    )
    with pytest.raises(ValueError, match="space entry 'activation'"):
        space.check({"activation": Choice(["nope"])}, problem.accepts, problem.hyperparameters)


# -- folds --------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    counts=st.lists(st.integers(1, 15), min_size=1, max_size=3),
    k=st.integers(2, 6),
    seed=st.integers(0, 2**16),
)
def test_folds_partition_every_point_evenly(counts, k, seed):
    kinds = tuple(
        kind for kind, n in zip(("point", "moment", "conv"), counts, strict=False) for _ in range(n)
    )
    if k > len(kinds) // 2:
        with pytest.raises(ValueError, match="folds must be <="):
            folds.assign(kinds, k, seed)
        return
    fold = folds.assign(kinds, k, seed)
    assert fold.shape == (len(kinds),) and set(fold) <= set(range(k))
    sizes = np.bincount(fold, minlength=k)
    assert sizes.max() - sizes.min() <= 1
    kinds_array = np.asarray(kinds)
    for kind in set(kinds):
        per_kind = np.bincount(fold[kinds_array == kind], minlength=k)
        assert per_kind.max() - per_kind.min() <= 1
    np.testing.assert_array_equal(fold, folds.assign(kinds, k, seed))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 8), seed=st.integers(0, 1000))
def test_held_out_chi2_is_the_covariance_weighted_sum(n, seed):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, n))
    cov = a @ a.T + n * np.eye(n)
    central = rng.normal(size=n)
    predictions = rng.normal(size=(2, n))
    rows = [np.arange(0, n, 2), np.arange(1, n)]
    got = folds.held_out_chi2(predictions, central, cov, rows)
    for value, pred, fold in zip(got, predictions, rows, strict=True):
        r = pred[fold] - central[fold]
        expected = r @ np.linalg.inv(cov[np.ix_(fold, fold)]) @ r / fold.size
        assert value == pytest.approx(expected, rel=1e-10)


def test_no_model_sees_the_points_it_is_scored_on():
    problem = GluonProblem(folds=3, replicas=2, fixed={"steps": 10})
    from jaxmin.pdf import fitting

    data, held_out = problem.fold_members(fitting.plan(**problem.fixed))
    n = problem.fold_of.size
    assert sorted(np.concatenate(held_out).tolist()) == list(range(n))
    for members, rows in zip(data, held_out, strict=True):
        for train, val in zip(members.train_rows.tolist(), members.val_rows.tolist(), strict=True):
            assert not set(train) & set(rows) and not set(val) & set(rows)
            assert sorted([*train, *val, *rows]) == list(range(n))


# -- the gluon problem --------------------------------------------------------------------------


def test_gluon_reward_ranks_the_learning_rate_that_converges_and_is_batch_independent():
    problem = GluonProblem(folds=2, fixed={"steps": 120, "chunk_steps": 60})
    trials = [{"learning_rate": eta} for eta in (1e-5, 3e-2, 3e-3)]
    outcomes = problem.evaluate(trials)
    rewards = [o.reward for o in outcomes]
    assert np.argmin(rewards) == 1 and rewards[0] > 5 * rewards[1]
    assert all(len(o.fold_chi2) == 2 and len(o.fold_chi2[0]) == 1 for o in outcomes)
    alone = problem.evaluate([trials[1]])[0]
    assert alone.reward == outcomes[1].reward  # bit for bit: a trial's batch never matters


def test_a_combination_fit_refuses_fails_the_trial_not_the_scan():
    problem = GluonProblem(fixed={"steps": 20, "chunk_steps": 20})
    refused, bad_rate, fine = problem.evaluate(
        [{"optimizer": "cmaes", "l2": 0.1}, {"learning_rate": -1.0}, {"learning_rate": 1e-2}]
    )
    assert refused.reward is None and "l2 is a weight decay" in refused.reason
    assert bad_rate.reward is None and bad_rate.reason.startswith("refused: learning_rate")
    assert fine.reward > 0


def test_gluon_reward_options():
    chi2 = np.asarray([[1.0, 3.0], [2.0, 2.0]])
    status = np.zeros((2, 2), int)
    params = [{"w": np.zeros((2, 1))}] * 2
    mean = GluonProblem(replicas=2, fixed={"steps": 10})._outcome(chi2, status, status, params)
    assert mean.reward == pytest.approx(2.0)
    worst = GluonProblem(replicas=2, fold_reward="worst", replica_reward="mean+std")
    assert worst._outcome(chi2, status, status, params).reward == pytest.approx(3.0)
    status[1, 0] = int(Status.DIVERGED)
    failed = worst._outcome(chi2, status, status, params)
    assert failed.reward is None and "diverged (1 of 4 models)" in failed.reason


# -- the study ----------------------------------------------------------------------------------


def test_the_search_finds_the_best_setting_and_records_failures(tmp_path):
    scan = study.run(Quadratic(), SPACE, trials=40, storage=_url(tmp_path), batch=8)
    best = scan.best_trial
    assert abs(math.log10(best.params["learning_rate"]) + 2) < 0.5
    assert best.params["hidden"] == "[10]"
    failed = [t for t in scan.trials if t.state == optuna.trial.TrialState.FAIL]
    assert failed and all(t.user_attrs["outcome"]["reason"].startswith("diverged") for t in failed)
    assert all(t.params["learning_rate"] > 1 for t in failed)
    summary = report.report(scan)
    assert summary["trials"] == 40 and summary["best"]["number"] == best.number
    assert [r["reward"] for r in summary["top"]] == sorted(r["reward"] for r in summary["top"])
    paths = report.write(scan, SPACE, tmp_path, baseline=1.0)
    assert all(p.stat().st_size > 0 for p in paths) and len(paths) == 4


@pytest.mark.parametrize("sampler", ["tpe", "random", "grid"])
def test_same_seed_same_trials(tmp_path, sampler):
    runs = [
        study.run(
            Quadratic(),
            SPACE,
            trials=12,
            storage=_url(tmp_path, f"{i}.db"),
            batch=4,
            sampler=sampler,
            seed=3,
        )
        for i in range(2)
    ]
    assert _finished(runs[0]) == _finished(runs[1])
    if sampler == "grid":
        assert len({(t.params["learning_rate"], t.params["hidden"]) for t in runs[0].trials}) == 12


def test_interrupted_and_resumed_scan_equals_the_uninterrupted_one(tmp_path):
    whole = study.run(Quadratic(), SPACE, trials=24, storage=_url(tmp_path, "a.db"), batch=8)
    url = _url(tmp_path, "b.db")
    with pytest.raises(KeyboardInterrupt):
        study.run(Quadratic(interrupt_after=4), SPACE, trials=24, storage=url, batch=8)
    resumed = study.run(Quadratic(), SPACE, trials=24, storage=url, batch=8, resume=True)
    assert _finished(resumed) == _finished(whole)
    numbers = [t.number for t in resumed.trials if study.finished(t)]
    assert len(numbers) == 24


def test_a_killed_worker_s_trials_are_taken_over(tmp_path):
    url = _url(tmp_path)
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from test_hyperopt import Quadratic, SPACE
        from jaxmin.hyperopt import study

        class Slow(Quadratic):
            def groups(self, trials):
                for i, group in enumerate(super().groups(trials)):
                    yield group
                    if i == 1:
                        print("two groups done", flush=True)
                        time.sleep(600)

        study.run(Slow(), SPACE, trials=24, storage={url!r}, batch=8, heartbeat_s=1, grace_s=2)
        """
    )
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert worker.stdout.readline().strip() == "two groups done"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(3)
    resumed = study.run(
        Quadratic(), SPACE, trials=24, storage=url, batch=8, resume=True, heartbeat_s=1, grace_s=2
    )
    whole = study.run(Quadratic(), SPACE, trials=24, storage=_url(tmp_path, "a.db"), batch=8)
    assert _finished(resumed) == _finished(whole)


@pytest.mark.slow  # three fresh processes; by default, a killed worker's trials taken over
def test_three_workers_share_one_study(tmp_path):
    url = _url(tmp_path)
    study.run(Quadratic(), SPACE, trials=1, storage=url, batch=1)
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(os.path.dirname(__file__))!r})
        from test_hyperopt import Quadratic, SPACE
        from jaxmin.hyperopt import study

        study.run(Quadratic(), SPACE, trials=40, storage={url!r}, batch=1, resume=True)
        """
    )
    # started at once, they ask one trial at a time: often at the same instant
    workers = [subprocess.Popen([sys.executable, "-c", script]) for _ in range(3)]
    assert [w.wait(timeout=300) for w in workers] == [0, 0, 0]
    scan = optuna.load_study(study_name=study.STUDY_NAME, storage=url)
    finished = [t for t in scan.trials if study.finished(t)]
    # each worker asks what remains when it asks: each extra one may overshoot by a batch
    assert 40 <= len(finished) <= 42
    settings = {(t.params["learning_rate"], t.params["hidden"]) for t in finished}
    assert len(settings) == len(finished)  # the workers never repeat each other's trials
    assert all(t.state.is_finished() for t in scan.trials)


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_foreign_or_unreadable_databases_are_refused_and_left_alone(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE measurements (x REAL)")
    before = {p: _digest(p) for p in (garbage, foreign)}
    for path, message in ((garbage, "not a readable SQLite"), (foreign, "something else")):
        with pytest.raises(ValueError, match=message):
            study.run(Quadratic(), SPACE, trials=2, storage=f"sqlite:///{path}")
    assert before == {p: _digest(p) for p in (garbage, foreign)}


def test_a_study_is_never_resumed_with_other_settings(tmp_path):
    url = _url(tmp_path)
    study.run(Quadratic(), SPACE, trials=2, storage=url, batch=2)
    with pytest.raises(ValueError, match="already holds a study: pass --resume"):
        study.run(Quadratic(), SPACE, trials=4, storage=url)
    with pytest.raises(ValueError, match="holds another study \\(settings that differ: seed"):
        study.run(Quadratic(), SPACE, trials=4, storage=url, resume=True, seed=1, batch=2)
    with pytest.raises(ValueError, match="no jaxmin study"):
        study.run(Quadratic(), SPACE, trials=4, storage=_url(tmp_path, "new.db"), resume=True)


def test_without_optuna_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ValueError, match=r"pip install 'jaxmin\[hyperopt\]'"):
        study.optuna_module()


@pytest.mark.slow
def test_on_the_gluon_problem_the_best_trial_beats_the_default_settings(tmp_path):
    problem = GluonProblem(folds=2, fixed={"steps": 1500})
    space = {"learning_rate": Float(1e-4, 0.3, log=True), "activation": Choice(["tanh", "sigmoid"])}
    scan = study.run(problem, space, trials=24, storage=_url(tmp_path), batch=8)
    baseline = problem.evaluate([{}])[0].reward
    assert scan.best_value < baseline
