"""Construction-time checks of a landscape: model outputs against targets, one forward pass.

:func:`conform_targets` is called once per batch when a :class:`~valleys.Landscape` is
built. It compares the targets with the model's outputs on the first batch and the loss's
expectations (shapes, class labels in range, signs), reshapes targets where the intent is
unambiguous (``(N,)`` targets of a one-output model become ``(N, 1)``), and otherwise
raises a :class:`~valleys.errors.ShapeError` or :class:`~valleys.errors.DataError` that
names both shapes. Nothing is broadcast silently.
"""

from __future__ import annotations

import torch

from ..errors import DataError, InvalidParameterError, ShapeError
from .losses import Loss, TorchLoss


def _shape(t: torch.Tensor) -> str:
    return str(tuple(t.shape))


def _looks_like_labels(Y: torch.Tensor) -> bool:
    if not Y.is_floating_point():
        return True
    return bool(Y.numel() and torch.all(Y == Y.round()) and Y.min() >= 0)


def _mismatch(loss: Loss, Y: torch.Tensor, out: torch.Tensor, batch: int, hint: str = "") -> ShapeError:
    where = f" (batch {batch})" if batch else ""
    msg = (f"Targets of shape {_shape(Y)} do not match the model's outputs of shape {_shape(out)} "
           f"under loss {loss.name!r}{where}: give targets shaped like the outputs.{hint}")
    return ShapeError(msg)


def _check_labels(Y: torch.Tensor, n_classes: int, loss: Loss, batch: int, ignore: int | None = None) -> None:
    valid = Y if ignore is None else Y[Y != ignore]
    bad = (valid < 0) | (valid >= n_classes)
    if bool(bad.any()):
        value = int(valid[bad][0])
        index = int(torch.nonzero((Y == value).reshape(-1))[0])
        where = f" of batch {batch}" if batch else ""
        msg = (f"Class label {value} (sample {index}{where}) is outside [0, {n_classes}) for a model with "
               f"{n_classes} outputs under loss {loss.name!r}: relabel the classes as 0..{n_classes - 1} "
               f"or give the model one output per class.")
        raise DataError(msg)


def as_matrix(out: torch.Tensor) -> torch.Tensor:
    """Outputs as an ``(N, m)`` matrix (a 1-D output is one column).

    Args:
        out: the model's outputs, (N,) or (N, m).

    Returns:
        The outputs as (N, m).
    """
    if out.ndim == 1:
        return out[:, None]
    return out.reshape(out.shape[0], -1) if out.ndim > 2 else out


def conform_targets(loss: Loss, out: torch.Tensor, Y: torch.Tensor, dtype: torch.dtype,
                    batch: int = 0) -> torch.Tensor:
    """Check targets ``Y`` of one batch against the model's outputs ``out``; return them conformed.

    Args:
        loss: the landscape's loss.
        out: the model's raw outputs on the first batch (only their non-batch shape is used).
        Y: the batch's targets as prepared by :func:`~valleys.core.data_source.prepare_batch`.
        dtype: the landscape's floating dtype.
        batch: batch index, for messages.

    Raises:
        ShapeError: targets and outputs do not match for this loss.
        DataError: class labels outside ``[0, m)`` or sign labels outside {-1, +1}.

    Returns:
        The targets, shaped and typed as the loss needs them.
    """
    N = Y.shape[0]
    mat = as_matrix(out)
    m = mat.shape[1]
    lead = (N,) + tuple(out.shape[1:])
    if isinstance(loss, TorchLoss):
        return _conform_torch(loss, out, Y, dtype, batch)
    if loss.target == "class":
        if m < 2:
            msg = (f"Loss {loss.name!r} needs one output per class (at least 2); the model has {m} output(s), "
                   f"shape {_shape(out)}. Use loss='logistic' for labels in {{-1, +1}} with one output.")
            raise ShapeError(msg)
        _check_labels(Y, m, loss, batch)
        return Y
    if loss.target == "sign":
        if m != 1 or Y.reshape(N, -1).shape[1] != 1:
            raise _mismatch(loss, Y, torch.empty(lead), batch,
                            " A sign loss needs one output and one label in {-1, +1} per sample.")
        if not bool(torch.all((Y == 1) | (Y == -1))):
            value = float(Y[(Y != 1) & (Y != -1)][0])
            msg = f"Loss {loss.name!r} needs labels in {{-1, +1}}. Got {value!r}: map the classes to -1 and +1."
            raise DataError(msg)
        return Y.reshape(N, 1)
    if loss.target == "any":
        return Y[:, None] if Y.ndim == 1 else Y
    # "real": targets shaped like the outputs
    if Y.ndim == 1:
        if m == 1:
            return Y[:, None]
        hint = (" Y looks like integer class labels: use loss='ce' (or one-hot encode them for a squared loss)."
                if _looks_like_labels(Y) else "")
        raise _mismatch(loss, Y, torch.empty(lead), batch, hint)
    if Y.reshape(N, -1).shape[1] != m or (Y.ndim > 2 and tuple(Y.shape[1:]) != tuple(out.shape[1:])):
        raise _mismatch(loss, Y, torch.empty(lead), batch)
    return Y.reshape(N, m)


