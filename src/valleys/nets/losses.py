"""Per-sample losses l(f(x_i), y_i); the landscape sums or averages them.

Every loss maps outputs ``(N, m)`` and targets to a vector ``(N,)`` of per-sample
values, so the reduction (``"mean"`` = 1/N sum, ``"sum"``) stays explicit in
:class:`valleys.Landscape`. All losses here are convex in the outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class Loss:
    """A per-sample loss with its name and the kind of target it expects.

    Args:
        name: short name used in reports.
        fn: ``fn(outputs (N, m), targets) -> (N,)``.
        target: ``"real"`` (targets shaped like the outputs), ``"class"`` (integer
            labels in ``[0, m)``) or ``"sign"`` (labels in {-1, +1}, scalar output).
        convex: whether the loss is convex in the outputs.
    """

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    target: str = "real"
    convex: bool = True

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.fn(outputs, targets)


def _squared(outputs, targets):
    return ((outputs - targets) ** 2).reshape(outputs.shape[0], -1).sum(-1)


def _half_squared(outputs, targets):
    return 0.5 * _squared(outputs, targets)


def _cross_entropy(outputs, targets):
    return F.cross_entropy(outputs, targets, reduction="none")


def _multiclass_hinge(outputs, targets):
    true = outputs.gather(1, targets[:, None])
    margins = torch.clamp(1.0 + outputs - true, min=0.0)
    return margins.sum(1) - 1.0  # the true class contributes max(0, 1) = 1


def _margin(outputs, targets):
    return targets.reshape(-1) * outputs.reshape(outputs.shape[0], -1)[:, 0]


def _logistic(outputs, targets):
    return F.softplus(-_margin(outputs, targets))


def squared(half: bool = False) -> Loss:
    """Squared error ||f(x) - y||^2 per sample (times 1/2 if ``half``).

    With ``reduction="mean"`` this is the mean convention (1/N) sum ||f - y||^2; with
    ``reduction="sum"`` it is Cooper's L = sum ||f - y||^2 (``half=True``: 1/2 ||.||^2).
    """
    return Loss("half_squared" if half else "squared", _half_squared if half else _squared)


def cross_entropy() -> Loss:
    """Softmax cross-entropy with integer class labels."""
    return Loss("cross_entropy", _cross_entropy, target="class")


def multiclass_hinge() -> Loss:
    """Crammer–Singer-style sum of hinges sum_{j != y} max(0, 1 + f_j - f_y)."""
    return Loss("multiclass_hinge", _multiclass_hinge, target="class")


def logistic() -> Loss:
    """Logistic loss log(1 + exp(-y f)) with labels y in {-1, +1} and a scalar output."""
    return Loss("logistic", _logistic, target="sign")


def polynomial_hinge(p: int = 3) -> Loss:
    """Polynomial hinge max(0, 1 - y f)^p (Liang et al.; p >= 3 for their theorem)."""
    if p < 1:
        msg = f"The 'p' parameter of polynomial_hinge must be an int >= 1. Got {p!r} instead."
        raise InvalidParameterError(msg)

    def fn(outputs, targets):
        return torch.clamp(1.0 - _margin(outputs, targets), min=0.0) ** p

    return Loss(f"polynomial_hinge{p}", fn, target="sign")


LOSSES: dict[str, Callable[[], Loss]] = {
    "mse": squared,
    "squared": squared,
    "half_squared": lambda: squared(half=True),
    "ce": cross_entropy,
    "cross_entropy": cross_entropy,
    "hinge": multiclass_hinge,
    "logistic": logistic,
    "polynomial_hinge": polynomial_hinge,
}


def get_loss(loss: str | Loss | Callable) -> Loss:
    """Turn a name, a :class:`Loss` or a callable ``(outputs, targets) -> (N,)`` into a Loss."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in LOSSES:
            msg = f"Unknown loss {loss!r}. Use one of: {', '.join(sorted(LOSSES))}, or pass a callable."
            raise InvalidParameterError(msg)
        return LOSSES[loss]()
    if callable(loss):
        return Loss(getattr(loss, "__name__", "custom"), loss, target="any", convex=False)
    msg = f"loss must be a name, a valleys Loss or a callable. Got {type(loss).__name__}."
    raise InvalidParameterError(msg)
