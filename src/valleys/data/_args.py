"""Argument checks shared by the generators."""

from __future__ import annotations

import numbers

import torch

from .._validation import check_generator
from ..errors import InvalidParameterError


def seed_generator(seed, where: str) -> torch.Generator:
    """Check ``seed`` (int, ``torch.Generator`` or None) and return a CPU generator."""
    if seed is None or isinstance(seed, torch.Generator):
        return check_generator(seed)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        msg = (f"The 'seed' parameter of {where} must be an int >= 0, a torch.Generator "
               f"or None. Got {seed!r} instead.")
        raise InvalidParameterError(msg)
    return check_generator(int(seed))


def seed_int(seed, where: str) -> int:
    """Check ``seed`` and return it as an int (for libraries that take integer seeds)."""
    if isinstance(seed, torch.Generator):
        return int(torch.randint(0, 2**31 - 1, (1,), generator=seed))
    seed_generator(seed, where)
    return 0 if seed is None else int(seed)


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


def check_bool(value, name: str, where: str) -> bool:
    """Return ``value`` after checking that it is a bool."""
    if not isinstance(value, bool):
        msg = f"The '{name}' parameter of {where} must be a bool. Got {value!r} instead."
        raise InvalidParameterError(msg)
    return value
