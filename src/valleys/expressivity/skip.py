r"""Skip-to-output networks (thesis ch. 4): the matrix Ψ(U) and its rank, Keras-style random U.

A skip net's output is :math:`G = \text{base}(x) + \Psi(U) V^T`, where
:math:`\Psi_{ij} = f_{p_j}(x_i)` collects the M chosen hidden neurons. When
rank Ψ(U) = N the loss is convex in V with a zero-error solution (NG-L4.3.2, NG-T4.3.4);
the ``rand`` mode keeps U random and fixed and trains V only (``trainable=("V",)`` in
:func:`valleys.train.fit` / :func:`valleys.train.fit_stack`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .._validation import check_generator, check_int
from ..nets.models import MLP, SkipToOutput, mlp, skip_to_output
from ..train import MLPStack
from .rank import FeatureRank, matrix_feature_rank

#: Keras' truncated normal cuts at this many standard deviations.
TRUNCATION = 2.0


def truncated_normal(shape, std: float, gen: torch.Generator) -> torch.Tensor:
    """N(0, std^2) conditioned on |x| <= 2 std (resampled until inside), float64.

    Args:
        shape: the tensor's shape.
        std: the standard deviation before truncation.
        gen: the random generator.

    Returns:
        A float64 tensor of the shape.
    """
    out = torch.randn(shape, generator=gen, dtype=torch.float64)
    bad = out.abs() > TRUNCATION
    while bad.any():
        out[bad] = torch.randn(int(bad.sum()), generator=gen, dtype=torch.float64)
        bad = out.abs() > TRUNCATION
    return out * std


def keras_init_(net: MLP | SkipToOutput, seed: int | torch.Generator | None = 0) -> MLP | SkipToOutput:
    """Re-initialise in place: weights ~ truncated N(0, 2 / fan_in) at ±2 std, biases 0.

    The thesis' ``rand`` algorithm (NG-Algorithm "rand"): variance 2/fan_in, truncated at
    two standard deviations. ``V`` of a skip net has fan-in M.

    Args:
        net: the MLP or skip net.
        seed: seed of the draws.

    Returns:
        ``net`` itself.
    """
    gen = check_generator(seed, "keras_init_")
    with torch.no_grad():
        for _name, p in net.named_parameters():
            if p.ndim == 1:
                p.zero_()
            else:
                p.copy_(truncated_normal(p.shape, math.sqrt(2.0 / p.shape[1]), gen))
    return net


def skip_net(widths: Sequence[int], activation: str, num_skip: int | None, *, seed: int = 0,
             init: str = "keras") -> MLP | SkipToOutput:
    """An MLP (``num_skip=None``) or its skip-to-output variant with ``num_skip`` random hidden
    neurons wired to the output; ``init="keras"`` re-initialises with :func:`keras_init_`.

    Args:
        widths: the layer widths ``[m_0, ..., m_L]``.
        activation: the activation's name.
        num_skip: the number of skip neurons M, or None for a plain MLP.
        seed: seed of the weights (and, offset by 7919, of the choice of skip neurons).
        init: ``"keras"`` or anything else to keep the default initialisation.

    Returns:
        The :class:`~valleys.nets.MLP` or :class:`~valleys.nets.SkipToOutput`.
    """
    base = mlp(widths, activation, seed=seed)
    net = base if num_skip is None else skip_to_output(base, num_skip, seed=seed + 7919)
    return keras_init_(net, seed) if init == "keras" else net


def skip_stack(widths: Sequence[int], activation: str, num_skip: int | None,
               seeds: Sequence[int], *, init: str = "keras") -> MLPStack:
    """Several :func:`skip_net` (one per seed: its init and its choice of skip neurons) as an MLPStack.

    Args:
        widths: the layer widths.
        activation: the activation's name.
        num_skip: the number of skip neurons, or None.
        seeds: one seed per net.
        init: as in :func:`skip_net`.

    Returns:
        The :class:`~valleys.train.MLPStack` of the nets.
    """
    return MLPStack.from_modules([skip_net(widths, activation, num_skip, seed=s, init=init)
                                  for s in seeds])


def psi_matrix(net: SkipToOutput, X: torch.Tensor) -> torch.Tensor:
    """Ψ(U) (N, M): the skip neurons' outputs on X.

    Args:
        net: the skip net (converted to float64 in place).
        X: the inputs, shape (N, m_0).

    Returns:
        The skip neurons' outputs, shape (N, M).
    """
    with torch.no_grad():
        return net.double().skip_features(torch.as_tensor(X, dtype=torch.float64))


def psi_rank(net: SkipToOutput, X: torch.Tensor) -> FeatureRank:
    """Press rank and extreme singular values of Ψ(U) (NG-L4.3.2: rank N almost surely).

    Args:
        net: the skip net.
        X: the inputs, shape (N, m_0).

    Returns:
        The :class:`~valleys.expressivity.rank.FeatureRank` of :func:`psi_matrix`.
    """
    return matrix_feature_rank(psi_matrix(net, X))


def hidden_total(widths: Sequence[int]) -> int:
    r"""Number of hidden neurons of an MLP ``[m_0, ..., m_L]`` (the pool for skip neurons).

    Args:
        widths: the layer widths, input and output included.

    Returns:
        \(\sum_{l=1}^{L-1} m_l\).

    Raises:
        InvalidParameterError: if a hidden width is not an int >= 1.
    """
    return sum(check_int(w, "widths", "hidden_total", min_val=1) for w in list(widths)[1:-1])
