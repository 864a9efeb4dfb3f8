"""Many Hessian-vector products at one point: a retained gradient graph, or torch.func.

Two ways to multiply by the Hessian at a fixed theta:

- ``"graph"``: one forward and one backward pass with ``create_graph=True`` at theta,
  kept while the returned function lives; each product is then one backward pass
  through that graph (batched over many vectors with ``is_grads_batched``). This is
  the cheapest per product when many products are taken at the same theta (dense
  Hessians, Lanczos, SLQ, traces), at the price of keeping the graph in memory.
- ``"functorch"``: :meth:`Landscape.hvps` (forward-over-reverse ``torch.func.jvp(grad)``,
  vmapped over vectors and chunked); nothing is kept between products.

``"auto"`` uses ``"graph"`` and falls back to ``"functorch"`` for good if an operation
of the model does not support the batched backward pass.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .._validation import check_choice

if TYPE_CHECKING:
    from .landscape import Landscape

#: Ways to compute Hessian-vector products (see the module docstring).
HVP_METHODS = ("auto", "graph", "functorch")
#: Products are vectorised in chunks of at most ``land.chunk_size`` vectors and at most
#: this many bytes of results per chunk (intermediate tensors grow with the chunk too).
CHUNK_BYTES = 256 * 2**20

Rows = Callable[[torch.Tensor], torch.Tensor]


def chunk_rows(land: Landscape) -> int:
    """How many Hessian-vector products to vectorise at once for this landscape."""
    per_vector = land.dim * torch.empty((), dtype=land.dtype).element_size()
    return max(1, min(land.chunk_size, CHUNK_BYTES // per_vector))


def graph_rows(land: Landscape, theta: torch.Tensor) -> Rows:
    """Hessian products by backward passes through a retained gradient graph at theta.

    Returns:
        ``rows(V)``: ``V (k, d) -> V H (k, d)``; one backward pass for k = 1, otherwise
        backward passes batched over chunks of :func:`chunk_rows` vectors.
    """
    with torch.inference_mode(False), torch.enable_grad():  # works inside no_grad / inference_mode
        point = theta.detach().clone().requires_grad_(True)
        g = torch.autograd.grad(land.loss(point), point, create_graph=True)[0]
    if not g.requires_grad:  # the loss is affine in theta: H = 0
        return torch.zeros_like

    def rows(V: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(False):
            V = V.clone() if V.is_inference() else V
            if V.shape[0] == 1:
                return torch.autograd.grad(g, point, V[0], retain_graph=True)[0][None]
            return torch.cat([torch.autograd.grad(g, point, C, retain_graph=True,
                                                  is_grads_batched=True)[0]
                              for C in V.split(chunk_rows(land))])

    return rows


def hvp_rows(land: Landscape, theta: torch.Tensor, method: str = "auto") -> Rows:
    """``rows(V) = V H(theta)`` for rows ``V (k, d)``, by ``method`` (see the module docstring)."""
    method = check_choice(method, "method", "hvp_rows", HVP_METHODS)

    def functorch_rows(V):
        return torch.cat([land.hvps(theta, C) for C in V.split(chunk_rows(land))])

    if method == "functorch":
        return functorch_rows
    rows = graph_rows(land, theta)
    if method == "graph":
        return rows
    state = {"rows": rows}

    def auto_rows(V):
        try:
            return state["rows"](V)
        except RuntimeError:
            if state["rows"] is functorch_rows:
                raise
            state["rows"] = functorch_rows
            return functorch_rows(V)

    return auto_rows
