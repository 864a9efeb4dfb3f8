"""Training: one network (:func:`fit`: gd, sgd, lbfgs) or many small ones at once (:func:`fit_stack`)."""

from ._common import (
    DIVERGED,
    GRAD_TOL,
    LOSS_TARGET,
    NO_PROGRESS,
    SCHEDULES,
    STEPS_DONE,
    ZERO_ERROR,
    lr_at,
)
from .batched import BatchTrainResult, MLPStack, fit_batch, fit_stack
from .fit import METHODS, TrainResult, fit

__all__ = [
    # one network
    "fit", "TrainResult", "METHODS", "SCHEDULES", "lr_at",
    # stop reasons (TrainResult.reason)
    "STEPS_DONE", "ZERO_ERROR", "LOSS_TARGET", "GRAD_TOL", "DIVERGED", "NO_PROGRESS",
    # many networks
    "MLPStack", "fit_stack", "fit_batch", "BatchTrainResult",
]
