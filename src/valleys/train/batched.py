"""Training many small networks at once: one set of stacked tensors holds all of them.

Two routes, both equal to training each network alone (to rounding):

- :class:`MLPStack` + :func:`fit_stack`: B fully connected nets of one architecture (with
  optional skip-to-output neurons, thesis ch. 4) as tensors ``W_l (B, n_l, n_{l-1})``;
  forward and backward are a few batched matrix products per layer, so the Python and
  autograd overhead is paid once for all B nets (``benchmarks/train.py`` measures it
  against a loop over :func:`~valleys.train.fit` and against the vmap route).
- :func:`fit_batch`: any :class:`~valleys.Landscape`, many flat parameter vectors, one
  ``torch.func.vmap`` gradient per step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd
import torch

from .._validation import check_bool, check_choice, check_generator, check_int
from ..core.landscape import _autograd_on
from ..core.losses import get_loss
from ..errors import InvalidParameterError, ShapeError
from ..nets.activations import Activation, get_activation
from ..nets.models import MLP, SkipToOutput, check_widths
from ._common import (
    DEFAULT_BLOWUP,
    bar,
    check_optimizer,
    check_stopping,
    errors_of,
    lr_factor,
    momentum_step,
)
from ._two_layer import first_layer, output_layer, two_layer_loss_grads

if TYPE_CHECKING:
    from ..core import Landscape


class MLPStack:
    """B fully connected nets ``[m_0, ..., m_L]`` with one activation, held as stacked tensors.

    Parameters are ``W{i}`` of shape ``(B, m_i, m_{i-1})`` and ``b{i}`` ``(B, m_i)`` (the
    layout of :class:`valleys.nets.MLP`), plus, for skip-to-output nets, ``V`` ``(B, m_L, M)``
    and the chosen hidden neurons ``skip_index`` ``(B, M)`` (indices into the
    concatenated hidden layers, as :class:`valleys.nets.SkipToOutput`).

    Build one with :meth:`from_modules` (copies) and get the nets back with
    :meth:`to_modules`.

    Args:
        widths: layer widths ``[m_0, ..., m_L]`` shared by all nets.
        activation: the activation (a name or an :class:`~valleys.nets.Activation`).
        params: the stacked parameters described above (copied).
        skip_index: the skip neurons of each net, ``(B, M)``, for skip-to-output nets.

    Raises:
        ShapeError: if a parameter is missing or has the wrong shape, or only one of ``V``
            and ``skip_index`` is given.
    """

    def __init__(self, widths: Sequence[int], activation: str | Activation,
                 params: dict[str, torch.Tensor], skip_index: torch.Tensor | None = None):
        self.widths = check_widths(widths, "MLPStack")
        self.activation = get_activation(activation)
        self.params = {k: v.detach().clone() for k, v in params.items()}
        self.skip_index = None if skip_index is None else skip_index.clone()
        self.size = int(next(iter(self.params.values())).shape[0])
        for i in range(1, len(self.widths)):
            for name, shape in ((f"W{i}", (self.widths[i], self.widths[i - 1])), (f"b{i}", (self.widths[i],))):
                if name not in self.params or tuple(self.params[name].shape) != (self.size, *shape):
                    got = tuple(self.params[name].shape) if name in self.params else None
                    msg = f"MLPStack needs {name} of shape {(self.size, *shape)}. Got {got}."
                    raise ShapeError(msg)
        if (skip_index is None) != ("V" not in self.params):
            msg = "A skip-to-output MLPStack needs both V and skip_index (or neither)."
            raise ShapeError(msg)

    @classmethod
    def from_modules(cls, nets: Sequence[MLP | SkipToOutput]) -> MLPStack:
        """Stack copies of the parameters of valleys MLPs (or SkipToOutput nets) of one shape.

        Args:
            nets: the nets, all of one architecture (widths, activation, biases, skip count).

        Returns:
            A stack of their parameters in float64, in the order given.

        Raises:
            InvalidParameterError: for an empty list, other module types, or nets whose
                widths, activation, biases or number of skip neurons differ.
        """
        nets = list(nets)
        if not nets or not all(isinstance(n, MLP | SkipToOutput) for n in nets):
            msg = "MLPStack.from_modules needs a non-empty list of valleys MLP or SkipToOutput nets."
            raise InvalidParameterError(msg)
        bases = [n.base if isinstance(n, SkipToOutput) else n for n in nets]
        first = bases[0]
        same = all(b.widths == first.widths and b.bias and b.activation.name == first.activation.name
                   for b in bases) and len({type(n) for n in nets}) == 1
        if not same or not first.bias:
            msg = "MLPStack.from_modules needs nets with biases and equal widths, activation and type."
            raise InvalidParameterError(msg)
        params = {name: torch.stack([getattr(b, name).detach().double() for b in bases])
                  for name, _ in first.named_parameters()}
        skip = None
        if isinstance(nets[0], SkipToOutput):
            if len({int(n.skip_index.numel()) for n in nets}) != 1:
                msg = "MLPStack.from_modules needs skip nets with the same number of skip neurons."
                raise InvalidParameterError(msg)
            params["V"] = torch.stack([n.V.detach().double() for n in nets])
            skip = torch.stack([n.skip_index for n in nets])
        return cls(first.widths, first.activation, params, skip)

    def to_modules(self) -> list[MLP | SkipToOutput]:
        """The B nets as separate modules.

        Returns:
            One :class:`~valleys.nets.MLP` (or :class:`~valleys.nets.SkipToOutput`) per net,
            holding copies of the current parameters.
        """
        out = []
        for j in range(self.size):
            base = MLP(self.widths, self.activation)
            with torch.no_grad():
                for i in range(1, len(self.widths)):
                    getattr(base, f"W{i}").copy_(self.params[f"W{i}"][j])
                    getattr(base, f"b{i}").copy_(self.params[f"b{i}"][j])
            if self.skip_index is None:
                out.append(base)
                continue
            net = SkipToOutput(base, int(self.skip_index.shape[1]))
            with torch.no_grad():
                net.skip_index.copy_(self.skip_index[j])
                net.V.copy_(self.params["V"][j])
            out.append(net)
        return out

    @property
    def names(self) -> list[str]:
        """Parameter names in the order of the modules' ``named_parameters`` (``V`` first)."""
        names = [n for n in self.params if n != "V"]
        return (["V"] if "V" in self.params else []) + names

    def thetas(self) -> torch.Tensor:
        """Flat parameters of every net in the layout of ``Landscape(module)``.

        Returns:
            A (B, d) tensor, one row per net.
        """
        return torch.cat([self.params[n].reshape(self.size, -1) for n in self.names], 1)

    def forward(self, X: torch.Tensor, params: dict[str, torch.Tensor] | None = None,
                hidden: bool = False):
        """Outputs of all nets on shared inputs ``X (N, m_0)``: ``(B, N, m_L)``.

        Args:
            X: inputs (N, m_0), shared by all nets.
            params: parameters to use instead of the stack's own (same keys and shapes).
            hidden: also return the hidden-layer outputs.

        Returns:
            The outputs ``(B, N, m_L)``; with ``hidden=True`` the pair (outputs, list of
            hidden-layer outputs, each ``(B, N, m_l)``).
        """
        P = self.params if params is None else params
        B, L = self.size, len(self.widths) - 1
        if L == 2 and self.skip_index is None:
            return self._forward_two_layer(X, P, hidden)
        hs = []
        # layer 1: one GEMM for all nets, X (N, d) @ [W1 of all nets] (d, B m_1)
        W1 = P["W1"]
        z = (X @ W1.reshape(B * self.widths[1], -1).T).reshape(X.shape[0], B, -1).transpose(0, 1)
        z = z + P["b1"][:, None, :]
        for i in range(2, L + 1):
            h = self.activation(z)
            hs.append(h)
            z = torch.baddbmm(P[f"b{i}"][:, None, :], h, P[f"W{i}"].transpose(1, 2))
        if L == 1:
            hs = []
        if self.skip_index is not None:
            z = z + torch.bmm(self.skip_columns(hs), P["V"].transpose(1, 2))
        return (z, hs) if hidden else z

    def _forward_two_layer(self, X: torch.Tensor, P: dict[str, torch.Tensor], hidden: bool):
        """Two-layer nets in the sample-major layout (N, B, m_1) (see :mod:`._two_layer`);
        the values equal the general path's up to rounding."""
        H = self.activation(first_layer(self, P, X)).view(X.shape[0], self.size, self.widths[1])
        z = output_layer(P, H)
        return (z, [H.transpose(0, 1)]) if hidden else z

    def skip_features(self, X: torch.Tensor) -> torch.Tensor:
        """Psi(U) of every net (thesis ch. 4): the outputs of the skip neurons on ``X``.

        Args:
            X: inputs (N, m_0).

        Returns:
            Psi(U), (B, N, M).

        Raises:
            InvalidParameterError: if the stack has no skip neurons.
        """
        if self.skip_index is None:
            msg = "skip_features needs a skip-to-output stack (built from SkipToOutput nets)."
            raise InvalidParameterError(msg)
        _, hs = self.forward(X, hidden=True)
        return self.skip_columns(hs)

    def skip_columns(self, hs: list[torch.Tensor]) -> torch.Tensor:
        """Psi(U) from hidden-layer outputs: the columns of the skip neurons.

        Args:
            hs: the hidden-layer outputs of :meth:`forward` (``hidden=True``).

        Returns:
            Psi(U), (B, N, M).
        """
        H = torch.cat(hs, dim=-1)
        return torch.gather(H, 2, self.skip_index[:, None, :].expand(self.size, H.shape[1], -1))

    def losses(self, X: torch.Tensor, Y: torch.Tensor, loss: str = "mse",
               params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Mean loss of each net on ``(X, Y)``, shape (B,).

        Args:
            X: inputs (N, m_0).
            Y: targets, as the loss needs them.
            loss: a loss name of :func:`valleys.core.losses.get_loss`.
            params: parameters to use instead of the stack's own.

        Returns:
            ``(1/N) sum_i loss(f_b(x_i), y_i)`` for each net b, shape (B,).
        """
        fn = get_loss(loss)
        out = self.forward(X, params)
        B, N, m = out.shape
        Yb = Y.expand(B, *Y.shape).reshape(B * N, *Y.shape[1:])
        return fn(out.reshape(B * N, m), Yb).reshape(B, N).mean(1)

    def __repr__(self) -> str:
        skip = "" if self.skip_index is None else f", skip={int(self.skip_index.shape[1])}"
        return f"MLPStack(B={self.size}, widths={self.widths}, activation={self.activation.name!r}{skip})"


@dataclass(frozen=True, eq=False)
class BatchTrainResult:
    """The end of a batched run.

    Attributes:
        stack: the trained :class:`MLPStack` (None for :func:`fit_batch`).
        thetas: final flat parameters (B, d).
        losses: final full-batch losses (B,).
        train_errors: final misclassified samples (B,) (None without classes).
        stopped_at: step at which each net stopped (its early-stop step, else ``steps``).
        diverged: (B,) bool.
        history: one row per recorded step and net: ``step``, ``net``, ``loss``, ``lr``
            (and ``train_error``).
    """

    stack: MLPStack | None = field(repr=False)
    thetas: torch.Tensor = field(repr=False)
    losses: torch.Tensor
    train_errors: torch.Tensor | None
    stopped_at: torch.Tensor
    diverged: torch.Tensor
    history: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict:
        """A JSON-able summary of the run's end.

        Returns:
            ``losses``, ``stopped_at``, ``diverged`` and ``train_errors`` (None without
            classes) as plain lists, one entry per net.
        """
        return {"losses": self.losses.tolist(), "stopped_at": self.stopped_at.tolist(),
                "diverged": self.diverged.tolist(),
                "train_errors": None if self.train_errors is None else self.train_errors.tolist()}

    def to_frame(self) -> pd.DataFrame:
        """The history of the run.

        Returns:
            A copy of :attr:`history`: one row per recorded step and net.
        """
        return self.history.copy()


def fit_stack(stack: MLPStack, X: torch.Tensor, Y: torch.Tensor, *, loss: str = "mse",
              method: str = "gd", lr: float | torch.Tensor = 0.1, steps: int = 1000,
              momentum: float = 0.0, nesterov: bool = False, schedule: str = "constant",
              batch_size: int | None = None, trainable: Sequence[str] | None = None,
              target_loss: float | None = None, stop_at_zero_error: bool = False,
              record_every: int = 1, blowup: float = DEFAULT_BLOWUP,
              seed: int | torch.Generator | None = 0, progress: bool = True) -> BatchTrainResult:
    """Train every net of a stack at once (in place on a copy; the input stack is unchanged).

    The same update rules as :func:`~valleys.train.fit` (``"gd"`` full batch, ``"sgd"``
    shuffled mini-batches, one step = one epoch, the same order for every net), applied
    to each net independently: the loss of the stack is the sum of the nets' losses, so
    each net gets exactly its own gradient. Each net stops on its own (``target_loss``,
    ``stop_at_zero_error``, divergence) and is frozen from then on. The batched products
    round differently from a single net's, so the two routes agree to rounding (1e-16 after
    hundreds of steps in the tests); where the dynamics are chaotic (large steps with momentum,
    at the edge of stability) such differences grow, as between any two float implementations.

    Args:
        stack: the nets (see :class:`MLPStack`).
        X: shared training inputs, float64 ``(N, m_0)``.
        Y: shared targets as the loss needs (class labels ``(N,)`` for ``"ce"``, ``(N, m_L)``
            for ``"mse"``).
        loss: a loss name of :func:`valleys.core.losses.get_loss` (``"mse"``, ``"ce"``, ...).
        method: ``"gd"`` (full batch) or ``"sgd"`` (shuffled mini-batches; one step = one epoch).
        lr: one rate, or one per net as a tensor ``(B,)``.
        steps: updates (gd) or epochs (sgd), as in :func:`~valleys.train.fit`.
        momentum: heavy-ball momentum ``mu`` (``buf = mu buf + g``; 0: plain steps).
        nesterov: use Nesterov's look-ahead form of the momentum step.
        schedule: ``"constant"`` or ``"step"`` (divide by 10 at 50% and 75% of ``steps``).
        record_every: record the history every this many steps (the last step always).
        progress: show a progress bar (stderr, only on a TTY).
        batch_size: mini-batch size of ``"sgd"``.
        trainable: parameter names that move (e.g. ``("V",)`` for the rand mode).
        target_loss: stop a net once its full-batch loss is <= this value.
        stop_at_zero_error: stop a net at zero misclassified training samples.
        blowup: stop a net as diverged when its ||theta|| exceeds it or its loss is not finite.
        seed: seed of the mini-batch order.

    Returns:
        A :class:`BatchTrainResult` holding the trained stack.

    Raises:
        InvalidParameterError: for a bad setting or unknown parameter names.
    """
    where = "fit_stack"
    method = check_choice(method, "method", where, ("gd", "sgd"))
    check_optimizer(where, lr, momentum, nesterov, schedule)
    steps = check_stopping(where, steps, target_loss, record_every)
    check_bool(stop_at_zero_error, "stop_at_zero_error", where)
    names = stack.names if trainable is None else list(trainable)
    if not names or set(names) - set(stack.names):
        msg = f"The 'trainable' parameter of {where} must name parameters among {stack.names}. Got {names!r}."
        raise InvalidParameterError(msg)
    if not isinstance(X, torch.Tensor) or X.ndim != 2 or X.shape[1] != stack.widths[0] or len(Y) != len(X):
        msg = (f"{where} needs X of shape (N, {stack.widths[0]}) and one target per row. Got X "
               f"{tuple(getattr(X, 'shape', ()))} and Y {tuple(getattr(Y, 'shape', ()))}.")
        raise ShapeError(msg)
    B, N = stack.size, int(X.shape[0])
    if method == "sgd":
        if batch_size is None:
            msg = "method='sgd' needs a batch_size (rows per mini-batch)."
            raise InvalidParameterError(msg)
        batch_size = check_int(batch_size, "batch_size", where, min_val=1, max_val=N)
    fn = get_loss(loss)
    kind = fn.target
    X, Y = X.to(torch.float64), (Y if kind == "class" else Y.to(torch.float64))
    if stop_at_zero_error and errors_of(stack.forward(X[:1]), Y[:1], kind) is None:
        msg = "stop_at_zero_error needs class labels or vector (one-hot) targets; use target_loss."
        raise InvalidParameterError(msg)
    gen = check_generator(seed, where)
    P = {k: v.clone() for k, v in stack.params.items()}
    lr_t = (lr.to(torch.float64) if isinstance(lr, torch.Tensor)
            else torch.full((B,), float(lr), dtype=torch.float64))
    active = torch.ones(B, dtype=torch.bool)
    stopped = torch.full((B,), steps, dtype=torch.int64)
    diverged = torch.zeros(B, dtype=torch.bool)
    bufs: dict[str, torch.Tensor | None] = dict.fromkeys(names)
    rows: list[dict] = []

    cached = None
    if names == ["V"] and stack.skip_index is not None:
        # rand mode: U is fixed, so the base outputs and Psi(U) are computed once
        with torch.no_grad():
            base, hs = stack.forward(X, {**P, "V": torch.zeros_like(P["V"])}, hidden=True)
            psi = stack.skip_columns(hs)
            cached = (base, psi)

    def forward(params, Xb, idx):
        if cached is None:
            return stack.forward(Xb, params)
        base, psi = cached
        sel = slice(None) if idx is None else idx
        return base[:, sel] + torch.bmm(psi[:, sel], params["V"].transpose(1, 2))

    def per_net_losses(params, Xb, Yb, idx=None):
        out = forward(params, Xb, idx)
        n = out.shape[1]
        Yx = Yb.expand(B, *Yb.shape).reshape(B * n, *Yb.shape[1:])
        return fn(out.reshape(B * n, -1), Yx).reshape(B, n).mean(1), out

    def update(grads, rate):
        scale = torch.where(active, rate, torch.zeros_like(rate))
        for name in names:
            d, bufs[name] = momentum_step(grads[name], bufs[name], momentum, nesterov)
            P[name] = P[name] - scale.reshape(B, *([1] * (d.ndim - 1))) * d

    two_layer = (cached is None and len(stack.widths) == 3 and stack.skip_index is None
                 and set(names) == set(stack.names))

    def grads_at(Xb, Yb, idx=None):
        if two_layer:
            values, out, gs = two_layer_loss_grads(stack, P, Xb, Yb, fn)
            return values, out, {k: gs[k] for k in names}
        with _autograd_on():
            leaves = {k: (v.detach().requires_grad_(True) if k in names else v) for k, v in P.items()}
            values, out = per_net_losses(leaves, Xb, Yb, idx)
            gs = torch.autograd.grad(values.sum(), [leaves[k] for k in names])
        return values.detach(), out.detach(), dict(zip(names, gs, strict=True))

    step = 0
    with bar(steps, f"fit_stack ({method}, B={B})", progress) as pbar:
        for step in range(steps + 1):
            rate = lr_t * lr_factor(step, steps, schedule)
            if method == "gd":
                values, out, grads = grads_at(X, Y)
            else:
                with torch.no_grad():
                    values, out = per_net_losses(P, X, Y)
            errs = errors_of(out, Y, kind)
            if step % record_every == 0 or step == steps:
                rows += _rows(step, values, errs, rate)
            bad = ~torch.isfinite(values) | (_norms(P) > blowup)
            newly = active & bad
            diverged |= newly
            done = newly.clone()
            if target_loss is not None:
                done |= active & (values <= target_loss)
            if stop_at_zero_error:
                done |= active & (errs == 0)
            stopped[done] = step
            active &= ~done
            if step == steps or not bool(active.any()):
                break
            if method == "gd":
                update(grads, rate)
            else:
                for idx in torch.randperm(N, generator=gen).split(batch_size):
                    update(grads_at(X[idx], Y[idx], idx)[2], rate)
            pbar.update(1)
    trained = MLPStack(stack.widths, stack.activation, P, stack.skip_index)
    # the loop ends right after evaluating the full-batch losses at the final parameters
    return BatchTrainResult(trained, trained.thetas(), values.detach(), errs, stopped, diverged,
                            pd.DataFrame(rows))


def fit_batch(land: Landscape, thetas: torch.Tensor, /, *, lr: float | torch.Tensor = 0.1, steps: int = 1000,
              momentum: float = 0.0, nesterov: bool = False, schedule: str = "constant",
              record_every: int = 1, progress: bool = True) -> BatchTrainResult:
    """Full-batch gradient descent of any landscape from many starts, one vmapped gradient per step.

    Args:
        land: a :class:`~valleys.Landscape`.
        thetas: starts (B, d).
        lr: one rate or one per start (B,).
        steps: updates (gd) or epochs (sgd), as in :func:`~valleys.train.fit`.
        momentum: heavy-ball momentum ``mu`` (``buf = mu buf + g``; 0: plain steps).
        nesterov: use Nesterov's look-ahead form of the momentum step.
        schedule: ``"constant"`` or ``"step"`` (divide by 10 at 50% and 75% of ``steps``).
        record_every: record the history every this many steps (the last step always).
        progress: show a progress bar (stderr, only on a TTY).

    Returns:
        A :class:`BatchTrainResult` (``stack`` is None).

    Raises:
        InvalidParameterError: for a bad setting.
        ShapeError: if ``thetas`` is not (B, d).
    """
    where = "fit_batch"
    check_optimizer(where, lr, momentum, nesterov, schedule)
    steps = check_stopping(where, steps, None, record_every)
    land.layout.check(thetas)
    if thetas.ndim != 2:
        msg = f"fit_batch needs starts of shape (B, {land.dim}). Got {tuple(thetas.shape)}."
        raise ShapeError(msg)
    T = thetas.detach().to(land.dtype).clone()
    B = T.shape[0]
    lr_t = (lr.to(land.dtype) if isinstance(lr, torch.Tensor)
            else torch.full((B,), float(lr), dtype=land.dtype))
    buf, rows = None, []
    with bar(steps, f"fit_batch (B={B})", progress) as pbar:
        for step in range(steps):
            rate = lr_t * lr_factor(step, steps, schedule)
            g = land.grads(T)
            if step % record_every == 0:
                rows += _rows(step, land.losses(T), None, rate)
            d, buf = momentum_step(g, buf, momentum, nesterov)
            T = T - rate[:, None] * d
            pbar.update(1)
    values = land.losses(T)
    rows += _rows(steps, values, None, lr_t * lr_factor(steps, steps, schedule))
    return BatchTrainResult(None, T, values, None, torch.full((B,), steps),
                            ~torch.isfinite(values), pd.DataFrame(rows))


def _rows(step, values, errs, rate) -> list[dict]:
    out = []
    for j, v in enumerate(values.tolist()):
        row = {"step": step, "net": j, "loss": v, "lr": float(rate[j])}
        if errs is not None:
            row["train_error"] = int(errs[j])
        out.append(row)
    return out


def _norms(P: dict[str, torch.Tensor]) -> torch.Tensor:
    B = next(iter(P.values())).shape[0]
    return torch.sqrt(sum((p.reshape(B, -1) ** 2).sum(1) for p in P.values()))