def _conform_torch(loss: TorchLoss, out: torch.Tensor, Y: torch.Tensor, dtype: torch.dtype,
                   batch: int) -> torch.Tensor:
    N = Y.shape[0]
    lead = (N,) + tuple(out.shape[1:])
    shown = torch.empty(lead)
    if loss.class_targets and not Y.is_floating_point():
        if out.ndim < 2 or tuple(Y.shape[1:]) != tuple(out.shape[2:]):
            raise _mismatch(loss, Y, shown, batch,
                            f" {loss.name} takes class indices of shape (N,) for outputs (N, C)"
                            f" (or (N, d1, ...) for outputs (N, C, d1, ...)).")
        ignore = getattr(loss.module, "ignore_index", None)
        _check_labels(Y, int(out.shape[1]), loss, batch, ignore)
        return Y
    if loss.class_targets and out.ndim >= 2 and tuple(Y.shape) == lead and Y.shape[0] == N:
        if not isinstance(loss.module, torch.nn.CrossEntropyLoss):
            raise _mismatch(loss, Y, shown, batch, f" {loss.name} takes integer class indices.")
        return Y.to(dtype)  # class probabilities
    Y = Y.to(dtype) if not Y.is_floating_point() else Y
    if Y.ndim == 1 and out.ndim == 2 and out.shape[1] == 1:
        Y = Y[:, None]
    if tuple(Y.shape) != lead:
        hint = ""
        if loss.class_targets:
            hint = f" {loss.name} takes integer class indices (N,) or class probabilities shaped like the outputs."
        elif Y.ndim == 1 and _looks_like_labels(Y):
            hint = " Y looks like integer class labels: use nn.CrossEntropyLoss() or loss='ce'."
        raise _mismatch(loss, Y, shown, batch, hint)
    return Y


def check_loss_values(loss: Loss, values: torch.Tensor, n: int) -> None:
    """Refuse a loss whose output on a batch of n samples is not a vector of n per-sample values.

    Args:
        loss: the landscape's loss.
        values: its output on the batch.
        n: the batch's number of samples.

    Raises:
        ShapeError: if ``values`` is not a vector of n per-sample values.
    """
    if not isinstance(values, torch.Tensor):
        msg = (f"The loss {loss.name!r} returned {type(values).__name__}; it must return a tensor of "
               f"per-sample losses, shape ({n},).")
        raise InvalidParameterError(msg)
    if values.ndim == 0:
        msg = (f"The loss {loss.name!r} returned one number (a 0-d tensor); valleys needs per-sample losses: "
               f"return a tensor of shape ({n},), e.g. with reduction='none', and let Landscape(reduction=...) "
               f"average or sum them.")
        raise InvalidParameterError(msg)
    if tuple(values.shape) != (n,):
        msg = (f"The loss {loss.name!r} returned shape {_shape(values)} for a batch of {n} samples; it must "
               f"return per-sample losses of shape ({n},).")
        raise ShapeError(msg)
