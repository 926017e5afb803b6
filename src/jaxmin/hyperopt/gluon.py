"""The gluon fit as a hyperoptimisation problem: trials trained in vmapped groups, k-fold rewards.

A trial is a dict of :func:`jaxmin.pdf.fit` settings (learning rate, patience, network, ...).
Its models: for each fold j and each of ``replicas`` Monte Carlo replicas r, one network trained
on replica r's pseudo-data on the points outside fold j (split again into training and look-back
validation points), exactly as :func:`jaxmin.pdf.fit` trains a replica. The reward is

    reward = combine over folds j of  stat over replicas r of  χ²_j(model_{j,r}),

with χ²_j the held-out χ²/N of fold j (:func:`jaxmin.hyperopt.folds.held_out_chi2`), ``stat``
the mean over replicas (or the mean plus the standard deviation, ``replica_reward="mean+std"``)
and ``combine`` the mean over folds (or the worst fold, ``fold_reward="worst"``). The reward is
not what the models minimise: each minimises its own training χ².

Every trial's models see the same replicas and splits and start from the same initial networks
(common random numbers: two trials' rewards differ by their settings, not by their luck).
Trials that differ only in learning rate, patience and weight decay (per-member values of the
engine, see :class:`jaxmin.pdf.replicas.MemberSettings`) are trained together: all their
folds' and replicas' models in one compiled program. Every model's numbers depend only on its
trial's settings, fold and replica — never on which other trials share its program — so a
trial's reward is the same alone, in a batch, or re-run after an interruption.
"""

from __future__ import annotations

import inspect
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jax
import numpy as np

from .. import _checks
from ..pdf import buckets, fitting, replicas, setup
from ..result import Status
from . import folds as kfold

HYPERPARAMETERS = (
    "learning_rate",
    "patience",
    "hidden",
    "activation",
    "output",
    "init",
    "optimizer",
    "steps",
    "threshold",
    "l2",
    "dropout",
    "validation",
    "alpha_bounds",
    "beta_bounds",
    "fit_exponents",
)
"""Settings of :func:`jaxmin.pdf.fit` a search space may vary."""
PER_MEMBER = ("learning_rate", "patience", "l2")
"""Settings that may differ between the models of one compiled program."""
FOLD_REWARDS = ("mean", "worst")
REPLICA_REWARDS = ("mean", "mean+std")


@dataclass
class Outcome:
    """What one trial gave: its reward, or why it failed (``reward`` None)."""

    reward: float | None
    reason: str | None
    fold_chi2: list[list[float]] = field(default_factory=list)
    """Held-out χ²/N of every model, ``[fold][replica]``."""
    epochs: float = 0.0
    """Mean epochs its models trained."""
    params: Any = None
    """The models' look-back parameters, stacked ``(folds × replicas, ...)``."""


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


