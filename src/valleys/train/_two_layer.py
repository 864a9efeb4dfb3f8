"""Loss values and gradients of a stack of two-layer nets, forward and backward written out.

For B nets ``[d, m_1, m_2]`` sharing inputs ``X (N, d)``, a full-batch gradient step needs
two large matrix products: the first layer ``X W_1^T`` for every net and its gradient
``dZ^T X`` (``benchmarks/train.py`` measures them as the step's GEMM floor). Everything else
is elementwise work on ``(N, B m_1)`` tensors (the activation, its derivative, the output
layer), which on a CPU is bound by memory traffic, not by arithmetic. So the nets are taken
in groups (:data:`GROUP_BYTES` of hidden activations per group, small enough to stay in the
core's L2 cache): for each group, one GEMM gives the pre-activations of all its nets, the
activation and the output layer run on that cache-resident block, the loss gradient comes
from autograd on the group's small outputs (the loss is the user's), the backward pass is
written out (the activation's derivative from its output for tanh, sigmoid, ReLU and the
identity; autograd through the activation otherwise), and one GEMM gives the group's
first-layer gradient (copied, transposed, into its rows of the result). The bias of the first layer rides
in the GEMMs as a column of ones appended to ``X``, so its gradient is the last column of
the first-layer gradient. Values equal autograd's through :meth:`MLPStack.forward` up to
rounding (tested to 1e-12).
"""

from __future__ import annotations

import torch

from ..core.landscape import _autograd_on

#: Bytes of hidden activations handled per group of nets (the working set of the
#: elementwise passes: about the L2 cache of one core; 1 and 2 MiB measured alike here).
GROUP_BYTES = 2**21

#: Activations computed in place on pre-activations scaled by ``scale`` (the scale rides in
#: the first-layer GEMM, exactly: it is a power of two), with the derivative from the output
#: h = sigma(z) written into a buffer ``t``: sigma -> (scale, in-place sigma, derivative).
#: tanh is ``2 sigmoid(2 z) - 1``: three times faster than ``torch.tanh`` in float64 on
#: CPUs, and equal to it to 4e-16 (absolute; tanh is bounded by 1).
_IN_PLACE = {
    torch.tanh: (2.0, lambda h: torch.sigmoid_(h).mul_(2.0).sub_(1.0),
                 lambda h, t: torch.sub(1.0, torch.mul(h, h, out=t), out=t)),  # 1 - h^2
    torch.sigmoid: (1.0, torch.sigmoid_, lambda h, t: torch.sub(1.0, h, out=t).mul_(h)),  # h (1 - h)
    torch.relu: (1.0, torch.relu_, lambda h, t: torch.gt(h, 0, out=t)),               # 1[z > 0]
}


