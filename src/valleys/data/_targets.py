"""Target maps shared by the synthetic generators: a random linear map and a teacher net."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .._validation import check_choice
from ._args import randn

LEAKY_SLOPE = 0.1
"""Negative slope of the teacher's ``"leaky_relu"`` (the thesis' chapter-5 value)."""

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, LEAKY_SLOPE),
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "softplus": F.softplus,
    "elu": F.elu,
    "identity": lambda z: z,
    "square": torch.square,
    "cube": lambda z: z**3,
}


def get_teacher_activation(name: str, where: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Look up a teacher activation by name (InvalidParameterError if unknown)."""
    return ACTIVATIONS[check_choice(name, "activation", where, ACTIVATIONS)]


def linear_map(d: int, out_dim: int, gen: torch.Generator) -> torch.Tensor:
    """A random ``(out_dim, d)`` matrix with N(0, 1/d) entries."""
    return randn((out_dim, d), gen) / math.sqrt(d)


def add_noise(y: torch.Tensor, noise: float, gen: torch.Generator) -> torch.Tensor:
    """Add i.i.d. N(0, noise^2) noise (a no-op draw-free path when ``noise == 0``)."""
    return y if noise == 0.0 else y + noise * randn(tuple(y.shape), gen)


def teacher_forward(X: torch.Tensor, W1: torch.Tensor, b1: torch.Tensor, W2: torch.Tensor,
                    activation: str) -> torch.Tensor:
    """Outputs ``s(X W1^T + b1) W2^T`` of a one-hidden-layer teacher, shape ``(N, out_dim)``."""
    return ACTIVATIONS[activation](X @ W1.T + b1) @ W2.T
