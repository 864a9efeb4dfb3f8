"""Per-sample losses l(f(x_i), y_i); the landscape sums or averages them.

Every loss maps outputs ``(N, m)`` and targets to a vector ``(N,)`` of per-sample
values, so the reduction (``"mean"`` = 1/N sum, ``"sum"``) stays explicit in
:class:`valleys.Landscape`. All losses here are convex in the outputs.

torch loss modules (``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, ...) are accepted too
(:func:`from_torch`): they are evaluated per sample on a copy with ``reduction="none"``
and reduced over the non-batch dimensions the way the module's own reduction does, so a
landscape of ``nn.MSELoss()`` equals ``nn.MSELoss()(model(X), Y)``.

Exact torch equivalents of the named losses (outputs ``f`` of shape ``(N, m)``):

=====================  ===========================================================
valleys name           torch equivalent (landscape reduction ``"mean"``)
=====================  ===========================================================
``"mse"``              ``m * F.mse_loss(f, y)`` (per-sample sum over the m outputs)
``"half_squared"``     ``m / 2 * F.mse_loss(f, y)``
``"ce"``               ``F.cross_entropy(f, y)`` (integer labels)
``"hinge"``            ``m * F.multi_margin_loss(f, y)`` (sum over j != y)
``"logistic"``         ``F.soft_margin_loss(f[:, 0], y)`` (labels in {-1, +1})
``nn.MSELoss()``       ``nn.MSELoss()(f, y)`` exactly
=====================  ===========================================================
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidParameterError, ShapeError


@dataclass(frozen=True)
class Loss:
    """A per-sample loss with its name and the kind of target it expects.

    Args:
        name: short name used in reports.
        fn: ``fn(outputs (N, m), targets) -> (N,)``.
        target: ``"real"`` (targets shaped like the outputs), ``"class"`` (integer
            labels in ``[0, m)``), ``"sign"`` (labels in {-1, +1}, scalar output),
            ``"torch"`` (a torch loss module: integer targets stay integers, real
            targets take the landscape's dtype) or ``"any"`` (a user callable).
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

    Args:
        half: the factor 1/2.

    Returns:
        The :class:`Loss`.
    """
    return Loss("half_squared" if half else "squared", _half_squared if half else _squared)


def cross_entropy() -> Loss:
    """Softmax cross-entropy with integer class labels.

    Returns:
        The :class:`Loss`.
    """
    return Loss("cross_entropy", _cross_entropy, target="class")


def multiclass_hinge() -> Loss:
    """Crammer–Singer-style sum of hinges sum_{j != y} max(0, 1 + f_j - f_y).

    Returns:
        The :class:`Loss`.
    """
    return Loss("multiclass_hinge", _multiclass_hinge, target="class")


def logistic() -> Loss:
    """Logistic loss log(1 + exp(-y f)) with labels y in {-1, +1} and a scalar output.

    Returns:
        The :class:`Loss`.
    """
    return Loss("logistic", _logistic, target="sign")


def polynomial_hinge(p: int = 3) -> Loss:
    """Polynomial hinge max(0, 1 - y f)^p (Liang et al.; p >= 3 for their theorem).

    Args:
        p: the power, an int >= 1.

    Returns:
        The :class:`Loss`.

    Raises:
        InvalidParameterError: if p is not an int >= 1.
    """
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


#: torch loss modules whose targets are class indices (or, for cross-entropy, probabilities).
_CLASS_MODULES = (nn.CrossEntropyLoss, nn.NLLLoss, nn.MultiMarginLoss)


@dataclass(frozen=True)
class TorchLoss(Loss):
    """A torch loss module evaluated per sample (see :func:`from_torch`).

    Args:
        name: short name used in reports (the module's class name).
        fn: ``fn(outputs (N, m), targets) -> (N,)``, the module's values reduced per sample.
        target: ``"torch"``: integer targets stay integers, real targets take the landscape's dtype.
        convex: whether the loss is convex in the outputs.
        module: a copy of the user's module with ``reduction="none"``.
        inner: how the elementwise values of one sample are reduced: ``"mean"`` (the
            module's reduction was ``"mean"``, ``"none"`` or ``"batchmean"``) or ``"sum"``.
        reduction: the module's own reduction (the landscape takes it when its own
            ``reduction`` is not given: ``"sum"`` stays ``"sum"``, anything else is ``"mean"``).
    """

    module: nn.Module | None = None
    inner: str = "mean"
    reduction: str = "mean"

    @property
    def class_targets(self) -> bool:
        """Whether the module takes class indices as targets."""
        return isinstance(self.module, _CLASS_MODULES)


def from_torch(module: nn.Module) -> TorchLoss:
    """Wrap a torch loss module (``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, ...) as a per-sample loss.

    The module is copied with ``reduction="none"``; the per-sample value is the mean (or,
    for a module built with ``reduction="sum"``, the sum) of its elementwise values over
    every non-batch dimension, so that (1/N) sum_i l_i equals the module's own mean over
    all elements. Class weights of ``nn.CrossEntropyLoss``/``nn.NLLLoss`` change torch's
    mean into a weighted mean and are refused (pass ``reduction="sum"`` to the module and
    the landscape to use them).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> f, y = torch.randn(5, 3), torch.randn(5, 3)
        >>> loss = from_torch(nn.MSELoss())
        >>> bool(torch.allclose(loss(f, y).mean(), nn.MSELoss()(f, y)))
        True

    Args:
        module: a torch loss module.

    Returns:
        The :class:`TorchLoss`.

    Raises:
        InvalidParameterError: for a module without a ``reduction`` attribute, class weights
            with the mean, or a module that returns a scalar with ``reduction="none"``.
    """
    reduction = getattr(module, "reduction", "mean")
    if not hasattr(module, "reduction"):
        msg = (f"{type(module).__name__} has no 'reduction' attribute, so valleys cannot take its "
               f"per-sample values. Pass a callable (outputs, targets) -> per-sample losses (N,) instead.")
        raise InvalidParameterError(msg)
    if isinstance(module, nn.CrossEntropyLoss | nn.NLLLoss) and module.weight is not None and reduction != "sum":
        msg = (f"{type(module).__name__}(weight=...) with reduction={reduction!r} divides by the summed "
               f"class weights, not by N. Build it with reduction='sum' and use Landscape(..., reduction='sum'), "
               f"or drop the weights.")
        raise InvalidParameterError(msg)
    copy_ = copy.deepcopy(module)
    copy_.reduction = "none"
    inner = "sum" if reduction == "sum" else "mean"

    def fn(outputs, targets):
        values = copy_(outputs, targets)
        if values.ndim == 0:
            msg = f"{type(module).__name__} returned a scalar with reduction='none'; it cannot be evaluated per sample."
            raise ShapeError(msg)
        flat = values.reshape(values.shape[0], -1)
        return flat.sum(1) if inner == "sum" else flat.mean(1)

    return TorchLoss(type(module).__name__, fn, target="torch", convex=False, module=copy_, inner=inner,
                     reduction=reduction)


def get_loss(loss: str | Loss | Callable) -> Loss:
    """Turn a name, a :class:`Loss`, a torch loss module or a callable ``(outputs, targets) -> (N,)`` into a Loss.

    Args:
        loss: a name (``"mse"``, ``"ce"``, ...), a :class:`Loss`, a torch loss module or a callable.

    Returns:
        The :class:`Loss`.

    Raises:
        InvalidParameterError: for an unknown name, a loss class instead of an instance, or another type.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, type) and issubclass(loss, nn.Module):
        msg = f"loss must be an instance, not the class {loss.__name__}: write loss={loss.__name__}()."
        raise InvalidParameterError(msg)
    if isinstance(loss, nn.modules.loss._Loss):
        return from_torch(loss)
    if isinstance(loss, str):
        if loss not in LOSSES:
            msg = f"Unknown loss {loss!r}. Use one of: {', '.join(sorted(LOSSES))}, or pass a callable."
            raise InvalidParameterError(msg)
        return LOSSES[loss]()
    if callable(loss):
        return Loss(getattr(loss, "__name__", "custom"), loss, target="any", convex=False)
    msg = f"loss must be a name, a valleys Loss or a callable. Got {type(loss).__name__}."
    raise InvalidParameterError(msg)
