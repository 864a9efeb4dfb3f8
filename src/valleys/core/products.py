"""Many Hessian-vector products at one point: a retained gradient graph, or torch.func.

Two ways to multiply by the Hessian at a fixed theta:

- ``"graph"``: one forward and one backward pass with ``create_graph=True`` at theta,
  kept while the returned function lives; each product is then one backward pass
  through that graph (batched over many vectors with ``is_grads_batched``). This is
  the cheapest per product when many products are taken at the same theta (dense
  Hessians, Lanczos, SLQ, traces), at the price of keeping the graph in memory.
- ``"functorch"``: :meth:`Landscape.hvps` (forward-over-reverse ``torch.func.jvp(grad)``,
  vmapped over vectors and chunked); nothing is kept between products.

With data in several batches, every method runs batch by batch and the products are
summed (:func:`_streamed`): only one batch's graph is alive at a time, so memory does not
grow with the data set.

``"auto"`` uses ``"graph"`` on small landscapes (falling back to ``"functorch"`` for good
if an operation of the model has no batched backward rule); on larger ones
``"functorch"`` in chunks, or a loop of single backward passes through the retained
graph, by the fixed rule of :func:`valleys.core.batching.choose_plan` (a function of N, d
and the chunk size, never of timings). The plan used is recorded in
``Landscape.batch_plans["hvp_rows"]``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .._progress import progress_bar
from .._validation import check_choice
from .batching import run_batched

if TYPE_CHECKING:
    from .landscape import Landscape

#: Ways to compute Hessian-vector products (see the module docstring).
HVP_METHODS = ("auto", "graph", "functorch")
#: Products are vectorised in chunks of at most ``land.chunk_size`` vectors and at most
#: this many bytes of results per chunk (intermediate tensors grow with the chunk too).
CHUNK_BYTES = 256 * 2**20

Rows = Callable[[torch.Tensor], torch.Tensor]


def chunk_rows(land: Landscape) -> int:
    """How many Hessian-vector products to vectorise at once for this landscape.

    Args:
        land: the landscape.

    Returns:
        At most ``land.chunk_size`` vectors, and at most :data:`CHUNK_BYTES` of results.
    """
    per_vector = land.dim * torch.empty((), dtype=land.dtype).element_size()
    return max(1, min(land.chunk_size, CHUNK_BYTES // per_vector))


def _graph_at(land: Landscape, theta: torch.Tensor):
    """``(point, g)``: the gradient at theta with its graph kept (None when the loss is affine)."""
    with torch.inference_mode(False), torch.enable_grad():  # works inside no_grad / inference_mode
        point = theta.detach().clone().requires_grad_(True)
        g = torch.autograd.grad(land.loss(point), point, create_graph=True)[0]
    return point, (g if g.requires_grad else None)


def graph_rows(land: Landscape, theta: torch.Tensor) -> Rows:
    """Hessian products by backward passes through a retained gradient graph at theta.

    Returns:
        ``rows(V)``: ``V (k, d) -> V H (k, d)``; one backward pass for k = 1, otherwise
        backward passes batched over chunks of :func:`chunk_rows` vectors.

    Args:
        land: the landscape (one batch: with several, :func:`hvp_rows` streams them).
        theta: the point.
    """
    point, g = _graph_at(land, theta)
    if g is None:  # the loss is affine in theta: H = 0
        return torch.zeros_like
    return _batched(point, g, chunk_rows(land))


def _single(point, g) -> Rows:
    def rows(V: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(False):
            V = V.clone() if V.is_inference() else V
            return torch.stack([torch.autograd.grad(g, point, v, retain_graph=True)[0] for v in V])

    return rows


def _batched(point, g, chunk: int) -> Rows:
    def rows(V: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(False):
            V = V.clone() if V.is_inference() else V
            if V.shape[0] == 1:
                return torch.autograd.grad(g, point, V[0], retain_graph=True)[0][None]
            return torch.cat([torch.autograd.grad(g, point, C, retain_graph=True, is_grads_batched=True)[0]
                              for C in V.split(chunk)])

    return rows


def hvp_rows(land: Landscape, theta: torch.Tensor, method: str = "auto") -> Rows:
    """``rows(V, progress=None) = V H(theta)`` for rows ``V (k, d)``, by ``method`` (see the module docstring).

    ``"auto"`` uses batched backward passes (``"graph"``) on small landscapes, and on
    larger ones vmapped forward-over-reverse products (``"functorch"``) in chunks or single
    backward passes through the retained graph in a loop, by the fixed rule of
    :mod:`valleys.core.batching`; the plan is recorded in ``land.batch_plans``. There, a
    single vector is always one backward pass through the retained graph. The products
    agree to rounding.

    With data in several batches, every method runs batch by batch (:func:`_streamed`).

    Args:
        land: the landscape.
        theta: the point (detached).
        method: ``"auto"``, ``"graph"`` or ``"functorch"``.

    Returns:
        ``rows(V, progress=None)``: (k, d) -> (k, d).

    Raises:
        InvalidParameterError: for an unknown method.
        RuntimeError: from the model's backward pass, when the vmapped fallback of ``"auto"``
            fails too.
    """
    method = check_choice(method, "method", "hvp_rows", HVP_METHODS)
    parts = land._parts()
    if parts is not None:
        return _streamed(parts, theta, method)
    cap = chunk_rows(land)

    def functorch(chunk):
        def rows(V):
            return torch.cat([land.hvps(theta, C) for C in V.split(chunk)])
        return rows

    if method == "functorch":
        return _with_progress(functorch(cap))
    if method == "graph":
        return _with_progress(graph_rows(land, theta))
    if land.batching != "loop" and (land.batching == "vmap" or land._small()):
        # small landscapes: batched backward passes, and vmapped products if the model lacks a batched rule
        state = {"rows": graph_rows(land, theta)}
        land._plans["hvp_rows"] = ("graph", cap)

        def call(V):
            try:
                return state["rows"](V)
            except RuntimeError:
                if state["rows"] is fallback:
                    raise
                state["rows"] = fallback
                land._plans["hvp_rows"] = ("functorch", cap)
                return fallback(V)

        def auto_rows(V, progress=None):
            if progress is not True and V.shape[0] <= cap:
                return call(V)
            out = []
            with progress_bar(V.shape[0], "Hessian rows", progress) as bar:
                for C in V.split(cap):
                    out.append(call(C))
                    bar.update(C.shape[0])
            return torch.cat(out)

        fallback = functorch(cap)
        return auto_rows
    plan = land._plan("functorch")
    plan = plan if plan[0] == "loop" else (plan[0], min(plan[1], cap))
    state = {}

    def single(V: torch.Tensor) -> torch.Tensor:
        """Single backward passes through the gradient graph at theta, built on first use."""
        if "graph" not in state:
            state["graph"] = _graph_at(land, theta)
        point, g = state["graph"]
        return torch.zeros_like(V) if g is None else _single(point, g)(V)

    methods = {"loop": single, "functorch": functorch(plan[1])}

    def rows(V: torch.Tensor, progress: bool | None = None) -> torch.Tensor:
        V = V.to(device=theta.device, dtype=land.dtype)
        if V.shape[0] <= 1:  # one product: one backward pass through the retained graph
            return single(V) if V.shape[0] else V.clone()
        return run_batched(V, plan, methods, plans=land._plans, op="hvp_rows", progress=progress,
                           desc="Hessian rows")

    return rows


def _streamed(parts: list[Landscape], theta: torch.Tensor, method: str) -> Rows:
    """Products over several batches: ``V H = sum_i V H_i``, one batch (part) at a time.

    Each call builds the rows function of one part (its gradient graph, or its vmapped
    products), applies it to all of ``V``, adds the result and drops the part's graph
    before the next part, so memory is bounded by one batch, never by the data set. The
    cost per call is one extra forward and backward pass per batch, as in PyHessian's
    data-loader products.
    """

    def rows(V: torch.Tensor, progress: bool | None = None) -> torch.Tensor:
        total = None
        with progress_bar(len(parts), "Hessian rows (batches)", progress, unit="batch") as bar:
            for part in parts:
                term = hvp_rows(part, theta, method)(V, progress=False)
                total = term if total is None else total.add_(term)
                bar.update(1)
        return total

    return rows


def _with_progress(rows: Rows) -> Rows:
    def wrapped(V: torch.Tensor, progress: bool | None = None) -> torch.Tensor:
        return rows(V)

    return wrapped
