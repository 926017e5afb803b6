"""Hyperoptimisation: settings chosen by a k-fold reward, trials trained in vmapped groups,
studies kept in a database (optuna), violin plots.

- :mod:`~jaxmin.hyperopt.space`: search spaces (``Float``, ``Int``, ``Choice``; TOML/JSON files);
- :mod:`~jaxmin.hyperopt.folds`: the k-fold split and the held-out χ²;
- :class:`GluonProblem`: the gluon fit as a problem (trials grouped and trained together);
- :func:`run`: the search by optuna (TPE, random or grid) with a resumable study;
- :mod:`~jaxmin.hyperopt.report`: the report and the figures.
"""

from . import folds, space
from .gluon import GluonProblem, Outcome
from .space import Choice, Float, Int

__all__ = ["Choice", "Float", "GluonProblem", "Int", "Outcome", "folds", "space"]
