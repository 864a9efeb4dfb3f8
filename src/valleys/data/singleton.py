"""Singleton data of Safran & Shamir Thm 2: every point has exactly one nonzero coordinate."""

from __future__ import annotations

import torch

from .._validation import check_float, check_generator, check_int
from ..errors import InvalidParameterError
from ._args import rand, randn
from .dataset import Dataset


def singleton(n: int, d: int, *, seed: int | torch.Generator | None = 0,
              low: float = 0.5, high: float = 1.5) -> Dataset:
    """``n`` singleton points ``x_t = s_t a_t e_{j_t}`` in ``R^d`` with Gaussian targets.

    Safran & Shamir (Thm 2) only require each ``x_t`` to be a singleton (one nonzero
    coordinate) and allow any targets; they give no distribution. Here the coordinates
    ``j_t`` of the first ``min(n, d)`` points are a random permutation (so every
    coordinate is used once ``n >= d``) and the rest are uniform; signs ``s_t`` are
    uniform on ``{-1, +1}``; magnitudes ``a_t ~ U[low, high)`` with ``low > 0`` keep the
    nonzero coordinate bounded away from 0; targets ``y_t ~ N(0, 1)``.

    Args:
        n: Number of samples N >= 1.
        d: Input dimension >= 1.
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        low: Smallest magnitude of the nonzero coordinate, > 0.
        high: Largest magnitude, > ``low``.

    Returns:
        A regression :class:`Dataset`; ``meta["coordinate"]`` (N,) int64 holds ``j_t``.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
    """
    where = "singleton"
    n = check_int(n, "n", where, min_val=1)
    d = check_int(d, "d", where, min_val=1)
    low = check_float(low, "low", where, min_val=0.0, open_min=True)
    high = check_float(high, "high", where, min_val=low, open_min=True)
    gen = check_generator(seed, where)
    first = torch.randperm(d, generator=gen)[: min(n, d)]
    rest = torch.randint(0, d, (n - len(first),), generator=gen)
    coordinate = torch.cat([first, rest])
    sign = 2.0 * torch.randint(0, 2, (n,), generator=gen).to(torch.float64) - 1.0
    value = sign * (low + (high - low) * rand((n,), gen))
    X = torch.zeros(n, d, dtype=torch.float64)
    X[torch.arange(n), coordinate] = value
    y = randn((n,), gen)
    meta = {"coordinate": coordinate, "low": low, "high": high}
    return Dataset(X, y, "singleton", "regression", meta)


def auer_singleton(d: int, *, targets: tuple[float, float] = (1.0, 2.0)) -> Dataset:
    """The Auer-type singleton set ``{(e_i, t_+), (-e_i, t_-)}_{i<=d}`` (2d points).

    For one bias-free ReLU neuron and squared loss, coordinate ``i`` of the loss is
    ``([w_i]_+ - t_+)^2 + ([-w_i]_+ - t_-)^2``: two basins (``w_i > 0`` and ``w_i < 0``)
    with minima ``t_-^2`` and ``t_+^2``. With distinct ``t_+ != t_-`` only one of the two
    basins of each coordinate is optimal (the catalogue's ``e_i -> 1, -e_i -> 2`` toy).
    The set is deterministic: it takes no seed.

    Args:
        d: Input dimension >= 1.
        targets: ``(t_+, t_-)``, the targets of ``+e_i`` and ``-e_i``, both > 0.

    Returns:
        A regression :class:`Dataset` of 2d rows: ``+e_1..+e_d`` then ``-e_1..-e_d``.

    Raises:
        InvalidParameterError: If ``d`` or ``targets`` is invalid.
    """
    where = "auer_singleton"
    d = check_int(d, "d", where, min_val=1)
    if not isinstance(targets, tuple | list) or len(targets) != 2:
        msg = (f"The 'targets' parameter of {where} must be a pair (t_plus, t_minus). "
               f"Got {targets!r} instead.")
        raise InvalidParameterError(msg)
    t_plus = check_float(targets[0], "targets[0]", where, min_val=0.0, open_min=True)
    t_minus = check_float(targets[1], "targets[1]", where, min_val=0.0, open_min=True)
    eye = torch.eye(d, dtype=torch.float64)
    X = torch.cat([eye, -eye])
    y = torch.cat([torch.full((d,), t_plus), torch.full((d,), t_minus)]).to(torch.float64)
    meta = {"coordinate": torch.cat([torch.arange(d), torch.arange(d)]),
            "targets": (t_plus, t_minus)}
    return Dataset(X, y, "auer_singleton", "regression", meta)
