r"""The neural-tangent Gram matrix :math:`K = G G^T` of a landscape's model.

:math:`G` is the Jacobian of the stacked outputs with respect to theta (N·m × d), so for
a scalar output :math:`K_{ij} = \langle \nabla_\theta f(x_i), \nabla_\theta f(x_j)\rangle`
(Sun et al. §5, C5.1). With :math:`F = \sum_i (f(x_i) - y_i)^2`, :math:`\nabla F = 2 G^T r`
and :math:`\|\nabla F\|^2 = 4 r^T K r \ge 4 \lambda_{\min}(K) F`.
"""

from __future__ import annotations

import torch


def ntk_gram(land, theta: torch.Tensor) -> torch.Tensor:
    """The Gram matrix K = G G^T of output gradients (N·m, N·m), sample-major.

    Args:
        land: a :class:`~valleys.Landscape` built from a model and data.
        theta: parameters (d,).

    Returns:
        The symmetric positive semi-definite K.

    Raises:
        InvalidParameterError: if the landscape was built from a plain function.

    Example:
        >>> from torch import nn
        >>> from valleys import Landscape
        >>> X = torch.randn(5, 3, dtype=torch.float64)
        >>> land = Landscape(nn.Linear(3, 1, bias=False), (X, torch.zeros(5, 1)))
        >>> bool(torch.allclose(ntk_gram(land, land.theta0), X @ X.T))
        True
    """
    G = land.jacobian(theta)
    K = G @ G.T
    return 0.5 * (K + K.T)


def ntk_lambda_min(land, theta: torch.Tensor) -> float:
    """The smallest eigenvalue of :func:`ntk_gram`.

    Args:
        land: a :class:`~valleys.Landscape` built from a model and data.
        theta: parameters (d,).

    Returns:
        lambda_min(K) as a float.
    """
    return float(torch.linalg.eigvalsh(ntk_gram(land, theta))[0])
