"""Curvature of a landscape: Hessian and GGN operators, spectra, densities, traces, ranks.

Matrix-free first: :func:`hessian_operator` and :func:`ggn_operator` are SciPy
``LinearOperator`` objects built on vectorised Hessian-vector products; :func:`eigs`
(thick-restart Lanczos), :func:`density` (stochastic Lanczos quadrature) and
:func:`trace` (Hutchinson, Hutch++) use only products. :func:`spectrum` diagonalises the
dense matrix when d is moderate. :func:`numerical_rank` / :func:`nullity` count
eigenvalues or singular values above a documented threshold and report the gap, and
:func:`ldl_inertia` counts signs of a symmetric matrix by an LDL^T factorisation.
"""

from ._operator import CurvatureOperator
from .density import Density, density
from .eigs import Eigenpairs, eigs
from .ggn import ggn_operator, ggn_torch_operator, output_hessians
from .hessian import hessian_operator, hessian_torch_operator
from .inertia import Inertia, eigen_inertia, ldl_inertia
from .lanczos import Tridiagonal, lanczos_tridiag
from .negative import SmallestEigenvalue, smallest_eigenvalue
from .ntk import ntk_gram, ntk_lambda_min
from .rank import RankResult, matrix_rank, nullity, numerical_rank
from .spectrum import Spectrum, spectrum
from .trace import TraceEstimate, hutchinson_trace, hutchpp_trace, trace

__all__ = [
    # operators
    "hessian_operator",
    "ggn_operator",
    "hessian_torch_operator",
    "ggn_torch_operator",
    "output_hessians",
    "CurvatureOperator",
    # spectra
    "eigs",
    "Eigenpairs",
    "spectrum",
    "Spectrum",
    "density",
    "Density",
    "lanczos_tridiag",
    "Tridiagonal",
    "smallest_eigenvalue",
    "SmallestEigenvalue",
    # traces
    "trace",
    "TraceEstimate",
    "hutchinson_trace",
    "hutchpp_trace",
    # rank and inertia
    "numerical_rank",
    "nullity",
    "matrix_rank",
    "RankResult",
    "ldl_inertia",
    "eigen_inertia",
    "Inertia",
    # neural-tangent Gram matrix
    "ntk_gram",
    "ntk_lambda_min",
]
