"""Realizable regression data: targets from a random one-hidden-layer teacher network."""

from __future__ import annotations

import math

import torch

from .._validation import check_bool, check_float, check_generator, check_int
from ._args import randn, squeeze_targets
from ._targets import add_noise, get_teacher_activation, teacher_forward
from .dataset import Dataset


def teacher(n: int, d: int, width: int, *, activation: str = "relu", out_dim: int = 1,
            seed: int | torch.Generator | None = 0, bias: bool = False,
            noise: float = 0.0) -> Dataset:
    """Gaussian inputs labelled by a random teacher ``y = W2 s(W1 x + b1) + noise * eps``.

    The teacher is a plain torch computation (not a :mod:`valleys.nets` model), with
    ``W1 ~ N(0, 1/d)`` of shape ``(width, d)``, ``b1 ~ N(0, 1)`` when ``bias`` (else 0)
    and ``W2 ~ N(0, 1/width)`` of shape ``(out_dim, width)``. With ``noise == 0`` the
    targets are exactly realizable by a width-``width`` student of the same activation.

    Args:
        n: Number of samples N >= 1.
        d: Input dimension >= 1.
        width: Number of hidden teacher units >= 1.
        activation: One of ``relu``, ``leaky_relu`` (slope 0.1), ``tanh``, ``sigmoid``,
            ``softplus``, ``elu``, ``identity``, ``square``, ``cube``.
        out_dim: Number of outputs m >= 1.
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        bias: Whether the hidden layer has a random bias.
        noise: Standard deviation of additive target noise, >= 0.

    Returns:
        A regression :class:`Dataset` with ``meta`` holding ``W1``, ``b1``, ``W2`` and
        ``activation``; ``y`` has shape ``(N,)`` when ``out_dim == 1``.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
    """
    where = "teacher"
    n = check_int(n, "n", where, min_val=1)
    d = check_int(d, "d", where, min_val=1)
    width = check_int(width, "width", where, min_val=1)
    out_dim = check_int(out_dim, "out_dim", where, min_val=1)
    get_teacher_activation(activation, where)
    bias = check_bool(bias, "bias", where)
    noise = check_float(noise, "noise", where, min_val=0.0)
    gen = check_generator(seed, where)
    X = randn((n, d), gen)
    W1 = randn((width, d), gen) / math.sqrt(d)
    b1 = randn((width,), gen) if bias else torch.zeros(width, dtype=torch.float64)
    W2 = randn((out_dim, width), gen) / math.sqrt(width)
    y = add_noise(teacher_forward(X, W1, b1, W2, activation), noise, gen)
    meta = {"W1": W1, "b1": b1, "W2": W2, "activation": activation, "width": width,
            "bias": bias, "noise": noise, "out_dim": out_dim}
    return Dataset(X, squeeze_targets(y), "teacher", "regression", meta)