class GluonProblem:
    """The gluon closure fit (or a fit of ``data``) as a hyperoptimisation problem.

    **Arguments**

    - ``folds``: k ≥ 2 folds of the data points.
    - ``replicas``: Monte Carlo replicas per fold (models per trial: k × replicas).
    - ``fold_reward``: ``mean`` or ``worst`` over folds; ``replica_reward``: ``mean`` or
      ``mean+std`` over replicas.
    - ``fixed``: any other :func:`jaxmin.pdf.fit` settings, held fixed for every trial
      (``data``, ``truth``, ``steps``, ``seed``, ...).
    """

    hyperparameters = HYPERPARAMETERS

    def __init__(
        self,
        *,
        folds: int = 2,
        replicas: int = 1,
        fold_reward: str = "mean",
        replica_reward: str = "mean",
        fixed: Mapping[str, Any] | None = None,
    ):
        self.replicas = _checks.integer_at_least("replicas", replicas, 1)
        self.fold_reward = _checks.one_of("fold_reward", fold_reward, FOLD_REWARDS)
        self.replica_reward = _checks.one_of("replica_reward", replica_reward, REPLICA_REWARDS)
        fixed = dict(fixed or {})
        clash = sorted(set(fixed) & {"replicas_count", "closure_fits", "replica_range"})
        if clash:
            raise ValueError(f"fixed settings {clash} are set by the hyperoptimisation itself")
        self.given = fixed
        self.fixed = fixed | {"replicas_count": max(2, self.replicas)}
        base = fitting.plan(**self.fixed)
        self.data = [ds.fingerprint() for ds in base.data_sets]
        self.folds = _checks.integer_at_least("folds", folds, 2)
        self.fold_of = kfold.assign(base.observables.kind, self.folds, base.seeds.split)

    @classmethod
    def from_description(cls, described: Mapping[str, Any]) -> GluonProblem:
        """The problem :meth:`describe` recorded (for re-training a study's best trial)."""
        return cls(
            folds=described["folds"],
            replicas=described["replicas"],
            fold_reward=described["fold_reward"],
            replica_reward=described["replica_reward"],
            fixed={
                k: tuple(v) if isinstance(v, list) else v for k, v in described["fixed"].items()
            },
        )

    def _setting(self, name: str) -> Any:
        """A setting's value outside the trials: fixed, or :func:`jaxmin.pdf.fit`'s default."""
        if name in self.fixed:
            return self.fixed[name]
        return inspect.signature(fitting.fit).parameters[name].default

    def accepts(self, name: str, value: Any) -> None:
        """Raise a ``ValueError``/``TypeError`` if :func:`jaxmin.pdf.fit` refuses ``value``."""
        fitting.plan(**(self.fixed | {name: value}))

    def describe(self) -> dict:
        """The problem as plain data (recorded with the study: a study resumes only on the same
        problem)."""
        return {
            "problem": "gluon",
            "folds": self.folds,
            "replicas": self.replicas,
            "fold_reward": self.fold_reward,
            "replica_reward": self.replica_reward,
            "fixed": {k: _jsonable(v) for k, v in sorted(self.given.items())},
            "data": self.data,
        }

    def evaluate(self, trials: Sequence[Mapping[str, Any]]) -> list[Outcome]:
        """Every trial's :class:`Outcome` (trained in groups, see :meth:`groups`)."""
        outcomes: list[Outcome | None] = [None] * len(trials)
        for indices, results in self.groups(trials):
            for index, outcome in zip(indices, results, strict=True):
                outcomes[index] = outcome
        return outcomes  # type: ignore[return-value]

    def groups(self, trials: Sequence[Mapping[str, Any]]) -> Iterator[tuple[list[int], list]]:
        """Train trials that share every setting but learning rate, patience and l2 together;
        yields each group's trial indices and outcomes as soon as the group is done."""
        grouped: dict[str, list[int]] = {}
        for index, trial in enumerate(trials):
            unknown = sorted(set(trial) - set(HYPERPARAMETERS))
            if unknown:
                raise ValueError(f"trial {index}: {unknown} are not hyperparameters")
            shared = {k: _jsonable(v) for k, v in trial.items() if k not in PER_MEMBER}
            grouped.setdefault(json.dumps(shared, sort_keys=True), []).append(index)
        for indices in grouped.values():
            yield indices, self._checked_group([trials[i] for i in indices])

    def _checked_group(self, trials: list[Mapping[str, Any]]) -> list[Outcome]:
        """Trials whose combination of settings :func:`jaxmin.pdf.fit` refuses (a space is
        checked one setting at a time) fail with the reason; the others train together."""
        outcomes: list[Outcome | None] = [None] * len(trials)
        shared = {k: v for k, v in trials[0].items() if k not in PER_MEMBER}
        try:
            plan = fitting.plan(**(self.fixed | shared))
        except (ValueError, TypeError) as err:
            return [Outcome(None, f"refused: {err}") for _ in trials]
        defaults = {name: self._setting(name) for name in PER_MEMBER}
        values = []
        for index, trial in enumerate(trials):
            try:
                values.append(
                    fitting.member_values(
                        **(defaults | {k: v for k, v in trial.items() if k in PER_MEMBER}),
                        epochs=plan.engine.epochs,
                        optimizer=plan.settings["optimizer"],
                    )
                )
            except (ValueError, TypeError) as err:
                outcomes[index] = Outcome(None, f"refused: {err}")
        kept = [i for i, outcome in enumerate(outcomes) if outcome is None]
        if kept:
            trained = self._train_group(plan, np.asarray(values))
            for index, outcome in zip(kept, trained, strict=True):
                outcomes[index] = outcome
        return outcomes  # type: ignore[return-value]

    def _train_group(self, plan: fitting.Plan, settings: np.ndarray) -> list[Outcome]:
        """Train a group's trials, ``settings`` (η, patience, λ, patience in epochs) each."""
        n_trials = len(settings)
        data_set = plan.data_sets[0]
        ids = np.arange(self.replicas)
        fold_data, fold_rows = self.fold_members(plan)
        model_cfg = plan.engine.model
        params = setup.initial_params(0, ids, plan.seeds.init, model_cfg, plan.dtype)
        keys = setup.method_keys(0, ids, plan.seeds.init)
        grid = plan.grid()
        chi2 = np.full((n_trials, self.folds, self.replicas), np.nan)
        status = np.zeros((n_trials, self.folds, self.replicas), np.int64)
        epochs = np.zeros((n_trials, self.folds, self.replicas))
        models = np.empty((n_trials, self.folds), object)
        # folds of one size share a program (their arrays have the same shapes)
        by_shape: dict[tuple, list[int]] = {}
        for j, data in enumerate(fold_data):
            shape = (data.train_rows.shape, data.val_rows.shape)
            by_shape.setdefault(shape, []).append(j)
        for fold_ids in by_shape.values():
            members = [(t, j) for t in range(n_trials) for j in fold_ids]
            count = len(members) * len(ids)
            per_model = np.repeat(settings[[t for t, _ in members]], len(ids), axis=0)
            eta, _, l2, patience_epochs = per_model.T
            stack = buckets.concatenate([fold_data[j] for _, j in members])
            start = (
                buckets.concatenate([params] * len(members)),
                buckets.concatenate([keys] * len(members)),
                replicas.member_settings(eta, patience_epochs, l2, count, plan.dtype),
            )
            start, stack = replicas.pad_to_blocks(
                (start, stack), plan.engine.block, plan.engine.devices, power_of_two=True
            )
            state, _, _ = fitting.train(start, stack, grid, plan.engine, members=count)
            f_eval = replicas.evaluate_many(state.best_params, grid, model_cfg, plan.engine.block)
            predictions = plan.observables.predict(np.asarray(f_eval, np.float64))
            rows = [fold_rows[j] for _, j in members for _ in ids]
            values = kfold.held_out_chi2(
                predictions, data_set.central, data_set.covariance, rows
            ).reshape(len(members), len(ids))
            statuses = np.asarray(state.status).reshape(len(members), len(ids))
            nit = np.asarray(state.epoch).reshape(len(members), len(ids))
            best = jax.tree.map(np.asarray, state.best_params)
            for m, (t, j) in enumerate(members):
                chi2[t, j], status[t, j], epochs[t, j] = values[m], statuses[m], nit[m]
                models[t, j] = jax.tree.map(
                    lambda a, m=m: a[m * len(ids) : (m + 1) * len(ids)], best
                )
        return [
            self._outcome(chi2[t], status[t], epochs[t], list(models[t])) for t in range(n_trials)
        ]

    def fold_members(self, plan: fitting.Plan) -> tuple[list[replicas.ReplicaData], list]:
        """Each fold's models' data (``replicas`` of them) and the rows it holds out: the
        models of fold j train and validate on rows outside fold j only."""
        data_set = plan.data_sets[0]
        ids = np.arange(self.replicas)
        targets = setup.replica_targets(data_set, 0, ids, plan.level, plan.seeds.data)
        kinds = np.asarray(plan.observables.kind)
        data, held_out = [], []
        for j in range(self.folds):
            kept = np.flatnonzero(self.fold_of != j)
            keys = setup.replica_keys(plan.seeds.split, setup.SPLIT_STREAM, j, ids)
            train, val = setup.split_rows(keys, tuple(kinds[kept]), plan.validation)
            data.append(setup.member_data(data_set, targets, kept[train], kept[val], plan.dtype))
            held_out.append(np.flatnonzero(self.fold_of == j))
        return data, held_out

    def _outcome(self, chi2: np.ndarray, status: np.ndarray, epochs: np.ndarray, params) -> Outcome:
        stacked = jax.tree.map(lambda *a: np.concatenate(a), *params)
        diverged = int(np.sum(status == int(Status.DIVERGED)))
        common = {"fold_chi2": chi2.tolist(), "epochs": float(np.mean(epochs)), "params": stacked}
        if diverged:
            return Outcome(None, f"diverged ({diverged} of {status.size} models)", **common)
        per_fold = np.mean(chi2, axis=1)
        if self.replica_reward == "mean+std":
            per_fold = per_fold + np.std(chi2, axis=1)
        reward = float(np.max(per_fold) if self.fold_reward == "worst" else np.mean(per_fold))
        if not math.isfinite(reward):
            return Outcome(None, "non-finite held-out χ²", **common)
        return Outcome(reward, None, **common)
