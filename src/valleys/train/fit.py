"""Training one network: full-batch gradient descent, SGD with (Nesterov) momentum, L-BFGS,
Levenberg–Marquardt (squared losses).

:func:`fit` takes a :class:`~valleys.Landscape` (or an ``nn.Module`` with its data) and
returns a :class:`TrainResult` with the final flat parameters and a history DataFrame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd
import torch
from torch import nn

from .._validation import check_bool, check_choice, check_float, check_generator, check_int
from ..core import Landscape
from ..core.landscape import _autograd_on
from ..errors import InvalidParameterError
from ..optim import lbfgs
from ._common import (
    DEFAULT_BLOWUP,
    DIVERGED,
    GRAD_TOL,
    LOSS_TARGET,
    NO_PROGRESS,
    STEPS_DONE,
    ZERO_ERROR,
    bar,
    check_optimizer,
    check_stopping,
    errors_of,
    lr_at,
    momentum_step,
)
from .lm import check_lm_loss, levenberg_marquardt

METHODS = ("gd", "sgd", "lbfgs", "lm")


@dataclass(frozen=True, eq=False)
class TrainResult:
    """The end of one training run.

    Attributes:
        theta: final flat parameters (d,).
        history: one row per recorded step: ``step``, ``loss`` (full batch), ``lr``,
            ``grad_norm`` (gd, lbfgs) and ``train_error`` (misclassified samples, when the
            targets define classes).
        reason: why training stopped (``"steps"``, ``"zero training error"``,
            ``"loss target"``, ``"gradient tolerance"``, ``"diverged"``, or ``"no progress"``
            when L-BFGS ends by itself before its budget: no decrease possible in float64).
        steps: updates made (gd), epochs (sgd) or function evaluations (lbfgs).
        loss: final full-batch loss.
        train_error: final misclassified samples (None without classes).
        method: ``"gd"``, ``"sgd"``, ``"lbfgs"`` or ``"lm"``.
    """

    theta: torch.Tensor = field(repr=False)
    history: pd.DataFrame = field(repr=False)
    reason: str
    steps: int
    loss: float
    train_error: int | None
    method: str

    def to_dict(self) -> dict:
        """JSON-able summary of the run.

        Returns:
            The result's fields as plain values, the history as a list of records.
        """
        return {"reason": self.reason, "steps": self.steps, "loss": self.loss,
                "train_error": self.train_error, "method": self.method,
                "history": self.history.to_dict(orient="records")}

    def to_frame(self) -> pd.DataFrame:
        """The history of the run.

        Returns:
            A copy of the history DataFrame (one row per recorded step).
        """
        return self.history.copy()


def fit(model: Landscape | nn.Module, data=None, *, loss: str = "mse", method: str = "gd",
        lr: float = 0.1, steps: int = 1000, momentum: float = 0.0, nesterov: bool = False,
        schedule: str = "constant", batch_size: int | None = None,
        theta0: torch.Tensor | None = None, trainable: Sequence[str] | None = None,
        target_loss: float | None = None, stop_at_zero_error: bool = False,
        grad_tol: float = 0.0, record_every: int = 1, history_size: int = 20,
        blowup: float = DEFAULT_BLOWUP, seed: int | torch.Generator | None = 0,
        progress: bool = True) -> TrainResult:
    r"""Train one network by gradient descent, SGD or L-BFGS.

    Args:
        model: a :class:`~valleys.Landscape`, or an ``nn.Module`` trained on ``data``
            with ``loss`` (a landscape is built, float64).
        data: ``(X, Y)`` when ``model`` is a module.
        loss: loss name when ``model`` is a module (see :class:`~valleys.Landscape`).
        method: ``"gd"`` full-batch (heavy-ball or Nesterov momentum optional), ``"sgd"``
            shuffled mini-batches of ``batch_size`` (one step = one epoch) or ``"lbfgs"``
            (PyTorch's L-BFGS with strong-Wolfe line search; ``lr`` is its initial step,
            one step = one function evaluation) or ``"lm"`` (Levenberg–Marquardt for the
            squared losses, :mod:`valleys.train.lm`: damped Gauss–Newton steps from the
            N·m × N·m output Gram matrix; one step = one trial step; ``lr`` is unused and
            the history's ``lr`` column holds the damping).
        lr: learning rate (> 0).
        steps: updates (gd), epochs (sgd) or function evaluations (lbfgs).
        momentum: heavy-ball momentum ``mu`` in PyTorch's convention ``buf = mu buf + g``
            (0: plain gradient descent).
        nesterov: use Nesterov's look-ahead form of the momentum step.
        schedule: ``"constant"`` or ``"step"`` (divide by 10 at 50% and 75% of ``steps``).
        batch_size: mini-batch size of ``"sgd"``.
        theta0: start (the landscape's ``theta0`` by default).
        trainable: names of the parameter blocks that move (all by default); e.g.
            ``("V",)`` trains only the skip-to-output weights (the thesis' ``rand`` mode).
        target_loss: stop once the full-batch loss is <= this value.
        stop_at_zero_error: stop at zero misclassified training samples.
        grad_tol: stop when the full-batch gradient norm is <= this (gd, lbfgs, lm).
        record_every: record the history every this many steps (the last step always).
        history_size: L-BFGS memory.
        blowup: stop as diverged when ||theta|| exceeds it or the loss is not finite.
        seed: seed of the mini-batch order.
        progress: show a progress bar (stderr, only on a TTY).

    Returns:
        A :class:`TrainResult`.

    Raises:
        InvalidParameterError: for a bad setting, an unknown block name, a module
            without data, or an early stop on errors without class targets.

    Example:
        >>> import torch
        >>> X = torch.randn(20, 3, dtype=torch.float64); Y = X @ torch.ones(3, 1, dtype=torch.float64)
        >>> res = fit(torch.nn.Linear(3, 1), (X, Y), lr=0.1, steps=2000, target_loss=1e-20, progress=False)
        >>> res.reason
        'loss target'
    """
    where = "fit"
    land = _as_landscape(model, data, loss, where)
    method = check_choice(method, "method", where, METHODS)
    check_optimizer(where, lr, momentum, nesterov, schedule)
    steps = check_stopping(where, steps, target_loss, record_every)
    check_float(grad_tol, "grad_tol", where, min_val=0.0)
    check_bool(stop_at_zero_error, "stop_at_zero_error", where)
    history_size = check_int(history_size, "history_size", where, min_val=1)
    mask = _mask(land, trainable, where)
    theta = (land.theta0 if theta0 is None else land._checked(theta0)).detach().clone().to(land.dtype)
    Y = land.targets()
    kind = land.loss_fn.target
    if stop_at_zero_error and errors_of(land.outputs(theta)[:1], Y[:1], kind) is None:
        msg = "stop_at_zero_error needs class labels or vector (one-hot) targets; use target_loss."
        raise InvalidParameterError(msg)
    lm_weight = check_lm_loss(land, where) if method == "lm" else None
    run = _Run(land, Y, kind, target_loss, stop_at_zero_error, grad_tol, blowup, record_every, steps)
    if method == "lm":
        return levenberg_marquardt(run, theta, mask, lm_weight, progress)
    if method == "lbfgs":
        return _lbfgs(run, theta, mask, lr, history_size, progress)
    if method == "sgd":
        if batch_size is None:
            msg = "method='sgd' needs a batch_size (rows per mini-batch)."
            raise InvalidParameterError(msg)
        batch_size = check_int(batch_size, "batch_size", where, min_val=1, max_val=land.n_samples)
    return _first_order(run, theta, mask, method, lr, momentum, nesterov, schedule, batch_size,
                        check_generator(seed, where), progress)


class _Run:
    """Bookkeeping of one run: history rows and the stopping rules."""

    def __init__(self, land, Y, kind, target_loss, zero_error, grad_tol, blowup, every, steps):
        self.land, self.Y, self.kind = land, Y, kind
        self.target_loss, self.zero_error, self.grad_tol = target_loss, zero_error, grad_tol
        self.blowup, self.every, self.steps = blowup, every, steps
        self.rows: list[dict] = []

    def errors(self, theta) -> int | None:
        with torch.no_grad():
            err = errors_of(self.land.outputs(theta), self.Y, self.kind)
        return None if err is None else int(err)

    def check(self, step: int, theta, value: float, gnorm: float | None, lr: float,
              force: bool = False) -> str | None:
        """Record (every ``every`` steps) and return a stop reason or None."""
        need_err = self.zero_error or force or step % self.every == 0
        err = self.errors(theta) if need_err else None
        if force or step % self.every == 0:
            row = {"step": step, "loss": value, "lr": lr}
            if gnorm is not None:
                row["grad_norm"] = gnorm
            if err is not None:
                row["train_error"] = err
            self.rows.append(row)
        if not math.isfinite(value) or float(theta.norm()) > self.blowup:
            return DIVERGED
        if self.target_loss is not None and value <= self.target_loss:
            return LOSS_TARGET
        if self.zero_error and err == 0:
            return ZERO_ERROR
        if gnorm is not None and gnorm <= self.grad_tol:
            return GRAD_TOL
        return None

    def result(self, theta, reason, steps, method, lr) -> TrainResult:
        value = float(self.land.loss(theta))
        if not self.rows or self.rows[-1]["step"] != steps:
            self.check(steps, theta, value, None, lr, force=True)
        last = self.rows[-1]
        return TrainResult(theta.detach(), pd.DataFrame(self.rows), reason, steps, value,
                           last.get("train_error"), method)


def _first_order(run, theta, mask, method, lr, momentum, nesterov, schedule, batch_size, gen,
                 progress) -> TrainResult:
    land, buf, reason, step = run.land, None, STEPS_DONE, 0
    X, Y = land.inputs(), run.Y
    with bar(run.steps, f"fit ({method})", progress) as pbar:
        for step in range(run.steps + 1):
            rate = lr_at(lr, step, run.steps, schedule)
            if method == "gd":
                value, g = land.loss_and_grad(theta)
                reason = run.check(step, theta, float(value), float((g * mask).norm()), rate)
                if reason is not None or step == run.steps:
                    break
                d, buf = momentum_step(g * mask, buf, momentum, nesterov)
                theta = theta - rate * d
            else:
                value = float(land.loss(theta))
                reason = run.check(step, theta, value, None, rate)
                if reason is not None or step == run.steps:
                    break
                for idx in torch.randperm(land.n_samples, generator=gen).split(batch_size):
                    with _autograd_on():
                        leaf = theta.detach().clone().requires_grad_(True)
                        g = torch.autograd.grad(land.loss_on(leaf, X[idx], Y[idx]), leaf)[0]
                    d, buf = momentum_step(g * mask, buf, momentum, nesterov)
                    theta = theta - rate * d
            pbar.update(1)
    return run.result(theta, reason or STEPS_DONE, step, method, lr_at(lr, step, run.steps, schedule))


def _lbfgs(run, theta, mask, lr, history_size, progress) -> TrainResult:
    """torch's strong-Wolfe L-BFGS (:func:`valleys.optim.lbfgs`, ``engine="torch"``) on the
    masked parameters; one step is one function evaluation, checked by ``run``."""
    land = run.land
    pbar = bar(run.steps, "fit (lbfgs)", progress)
    state = {"evals": 0, "reason": STEPS_DONE}

    def check(x, value, g):
        step = state["evals"]
        state["evals"] += 1
        pbar.update(1)
        reason = run.check(step, x, float(value), float(g.norm()), lr)
        if reason is not None:
            state["reason"] = reason
        return reason is not None

    with _autograd_on():
        out = lbfgs(land.loss_and_grad, theta, engine="torch", max_iter=run.steps, max_fun=max(run.steps, 1),
                    lr=lr, grad_tol=run.grad_tol, value_tol=0.0, history_size=history_size, mask=mask,
                    callback=check)
    pbar.close()
    theta, reason = out.x, state["reason"]
    steps = max(out.evaluations - 1, 0)
    if reason == STEPS_DONE:  # torch stops on its own tolerances too: say which
        g = land.grad(theta) * mask
        if float(g.norm()) <= run.grad_tol:
            reason = GRAD_TOL
        elif steps < run.steps - 1:
            reason = NO_PROGRESS
    return run.result(theta, reason, steps, "lbfgs", lr)


def _as_landscape(model, data, loss, where) -> Landscape:
    if isinstance(model, Landscape):
        if model.loss_fn is None:
            msg = f"{where} needs a landscape with a model and data, not a plain function."
            raise InvalidParameterError(msg)
        return model
    if isinstance(model, nn.Module):
        if data is None:
            msg = f"{where} got an nn.Module without data: pass data=(X, Y)."
            raise InvalidParameterError(msg)
        return Landscape(model, data, loss=loss)
    msg = f"{where} needs a valleys Landscape or an nn.Module. Got {type(model).__name__}."
    raise InvalidParameterError(msg)


def _mask(land: Landscape, trainable, where) -> torch.Tensor:
    mask = torch.ones(land.dim, dtype=land.dtype)
    if trainable is None:
        return mask
    names = list(trainable)
    unknown = sorted(set(names) - set(land.layout.names))
    if unknown or not names:
        msg = (f"The 'trainable' parameter of {where} must name blocks of the model. Got "
               f"{names!r}; known blocks: {', '.join(land.layout.names)}.")
        raise InvalidParameterError(msg)
    mask.zero_()
    for name in names:
        mask[land.layout.slice(name)] = 1.0
    return mask

