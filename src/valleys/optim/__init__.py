"""The house's optimisers on plain callables: one L-BFGS and one Newton family.

Every optimiser of valleys runs through this package: :func:`lbfgs` (SciPy's bound-free
quasi-Newton code, or torch's strong-Wolfe L-BFGS with a frozen-coordinate mask) and the
Newton family of :mod:`valleys.optim.newton` (Levenberg–Marquardt on :math:`\\nabla F = 0`,
single and batched, with an index subset; shifted damped Newton; Newton-MR; Gauss–Newton
Levenberg–Marquardt for squared losses). They take ``fun_grad(x) -> (value, gradient)``
on NumPy or torch vectors (plus Hessian / Hessian-vector-product callables) and return a
small frozen :class:`~valleys.results.Record`. ``critical``, ``train``, ``basins`` and the
experiments keep their public functions as thin callers.
"""

from .lbfgs import LBFGSResult, lbfgs
from .newton import (
    NewtonResult,
    gauss_newton_lm,
    newton_lm,
    newton_lm_batch,
    newton_mr,
    shifted_newton,
)

__all__ = ["LBFGSResult", "lbfgs", "NewtonResult", "newton_lm", "newton_lm_batch", "newton_mr",
           "shifted_newton", "gauss_newton_lm"]
