"""The landscape: a functional view of (model, data, loss) over a flat theta in R^d."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch import nn
from torch.func import functional_call, grad, grad_and_value, jacrev, jvp, vmap

from .._validation import check_bool, check_choice, check_int
from ..errors import DenseTooLargeError, InvalidParameterError, ModelError, NonFiniteError, ShapeError
from .batching import BATCHING, SMALL_WORK, BatchPlans, Plan, choose_plan, run_batched
from .checks import as_matrix, check_loss_values, conform_targets
from .data_source import prepare_data
from .layout import ParamLayout
from .losses import Loss, TorchLoss, get_loss
from .products import hvp_rows

#: Largest d for which :meth:`Landscape.hessian` builds a dense matrix by default.
MAX_DENSE_DIM = 6000

_STATEFUL = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm,
             nn.modules.instancenorm._InstanceNorm)
_TORCH_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ELU,
                      nn.GELU, nn.SiLU, nn.Softsign, nn.Hardtanh)


@dataclass(frozen=True)
class _ScalarFunction:
    """The model of :meth:`Landscape.from_function`: a plain ``f: R^d -> R`` with its options."""

    f: Callable[[torch.Tensor], torch.Tensor]
    dim: int
    theta0: torch.Tensor | None
    names: tuple[str, ...] | None
    rowwise: bool


class Landscape:
    r"""Loss, gradient, Hessian-vector products and more of a model over flat parameters.

    .. math::
        L(\theta) = \frac{1}{N}\sum_{i=1}^N \ell(f_\theta(x_i), y_i)\quad
        (\text{reduction}=\text{"mean"}), \qquad \sum_i \ell(f_\theta(x_i), y_i)\ (\text{"sum"}).

    Args:
        model: an ``nn.Module`` instance (copied and cast to ``dtype``; dropout or
            batch-norm in training mode is refused) or a function
            ``f(params: dict, X) -> outputs`` together with ``params``. (A plain function
            of theta is given by :meth:`from_function`, which calls this constructor.)
        data: ``(X, Y)`` tensors or arrays (full batch), or an iterable of ``(X, Y)``
            batches; batches are weighted by their size. With several batches (a
            DataLoader), gradients and Hessian-vector products are summed batch by batch,
            so memory is bounded by one batch's autograd graph (each product then repeats
            the batch's forward and backward passes); one ``(X, Y)`` pair keeps one graph
            over all the data, faster when it fits in memory. Targets are checked against the
            model's outputs at construction (one forward pass): a mismatch raises
            :class:`~valleys.errors.ShapeError` naming both shapes, class labels outside
            ``[0, m)`` raise :class:`~valleys.errors.DataError`.
        loss: ``"mse"`` (per-sample ||f - y||^2 summed over the m outputs, that is
            ``m * F.mse_loss``), ``"half_squared"``, ``"ce"``, ``"hinge"``, ``"logistic"``,
            ``"polynomial_hinge"``, a :class:`~valleys.nets.Loss`, a torch loss module
            (``nn.MSELoss()``, ``nn.CrossEntropyLoss()``, ...: the landscape then equals
            the module applied to all outputs and targets) or a callable
            ``(outputs (N, m), targets) -> (N,)`` returning per-sample losses.
        reduction: ``"mean"`` (1/N sum) or ``"sum"``; by default ``"mean"``, or ``"sum"``
            for a torch loss module built with ``reduction="sum"``.
        dtype: floating dtype of parameters and data (float64 by default).
        params: initial parameters of a functional ``model`` (a dict of tensors).
        chunk_size: the largest number of parameter vectors or Hessian columns vectorised at once.
        check_deterministic: evaluate the loss twice at the initial parameters and refuse
            a model whose loss differs.
        output: which part of a model's output is fed to the loss when the model returns
            a tuple, list or dict: an index (``output=0``), a key (``output="logits"``) or
            a callable ``output(raw) -> tensor`` (e.g. ``lambda o: o.logits``); kept as
            :attr:`output`.
        include_frozen: parameters with ``requires_grad=False`` are held fixed and left
            out of theta by default (as PyHessian and curvlinops do); ``True`` keeps them
            in theta. The frozen names are in :attr:`frozen`.
        device: where parameters, data and every computation live (``"cuda"``, a
            ``torch.device``...); the data are moved once, at construction. Points passed
            to the methods are moved to it; results stay on it.
        batching: how :meth:`losses`, :meth:`grads` and :meth:`hvp_rows` evaluate many
            points or vectors: ``"auto"`` (vectorise small models in chunks of
            ``chunk_size``, larger ones in smaller chunks or a loop, by a fixed rule of
            N, d and ``chunk_size``: :mod:`valleys.core.batching`), ``"vmap"`` or ``"loop"``.
            The plans used are in :attr:`batch_plans`.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> X, Y = torch.randn(8, 3), torch.randn(8, 1)
        >>> land = Landscape(nn.Linear(3, 1), (X, Y), loss="mse")
        >>> land.dim
        4
        >>> H = land.hessian(land.theta0)  # = 2/N [X 1]^T [X 1] for a linear model
        >>> A = torch.cat([X, torch.ones(8, 1)], 1).double()
        >>> bool(torch.allclose(H[[0, 1, 2, 3]][:, [0, 1, 2, 3]].sum(), (2 / 8 * A.T @ A).sum()))
        True
    """

    def __init__(self, model: nn.Module | Callable, data, loss: str | Loss | Callable = "mse", *,
                 reduction: str | None = None, dtype: torch.dtype = torch.float64,
                 params: Mapping[str, torch.Tensor] | None = None, chunk_size: int = 512,
                 check_deterministic: bool = True, output: int | str | Callable | None = None,
                 include_frozen: bool = False, device: torch.device | str | None = None,
                 batching: str = "auto"):
        self.dtype = dtype
        self.device = _check_device(device)
        function = model if isinstance(model, _ScalarFunction) else None
        where = "Landscape" if function is None else "Landscape.from_function"
        self.chunk_size = check_int(chunk_size, "chunk_size", where, min_val=1)
        self.batching = check_choice(batching, "batching", where, BATCHING)
        self._plans = BatchPlans()
        if function is not None:
            self._init_function(function)
            return
        self.loss_fn = get_loss(loss)
        if reduction is None:
            reduction = "sum" if isinstance(self.loss_fn, TorchLoss) and self.loss_fn.reduction == "sum" else "mean"
        self.reduction = check_choice(reduction, "reduction", "Landscape", ("mean", "sum"))
        include_frozen = check_bool(include_frozen, "include_frozen", "Landscape")
        self.output = _check_output(output)
        self.module, self._forward, init, self.frozen = _functional_model(
            model, params, dtype, self.device, self.output, include_frozen)
        self.layout = ParamLayout.from_params(init)
        self.theta0 = self.layout.flatten(init).detach().clone()
        batches = prepare_data(data, self.loss_fn.target, dtype, self.device)
        self.batches = self._check_batches(batches)
        self.n_samples = sum(int(X.shape[0]) for X, _ in self.batches)
        self._scale = 1.0 / self.n_samples if self.reduction == "mean" else 1.0
        self._scalar_fn: Callable[[torch.Tensor], torch.Tensor] = self._data_loss
        self._rowwise_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        if check_deterministic:
            self._check_deterministic()

    def _check_batches(self, batches):
        """One forward pass on the first batch: outputs against targets, the loss's shape, parameters used."""
        X0, Y0 = batches[0]
        with _autograd_on():
            leaf = self.theta0.detach().clone().requires_grad_(True)
            out = _run_forward(self._forward, self.layout.unflatten(leaf), X0)
            checked = [(X, conform_targets(self.loss_fn, out, Y, self.dtype, i)) for i, (X, Y) in enumerate(batches)]
            Y0 = checked[0][1]
            loss_out = out if isinstance(self.loss_fn, TorchLoss) else as_matrix(out)
            try:
                values = self.loss_fn(loss_out, Y0)
            except (RuntimeError, ValueError, IndexError, TypeError) as err:
                msg = (f"The loss {self.loss_fn.name!r} failed on outputs of shape {tuple(out.shape)} and targets "
                       f"of shape {tuple(Y0.shape)}: {_first_line(err)}")
                raise ShapeError(msg) from None
            check_loss_values(self.loss_fn, values, int(X0.shape[0]))
        if not values.requires_grad:
            msg = ("The loss does not depend on any parameter of the model (its value carries no gradient): "
                   "check that the model's output reaches the loss without .detach(), .item() or numpy.")
            raise ModelError(msg)
        return checked

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_function(cls, f: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                      theta0: torch.Tensor | None = None, names: tuple[str, ...] | None = None,
                      dtype: torch.dtype = torch.float64, chunk_size: int = 4096,
                      rowwise: bool = False, device: torch.device | str | None = None) -> Landscape:
        """A landscape of a plain function ``f: R^d -> R`` (the toy landscapes of the seeds).

        Args:
            f: maps a flat tensor of length ``dim`` to a scalar tensor; written with torch
                operations so that it can be differentiated and vmapped.
            dim: the number of variables d.
            theta0: a default point (zeros if omitted).
            names: optional names of the d scalar coordinates (for example ``("u", "v")``).
            rowwise: ``f`` also accepts a batch ``(B, d)`` and returns ``(B,)`` (written with
                ``t[..., 0]``-style indexing); then :meth:`losses` and :meth:`grads` call it
                once on the whole batch instead of vmapping, which is much faster for toys.
            dtype: the floating dtype of points and values (float64 by default).
            chunk_size: the largest batch of points evaluated at once by :meth:`losses` and
                :meth:`grads` when ``f`` is vmapped.
            device: where points live and ``f`` is evaluated (see :class:`Landscape`).

        Example:
            >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
            >>> land.hessian(torch.zeros(2, dtype=torch.float64)).tolist()
            [[0.0, -2.0], [-2.0, 0.0]]

        Returns:
            The landscape (no model, data or loss).
        """
        dim = check_int(dim, "dim", "Landscape.from_function", min_val=1)
        function = _ScalarFunction(f, dim, theta0, names, rowwise)
        return cls(function, None, dtype=dtype, chunk_size=chunk_size, device=device)

    def _init_function(self, function: _ScalarFunction) -> None:
        """The rest of :meth:`__init__` for :meth:`from_function`: no model, data or loss."""
        dim, names = function.dim, function.names
        self.reduction, self.frozen = "sum", ()
        self.loss_fn = None
        self.module, self._forward, self.output = None, None, None
        if names is None:
            self.layout = ParamLayout(("theta",), ((dim,),))
        else:
            if len(names) != dim:
                msg = f"names must have one entry per variable ({dim}). Got {len(names)}."
                raise InvalidParameterError(msg)
            self.layout = ParamLayout(tuple(names), tuple(() for _ in names))
        self.theta0 = (torch.zeros(dim, dtype=self.dtype, device=self.device) if function.theta0 is None
                       else torch.as_tensor(function.theta0, dtype=self.dtype).to(self.device).clone())
        self.layout.check(self.theta0)
        self.batches, self.n_samples, self._scale = [], 0, 1.0
        self._scalar_fn = function.f
        self._rowwise_fn = function.f if function.rowwise else None

    # ------------------------------------------------------------------ basic values
    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return self.layout.dim

    def _data_loss(self, theta: torch.Tensor) -> torch.Tensor:
        params = self.layout.unflatten(theta)
        total = 0.0
        raw = isinstance(self.loss_fn, TorchLoss)
        for X, Y in self.batches:
            out = self._forward(params, X)
            total = total + self.loss_fn(out if raw else as_matrix(out), Y).sum()
        return total * self._scale

    def _parts(self) -> list[Landscape] | None:
        """One landscape per batch when the data loss spans several batches, else None.

        Each part holds one batch and the scale of the whole data set (``1/N`` for
        ``reduction="mean"``), so the loss and every derivative of it is the sum of the
        parts'. Derivatives taken part by part (:meth:`grad`, :meth:`hvp`, :meth:`hvps`,
        :meth:`hvp_rows`, ...) keep only one batch's autograd graph alive at a time, so their
        memory is bounded by the batch, not by the data set.

        Returns:
            The parts (shallow copies sharing the model, layout and batch plans), or None for
            a single batch, a landscape of a plain function, or a replaced scalar function.
        """
        if self._forward is None or len(self.batches) < 2 or self._scalar_fn != self._data_loss:
            return None
        parts = []
        for batch in self.batches:
            part = copy.copy(self)
            part.batches = [batch]
            part._scalar_fn = part._data_loss
            parts.append(part)
        return parts

    def _direct_loss(self, theta: torch.Tensor) -> torch.Tensor:
        """L(theta) without autograd, through the model's own parameters when it is an nn.Module."""
        direct = getattr(self._forward, "direct", None)
        if direct is None:
            return self._scalar_fn(theta)
        total = 0.0
        raw = isinstance(self.loss_fn, TorchLoss)
        with torch.no_grad():
            for X, Y in self.batches:
                out = direct(theta, X)
                total = total + self.loss_fn(out if raw else as_matrix(out), Y).sum()
        return total * self._scale

    def _checked(self, theta: torch.Tensor) -> torch.Tensor:
        self.layout.check(theta)
        return theta.to(device=self.device, dtype=self.dtype)

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """The loss L(theta), a 0-d tensor.

        Args:
            theta: a point of length d.

        Returns:
            L(theta).
        """
        return self._scalar_fn(self._checked(theta))

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """The gradient of L at theta, shape (d,).

        With several batches, the sum of the batches' gradients, one backward pass per batch
        (memory bounded by one batch's graph).

        Args:
            theta: a point of length d.

        Returns:
            The gradient, shape (d,), of the landscape's dtype.
        """
        theta = self._checked(theta)
        parts = None if _inside_transform(theta) else self._parts()
        if parts is not None:
            return _sum_over(parts, lambda part: part.grad(theta))
        if _inside_transform(theta):
            return grad(self._scalar_fn)(theta)
        with _autograd_on():
            leaf = theta.detach().clone().requires_grad_(True)
            return torch.autograd.grad(self._scalar_fn(leaf), leaf)[0]

    def loss_and_grad(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L(theta), grad L(theta))`` from one forward and one backward pass.

        With several batches, both are sums over the batches, one backward pass per batch.

        Args:
            theta: a point of length d.

        Returns:
            The loss (0-d tensor) and the gradient (d,).
        """
        theta = self._checked(theta)
        parts = None if _inside_transform(theta) else self._parts()
        if parts is not None:
            value, g = parts[0].loss_and_grad(theta)
            for part in parts[1:]:
                v_i, g_i = part.loss_and_grad(theta)
                value, g = value + v_i, g.add_(g_i)
            return value, g
        if _inside_transform(theta):
            g, value = grad_and_value(self._scalar_fn)(theta)
            return value, g
        with _autograd_on():
            leaf = theta.detach().clone().requires_grad_(True)
            value = self._scalar_fn(leaf)
            g = torch.autograd.grad(value, leaf)[0]
        return value.detach(), g

    def loss_on(self, theta: torch.Tensor, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
        """The loss of the model at theta on a mini-batch ``(X, Y)`` (differentiable).

        ``X`` and ``Y`` are rows of :meth:`inputs` and :meth:`targets` (already prepared);
        with ``reduction="mean"`` the batch loss is averaged over its own rows.

        Args:
            theta: a point of length d.
            X: inputs of the mini-batch.
            Y: its targets.

        Returns:
            The mini-batch loss, a 0-d tensor with a graph to theta.
        """
        self._need_model("loss_on")
        params = self.layout.unflatten(theta)
        out = self._forward(params, X)
        total = self.loss_fn(out if isinstance(self.loss_fn, TorchLoss) else as_matrix(out), Y).sum()
        return total / X.shape[0] if self.reduction == "mean" else total

    def hvp(self, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Hessian-vector product H(theta) v.

        Computed by reverse-over-reverse autograd (double backward), which measured
        faster than forward-over-reverse through ``functional_call`` on CPU
        (``benchmarks/core.py``); inside ``torch.func`` transforms it uses
        forward-over-reverse (``jvp`` of ``grad``). With several batches, the sum of the
        batches' products, one batch's graph at a time (memory bounded by the batch).

        Args:
            theta: the point, length d.
            v: the vector, length d.

        Returns:
            H(theta) v, shape (d,).
        """
        theta = self._checked(theta)
        self.layout.check(v)
        v = v.to(device=self.device, dtype=self.dtype)
        parts = None if _inside_transform(theta) or _inside_transform(v) else self._parts()
        if parts is not None:
            return _sum_over(parts, lambda part: part.hvp(theta, v))
        if _inside_transform(theta) or _inside_transform(v):
            return jvp(grad(self._scalar_fn), (theta,), (v,))[1]
        with _autograd_on():
            leaf = theta.detach().clone().requires_grad_(True)
            g = torch.autograd.grad(self._scalar_fn(leaf), leaf, create_graph=True)[0]
            if not g.requires_grad:  # the loss is affine in theta
                return torch.zeros_like(v)
            return torch.autograd.grad(g, leaf, v.clone())[0]

    def hvps(self, theta: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """Hessian times many vectors: rows of ``V`` (k, d) -> rows of (H V^T)^T, vectorised.

        Forward-over-reverse (``jvp`` of ``grad``) vmapped over the rows in chunks of
        ``chunk_size``; with several batches, summed over the batches one at a time.

        Args:
            theta: the point, length d.
            V: the vectors as rows, (k, d).

        Returns:
            The products as rows, (k, d).
        """
        theta = self._checked(theta)
        self.layout.check(V)
        parts = self._parts()
        if parts is not None:
            return _sum_over(parts, lambda part: part.hvps(theta, V))
        g = grad(self._scalar_fn)

        def one(v):
            return jvp(g, (theta,), (v,))[1]

        return vmap(one, chunk_size=self.chunk_size)(V.to(device=self.device, dtype=self.dtype))

    def hessian(self, theta: torch.Tensor, *, max_dim: int = MAX_DENSE_DIM,
                progress: bool | None = None) -> torch.Tensor:
        """Dense symmetric Hessian (d, d), built row-chunk by row-chunk from HVPs.

        The rows are Hessian-vector products with the unit vectors, by the method
        :meth:`hvp_rows` chooses for this landscape. ``progress``: a progress bar
        (None: on a terminal, after a few seconds).

        Raises:
            DenseTooLargeError: if d > ``max_dim``; use the matrix-free
                ``valleys.curvature.hessian_operator`` / :meth:`hvp` instead.

        Args:
            theta: a point of length d.
            max_dim: the largest d allowed.
            progress: a progress bar.

        Returns:
            The Hessian (d, d), symmetrised.
        """
        d = self.dim
        if d > max_dim:
            msg = (f"A dense Hessian of d = {d} parameters ({d * d * 8 / 2**30:.1f} GiB) exceeds "
                   f"max_dim = {max_dim}. Use the matrix-free valleys.curvature.hessian_operator "
                   f"(or Landscape.hvp) with Lanczos, or raise max_dim.")
            raise DenseTooLargeError(msg)
        H = self.hvp_rows(theta)(torch.eye(d, dtype=self.dtype, device=self.device), progress=progress)
        return 0.5 * (H + H.T)

    def hvp_rows(self, theta: torch.Tensor, *, method: str = "auto") -> Callable[[torch.Tensor], torch.Tensor]:
        """A function ``rows(V, progress=None) = V H(theta)`` for many rows ``V (k, d)`` at one point.

        With ``method="graph"`` the gradient graph at theta is built once and each batch
        of products is one batched backward pass; ``"functorch"`` vmaps :meth:`hvps`;
        ``"auto"`` (the default) chooses between these and a loop of single backward
        passes by a fixed rule of N, d and ``chunk_size`` (never by timing). See
        :mod:`valleys.core.products` and :mod:`valleys.core.batching`.

        With data in several batches, each call runs batch by batch and sums the products
        (memory bounded by one batch).

        Args:
            theta: a point of length d.
            method: ``"auto"``, ``"graph"`` or ``"functorch"``.

        Returns:
            ``rows(V, progress=None)``: (k, d) -> (k, d).
        """
        theta = self._checked(theta)
        if _inside_transform(theta):  # a retained graph cannot live inside vmap/grad/jvp
            return hvp_rows(self, theta, "functorch")
        return hvp_rows(self, theta.detach(), method)

    def _small(self) -> bool:
        """Whether one point costs little enough that vectorising always pays (see core.batching)."""
        return self.module is None and self._forward is None or self.n_samples * self.dim <= SMALL_WORK

    def _plan(self, vector: str) -> Plan:
        """The (method, chunk) of a batched operation whose vectorised method is ``vector``."""
        return choose_plan(self.batching, self._small(), self.n_samples * self.dim, self.chunk_size, vector)

    @property
    def batch_plans(self) -> dict:
        """The batching plans used so far: operation -> (method, chunk size)."""
        return dict(self._plans)

    def losses(self, thetas: torch.Tensor, *, progress: bool | None = None) -> torch.Tensor:
        """Losses at many parameter vectors at once: (B, d) -> (B,).

        Vectorised with vmap, or a loop, by the plan of ``batching`` (see
        :mod:`valleys.core.batching`); the values agree to rounding.
        ``progress``: a progress bar (None: on a terminal, after a few seconds).

        Args:
            thetas: points as rows, (B, d).
            progress: a progress bar.

        Returns:
            The losses, (B,).
        """
        self.layout.check(thetas)
        thetas = thetas.to(device=self.device, dtype=self.dtype)
        if self._rowwise_fn is not None:
            return self._rowwise_fn(thetas)
        if _inside_transform(thetas) or thetas.requires_grad or thetas.ndim != 2 or thetas.shape[0] == 0:
            return vmap(self._scalar_fn, chunk_size=self.chunk_size)(thetas)
        f = self._scalar_fn

        def loop(C):
            return torch.stack([self._direct_loss(t) for t in C])

        with torch.no_grad():
            return run_batched(thetas, self._plan("vmap"), {"loop": loop, "vmap": vmap(f)}, plans=self._plans,
                               op="losses", progress=progress, desc="losses")

    def plane(self, center: torch.Tensor, u: torch.Tensor, v: torch.Tensor, alphas, betas, *,
              progress: bool | None = None) -> torch.Tensor:
        """Losses on the plane ``center + a u + b v``: shape ``(len(alphas), len(betas))``.

        Equal (to rounding) to :meth:`losses` at the grid points, through the one plane
        evaluator (:mod:`valleys.core.plane`): for a chain of affine layers and activations,
        or an ``nn.Module`` whose first layer reads the inputs (``nn.Linear``/``nn.Conv*``),
        that layer's output is computed three times per batch instead of once per point, as
        it is affine in (a, b); the route is chosen from the model's structure and sizes.

        Args:
            center: the plane's centre, a point of length d.
            u: the first direction, length d.
            v: the second direction, length d.
            alphas: 1-D coordinates along ``u``.
            betas: 1-D coordinates along ``v``.
            progress: a progress bar (None: on a terminal, after a few seconds).

        Returns:
            The losses, (len(alphas), len(betas)).

        Raises:
            ShapeError: if ``alphas`` or ``betas`` is not 1-D.
        """
        from .plane import plane_losses

        center, u, v = (self._checked(t) for t in (center, u, v))
        alphas = torch.as_tensor(alphas, dtype=self.dtype, device=self.device)
        betas = torch.as_tensor(betas, dtype=self.dtype, device=self.device)
        if alphas.ndim != 1 or betas.ndim != 1:
            msg = f"alphas and betas must be 1-D. Got shapes {tuple(alphas.shape)} and {tuple(betas.shape)}."
            raise ShapeError(msg)
        return plane_losses(self, center, u, v, alphas, betas, progress)

    def _loss_takes_raw(self) -> bool:
        return isinstance(self.loss_fn, TorchLoss)

    def grads(self, thetas: torch.Tensor, *, progress: bool | None = None) -> torch.Tensor:
        """Gradients at many parameter vectors at once: (B, d) -> (B, d) (vmap or a loop, see :meth:`losses`).

        Args:
            thetas: points as rows, (B, d).
            progress: a progress bar (None: on a terminal, after a few seconds).

        Returns:
            The gradients as rows, (B, d).
        """
        self.layout.check(thetas)
        thetas = thetas.to(device=self.device, dtype=self.dtype)
        parts = self._parts()
        if parts is not None:  # one batch's graphs at a time
            return _sum_over(parts, lambda part: part.grads(thetas, progress=progress))
        if self._rowwise_fn is not None:
            with _autograd_on():
                T = thetas.detach().clone().requires_grad_(True)
                return torch.autograd.grad(self._rowwise_fn(T).sum(), T)[0]
        g = grad(self._scalar_fn)
        if _inside_transform(thetas) or thetas.ndim != 2 or thetas.shape[0] == 0:
            return vmap(g, chunk_size=self.chunk_size)(thetas)

        def loop(C):
            return torch.stack([self.grad(t) for t in C])

        return run_batched(thetas, self._plan("vmap"), {"loop": loop, "vmap": vmap(g)}, plans=self._plans,
                           op="grads", progress=progress, desc="gradients")

    def hessians(self, thetas: torch.Tensor, *, max_dim: int = 64) -> torch.Tensor:
        """Dense Hessians at many points of a small landscape: (B, d) -> (B, d, d).

        Vectorised over points and Hessian columns; meant for toy landscapes and tiny
        nets (d <= ``max_dim``), e.g. classifying every point of a grid.

        Args:
            thetas: points as rows, (B, d).
            max_dim: the largest d allowed.

        Returns:
            The Hessians, (B, d, d).

        Raises:
            DenseTooLargeError: if d > ``max_dim``.
        """
        self.layout.check(thetas)
        d = self.dim
        if d > max_dim:
            msg = (f"Batched dense Hessians are for d <= {max_dim}. Got d = {d}; use "
                   f"Landscape.hessian at single points or Landscape.hvps instead.")
            raise DenseTooLargeError(msg)
        g = grad(self._scalar_fn)
        eye = torch.eye(d, dtype=self.dtype)

        def one(theta):
            H = vmap(lambda v: jvp(g, (theta,), (v,))[1])(eye)
            return 0.5 * (H + H.T)

        return vmap(one, chunk_size=max(1, self.chunk_size // d))(thetas.to(self.dtype))

    def operator(self, theta: torch.Tensor) -> LinearOperator:
        """The Hessian at theta as a SciPy ``LinearOperator`` (float64 NumPy in and out).

        Products go through :meth:`hvp_rows` (one retained gradient graph at theta); for
        per-layer blocks, the Gauss–Newton matrix and product counts use
        ``valleys.curvature.hessian_operator``.

        Args:
            theta: a point of length d.

        Returns:
            A symmetric (d, d) ``LinearOperator``.
        """
        rows = self.hvp_rows(theta)
        d = self.dim

        def matmat(M):
            V = torch.as_tensor(np.asarray(M, dtype=np.float64).reshape(d, -1).T.copy(), dtype=self.dtype)
            return rows(V).detach().numpy().T.astype(np.float64)

        def matvec(v):
            return matmat(np.asarray(v).reshape(d, 1)).reshape(-1)

        return LinearOperator((d, d), matvec=matvec, rmatvec=matvec, matmat=matmat, dtype=np.float64)

    # ------------------------------------------------------------- model quantities
    def _need_model(self, what: str):
        if self._forward is None:
            msg = f"{what} needs a model and data; this landscape was built from a plain function."
            raise InvalidParameterError(msg)

    def outputs(self, theta: torch.Tensor) -> torch.Tensor:
        """Network outputs f_theta(x_i) stacked over all samples, shape (N, m).

        Args:
            theta: a point of length d.

        Returns:
            The outputs (N, m).
        """
        self._need_model("outputs")
        params = self.layout.unflatten(self._checked(theta))
        return torch.cat([as_matrix(self._forward(params, X)) for X, _ in self.batches])

    def targets(self) -> torch.Tensor:
        """All targets stacked over batches.

        Returns:
            The targets of every batch, concatenated.
        """
        self._need_model("targets")
        return torch.cat([Y for _, Y in self.batches])

    def inputs(self) -> torch.Tensor:
        """All inputs stacked over batches.

        Returns:
            The inputs of every batch, concatenated (N, ...).
        """
        self._need_model("inputs")
        return torch.cat([X for X, _ in self.batches])

    def jacobian(self, theta: torch.Tensor) -> torch.Tensor:
        """Jacobian of the stacked outputs, shape (N * m, d) (sample-major).

        Args:
            theta: a point of length d.

        Returns:
            The Jacobian (N m, d).
        """
        self._need_model("jacobian")
        theta = self._checked(theta)
        J = jacrev(lambda t: self.outputs(t).reshape(-1))(theta)
        return J

    def features(self, theta: torch.Tensor, k: int) -> torch.Tensor:
        """Outputs of hidden layer k (1-based), stacked over samples: (N, n_k).

        A hidden layer is the k-th activation module of the model (a
        :class:`valleys.nets.Activation` or a torch activation such as ``nn.ReLU``),
        or the k-th module listed by the model's own ``feature_layers()`` method.

        Args:
            theta: a point of length d.
            k: the hidden layer, 1-based.

        Returns:
            The layer's outputs, one row per sample, (N, n_k).

        Raises:
            InvalidParameterError: if the model has fewer than k hidden layers (or no model).
        """
        self._need_model("features")
        if self.module is None:
            msg = "features needs an nn.Module model; a functional model has no named layers."
            raise InvalidParameterError(msg)
        layers = _feature_layers(self.module)
        k = check_int(k, "k", "Landscape.features", min_val=1, max_val=max(len(layers), 1))
        captured = []
        handle = layers[k - 1].register_forward_hook(lambda m, i, o: captured.append(o))
        try:
            self.outputs(theta)
        finally:
            handle.remove()
        return torch.cat([c.reshape(c.shape[0], -1) for c in captured])

    # ------------------------------------------------------------------- checking
    def check_finite(self, theta: torch.Tensor) -> torch.Tensor:
        """Return L(theta) after checking that it and the gradient are finite.

        Raises:
            NonFiniteError: naming the parameter blocks that hold NaN/Inf, or whose
                gradient is not finite.

        Args:
            theta: a point of length d.

        Returns:
            L(theta), a 0-d tensor.
        """
        theta = self._checked(theta)
        bad = [n for n, b in self.layout.unflatten(theta).items() if not torch.isfinite(b).all()]
        if bad:
            msg = f"theta holds NaN or Inf in block(s) {', '.join(bad)}: re-initialise them."
            raise NonFiniteError(msg)
        value, g = self.loss_and_grad(theta)
        if not torch.isfinite(value):
            msg = (f"The loss at theta is {float(value)}; parameter blocks with the largest "
                   f"entries: {_largest_blocks(self.layout, theta)}. Rescale them or lower the step size.")
            raise NonFiniteError(msg)
        bad = [n for n, b in self.layout.unflatten(g).items() if not torch.isfinite(b).all()]
        if bad:
            msg = f"The gradient is not finite in block(s) {', '.join(bad)} at theta."
            raise NonFiniteError(msg)
        return value

    def _check_deterministic(self):
        first = self.loss(self.theta0)
        second = self.loss(self.theta0)
        if not torch.equal(first, second) and not (torch.isnan(first) and torch.isnan(second)):
            msg = (f"The loss is not a deterministic function of theta ({float(first)!r} then "
                   f"{float(second)!r}). Call model.eval(), remove dropout or batch-norm in training "
                   f"mode, or pass check_deterministic=False.")
            raise ModelError(msg)

    def __repr__(self) -> str:
        loss = self.loss_fn.name if self.loss_fn is not None else "function"
        where = f", device={str(self.device)!r}" if self.device is not None else ""
        return f"Landscape(d={self.dim}, N={self.n_samples}, loss={loss!r}, reduction={self.reduction!r}{where})"


def _sum_over(parts: list[Landscape], fn: Callable[[Landscape], torch.Tensor]) -> torch.Tensor:
    """``sum(fn(part) for part in parts)``, accumulated in place so that one term lives at a time."""
    total = fn(parts[0])
    for part in parts[1:]:
        term = fn(part)
        total = total + term if _inside_transform(term) or _inside_transform(total) else total.add_(term)
    return total


@contextlib.contextmanager
def _autograd_on():
    """Autograd on, even inside ``torch.no_grad()`` or ``torch.inference_mode()``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _inside_transform(t: torch.Tensor) -> bool:
    """True when ``t`` is wrapped by a torch.func transform (vmap, grad, jvp, ...)."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _check_device(device) -> torch.device | None:
    if device is None:
        return None
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as err:
        msg = f"The 'device' parameter of Landscape must name a torch device ('cpu', 'cuda', 'cuda:0'). Got {device!r}."
        raise InvalidParameterError(msg) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        msg = f"device={device!r} was asked for, but torch sees no CUDA device here. Use device='cpu' (or None)."
        raise InvalidParameterError(msg)
    return dev


def _check_output(output):
    if output is None or callable(output) or isinstance(output, str):
        return output
    if isinstance(output, int) and not isinstance(output, bool):
        return output
    msg = f"The 'output' parameter of Landscape must be an index, a key or a callable. Got {output!r}."
    raise InvalidParameterError(msg)


def _select_output(raw, output):
    """Apply the ``output=`` selector to a model's raw output and insist on one tensor."""
    if output is not None:
        try:
            raw = output(raw) if callable(output) else raw[output]
        except (IndexError, KeyError, TypeError) as err:
            kind = type(raw).__name__
            keys = f" (keys: {', '.join(map(str, raw))})" if isinstance(raw, Mapping) else ""
            msg = f"output={output!r} cannot select from the model's {kind} output{keys}: {_first_line(err)}"
            raise ModelError(msg) from None
    if isinstance(raw, torch.Tensor):
        return raw
    if isinstance(raw, tuple | list):
        msg = (f"The model returns a {type(raw).__name__} of {len(raw)} items; pass Landscape(..., output=0) "
               f"(an index), or a callable, to say which one the loss takes.")
    elif isinstance(raw, Mapping):
        msg = (f"The model returns a dict with keys {', '.join(map(repr, raw))}; pass Landscape(..., output=KEY) "
               f"(e.g. output={next(iter(raw), 'logits')!r}) to say which one the loss takes.")
    else:
        msg = (f"The model returns a {type(raw).__name__}, not a tensor; pass Landscape(..., output=callable) "
               f"that maps it to the output tensor (e.g. output=lambda o: o.logits).")
    raise ModelError(msg)


def _run_forward(forward, params, X):
    """The first forward pass, with torch's errors turned into messages that say what to fix."""
    try:
        return forward(params, X)
    except ModelError:
        raise
    except (RuntimeError, ValueError, IndexError, TypeError, AttributeError) as err:
        text = _first_line(err)
        if any(w in text for w in ("shape", "size", "dimension", "Expected")):
            msg = (f"The model cannot be applied to inputs X of shape {tuple(X.shape)}: {text}. Check that X has "
                   f"the width (or channels and image size) the model's first layer expects.")
            raise ShapeError(msg) from None
        msg = f"The model failed on inputs X of shape {tuple(X.shape)}: {type(err).__name__}: {text}"
        raise ModelError(msg) from None


def _functional_model(model, params, dtype, device=None, output=None, include_frozen=False):
    """``(module, forward(params, X), trainable params, frozen names)`` of a model."""
    if isinstance(model, type):
        name = model.__name__
        msg = f"model must be an instance, not the class {name}: write Landscape({name}(...), data)."
        raise ModelError(msg)
    if isinstance(model, nn.Module):
        _refuse_stateful(model)
        module = copy.deepcopy(model).to(device=device, dtype=dtype)
        named = dict(module.named_parameters())
        init = {n: p.detach().clone() for n, p in named.items() if include_frozen or p.requires_grad}
        frozen = tuple(n for n in named if n not in init)
        if not init:
            msg = ("The model has no parameters: a landscape needs at least one trainable tensor." if not named else
                   f"Every parameter of the model is frozen (requires_grad=False: {', '.join(frozen)}). "
                   f"Unfreeze some, or pass include_frozen=True to put them in theta.")
            raise ModelError(msg)
        fixed = {n: b.detach() for n, b in module.named_buffers()}
        fixed.update({n: named[n].detach() for n in frozen})

        def forward(p, X):
            return _select_output(functional_call(module, (p, fixed), (X,)), output)

        targets = [named[n] for n in init]

        def direct(theta, X):
            """No-grad forward at a flat theta by copying it into the private copy's parameters
            (no functional_call overhead; used by loops of values and by planes)."""
            torch.nn.utils.vector_to_parameters(theta, targets)
            return _select_output(module(X), output)

        forward.direct = direct
        return module, forward, init, frozen
    if callable(model):
        if params is None:
            msg = "A functional model f(params, X) needs its initial parameters: pass params={...}."
            raise ModelError(msg)
        init = {n: torch.as_tensor(p).detach().to(device=device, dtype=dtype).clone() for n, p in params.items()}

        def call(p, X):
            return _select_output(model(p, X), output)

        return None, call, init, ()
    msg = f"model must be an nn.Module or a function f(params, X). Got {type(model).__name__}."
    raise ModelError(msg)


def _refuse_stateful(model: nn.Module):
    for name, m in model.named_modules():
        if isinstance(m, _STATEFUL) and m.training:
            kind = type(m).__name__
            msg = (f"Module {name or 'model'!r} ({kind}) is in training mode, so the loss is not a "
                   f"deterministic function of theta. Call model.eval() first.")
            raise ModelError(msg)


def _feature_layers(module: nn.Module) -> list[nn.Module]:
    if hasattr(module, "feature_layers"):
        return list(module.feature_layers())
    layers = [m for m in module.modules()
              if getattr(m, "is_activation", False) or isinstance(m, _TORCH_ACTIVATIONS)]
    if not layers:
        msg = "The model has no activation modules, so it has no hidden layers to read features from."
        raise InvalidParameterError(msg)
    return layers


def _largest_blocks(layout: ParamLayout, theta: torch.Tensor) -> str:
    norms = {n: float(b.abs().max()) if b.numel() else 0.0 for n, b in layout.unflatten(theta).items()}
    top = sorted(norms, key=norms.get, reverse=True)[:3]
    return ", ".join(f"{n} (max |.| = {norms[n]:.3g})" for n in top)
