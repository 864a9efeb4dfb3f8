r"""Tolerance defaults of the curvature and critical-point functions, derived from the dtype.

Every tolerance whose default is ``None`` in :mod:`valleys.curvature` and
:mod:`valleys.critical.classify` is resolved here from the machine epsilon
:math:`\varepsilon` of the landscape's dtype (``2.2e-16`` for float64, ``1.2e-7`` for
float32), so a float32 landscape never inherits float64 settings:

===============================  ==========================================  =============  =============
quantity                         formula                                     float64        float32
===============================  ==========================================  =============  =============
``eigs`` relative residual tol   :math:`\sqrt{\varepsilon}`                  1.5e-8         3.5e-4
``numerical_rank`` noise floor   :math:`\varepsilon\, n \max|\lambda|`       2.2e-16 n      1.2e-7 n
``"relative"`` policy ``tau``    :math:`\sqrt{\varepsilon}`                  1.5e-8         3.5e-4
``classify`` ``grad_tol``        :math:`\sqrt{\varepsilon}`                  1.5e-8         3.5e-4
``classify`` ``loss_tol``        :math:`\sqrt{\varepsilon}`                  1.5e-8         3.5e-4
rounding bound of an eigenvalue  :math:`\varepsilon\, \sqrt{n} \max|\lambda|`
===============================  ==========================================  =============  =============

:math:`\sqrt{\varepsilon}` is the classical "half the digits" accuracy of a quantity
computed from a residual (an eigenvalue from a Ritz pair, a gradient at a computed
minimum); :math:`\varepsilon n \max|\lambda|` is the backward-error size of an
eigenvalue of an n x n symmetric matrix whose entries carry rounding errors of
relative size :math:`\varepsilon` (Golub & Van Loan, 4th ed., §8.1.2 and §8.4).
"""

from __future__ import annotations

import math

import numpy as np
import torch


def machine_eps(dtype) -> float:
    """Machine epsilon of a torch or NumPy floating dtype (float64 for anything else).

    Example:
        >>> machine_eps(torch.float32) == float(torch.finfo(torch.float32).eps)
        True

    Args:
        dtype: a torch or NumPy dtype.

    Returns:
        The machine epsilon.
    """
    if isinstance(dtype, torch.dtype):
        return float(torch.finfo(dtype).eps) if dtype.is_floating_point else float(np.finfo(np.float64).eps)
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return float(np.finfo(np.float64).eps)
    return float(np.finfo(dt).eps) if np.issubdtype(dt, np.floating) else float(np.finfo(np.float64).eps)


def default_tol(dtype) -> float:
    r"""The default relative tolerance :math:`\sqrt{\varepsilon}` of ``dtype``.

    Example:
        >>> round(default_tol(torch.float64), 10)
        1.49e-08

    Args:
        dtype: a torch or NumPy floating dtype.

    Returns:
        sqrt(eps) of the dtype.
    """
    return math.sqrt(machine_eps(dtype))


def noise_floor(dtype, n: int, top: float) -> float:
    r"""The level :math:`\varepsilon\, n \cdot \text{top}` below which eigenvalues of an
    n x n matrix whose largest magnitude is ``top`` are indistinguishable from zero.

    Args:
        dtype: the dtype of the computation.
        n: the matrix size.
        top: the largest eigenvalue magnitude.

    Returns:
        The noise floor.
    """
    return machine_eps(dtype) * max(int(n), 1) * float(top)


def rounding_bound(dtype, n: int, scale: float) -> float:
    r"""Attainable accuracy :math:`\varepsilon \sqrt{n}\,\text{scale}` of an eigenvalue
    computed from products with an n x n matrix of norm ``scale``.

    Args:
        dtype: the dtype of the products.
        n: the matrix size.
        scale: the matrix norm.

    Returns:
        The bound.
    """
    return machine_eps(dtype) * math.sqrt(max(int(n), 1)) * float(scale)


def resolve(value, dtype, name: str = "tol") -> float:
    """``value`` if given, else :func:`default_tol` of ``dtype`` (``name`` is for messages).

    Args:
        value: a tolerance, or None.
        dtype: the dtype of the computation.
        name: the parameter's name.

    Returns:
        The tolerance.
    """
    return default_tol(dtype) if value is None else value
