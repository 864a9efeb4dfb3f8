"""Losses of the basin programs: convex in the scalar prediction, with two derivatives.

Safran & Shamir's two-layer section has a scalar output, so the cross-entropy is the
binary one: with a logit ``p`` and a label ``y`` in {-1, +1} it is ``log(1 + e^{-y p})``
(the logistic loss); ``"cross_entropy"`` takes labels in {0, 1} and maps them to ±1.
Objectives are means over the m samples (the document's ``L_S = (1/m) sum_t l``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from ..core.losses import Loss
from ..errors import DataError, InvalidParameterError

CONVEX_LOSSES = ("squared", "logistic", "cross_entropy")
_ALIASES = {"squared": "squared", "mse": "squared", "logistic": "logistic",
            "cross_entropy": "cross_entropy", "ce": "cross_entropy"}


@dataclass(frozen=True)
class ScalarLoss:
    """A loss ``l(p, y)`` of a scalar prediction, convex in ``p``.

    Attributes:
        name: ``"squared"`` \\((p - y)^2\\) or ``"logistic"`` \\(\\log(1 + e^{-y p})\\)
            (labels ±1).
    """

    name: str

    def value(self, p: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The loss per sample.

        Args:
            p: Predictions ``(m,)``.
            y: Targets ``(m,)``.

        Returns:
            ``l(p_t, y_t)`` per sample, shape ``(m,)``.
        """
        if self.name == "squared":
            return (p - y) ** 2
        return np.logaddexp(0.0, -y * p)

    def derivatives(self, p: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and second derivatives in ``p``.

        Args:
            p: Predictions ``(m,)``.
            y: Targets ``(m,)``.

        Returns:
            ``(l', l'')`` per sample: \\(2(p - y), 2\\) for the squared loss and
            \\(-y \\sigma(-y p), \\sigma(-y p)(1 - \\sigma(-y p))\\) for the logistic one.
        """
        if self.name == "squared":
            return 2.0 * (p - y), np.full_like(p, 2.0)
        s = expit(-y * p)
        return -y * s, s * (1.0 - s)

    def mean(self, p: np.ndarray, y: np.ndarray) -> float:
        """The objective \\(\\frac1m \\sum_t l(p_t, y_t)\\).

        Args:
            p: Predictions ``(m,)``.
            y: Targets ``(m,)``.

        Returns:
            The mean loss.
        """
        return float(self.value(p, y).mean())


def get_scalar_loss(loss, y: np.ndarray, where: str) -> tuple[ScalarLoss, np.ndarray]:
    """Resolve ``loss`` (a name or a valleys :class:`Loss`) and return it with the targets it uses.

    Args:
        loss: ``"squared"``/``"mse"``, ``"logistic"``, ``"cross_entropy"``/``"ce"``, or a
            valleys :class:`Loss` of one of these.
        y: Targets ``(m,)``.
        where: The caller's name, for messages.

    Returns:
        ``(ScalarLoss, y)``: the loss, and the targets it uses (0/1 labels of the binary
        cross-entropy mapped to ±1).

    Raises:
        InvalidParameterError: If the loss is not convex in the prediction or not supported.
        DataError: If the targets do not fit the loss (labels other than ±1 or 0/1).
    """
    if isinstance(loss, Loss):
        if not loss.convex:
            msg = (f"The loss of {where} must be convex in the prediction (Safran-Shamir's setting); "
                   f"{loss.name!r} is not. Use one of {', '.join(CONVEX_LOSSES)}.")
            raise InvalidParameterError(msg)
        loss = loss.name
    if callable(loss) and not isinstance(loss, str):
        msg = (f"The loss of {where} must be convex in the prediction; a plain callable is not known "
               f"to be. Use one of {', '.join(CONVEX_LOSSES)}.")
        raise InvalidParameterError(msg)
    if loss not in _ALIASES:
        msg = (f"The loss of {where} must be one of {', '.join(CONVEX_LOSSES)} (convex in the "
               f"prediction, with a basin program). Got {loss!r} instead.")
        raise InvalidParameterError(msg)
    name = _ALIASES[loss]
    if name == "logistic" and not np.isin(y, (-1.0, 1.0)).all():
        msg = f"The logistic loss of {where} takes labels in {{-1, +1}}. Got values {np.unique(y)[:5].tolist()}."
        raise DataError(msg)
    if name == "cross_entropy":
        if not np.isin(y, (0.0, 1.0)).all():
            msg = (f"The binary cross-entropy of {where} takes labels in {{0, 1}}. "
                   f"Got values {np.unique(y)[:5].tolist()}.")
            raise DataError(msg)
        y = 2.0 * y - 1.0
    return ScalarLoss("squared" if name == "squared" else "logistic"), y
