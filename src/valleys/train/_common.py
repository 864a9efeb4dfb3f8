"""Pieces shared by single-network and batched training: schedules, momentum, errors."""

from __future__ import annotations

import sys

import torch
from tqdm import tqdm

from .._validation import check_choice, check_float, check_int
from ..errors import InvalidParameterError

SCHEDULES = ("constant", "step")
#: Fractions of training after which the ``"step"`` schedule divides the rate by 10.
STEP_MILESTONES = (0.5, 0.75)
#: Factor of each ``"step"`` drop.
STEP_FACTOR = 0.1
#: Default norm of theta above which a run counts as diverged.
DEFAULT_BLOWUP = 1e8

# stop reasons
STEPS_DONE = "steps"
ZERO_ERROR = "zero training error"
LOSS_TARGET = "loss target"
GRAD_TOL = "gradient tolerance"
DIVERGED = "diverged"
NO_PROGRESS = "no progress"


def lr_at(lr: float, step: int, total: int, schedule: str) -> float:
    """The learning rate at ``step`` (0-based) of ``total``.

    ``"constant"`` keeps ``lr``; ``"step"`` divides it by 10 at 50% and again at 75% of
    the steps (the schedule of the thesis' chapter-4 experiments).

    Example:
        >>> [round(lr_at(1.0, s, 8, "step"), 12) for s in range(8)]  # 1.0 * 0.1 * 0.1 rounds to 0.010000000000000002
        [1.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    return lr * lr_factor(step, total, schedule)


def lr_factor(step: int, total: int, schedule: str) -> float:
    """The factor of the schedule at ``step``: 1, 0.1 or 0.01 (``"step"``), always 1 (``"constant"``)."""
    if schedule == "constant":
        return 1.0
    drops = sum(step >= int(round(f * total)) for f in STEP_MILESTONES)
    return STEP_FACTOR ** drops


def momentum_step(grad: torch.Tensor, buf: torch.Tensor | None, momentum: float,
                  nesterov: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """PyTorch's SGD momentum: ``buf = mu buf + g``; the step is ``buf`` or ``g + mu buf``."""
    if momentum == 0.0:
        return grad, None
    buf = grad.clone() if buf is None else buf.mul(momentum).add(grad)
    return (grad + momentum * buf if nesterov else buf), buf


def check_optimizer(where: str, lr, momentum: float, nesterov: bool, schedule: str) -> None:
    """Validate the shared optimiser settings (``lr`` may be a float or a tensor of rates)."""
    if isinstance(lr, torch.Tensor):
        if not (torch.isfinite(lr).all() and (lr > 0).all()):
            msg = f"The 'lr' parameter of {where} must hold finite rates > 0. Got {lr.tolist()!r}."
            raise InvalidParameterError(msg)
    else:
        check_float(lr, "lr", where, min_val=0.0, open_min=True)
    check_float(momentum, "momentum", where, min_val=0.0, max_val=1.0)
    if nesterov and momentum == 0.0:
        msg = f"Nesterov momentum in {where} needs momentum > 0. Got momentum=0."
        raise InvalidParameterError(msg)
    check_choice(schedule, "schedule", where, SCHEDULES)


def check_stopping(where: str, steps: int, target_loss, record_every: int) -> int:
    """Validate ``steps``, ``target_loss`` and ``record_every``; return ``steps``."""
    steps = check_int(steps, "steps", where, min_val=0)
    if target_loss is not None:
        check_float(target_loss, "target_loss", where)
    check_int(record_every, "record_every", where, min_val=1)
    return steps


def errors_of(outputs: torch.Tensor, targets: torch.Tensor, target_kind: str) -> torch.Tensor | None:
    """Misclassified samples per network: outputs (..., N, m) -> counts (...).

    Class labels compare with ``argmax``; one-hot (or any m > 1) real targets compare
    ``argmax`` of outputs and targets (the thesis' squared loss on class codes); sign
    labels compare signs. Scalar real targets have no error count (None).
    """
    if target_kind == "class":
        return (outputs.argmax(-1) != targets).sum(-1)
    if target_kind == "sign":
        return (torch.sign(outputs[..., 0]) != targets.reshape(outputs.shape[-2])).sum(-1)
    if outputs.shape[-1] > 1 and targets.shape[-1] == outputs.shape[-1]:
        return (outputs.argmax(-1) != targets.argmax(-1)).sum(-1)
    return None


def bar(total: int, desc: str, show: bool):
    """A tqdm bar on stderr, silent when not a TTY or when ``show`` is False."""
    return tqdm(total=total, desc=desc, leave=False, file=sys.stderr,
                disable=None if show else True)