def first_layer(stack, P: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Pre-activations of every net's hidden layer in the sample-major layout.

    Args:
        stack: a two-layer :class:`~valleys.train.MLPStack`.
        P: its parameters (``W1 (B, m_1, d)``, ``b1 (B, m_1)``).
        X: inputs (N, d).

    Returns:
        ``X W_1^T + b_1`` of all nets as one (N, B m_1) tensor (one GEMM with the biases).
    """
    return torch.addmm(P["b1"].reshape(-1), X, P["W1"].reshape(stack.size * stack.widths[1], -1).T)


def output_layer(P: dict[str, torch.Tensor], H3: torch.Tensor) -> torch.Tensor:
    """Outputs of the second layer from the hidden outputs.

    Args:
        P: parameters with ``W2 (B, m_2, m_1)`` and ``b2 (B, m_2)``.
        H3: hidden outputs (N, B, m_1).

    Returns:
        ``H W_2^T + b_2`` of each net, (B, N, m_2) (einsum instead of B small matrix
        products, which are slow on CPUs).
    """
    W2 = P["W2"]
    if W2.shape[1] == 1:
        return (torch.einsum("nbk,bk->nb", H3, W2[:, 0, :]) + P["b2"][:, 0]).T.unsqueeze(-1)
    return torch.einsum("nbk,bjk->bnj", H3, W2) + P["b2"][:, None, :]


def group_size(n: int, width: int, itemsize: int = 8) -> int:
    """Nets per group so that the group's hidden activations take about :data:`GROUP_BYTES`.

    Args:
        n: samples N.
        width: hidden width m_1.
        itemsize: bytes per number (8 for float64).

    Returns:
        The number of nets per group (at least 1).
    """
    return max(1, GROUP_BYTES // max(1, n * width * itemsize))


def two_layer_loss_grads(stack, P: dict[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor, fn,
                         group: int | None = None):
    """Mean loss of each net (B,), outputs (B, N, m_2) and the gradients of the per-net losses.

    Args:
        stack: a two-layer :class:`~valleys.train.MLPStack` without skip neurons.
        P: its parameters ``W1 (B, m_1, d)``, ``b1``, ``W2 (B, m_2, m_1)``, ``b2``.
        X: inputs (N, d).
        Y: targets, as the loss needs them.
        fn: the per-sample loss.
        group: nets per group (default: :func:`group_size`).

    Returns:
        ``(values, outputs, grads)`` with ``grads`` keyed like ``P``.
    """
    B, N, d = stack.size, X.shape[0], X.shape[1]
    m1, m2 = stack.widths[1], stack.widths[2]
    c = min(B, group or group_size(N, m1, X.element_size()))
    X1 = torch.cat([X, X.new_ones(N, 1)], 1)                      # (N, d + 1): the bias column
    A = torch.cat([P["W1"], P["b1"][..., None]], -1)               # (B, m_1, d + 1)
    W2, b2 = P["W2"], P["b2"]
    dA = torch.empty_like(A)
    dW2 = torch.empty_like(W2)
    values = X.new_empty(B)
    out = X.new_empty(B, N, m2)
    db2 = X.new_empty(B, m2)
    H_buf, T_buf, G_buf = X.new_empty(N * c * m1), X.new_empty(N * c * m1), X.new_empty((d + 1) * c * m1)
    scale, activation, derivative = _IN_PLACE.get(stack.activation.fn, (1.0, None, None))
    if scale != 1.0:
        A.mul_(scale)
    Yx = Y.expand(c, *Y.shape).reshape(c * N, *Y.shape[1:])
    for s in range(0, B, c):
        e = min(B, s + c)
        k = e - s
        H = H_buf[: N * k * m1].view(N, k * m1)  # contiguous, also for a smaller last group
        T = T_buf[: N * k * m1].view(N, k * m1)
        torch.mm(X1, A[s:e].view(k * m1, d + 1).T, out=H)     # pre-activations Z (times scale)
        if derivative is None:
            with _autograd_on():
                Zl = H.clone().requires_grad_(True)
                Hl = stack.activation(Zl)
            H.copy_(Hl.detach())
        else:
            activation(H)
        H3 = H.view(N, k, m1)
        T3 = T.view(N, k, m1)
        # output layer, (N, k, m_2) -> (k, N, m_2)
        if m2 == 1:
            torch.mul(H3, W2[s:e, 0, :], out=T3)
            o = T3.sum(-1).T.add_(b2[s:e, 0][:, None]).unsqueeze(-1)
        else:
            o = torch.einsum("nbk,bjk->bnj", H3, W2[s:e]) + b2[s:e, None, :]
        with _autograd_on():
            leaf = o.requires_grad_(True)
            Yk = Yx if k == c else Y.expand(k, *Y.shape).reshape(k * N, *Y.shape[1:])
            v = fn(leaf.reshape(k * N, -1), Yk).reshape(k, N).mean(1)
            (g,) = torch.autograd.grad(v.sum(), leaf)                # (k, N, m_2)
        values[s:e] = v.detach()
        out[s:e] = o.detach()
        db2[s:e] = g.sum(1)
        # backward: dW2 = g^T H, dH = g W2, dZ = dH * sigma'(Z)
        if m2 == 1:
            gn = g[:, :, 0].T                                          # (N, k)
            torch.mul(H3, gn[:, :, None], out=T3)
            dW2[s:e, 0, :] = T3.sum(0)
            if derivative is None:
                dH = gn[:, :, None] * W2[s:e, 0, :]
            else:
                derivative(H, T)
                T3.mul_(gn[:, :, None]).mul_(W2[s:e, 0, :])
        else:
            gn = g.transpose(0, 1)                                     # (N, k, m_2)
            dW2[s:e] = torch.einsum("nbj,nbk->bjk", gn, H3)
            dH = torch.einsum("nbj,bjk->nbk", gn, W2[s:e])
            if derivative is not None:
                derivative(H, T)
                T3.mul_(dH)
        if derivative is None:
            with _autograd_on():
                (dZ,) = torch.autograd.grad(Hl, Zl, dH.reshape(N, k * m1))
            T.copy_(dZ)
        # [dW1 | db1] of the group: [X 1]^T dZ, then one transposed copy into its rows (2x
        # faster than the GEMM dZ^T [X 1] with MKL and OpenBLAS here)
        G1 = G_buf[: (d + 1) * k * m1].view(d + 1, k * m1)
        torch.mm(X1.T, T, out=G1)
        dA[s:e].view(k * m1, d + 1).copy_(G1.T)
    grads = {"W1": dA[..., :d], "b1": dA[..., d], "W2": dW2, "b2": db2}
    return values, out, grads

