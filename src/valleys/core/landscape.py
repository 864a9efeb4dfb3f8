"""The landscape: a functional view of (model, data, loss) over a flat theta in R^d."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator
from torch import nn
from torch.func import functional_call, grad, grad_and_value, jacrev, jvp, vmap

from .._validation import check_choice, check_int
from ..errors import DenseTooLargeError, InvalidParameterError, ModelError, NonFiniteError
from ..nets.losses import Loss, get_loss
from .data_source import prepare_data
from .layout import ParamLayout
from .products import hvp_rows

#: Largest d for which :meth:`Landscape.hessian` builds a dense matrix by default.
MAX_DENSE_DIM = 6000

_STATEFUL = (nn.modules.dropout._DropoutNd, nn.modules.batchnorm._BatchNorm,
             nn.modules.instancenorm._InstanceNorm)
_TORCH_ACTIVATIONS = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ELU,
                      nn.GELU, nn.SiLU, nn.Softsign, nn.Hardtanh)


class Landscape:
    r"""Loss, gradient, Hessian-vector products and more of a model over flat parameters.

    .. math::
        L(\theta) = \frac{1}{N}\sum_{i=1}^N \ell(f_\theta(x_i), y_i)\quad
        (\text{reduction}=\text{"mean"}), \qquad \sum_i \ell(f_\theta(x_i), y_i)\ (\text{"sum"}).

    Args:
        model: an ``nn.Module`` (copied and cast to ``dtype``; dropout or batch-norm in
            training mode is refused) or a function ``f(params: dict, X) -> outputs``
            together with ``params``.
        data: ``(X, Y)`` tensors or arrays (full batch), or an iterable of ``(X, Y)``
            batches; batches are weighted by their size.
        loss: ``"mse"`` (per-sample ||f - y||^2), ``"half_squared"``, ``"ce"``,
            ``"hinge"``, ``"logistic"``, ``"polynomial_hinge"``, a :class:`~valleys.nets.Loss`
            or a callable ``(outputs (N, m), targets) -> (N,)``.
        reduction: ``"mean"`` (1/N sum) or ``"sum"``.
        dtype: floating dtype of parameters and data (float64 by default).
        params: initial parameters of a functional ``model`` (a dict of tensors).
        chunk_size: how many parameter vectors or Hessian columns are vectorised at once.
        check_deterministic: evaluate the loss twice at the initial parameters and refuse
            a model whose loss differs.

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
                 reduction: str = "mean", dtype: torch.dtype = torch.float64,
                 params: Mapping[str, torch.Tensor] | None = None, chunk_size: int = 512,
                 check_deterministic: bool = True):
        self.dtype = dtype
        self.reduction = check_choice(reduction, "reduction", "Landscape", ("mean", "sum"))
        self.chunk_size = check_int(chunk_size, "chunk_size", "Landscape", min_val=1)
        self.loss_fn = get_loss(loss)
        self.module, self._forward, init = _functional_model(model, params, dtype)
        self.layout = ParamLayout.from_params(init)
        self.theta0 = self.layout.flatten(init).detach().clone()
        self.batches = prepare_data(data, self.loss_fn.target, dtype)
        self.n_samples = sum(int(X.shape[0]) for X, _ in self.batches)
        self._scale = 1.0 / self.n_samples if self.reduction == "mean" else 1.0
        self._scalar_fn: Callable[[torch.Tensor], torch.Tensor] = self._data_loss
        self._rowwise_fn: Callable[[torch.Tensor], torch.Tensor] | None = None
        if check_deterministic:
            self._check_deterministic()

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_function(cls, f: Callable[[torch.Tensor], torch.Tensor], dim: int, *,
                      theta0: torch.Tensor | None = None, names: tuple[str, ...] | None = None,
                      dtype: torch.dtype = torch.float64, chunk_size: int = 4096,
                      rowwise: bool = False) -> Landscape:
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

        Example:
            >>> land = Landscape.from_function(lambda t: (t[0] * t[1] - 1) ** 2, 2)
            >>> land.hessian(torch.zeros(2, dtype=torch.float64)).tolist()
            [[0.0, -2.0], [-2.0, 0.0]]
        """
        dim = check_int(dim, "dim", "Landscape.from_function", min_val=1)
        self = cls.__new__(cls)
        self.dtype = dtype
        self.reduction = "sum"
        self.chunk_size = check_int(chunk_size, "chunk_size", "Landscape.from_function", min_val=1)
        self.loss_fn = None
        self.module, self._forward = None, None
        if names is None:
            self.layout = ParamLayout(("theta",), ((dim,),))
        else:
            if len(names) != dim:
                msg = f"names must have one entry per variable ({dim}). Got {len(names)}."
                raise InvalidParameterError(msg)
            self.layout = ParamLayout(tuple(names), tuple(() for _ in names))
        self.theta0 = (torch.zeros(dim, dtype=dtype) if theta0 is None
                       else torch.as_tensor(theta0, dtype=dtype).clone())
        self.layout.check(self.theta0)
        self.batches, self.n_samples, self._scale = [], 0, 1.0
        self._scalar_fn = f
        self._rowwise_fn = f if rowwise else None
        return self

    # ------------------------------------------------------------------ basic values
    @property
    def dim(self) -> int:
        """Number of parameters d."""
        return self.layout.dim

    def _data_loss(self, theta: torch.Tensor) -> torch.Tensor:
        params = self.layout.unflatten(theta)
        total = 0.0
        for X, Y in self.batches:
            out = _as_matrix(self._forward(params, X))
            total = total + self.loss_fn(out, Y).sum()
        return total * self._scale

    def _checked(self, theta: torch.Tensor) -> torch.Tensor:
        self.layout.check(theta)
        return theta.to(self.dtype)

    def loss(self, theta: torch.Tensor) -> torch.Tensor:
        """The loss L(theta), a 0-d tensor."""
        return self._scalar_fn(self._checked(theta))

    def grad(self, theta: torch.Tensor) -> torch.Tensor:
        """The gradient of L at theta, shape (d,)."""
        theta = self._checked(theta)
        if _inside_transform(theta):
            return grad(self._scalar_fn)(theta)
        with _autograd_on():
            leaf = theta.detach().clone().requires_grad_(True)
            return torch.autograd.grad(self._scalar_fn(leaf), leaf)[0]

    def loss_and_grad(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L(theta), grad L(theta))`` from one forward and one backward pass."""
        theta = self._checked(theta)
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
        """
        self._need_model("loss_on")
        params = self.layout.unflatten(theta)
        total = self.loss_fn(_as_matrix(self._forward(params, X)), Y).sum()
        return total / X.shape[0] if self.reduction == "mean" else total

    def hvp(self, theta: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Hessian-vector product H(theta) v.

        Computed by reverse-over-reverse autograd (double backward), which measured
        faster than forward-over-reverse through ``functional_call`` on CPU
        (``benchmarks/core.py``); inside ``torch.func`` transforms it uses
        forward-over-reverse (``jvp`` of ``grad``).
        """
        theta = self._checked(theta)
        self.layout.check(v)
        v = v.to(self.dtype)
        if _inside_transform(theta) or _inside_transform(v):
            return jvp(grad(self._scalar_fn), (theta,), (v,))[1]
        with _autograd_on():
            leaf = theta.detach().clone().requires_grad_(True)
            g = torch.autograd.grad(self._scalar_fn(leaf), leaf, create_graph=True)[0]
            if not g.requires_grad:  # the loss is affine in theta
                return torch.zeros_like(v)
            return torch.autograd.grad(g, leaf, v.clone())[0]

    def hvps(self, theta: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
        """Hessian times many vectors: rows of ``V`` (k, d) -> rows of (H V^T)^T, vectorised."""
        theta = self._checked(theta)
        self.layout.check(V)
        g = grad(self._scalar_fn)

        def one(v):
            return jvp(g, (theta,), (v,))[1]

        return vmap(one, chunk_size=self.chunk_size)(V.to(self.dtype))

    def hessian(self, theta: torch.Tensor, *, max_dim: int = MAX_DENSE_DIM) -> torch.Tensor:
        """Dense symmetric Hessian (d, d), built column-chunk by column-chunk from HVPs.

        Raises:
            DenseTooLargeError: if d > ``max_dim``; use the matrix-free
                ``valleys.curvature.hessian_operator`` / :meth:`hvp` instead.
        """
        d = self.dim
        if d > max_dim:
            msg = (f"A dense Hessian of d = {d} parameters ({d * d * 8 / 2**30:.1f} GiB) exceeds "
                   f"max_dim = {max_dim}. Use the matrix-free valleys.curvature.hessian_operator "
                   f"(or Landscape.hvp) with Lanczos, or raise max_dim.")
            raise DenseTooLargeError(msg)
        H = self.hvp_rows(theta)(torch.eye(d, dtype=self.dtype))
        return 0.5 * (H + H.T)

    def hvp_rows(self, theta: torch.Tensor, *, method: str = "auto") -> Callable[[torch.Tensor], torch.Tensor]:
        """A function ``rows(V) = V H(theta)`` for many rows ``V (k, d)`` at one point.

        With ``method="graph"`` (the default through ``"auto"``) the gradient graph at
        theta is built once and each batch of products is one batched backward pass;
        ``"functorch"`` vmaps :meth:`hvps`. See :mod:`valleys.core.products`.
        """
        theta = self._checked(theta)
        if _inside_transform(theta):  # a retained graph cannot live inside vmap/grad/jvp
            return hvp_rows(self, theta, "functorch")
        return hvp_rows(self, theta.detach(), method)

    def losses(self, thetas: torch.Tensor) -> torch.Tensor:
        """Losses at many parameter vectors at once: (B, d) -> (B,), vectorised with vmap."""
        self.layout.check(thetas)
        if self._rowwise_fn is not None:
            return self._rowwise_fn(thetas.to(self.dtype))
        return vmap(self._scalar_fn, chunk_size=self.chunk_size)(thetas.to(self.dtype))

    def grads(self, thetas: torch.Tensor) -> torch.Tensor:
        """Gradients at many parameter vectors at once: (B, d) -> (B, d)."""
        self.layout.check(thetas)
        if self._rowwise_fn is not None:
            with _autograd_on():
                T = thetas.detach().to(self.dtype).clone().requires_grad_(True)
                return torch.autograd.grad(self._rowwise_fn(T).sum(), T)[0]
        return vmap(grad(self._scalar_fn), chunk_size=self.chunk_size)(thetas.to(self.dtype))

    def hessians(self, thetas: torch.Tensor, *, max_dim: int = 64) -> torch.Tensor:
        """Dense Hessians at many points of a small landscape: (B, d) -> (B, d, d).

        Vectorised over points and Hessian columns; meant for toy landscapes and tiny
        nets (d <= ``max_dim``), e.g. classifying every point of a grid.
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
        """Network outputs f_theta(x_i) stacked over all samples, shape (N, m)."""
        self._need_model("outputs")
        params = self.layout.unflatten(self._checked(theta))
        return torch.cat([_as_matrix(self._forward(params, X)) for X, _ in self.batches])

    def targets(self) -> torch.Tensor:
        """All targets stacked over batches."""
        self._need_model("targets")
        return torch.cat([Y for _, Y in self.batches])

    def inputs(self) -> torch.Tensor:
        """All inputs stacked over batches."""
        self._need_model("inputs")
        return torch.cat([X for X, _ in self.batches])

    def jacobian(self, theta: torch.Tensor) -> torch.Tensor:
        """Jacobian of the stacked outputs, shape (N * m, d) (sample-major)."""
        self._need_model("jacobian")
        theta = self._checked(theta)
        J = jacrev(lambda t: self.outputs(t).reshape(-1))(theta)
        return J

    def features(self, theta: torch.Tensor, k: int) -> torch.Tensor:
        """Outputs of hidden layer k (1-based), stacked over samples: (N, n_k).

        A hidden layer is the k-th activation module of the model (a
        :class:`valleys.nets.Activation` or a torch activation such as ``nn.ReLU``),
        or the k-th module listed by the model's own ``feature_layers()`` method.
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
        return f"Landscape(d={self.dim}, N={self.n_samples}, loss={loss!r}, reduction={self.reduction!r})"


@contextlib.contextmanager
def _autograd_on():
    """Autograd on, even inside ``torch.no_grad()`` or ``torch.inference_mode()``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


def _inside_transform(t: torch.Tensor) -> bool:
    """True when ``t`` is wrapped by a torch.func transform (vmap, grad, jvp, ...)."""
    return bool(torch._C._functorch.is_functorch_wrapped_tensor(t))


def _as_matrix(out: torch.Tensor) -> torch.Tensor:
    if out.ndim == 1:
        return out[:, None]
    return out.reshape(out.shape[0], -1) if out.ndim > 2 else out


def _functional_model(model, params, dtype):
    if isinstance(model, nn.Module):
        _refuse_stateful(model)
        module = copy.deepcopy(model).to(dtype)
        init = {n: p.detach().clone() for n, p in module.named_parameters()}
        if not init:
            msg = "The model has no parameters: a landscape needs at least one trainable tensor."
            raise ModelError(msg)
        buffers = {n: b.detach() for n, b in module.named_buffers()}

        def forward(p, X):
            return functional_call(module, (p, buffers), (X,))

        return module, forward, init
    if callable(model):
        if params is None:
            msg = "A functional model f(params, X) needs its initial parameters: pass params={...}."
            raise ModelError(msg)
        init = {n: torch.as_tensor(p).detach().to(dtype).clone() for n, p in params.items()}
        return None, model, init
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
