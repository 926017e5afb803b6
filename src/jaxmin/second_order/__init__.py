"""Second-order methods: Newton, damped Newton, Newton-CG and Gauss–Newton (``jaxmin.newton``)."""

from ._minimize import MATRIX_FREE_ABOVE, METHODS, newton
from ._residuals import parameter_covariance

__all__ = ["MATRIX_FREE_ABOVE", "METHODS", "newton", "parameter_covariance"]
