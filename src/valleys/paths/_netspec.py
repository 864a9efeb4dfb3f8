"""What a path certificate needs to know about a landscape's network.

A :class:`NetSpec` reads a :class:`~valleys.Landscape` built on a valleys ``MLP`` or
``TwoLayer`` net: the layers as (weight, bias) names, the activation objects and the
loss. Landscapes of other models (plain functions, user modules) have no spec; their
paths can only be certified by sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..nets.activations import Activation
from ..nets.models import MLP, TwoLayer

#: Losses whose value is a polynomial of the outputs (exact certificates).
POLY_LOSSES = {"squared": 1.0, "half_squared": 0.5}
#: Losses with a known bound on the second derivative in the outputs (bound certificates).
BOUND_LOSSES = ("squared", "half_squared", "cross_entropy", "logistic")


@dataclass(frozen=True, eq=False)
class NetSpec:
    """Layers, activations, data and loss of a landscape's network.

    Attributes:
        weights: names of the weight blocks, layer 1 first (shapes (m_k, m_{k-1}) after
            :meth:`layer`).
        biases: names of the bias blocks (None where a layer has none).
        acts: one activation per hidden layer.
        loss: the loss name.
        X, Y: all inputs and targets.
        scale: 1/N for ``reduction="mean"``, 1 for ``"sum"``.
    """

    weights: tuple[str, ...]
    biases: tuple[str | None, ...]
    acts: tuple[Activation, ...]
    loss: str
    X: torch.Tensor
    Y: torch.Tensor
    scale: float

    @property
    def depth(self) -> int:
        return len(self.weights)

    def layer(self, blocks: dict[str, torch.Tensor], k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(W_k (m_k, m_{k-1}), b_k or None) for layer k = 0 .. depth - 1."""
        W = blocks[self.weights[k]]
        if W.ndim == 1:  # TwoLayer's output weights v (n,)
            W = W[None, :]
        b = blocks[self.biases[k]] if self.biases[k] is not None else None
        return W, b


def net_spec(land) -> NetSpec | None:
    """The :class:`NetSpec` of ``land``, or None when its model is not a valleys MLP / TwoLayer."""
    module = getattr(land, "module", None)
    if module is None or land.loss_fn is None:
        return None
    if isinstance(module, MLP):
        L = module.depth
        weights = tuple(f"W{i}" for i in range(1, L + 1))
        biases = tuple(f"b{i}" if module.bias else None for i in range(1, L + 1))
        acts = tuple(module.acts)
    elif isinstance(module, TwoLayer):
        weights = ("W", "v")
        biases = ("b" if module.bias else None, None)
        acts = (module.act,)
    else:
        return None
    if not all(isinstance(a, Activation) for a in acts):
        return None
    X = land.inputs()
    Y = land.targets()
    return NetSpec(weights, biases, acts, land.loss_fn.name, X, Y, float(land._scale))


def piecewise_kind(act: Activation) -> tuple[str, object] | None:
    """How the exact engine applies ``act``: ("pl", slope for t < 0), ("poly", coeffs), ("requ", None)."""
    if act.name == "relu":
        return "pl", 0.0
    if act.name.startswith("leaky_relu"):
        return "pl", float(-act(torch.tensor(-1.0, dtype=torch.float64)))
    if act.name in ("identity", "linear"):
        return "pl", 1.0
    if act.name == "requ":
        return "requ", None
    coeffs = getattr(act, "coefficients", None)
    if coeffs is not None:
        return "poly", tuple(float(c) for c in coeffs)
    return None
