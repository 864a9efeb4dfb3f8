"""Derivatives over data in several batches accumulate batch by batch (issue 23, item 6).

A landscape over a list of batches (a DataLoader) equals the one-batch landscape on the same
data to rounding (float64, 1e-10 relative), for the gradient, Hessian-vector products (single,
vmapped, every ``hvp_rows`` method), dense Hessians and many-point gradients; and each batch's
autograd graph is released before the next batch's forward pass, so memory is bounded by the
batch, not by the data set.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from valleys import Landscape

#: Agreement of the streamed and one-graph results, relative to the largest entry (float64).
TOL = 1e-10
#: Unequal batch sizes, so that a wrong weighting of the batch means would show.
SIZES = (7, 5, 11, 1)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()


def _data(loss: str):
    gen = torch.Generator().manual_seed(1)
    X = torch.randn(sum(SIZES), 3, generator=gen, dtype=torch.float64)
    Y = (torch.randint(0, 2, (len(X),), generator=gen) if loss == "ce"
         else torch.randn(len(X), 2, generator=gen, dtype=torch.float64))
    return X, Y


def _pair(loss: str, reduction: str):
    X, Y = _data(loss)
    model = _model()
    whole = Landscape(model, (X, Y), loss, reduction=reduction)
    batches = list(zip(X.split(list(SIZES)), Y.split(list(SIZES)), strict=True))
    streamed = Landscape(model, batches, loss, reduction=reduction)
    return whole, streamed


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    scale = max(float(b.abs().max()), 1e-300)
    return float((a - b).abs().max()) <= TOL * scale


@pytest.mark.parametrize(("loss", "reduction"), [("mse", "mean"), ("mse", "sum"), ("ce", "mean")])
def test_streamed_derivatives_equal_one_graph(loss, reduction):
    whole, streamed = _pair(loss, reduction)
    assert whole._parts() is None and len(streamed._parts()) == len(SIZES)
    gen = torch.Generator().manual_seed(2)
    theta = whole.theta0 + 0.3 * torch.randn(whole.dim, generator=gen, dtype=torch.float64)
    V = torch.randn(4, whole.dim, generator=gen, dtype=torch.float64)
    assert _close(streamed.loss(theta), whole.loss(theta))
    assert _close(streamed.grad(theta), whole.grad(theta))
    value, g = streamed.loss_and_grad(theta)
    assert _close(value, whole.loss(theta)) and _close(g, whole.grad(theta))
    assert _close(streamed.hvp(theta, V[0]), whole.hvp(theta, V[0]))
    assert _close(streamed.hvps(theta, V), whole.hvps(theta, V))
    H = whole.hessian(theta)
    for method in ("auto", "graph", "functorch"):
        assert _close(streamed.hvp_rows(theta, method=method)(V), V @ H)
        assert _close(streamed.hvp_rows(theta, method=method)(V[:1]), V[:1] @ H)
    assert _close(streamed.hessian(theta), H)
    T = theta + 0.1 * torch.randn(3, whole.dim, generator=gen, dtype=torch.float64)
    assert _close(streamed.grads(T), whole.grads(T))


def _events(land: Landscape, call) -> list[str]:
    """The order of forward passes and of backward passes through the model's output."""
    events: list[str] = []

    def hook(module, inputs, out):
        events.append("forward")
        if out.requires_grad:
            out.register_hook(lambda grad: events.append("backward"))

    handle = land.module.register_forward_hook(hook)
    try:
        call()
    finally:
        handle.remove()
    return events


@pytest.mark.parametrize("what", ["grad", "hvp", "rows"])
def test_one_batch_graph_at_a_time(what):
    """Every batch's backward pass runs before the next batch's forward pass (a graph over the
    whole data set would run all forward passes first)."""
    _, streamed = _pair("mse", "mean")
    theta, v = streamed.theta0, torch.ones(streamed.dim, dtype=torch.float64)
    call = {"grad": lambda: streamed.grad(theta), "hvp": lambda: streamed.hvp(theta, v),
            "rows": lambda: streamed.hvp_rows(theta, method="graph")(v[None])}[what]
    events = _events(streamed, call)
    assert events.count("forward") == len(SIZES)
    forwards = [i for i, e in enumerate(events) if e == "forward"]
    for a, b in zip(forwards, forwards[1:], strict=False):
        assert "backward" in events[a:b]
