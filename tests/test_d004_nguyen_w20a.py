"""Issue 20 repairs of document 004 experiments (surface-skip, adversarial path, regions
trained, mode connectivity): the pieces that the judges' tests do not reach."""

from __future__ import annotations

import torch

from valleys.experiments.d004_nguyen._shared import column_normalised_rank
from valleys.expressivity import matrix_feature_rank


def test_psi_rank_does_not_depend_on_column_scale():
    """Nearly-off units (columns ~1e-13) are independent: the normalised rank sees it, the raw Press rank not."""
    gen = torch.Generator().manual_seed(0)
    P = torch.randn(40, 40, generator=gen, dtype=torch.float64)
    P[:, :6] *= 1e-13
    assert matrix_feature_rank(P).rank < 40
    assert column_normalised_rank(P).rank == 40
    Q = P.clone()
    Q[:, 1] = Q[:, 0] * 3.0  # a true dependency survives the scaling
    assert column_normalised_rank(Q).rank == 39
