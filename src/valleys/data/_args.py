"""Argument checks shared by the generators."""

from __future__ import annotations

import torch

from .._validation import check_seed


def seed_int(seed, where: str) -> int:
    """Check ``seed`` and return it as an int (for libraries that take integer seeds)."""
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**31 - 1, (1,), generator=seed))
    seed = check_seed(seed, where)
    return 0 if seed is None else seed


def randn(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Standard normal float64 draws."""
    return torch.randn(shape, generator=gen, dtype=torch.float64)


def rand(shape: tuple[int, ...], gen: torch.Generator) -> torch.Tensor:
    """Uniform [0, 1) float64 draws."""
    return torch.rand(shape, generator=gen, dtype=torch.float64)


def squeeze_targets(y: torch.Tensor) -> torch.Tensor:
    """Return ``(N,)`` targets for one output, ``(N, m)`` otherwise (scikit-learn style)."""
    return y[:, 0] if y.shape[1] == 1 else y


def uniform_ball(n: int, d: int, radius: float, gen: torch.Generator) -> torch.Tensor:
    """``n`` points uniform in the closed d-ball of the given radius (float64)."""
    u = randn((n, d), gen)
    u = u / u.norm(dim=1, keepdim=True)
    r = rand((n, 1), gen) ** (1.0 / d)
    return radius * r * u
