"""Gaussian inputs with targets from a random linear map."""

from __future__ import annotations

import torch

from .._validation import check_float, check_generator, check_int
from ._args import randn, squeeze_targets
from ._targets import add_noise, linear_map
from .dataset import Dataset


def gaussian(n: int, d: int, *, seed: int | torch.Generator | None = 0, std: float = 1.0,
             out_dim: int = 1, noise: float = 0.0) -> Dataset:
    """Gaussian regression data ``x ~ N(0, std^2 I_d)``, ``y = W x + noise * eps``.

    .. math::
        x_i \\sim \\mathcal N(0, \\mathrm{std}^2 I_d), \\quad
        y_i = W x_i + \\mathrm{noise}\\,\\varepsilon_i, \\quad W_{jk} \\sim \\mathcal N(0, 1/d).

    Args:
        n: Number of samples N >= 1.
        d: Input dimension >= 1.
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        std: Standard deviation of every input coordinate, > 0.
        out_dim: Number of regression outputs m >= 1.
        noise: Standard deviation of additive target noise, >= 0.

    Returns:
        A regression :class:`Dataset`; ``y`` has shape ``(N,)`` when ``out_dim == 1``
        and ``(N, m)`` otherwise; ``meta["weights"]`` is ``W`` of shape ``(m, d)``.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.

    Example:
        >>> ds = gaussian(5, 3, seed=0)
        >>> ds.X.shape, ds.y.shape
        (torch.Size([5, 3]), torch.Size([5]))
    """
    where = "gaussian"
    n = check_int(n, "n", where, min_val=1)
    d = check_int(d, "d", where, min_val=1)
    out_dim = check_int(out_dim, "out_dim", where, min_val=1)
    std = check_float(std, "std", where, min_val=0.0, open_min=True)
    noise = check_float(noise, "noise", where, min_val=0.0)
    gen = check_generator(seed, where)
    X = std * randn((n, d), gen)
    W = linear_map(d, out_dim, gen)
    y = add_noise(X @ W.T, noise, gen)
    meta = {"weights": W, "std": std, "noise": noise, "out_dim": out_dim}
    return Dataset(X, squeeze_targets(y), "gaussian", "regression", meta)
