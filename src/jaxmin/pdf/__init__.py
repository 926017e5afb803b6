"""The gluon of the proton from pseudo-data: truths, observables, replica fits, closure tests.

``jaxmin.pdf.fit()`` runs NNPDF's level-2 closure test of x·g(x) with Monte Carlo replicas
(see :mod:`jaxmin.pdf.fit`); :func:`load` and :func:`merge` read and join saved fits;
:func:`write_lhapdf_set` writes replicas as an LHAPDF6 set.
"""

from . import closure, grid, observables, replicas, truth
from .fitting import DEFAULTS, OPTIMIZERS, fit
from .lhapdf import write_lhapdf_set
from .result import FitResult, load, merge
from .truth import BetaTruth, TableTruth, load_truth

__all__ = [
    "DEFAULTS",
    "OPTIMIZERS",
    "BetaTruth",
    "FitResult",
    "TableTruth",
    "closure",
    "fit",
    "grid",
    "load",
    "load_truth",
    "merge",
    "observables",
    "replicas",
    "truth",
    "write_lhapdf_set",
]
