r"""Rank and smallest singular value of feature matrices F_k (thesis ch. 2, NG-T2.4.4/T2.4.5).

The numerical rank uses the thesis' threshold (Table 2.2 caption; Press et al. 2007,
§2.6.1): a singular value of an :math:`N \times n` matrix counts as zero when
:math:`\sigma \le \tfrac12\sqrt{N + n + 1}\,\sigma_{\max}\,\varepsilon`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import pandas as pd
import torch

from ..curvature.rank import numerical_rank
from ..errors import ShapeError
from .features import features_of

if TYPE_CHECKING:
    from ..core import Landscape


@dataclass(frozen=True)
class FeatureRank:
    """The Press rank of a feature matrix F (N x n) and its extreme singular values.

    Attributes:
        rank: numerical rank (Press threshold).
        n_rows: the number of rows N (samples).
        n_cols: the number of columns n (neurons).
        full: ``rank == min(N, n)``.
        sigma_min: the min(N, n)-th singular value (0 if F has fewer nonzero ones).
        sigma_max: the largest singular value.
        threshold: the Press threshold used.
        gap_ratio: |last kept| / |first dropped| (inf when nothing is dropped).
    """

    rank: int
    n_rows: int
    n_cols: int
    full: bool
    sigma_min: float
    sigma_max: float
    threshold: float
    gap_ratio: float

    def to_dict(self) -> dict:
        """The fields as a dict.

        Returns:
            Field name → value.
        """
        return asdict(self)


def matrix_feature_rank(F: torch.Tensor) -> FeatureRank:
    """Press rank and extreme singular values of a 2-D matrix (computed in float64).

    The rank counts the singular values above the ``"press"`` threshold of
    :func:`~valleys.curvature.rank.numerical_rank`.

    Args:
        F: the matrix (samples x neurons).

    Returns:
        The :class:`FeatureRank`: rank, shape, whether the rank is full, smallest of the
        min(N, n) singular values, largest one, threshold and gap ratio.

    Raises:
        ShapeError: if ``F`` is not 2-D or is empty.

    Example:
        >>> A = torch.randn(6, 2, dtype=torch.float64) @ torch.randn(2, 9, dtype=torch.float64)
        >>> matrix_feature_rank(A).rank
        2
    """
    if F.ndim != 2 or F.numel() == 0:
        msg = f"A feature matrix must be a non-empty 2-D (samples x neurons) tensor. Got shape {tuple(F.shape)}."
        raise ShapeError(msg)
    F = F.detach().to(torch.float64)
    sv = torch.linalg.svdvals(F)
    r = numerical_rank(sv.numpy(), policy="press", shape=tuple(F.shape), warn=False)
    k = min(F.shape)
    return FeatureRank(r.count, int(F.shape[0]), int(F.shape[1]), r.count == k,
                       float(sv[k - 1]), float(sv[0]), r.threshold, r.gap_ratio)


def feature_rank(land: Landscape, theta: torch.Tensor, /, k: int) -> FeatureRank:
    """Press rank of F_k, the outputs of hidden layer k (1-based) of a landscape's model at theta.

    Args:
        land: the landscape.
        theta: the parameters, shape (d,).
        k: the hidden layer (1-based).

    Returns:
        The :class:`FeatureRank` of F_k (see :func:`matrix_feature_rank`).
    """
    return matrix_feature_rank(land.features(theta, k))


def rank_vs_width(build: Callable[[int, int], torch.nn.Module], widths: Iterable[int],
                  X: torch.Tensor, *, k: int = 1, seeds: Iterable[int] = (0,)) -> pd.DataFrame:
    """Press rank of F_k for models ``build(width, seed)`` over widths and seeds.

    Args:
        build: ``build(width, seed)`` returns a model.
        widths: the widths.
        X: the inputs.
        k: the hidden layer (1-based).
        seeds: the seeds.

    Returns:
        One row per (width, seed): ``width``, ``seed``, ``n_samples``, ``n_features`` and the
        fields of :class:`FeatureRank`, plus ``expected = min(N, n_k)``.
    """
    rows = []
    for width in widths:
        for seed in seeds:
            F = features_of(build(width, seed), X, k)
            r = matrix_feature_rank(F)
            rows.append({"width": width, "seed": seed, "n_samples": r.n_rows, "n_features": r.n_cols,
                         **r.to_dict(), "expected": min(r.n_rows, r.n_cols)})
    return pd.DataFrame(rows)
