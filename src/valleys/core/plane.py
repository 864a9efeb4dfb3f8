r"""The one evaluator of losses on a plane (or a line) of parameter space.

:func:`plane_losses` returns :math:`L(c + a u + b v)` on a grid of ``(a, b)`` and is what
``Landscape.plane``, ``surface.plane`` / ``surface.line`` / ``surface.plane_through`` and
``valleys analyze --plane`` call. All its routes rest on one fact: the first layer that reads
the raw inputs X is linear in its weight and bias jointly, so on the plane its output is
affine in (a, b)::

    Z(a, b) = layer(X; W_c + a W_u + b W_v, b_c + a b_u + b b_v) = Z_c + a Z_u + b Z_v

with Z_u = layer(X; W_u, b_u): Z_c, Z_u and Z_v are computed once per data batch, and each
point pays scaled additions instead of the first layer's product.

Routes, chosen by :func:`plane_route` from the model's structure and sizes alone (never
from timings, so a call returns bitwise the same numbers on every run):

- ``"stack"`` — the model is a chain of affine layers and elementwise activations whose
  blocks are all in theta (an ``nn.Sequential`` of ``nn.Linear`` and activation modules,
  or a module that describes itself by ``affine_stack()``, as valleys' ``MLP`` and
  ``TwoLayer`` do), and the chain reproduces the landscape's outputs at the centre. The
  first layer is factored out; the deeper layers use ``W_c + a W_u + b W_v`` directly
  (no module call, no copy of theta). When a point is a large product
  (samples x widest layer >= :data:`LOOP_ABOVE`) the points run one at a time with matrix
  products, else in chunks of points with batched products (at most
  :data:`STACK_CHUNK_ELEMENTS` per chunk).
- ``"factored"`` — another ``nn.Module`` whose first ``nn.Linear``/``nn.Conv1d/2d/3d``
  reads X once with trainable, unshared parameters, when a point costs more than
  ``core.batching.SMALL_WORK``: that layer is factored out and the rest of the model runs
  per point through its own forward, without autograd. It applies from any fan-in
  (:data:`FACTOR_MIN_FAN_IN`): the route it replaces there is the vectorised
  ``Landscape.losses``, and ``benchmarks/surface.py --one-plane`` measured the factored
  route faster on a CNN whose first layer has fan-in 9 (``benchmarks/results/plane.json``).
- ``"batched"`` — everything else (plain functions, small models, other models, a
  landscape whose loss is not its data loss): :meth:`Landscape.losses` on the grid points,
  in chunks of ``chunk`` points.

Every route equals ``land.loss(c + a u + b v)`` at each grid point up to rounding (tested);
``benchmarks/surface.py`` measures the routes against each other and against
loss_landscapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from .._progress import progress_bar
from .._validation import check_choice, check_int
from .checks import as_matrix
from .losses import cross_entropy

if TYPE_CHECKING:
    from .landscape import Landscape

#: The routes of :func:`plane_losses` (``"auto"`` lets :func:`plane_route` choose).
PLANE_ROUTES = ("auto", "stack", "factored", "batched")
#: The first layer of a non-chain model is factored out only when its fan-in is at least
#: this (0: always; see the module docstring for the measurement behind it).
FACTOR_MIN_FAN_IN = 0
#: Samples x widest layer from which the stack route runs one grid point at a time with
#: matrix products (on CPUs a batched product of many such blocks is slower than a loop).
LOOP_ABOVE = 2 ** 14
#: Largest (points x samples x widest layer) block of the stack route's batched chunks
#: (32 MiB in float64), which bounds its chunk of grid points.
STACK_CHUNK_ELEMENTS = 2 ** 22
#: Grid points per call of :meth:`Landscape.losses` on the batched route (bounds the
#: (points, d) block of parameter vectors built at once).
PLANE_CHUNK = 1024
#: Largest relative gap between a chain's outputs and the landscape's own outputs at the
#: centre before the stack route is refused, by dtype.
STACK_CHECK_RTOL = {torch.float64: 1e-10, torch.float32: 1e-5}

_AFFINE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
_ELEMENTWISE = (nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.ELU, nn.GELU, nn.SiLU,
                nn.Softsign, nn.Hardtanh)


# ------------------------------------------------------------------------------- routes
@dataclass(frozen=True, eq=False)
class AffineStack:
    """A chain x -> W_L s(... s(W_1 x + b_1) ...) + b_L read from a model.

    Attributes:
        weights: names of the weight blocks in the layout, first layer first; a 1-D block is
            one output row (``TwoLayer``'s ``v``).
        biases: names of the bias blocks (None where a layer has none).
        acts: one elementwise function per hidden layer.
        flatten: the inputs are flattened to (N, features) first (an ``nn.Flatten`` in front).
    """

    weights: tuple[str, ...]
    biases: tuple[str | None, ...]
    acts: tuple[Callable[[torch.Tensor], torch.Tensor], ...]
    flatten: bool = False

    @property
    def depth(self) -> int:
        return len(self.weights)

    def layer(self, blocks: dict[str, torch.Tensor], k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The weight and bias of one layer of the chain.

        Args:
            blocks: the parameter blocks by name (``ParamLayout.unflatten`` of a point).
            k: the layer, 0 .. depth - 1.

        Returns:
            ``(W_k, b_k)``: W_k of shape (m_k, m_{k-1}) (a 1-D block as one row), b_k or None.
        """
        W = blocks[self.weights[k]]
        return (W[None, :] if W.ndim == 1 else W), (blocks[self.biases[k]] if self.biases[k] is not None else None)

    def inputs(self, X: torch.Tensor) -> torch.Tensor:
        """The inputs as the first layer reads them.

        Args:
            X: a data batch.

        Returns:
            ``X`` flattened to (N, features) when the chain starts with an ``nn.Flatten``, else ``X``.
        """
        return X.flatten(1) if self.flatten else X


def _sequential_stack(module: nn.Sequential) -> AffineStack | None:
    """Linear layers with at most one elementwise activation between consecutive ones."""
    weights, biases, acts, pending, flatten = [], [], [], None, False
    for name, child in flat_children(module):
        if type(child) is nn.Linear:
            if weights:
                acts.append(pending if pending is not None else _identity)
            elif pending is not None:
                return None  # an activation on the raw inputs
            pending = None
            weights.append(f"{name}.weight")
            biases.append(f"{name}.bias" if child.bias is not None else None)
        elif type(child) is nn.Identity or (isinstance(child, nn.Dropout) and (not child.training or child.p == 0)):
            continue
        elif type(child) is nn.Flatten and not weights and not flatten and child.start_dim == 1 and child.end_dim == -1:
            flatten = True
        elif _elementwise(child) and weights and pending is None:
            pending = child
        else:
            return None  # an unknown module, two activations in a row, or one before any layer
    if not weights or pending is not None:
        return None
    return AffineStack(tuple(weights), tuple(biases), tuple(acts), flatten)


def _elementwise(child: nn.Module) -> bool:
    """A torch activation module, or a module that says it is one (valleys' ``Activation``)."""
    return isinstance(child, _ELEMENTWISE) or bool(getattr(child, "is_activation", False))


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def flat_children(module: nn.Module, prefix: str = "") -> list[tuple[str, nn.Module]]:
    """The children of ``module`` with nested ``nn.Sequential`` s flattened.

    Args:
        module: the module.
        prefix: prepended to every name (the dotted path of ``module``).

    Returns:
        ``(dotted name, module)`` pairs; the names are those of the parameters' prefixes.
    """
    out = []
    for name, child in module.named_children():
        if type(child) is nn.Sequential:
            out += flat_children(child, f"{prefix}{name}.")
        else:
            out.append((f"{prefix}{name}", child))
    return out


def affine_stack(land: Landscape) -> AffineStack | None:
    """The landscape's model as an :class:`AffineStack`, or None.

    Read from an ``nn.Sequential`` of ``nn.Linear`` layers and elementwise activations, or
    from a module's ``affine_stack()`` (``(weights, biases, acts)``); accepted only when every
    block is in theta, the loss is the data loss and the chain reproduces the landscape's
    outputs on its first batch at theta0 to :data:`STACK_CHECK_RTOL`.

    Args:
        land: the landscape.

    Returns:
        The chain, or None when the model is not one (or does not pass the checks above).
    """
    module = land.module
    if module is None or land.loss_fn is None or land._scalar_fn != land._data_loss:
        return None
    if isinstance(module, nn.Sequential):
        stack = _sequential_stack(module)
    elif callable(getattr(module, "affine_stack", None)):
        weights, biases, acts = module.affine_stack()
        stack = AffineStack(tuple(weights), tuple(biases), tuple(acts))
    else:
        return None
    if stack is None:
        return None
    names = [*stack.weights, *(b for b in stack.biases if b is not None)]
    if sorted(names) != sorted(land.layout.names):
        return None  # frozen or extra parameters
    return stack if _reproduces(land, stack) else None


def _reproduces(land: Landscape, stack: AffineStack) -> bool:
    """The chain's forward pass equals the landscape's outputs at theta0 on the first batch."""
    X = land.batches[0][0]
    blocks = land.layout.unflatten(land.theta0)
    with torch.no_grad():
        h = stack.inputs(X)
        if h.ndim != 2:
            return False
        for k in range(stack.depth):
            W, b = stack.layer(blocks, k)
            h = _affine(h, W, b)
            if k < stack.depth - 1:
                h = stack.acts[k](h)
        out = land._forward(blocks, X)
    if (out if land._loss_takes_raw() else as_matrix(out)).shape != h.shape:
        return False  # a torch loss module sees the outputs' own shape
    out = as_matrix(out)
    rtol = STACK_CHECK_RTOL.get(land.dtype, 1e-10)
    scale = max(1.0, float(out.abs().max()))
    return bool(torch.isfinite(out).all()) and float((out - h).abs().max()) <= rtol * scale


def _fan_in(sub: nn.Module) -> int:
    if isinstance(sub, nn.Linear):
        return sub.in_features
    return (sub.in_channels // sub.groups) * int(torch.tensor(sub.kernel_size).prod())


def first_affine_layer(land: Landscape, min_fan_in: int = FACTOR_MIN_FAN_IN) -> tuple[str, nn.Module] | None:
    """The layer that reads the raw inputs X directly, if it can be factored out.

    Args:
        land: the landscape.
        min_fan_in: the smallest fan-in of a layer that is factored out.

    Returns:
        ``(name, module)`` of the one ``nn.Linear``/``nn.Conv*`` called once on X with its own
        trainable, unshared parameters, or None.
    """
    module = land.module
    if module is None or land.loss_fn is None or land._scalar_fn != land._data_loss:
        return None
    X0 = land.batches[0][0]
    calls: dict[str, int] = {}
    reads_x: list[str] = []
    handles = []
    for name, sub in module.named_modules():
        if isinstance(sub, _AFFINE):
            def hook(m, args, name=name):
                calls[name] = calls.get(name, 0) + 1
                if args and args[0] is X0:
                    reads_x.append(name)
            handles.append(sub.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            land._forward(land.layout.unflatten(land.theta0), X0)
    finally:
        for h in handles:
            h.remove()
    if len(reads_x) != 1 or calls[reads_x[0]] != 1:
        return None
    name = reads_x[0]
    sub = dict(module.named_modules())[name]
    prefix = f"{name}." if name else ""
    own = [prefix + n for n, _ in sub.named_parameters(recurse=False)]
    shared = sum(1 for _, p in module.named_parameters(remove_duplicate=False) for q in sub.parameters() if p is q)
    if not own or any(n not in land.layout.names for n in own) or shared != len(own):
        return None
    if _fan_in(sub) < min_fan_in:
        return None
    return name, sub


def plane_route(land: Landscape, min_fan_in: int = FACTOR_MIN_FAN_IN) -> tuple[str, object]:
    """The route of :func:`plane_losses` for ``land``: a pure function of the model's structure and sizes.

    Args:
        land: the landscape.
        min_fan_in: the factored route's smallest first-layer fan-in.

    Returns:
        ``("stack", AffineStack)``, ``("factored", (name, layer))`` or ``("batched", None)``
        (see the module docstring for the rule).
    """
    stack = affine_stack(land)
    if stack is not None:
        return "stack", stack
    layer = None if land._small() or land._forward is None else first_affine_layer(land, min_fan_in)
    return ("factored", layer) if layer is not None else ("batched", None)


# ---------------------------------------------------------------------------- evaluator
def plane_losses(land: Landscape, center: torch.Tensor, u: torch.Tensor, v: torch.Tensor,
                 alphas: torch.Tensor, betas: torch.Tensor, progress: bool | None = None, *,
                 route: str = "auto", chunk: int = PLANE_CHUNK, min_fan_in: int = FACTOR_MIN_FAN_IN) -> torch.Tensor:
    """L(center + a u + b v) for a in ``alphas``, b in ``betas``: shape (len(alphas), len(betas)).

    Args:
        land: the landscape.
        center: the centre c, length d, in the landscape's dtype and device (checked by the caller).
        u: the first direction, like ``center``.
        v: the second direction, like ``center``. A line is ``v = 0``, ``betas = [0]``
            (exact: the zero direction adds exact zeros).
        alphas: 1-D coordinates along u (the landscape's dtype and device).
        betas: 1-D coordinates along v (the landscape's dtype and device).
        progress: a progress bar (None: on a terminal, after a few seconds).
        route: ``"auto"`` (:func:`plane_route`) or a route name to force it; a forced
            route that does not apply to the model falls back to ``"batched"``.
        chunk: grid points per :meth:`Landscape.losses` call on the batched route, and the
            largest chunk of the stack route's batched products.
        min_fan_in: the factored route's smallest first-layer fan-in (0: always).

    Returns:
        A tensor of the landscape's dtype.
    """
    route = check_choice(route, "route", "plane_losses", PLANE_ROUTES)
    chunk = check_int(chunk, "chunk", "plane_losses", min_val=1)
    if route == "auto":
        route, how = plane_route(land, min_fan_in)
    elif route == "stack":
        how = affine_stack(land)
    elif route == "factored":
        how = None if land._forward is None else first_affine_layer(land, min_fan_in)
    else:
        how = None
    if how is None:
        route = "batched"
    land._plans["plane"] = (route, chunk)
    if route == "stack":
        return _stack_losses(land, how, center, u, v, alphas, betas, chunk, progress)
    if route == "factored":
        return _factored_losses(land, how, center, u, v, alphas, betas, progress)
    return _batched_losses(land, center, u, v, alphas, betas, chunk, progress)


def _batched_losses(land, center, u, v, alphas, betas, chunk, progress) -> torch.Tensor:
    A, B = torch.meshgrid(alphas, betas, indexing="ij")
    a, b = A.reshape(-1), B.reshape(-1)
    out = torch.empty(a.numel(), dtype=land.dtype, device=land.device)
    with torch.no_grad():
        for s in range(0, a.numel(), chunk):
            e = min(a.numel(), s + chunk)
            T = center.expand(e - s, -1).clone()
            T.addmm_(a[s:e, None], u[None, :]).addmm_(b[s:e, None], v[None, :])
            out[s:e] = land.losses(T, progress=progress)
    return out.reshape(A.shape)


def _stack_losses(land, stack: AffineStack, center, u, v, alphas, betas, chunk, progress) -> torch.Tensor:
    """The stack route: first layer once per batch, deeper layers per point or per chunk of points."""
    A, B = torch.meshgrid(alphas, betas, indexing="ij")
    grid_a, grid_b = A.reshape(-1), B.reshape(-1)
    blocks = [land.layout.unflatten(t) for t in (center, u, v)]
    layers = [[stack.layer(blk, k) for blk in blocks] for k in range(stack.depth)]
    widest = max(max(W.shape) for (W, _), _, _ in layers)
    raw = land._loss_takes_raw()
    n = grid_a.numel()
    with torch.no_grad():
        totals = torch.zeros(n, dtype=land.dtype, device=land.device)
        with progress_bar(n * len(land.batches), "plane", progress) as bar:
            for X, Y in land.batches:
                X = stack.inputs(X)
                first = [_affine(X, W, b) for W, b in layers[0]]
                if int(X.shape[0]) * widest >= LOOP_ABOVE:  # large products: one point at a time (mm beats bmm)
                    _stack_loop(land, stack, layers, first, Y, raw, alphas.tolist(), betas.tolist(), totals)
                    bar.update(n)
                    continue
                step = max(1, min(chunk, STACK_CHUNK_ELEMENTS // max(int(X.shape[0]) * widest, 1)))
                for s in range(0, n, step):
                    a, c = grid_a[s:s + step], grid_b[s:s + step]
                    Z = first[0] + a[:, None, None] * first[1] + c[:, None, None] * first[2]
                    for k in range(1, stack.depth):
                        H = stack.acts[k - 1](Z)
                        (W0, b0), (W1, b1), (W2, b2) = layers[k]
                        W = W0 + a[:, None, None] * W1 + c[:, None, None] * W2
                        Z = torch.bmm(H, W.transpose(1, 2))
                        if b0 is not None:
                            Z = Z + (b0 + a[:, None] * b1 + c[:, None] * b2)[:, None, :]
                    P, m, w = Z.shape
                    flat = Z.reshape(P * m, w)
                    Yp = Y.repeat(P, *([1] * (Y.ndim - 1)))
                    totals[s:s + P] += land.loss_fn(flat if raw else as_matrix(flat), Yp).reshape(P, m).sum(1)
                    bar.update(P)
        return (totals * land._scale).reshape(A.shape)


def _stack_loop(land, stack: AffineStack, layers, first, Y: torch.Tensor, raw: bool, alphas: list[float],
                betas: list[float], totals: torch.Tensor) -> None:
    """Add the summed loss over one data batch of every grid point, one point at a time, to ``totals``.

    Per point: the first layer's output ``(Z_c + a Z_u) + b Z_v`` (the bracket once per row of
    the grid), the activations in place, each deeper layer one ``addmm`` into a preallocated
    buffer (its weight ``(W_c + a W_u) + b W_v``, the bracket once per row), and the built-in
    cross-entropy in closed form on the last layer computed transposed (:func:`_ce_sum`). It
    profiled at about 0.6x the time of the allocating per-point loop it replaced on the MLP
    64-128-128-10 (the cross-entropy and the 10-column product were a third of it); equal to
    a forward pass at ``c + a u + b v`` up to rounding.
    """
    depth = stack.depth
    ce = depth > 1 and _fast_ce(land, Y, raw)  # the last layer is a product here (not the factored first one)
    inplace = [_in_place(act) for act in stack.acts]
    Z, row_Z = torch.empty_like(first[0]), torch.empty_like(first[0])
    W = [torch.empty_like(layers[k][0][0]) for k in range(depth)]  # W[0] unused
    row_W = [torch.empty_like(w) for w in W]
    b = [None if layers[k][0][1] is None else torch.empty_like(layers[k][0][1]) for k in range(depth)]
    row_b = [None if t is None else torch.empty_like(t) for t in b]
    rows = int(first[0].shape[0])
    out = [torch.empty(rows, int(W[k].shape[0]), dtype=Z.dtype, device=Z.device) for k in range(depth)]
    if ce:  # the last layer transposed: (classes, samples), each class a contiguous row
        out[-1] = torch.empty(int(W[-1].shape[0]), rows, dtype=Z.dtype, device=Z.device)
        labels = Y[None, :]
    i = 0
    for a in alphas:
        torch.add(first[0], first[1], alpha=a, out=row_Z)
        for k in range(1, depth):
            (W0, b0), (W1, b1), _ = layers[k]
            torch.add(W0, W1, alpha=a, out=row_W[k])
            if b0 is not None:
                torch.add(b0, b1, alpha=a, out=row_b[k])
        for c in betas:
            h = torch.add(row_Z, first[2], alpha=c, out=Z)
            for k in range(1, depth):
                h = inplace[k - 1](h) if inplace[k - 1] is not None else stack.acts[k - 1](h)
                W2, b2 = layers[k][2]
                Wk = torch.add(row_W[k], W2, alpha=c, out=W[k])
                bk = None if b[k] is None else torch.add(row_b[k], b2, alpha=c, out=b[k])
                if ce and k == depth - 1:
                    h = torch.mm(Wk, h.T, out=out[k]) if bk is None else torch.addmm(bk[:, None], Wk, h.T, out=out[k])
                else:
                    h = torch.mm(h, Wk.T, out=out[k]) if bk is None else torch.addmm(bk, h, Wk.T, out=out[k])
            totals[i] += _ce_sum(h, labels) if ce else land.loss_fn(h if raw else as_matrix(h), Y).sum()
            i += 1


def _loss_sum(land: Landscape, out: torch.Tensor, Y: torch.Tensor, raw: bool) -> torch.Tensor:
    """The summed loss of one batch's outputs: the built-in cross-entropy in closed form on the
    transposed logits (:func:`_ce_sum`; ``F.cross_entropy`` on (samples, 10) logits was 5x
    slower, profiled on the MLP 64-128-128-10), any other loss by ``land.loss_fn``."""
    if out.ndim == 2 and _fast_ce(land, Y, raw):
        return _ce_sum(out.T.contiguous(), Y[None, :])
    return land.loss_fn(out if raw else as_matrix(out), Y).sum()


def _fast_ce(land: Landscape, Y: torch.Tensor, raw: bool) -> bool:
    """The landscape's loss is valleys' own cross-entropy with one integer label per sample."""
    return not raw and land.loss_fn == cross_entropy() and Y.ndim == 1 and not Y.is_floating_point()


def _ce_sum(logits_t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Summed cross-entropy of transposed logits ``(classes, samples)``, overwriting them.

    \(\sum_i \log \sum_j e^{z_{ji} - m_i} - (z_{y_i i} - m_i)\) with \(m_i = \max_j z_{ji}\):
    both sums have nonnegative terms (no cancellation), the form ``F.cross_entropy`` uses.
    """
    logits_t.sub_(logits_t.amax(0))
    true = logits_t.gather(0, labels).sum()
    return logits_t.exp_().sum(0).log_().sum() - true


def _in_place(act) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The in-place form of a ReLU, tanh or sigmoid activation module (None for any other)."""
    if type(act) in _IN_PLACE_MODULES:
        return _IN_PLACE_MODULES[type(act)]
    if getattr(act, "is_activation", False):
        return _IN_PLACE_FUNCTIONS.get(getattr(act, "fn", None))
    return None


_IN_PLACE_MODULES = {nn.ReLU: torch.relu_, nn.Tanh: torch.tanh_, nn.Sigmoid: torch.sigmoid_}
_IN_PLACE_FUNCTIONS = {torch.relu: torch.relu_, torch.tanh: torch.tanh_, torch.sigmoid: torch.sigmoid_}


def _affine(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return X @ W.T if b is None else torch.addmm(b, X, W.T)


def _factored_losses(land, layer: tuple[str, nn.Module], center, u, v, alphas, betas, progress) -> torch.Tensor:
    """The factored route: the first layer's output Z_c + a Z_u + b Z_v, the rest by the model's forward."""
    name, sub = layer
    prefix = f"{name}." if name else ""
    own = {n: prefix + n for n, _ in sub.named_parameters(recurse=False)}
    with torch.no_grad():
        parts = []  # per batch: (Z_c, Z_u, Z_v)
        for X, _ in land.batches:
            Z = []
            for vec in (center, u, v):
                blocks = land.layout.unflatten(vec)
                Z.append(torch.func.functional_call(sub, {n: blocks[full] for n, full in own.items()}, (X,)))
            parts.append(Z)
        current: dict[str, torch.Tensor] = {}
        sub.forward = lambda *args, **kwargs: current["Z"]  # the instance attribute shadows Module.forward
        raw = land._loss_takes_raw()
        values = torch.empty(len(alphas), len(betas), dtype=land.dtype, device=land.device)
        bufs = [torch.empty_like(Zc) for Zc, _, _ in parts]
        try:
            with progress_bar(values.numel(), "plane", progress) as bar:
                for i, a in enumerate(alphas.tolist()):
                    rows = [torch.add(Zc, Zu, alpha=a) for Zc, Zu, _ in parts]  # Z_c + a Z_u, once per row
                    for j, b in enumerate(betas.tolist()):
                        theta = center + a * u + b * v
                        total = 0.0
                        for (X, Y), row, (_, _, Zv), buf in zip(land.batches, rows, parts, bufs, strict=True):
                            current["Z"] = torch.add(row, Zv, alpha=b, out=buf)  # no fresh pages per point
                            out = land._forward.direct(theta, X)
                            total = total + _loss_sum(land, out, Y, raw)
                        values[i, j] = total * land._scale
                    bar.update(len(betas))
        finally:
            del sub.forward
    return values
