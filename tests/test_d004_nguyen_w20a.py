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


def test_w1_with_sigma_ratio_1e_8_is_full_rank():
    """The audit's excluded runs had sigma_min/sigma_max 8.3e-9 and 6.6e-9: full rank in float64."""
    from valleys.experiments.d004_nguyen.regions_trained import w1_rank

    U, _ = torch.linalg.qr(torch.randn(6, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    W1 = U @ torch.diag(torch.tensor([1.0, 8.3e-9], dtype=torch.float64))  # (h = 6, d = 2)
    rank, ratio, _ = w1_rank(W1)
    assert rank == 2
    assert abs(ratio - 8.3e-9) < 1e-12
    assert w1_rank(W1[:, :1] @ torch.ones(1, 2, dtype=torch.float64))[0] == 1  # a true rank-1 W_1
