"""Document 004 (Nguyen thesis), chapter 2: one wide layer makes the features linearly independent.

Shared by the experiments ``nguyen-feature-rank``, ``nguyen-gradient-bounds``,
``nguyen-independent-features``, ``nguyen-zero-loss`` (one module each in this package).

The thesis' Table 2.2 is MNIST (N = 60000, GPU, single precision); the digits analogue
(N = 1797, float64, CPU) can only be compared with it qualitatively: same pattern
(full rank for every T_1), not the same numbers.
"""

from __future__ import annotations

import torch

from ..._validation import check_generator
from ...data import digits

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 2"


def noisy_digits(n: int, noise_std: float, seed: int):
    """Digits (pixels / 16) plus N(0, noise_std^2) noise (Assumption 2.4.1: distinct patches)."""
    ds = digits(n=n, seed=seed)
    gen = check_generator(seed + 1)
    return ds.X + noise_std * torch.randn(ds.X.shape, generator=gen, dtype=torch.float64), ds.y


def one_hot(y: torch.Tensor, m: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, m).to(torch.float64)
