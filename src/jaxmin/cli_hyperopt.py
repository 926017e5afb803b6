"""``jaxmin hyperopt``: the gluon fit's settings chosen by a k-fold reward (and ``... best``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from . import pdf
from ._cli_args import command, integer, prepare_out, refuse_unused, resume_or_force, seed
from ._json import write_json
from .hyperopt import GluonProblem, report, study
from .hyperopt import space as spaces
from .hyperopt.gluon import FOLD_REWARDS, REPLICA_REWARDS

DEFAULT_SPACE = {
    "learning_rate": spaces.Float(1e-4, 0.3, log=True),
    "patience": spaces.Float(0.05, 0.5),
    "hidden": spaces.Choice([[5], [10], [20], [10, 10]]),
    "activation": spaces.Choice(["tanh", "sigmoid"]),
}
"""The space searched without ``--space``."""
OUTPUTS = ("report.json", *(f"hyperopt_{name}.png" for name in report.FIGURES))
STUDY_FILE = "study.db"
BEST_OUTPUTS = ("best.json", "best_models.npz")


def _fixed(args: argparse.Namespace) -> dict:
    fixed = {"steps": args.epochs, "seed": args.seed}
    if args.data is not None:
        fixed["data"] = args.data
    if args.covariance is not None:
        fixed["covariance"] = args.covariance
    return fixed


def _prepare(args: argparse.Namespace, out: Path) -> list[str]:
    """Refuse to overwrite a scan's results unless ``--force`` (or ``--resume``); with it,
    remove the old study file (the new scan starts a new one) and return the other earlier
    results, which the new report replaces."""
    if args.resume:
        return []
    outputs = OUTPUTS if args.storage else (*OUTPUTS, STUDY_FILE)
    hint = " or --resume to continue the study"
    stale = prepare_out(out, outputs, force=args.force, hint=hint)
    if STUDY_FILE in stale:
        study.check_sqlite_file(out / STUDY_FILE)  # --force never deletes a foreign database
        (out / STUDY_FILE).unlink()
    return [name for name in stale if name != STUDY_FILE]


def cmd_hyperopt(args: argparse.Namespace) -> int:
    """Run (or resume, or join) a scan; with ``best``, re-train the best trial."""
    study.optuna_module()
    out = Path(args.out)
    if args.action == "best":
        return _best(args, out)
    resume_or_force(args)
    space = spaces.load(args.space) if args.space else DEFAULT_SPACE
    problem = GluonProblem(
        folds=args.folds,
        replicas=args.replicas,
        fold_reward=args.reward,
        replica_reward=args.replica_reward,
        fixed=_fixed(args),
    )
    url = study.storage_url(out, args.storage)
    spaces.check(space, problem.accepts, problem.hyperparameters)  # before --force removes
    stale = _prepare(args, out)
    scan = study.run(
        problem,
        space,
        trials=args.trials,
        storage=url,
        sampler=args.sampler,
        seed=args.seed,
        batch=args.batch,
        resume=args.resume,
        progress=sys.stderr.isatty(),
    )
    baseline = problem.evaluate([{}])[0].reward
    for name in stale:
        (out / name).unlink(missing_ok=True)
    written = report.write(scan, space, out, baseline)
    print(report.table(report.report(scan, baseline)))
    print("wrote " + ", ".join(str(p) for p in written) + f"; study in {url}")
    return 0


def _best(args: argparse.Namespace, out: Path) -> int:
    """Re-train the study's best trial: its reward again, its models saved."""
    refuse_unused(args, ("action", "out", "storage", "force"), "best")
    url = study.storage_url(out, args.storage)
    scan = study.open_study(url, None, resume=True)
    recorded = scan.user_attrs["jaxmin"]
    try:
        best = scan.best_trial
    except ValueError:
        raise ValueError(f"the study in {url!r} has no completed trial yet") from None
    space = spaces.from_dict(recorded["space"])
    problem = GluonProblem.from_description(recorded["problem"])
    if problem.describe() != recorded["problem"]:
        raise ValueError(
            "the study's data have changed since its scan: its best trial cannot be re-trained"
        )
    stale = prepare_out(out, BEST_OUTPUTS, force=args.force)
    outcome = problem.evaluate([spaces.decode(space, best.params)])[0]
    if outcome.reward is None:
        raise ValueError(f"trial {best.number} failed when re-trained: {outcome.reason}")
    for name in stale:  # only new results replace earlier ones
        (out / name).unlink(missing_ok=True)
    settings = spaces.decode(space, best.params)
    summary = {
        "trial": best.number,
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
        "reward_in_scan": best.value,
        "reward_retrained": outcome.reward,
        "fold_chi2": outcome.fold_chi2,
    }
    write_json(summary, out / "best.json", indent=1)
    flat = {"/".join(k): v for k, v in _flatten(outcome.params).items()}
    np.savez(out / "best_models.npz", **flat)
    print(
        f"trial {best.number}: reward {best.value:.6g} in the scan, {outcome.reward:.6g} "
        f"re-trained; wrote {out / 'best.json'}, {out / 'best_models.npz'}"
    )
    return 0


def _flatten(tree: dict, prefix: tuple = ()) -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flatten(value, (*prefix, str(key)))
        else:
            flat[(*prefix, str(key))] = np.asarray(value)
    return flat


def add_parser(sub: argparse._SubParsersAction) -> None:
    """The ``hyperopt`` sub-command."""
    p = sub.add_parser(
        "hyperopt",
        help="choose the fit's settings by a k-fold reward (optuna; resumable studies)",
        description="Search the gluon fit's settings (learning rate, patience, network, ...) "
        "for the lowest held-out k-fold chi2; trials that differ only in learning rate, "
        "patience and l2 train together in one compiled program; every trial is stored in a "
        "database as it ends. Writes report.json and violin plots. 'jaxmin hyperopt best' "
        "re-trains the best trial of the study in --out.",
    )
    p.add_argument("action", nargs="?", choices=("best",), help=argparse.SUPPRESS)
    p.add_argument("--trials", type=integer(1), default=32, help="finished trials wanted")
    p.add_argument("--space", default=None, help="search space file (TOML or JSON)")
    p.add_argument("--folds", type=integer(2), default=2, help="k of the k-fold reward")
    p.add_argument("--replicas", type=integer(1), default=1, help="models per fold")
    p.add_argument("--reward", default="mean", choices=FOLD_REWARDS, help="over the folds")
    p.add_argument(
        "--replica-reward", default="mean", choices=REPLICA_REWARDS, help="over the replicas"
    )
    p.add_argument("--sampler", default="tpe", choices=study.SAMPLERS)
    p.add_argument("--batch", type=integer(1), default=16, help="trials asked at once")
    p.add_argument(
        "--epochs", type=integer(1), default=pdf.DEFAULTS["steps"], help="epochs per network"
    )
    p.add_argument("--data", default=None, help="your data: a table x, value, σ[, systematics]")
    p.add_argument("--covariance", default=None, help="with --data: the full N×N covariance")
    p.add_argument("--seed", type=seed, default=0, help="of the sampler and the data")
    p.add_argument(
        "--storage", default=None, help="database URL (default: sqlite in --out/study.db)"
    )
    p.add_argument("--out", default="jaxmin-hyperopt", help="output folder")
    p.add_argument("--resume", action="store_true", help="continue (or join) the study")
    p.add_argument("--force", action="store_true", help="overwrite earlier results")
    p.set_defaults(**command(p, cmd_hyperopt, steps="--epochs", fold_reward="--reward"))
