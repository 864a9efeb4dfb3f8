"""Training: one network (:func:`fit`: gd, sgd, lbfgs) or many small ones at once (:func:`fit_stack`)."""

from ._common import SCHEDULES, lr_at
from .batched import BatchTrainResult, MLPStack, fit_batch, fit_stack
from .fit import METHODS, TrainResult, fit

__all__ = [
    # one network
    "fit", "TrainResult", "METHODS", "SCHEDULES", "lr_at",
    # many networks
    "MLPStack", "fit_stack", "fit_batch", "BatchTrainResult",
]
