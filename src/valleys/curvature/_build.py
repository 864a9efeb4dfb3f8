"""Pick the curvature matrix (Hessian or GGN) the spectral functions act on."""

from __future__ import annotations

import torch

from .._validation import check_choice
from ..core import Landscape
from ._inputs import ParamFilter
from ._operator import CurvatureOperator
from .ggn import ggn_torch_operator
from .hessian import hessian_torch_operator

#: The curvature matrices the spectral functions accept.
CURVATURES = ("hessian", "ggn")


def curvature_operator(land: Landscape, theta: torch.Tensor, curvature: str,
                       param_filter: ParamFilter, where: str) -> CurvatureOperator:
    """The torch operator of ``curvature`` ("hessian" or "ggn") at theta.

    Raises:
        InvalidParameterError: for an unknown ``curvature`` or a bad ``param_filter``.
        ShapeError: if theta does not have length d.
        NonFiniteError: if the loss or gradient at theta is not finite.
    """
    curvature = check_choice(curvature, "curvature", where, CURVATURES)
    build = hessian_torch_operator if curvature == "hessian" else ggn_torch_operator
    return build(land, theta, param_filter, where=where)
