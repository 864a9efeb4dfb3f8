"""Loss values and gradients of a stack of two-layer nets with the products written out.

For B nets [d, m_1, m_2] sharing inputs X (N, d), autograd through
:meth:`MLPStack.forward` spends most of a full-batch step outside the two matrix products
that every step needs (the first layer and its gradient): broadcast products, copies of
transposed gradients and their reductions over (N, B, m_1) tensors. Here the first layer
and its gradient are single GEMMs in the sample-major layout (N, B·m_1), the output layer
and its gradients are written as broadcast products, and autograd runs only where the
formula is the user's: through the activation (elementwise) and through the loss (on the
small (B, N, m_2) outputs). Values equal autograd's up to rounding (tested to 1e-12).
"""

from __future__ import annotations

import torch

from ..core.landscape import _autograd_on


def first_layer(stack, P: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Pre-activations of every net's hidden layer in the sample-major layout (N, B·m_1):
    one GEMM with the biases (addmm)."""
    return torch.addmm(P["b1"].reshape(-1), X, P["W1"].reshape(stack.size * stack.widths[1], -1).T)


def output_layer(P: dict[str, torch.Tensor], H3: torch.Tensor) -> torch.Tensor:
    """Outputs (B, N, m_2) from the hidden outputs H3 (N, B, m_1): einsum instead of B small
    matrix products (bmm is slow for them on CPUs)."""
    W2 = P["W2"]
    if W2.shape[1] == 1:
        return (torch.einsum("nbk,bk->nb", H3, W2[:, 0, :]) + P["b2"][:, 0]).T.unsqueeze(-1)
    return torch.einsum("nbk,bjk->bnj", H3, W2) + P["b2"][:, None, :]


def two_layer_loss_grads(stack, P: dict[str, torch.Tensor], X: torch.Tensor, Y: torch.Tensor, fn):
    """Mean loss of each net (B,), outputs (B, N, m_2) and the gradients of the per-net losses.

    Args:
        stack: a two-layer :class:`~valleys.train.MLPStack` without skip neurons.
        P: its parameters ``W1 (B, m_1, d)``, ``b1``, ``W2 (B, m_2, m_1)``, ``b2``.
        X, Y: inputs (N, d) and targets.
        fn: the per-sample loss.

    Returns:
        ``(values, outputs, grads)`` with ``grads`` keyed like ``P``.
    """
    B, N = stack.size, X.shape[0]
    m1, m2 = stack.widths[1], stack.widths[2]
    Z = first_layer(stack, P, X).detach()  # (N, B m_1)
    with _autograd_on():
        Zl = Z.requires_grad_(True)
        H = stack.activation(Zl)
    H3 = H.detach().view(N, B, m1)
    W2 = P["W2"]
    out = output_layer(P, H3)
    with _autograd_on():
        leaf = out.detach().requires_grad_(True)
        Yx = Y.expand(B, *Y.shape).reshape(B * N, *Y.shape[1:])
        values = fn(leaf.reshape(B * N, -1), Yx).reshape(B, N).mean(1)
        (G,) = torch.autograd.grad(values.sum(), leaf)  # (B, N, m_2)
    if m2 == 1:
        g = G[:, :, 0].T.contiguous()  # (N, B)
        dW2 = torch.einsum("nb,nbk->bk", g, H3)[:, None, :]
        dH = g[:, :, None] * W2[:, 0, :][None]
    else:
        g = G.transpose(0, 1).contiguous()  # (N, B, m_2)
        dW2 = torch.einsum("nbj,nbk->bjk", g, H3)
        dH = torch.einsum("nbj,bjk->nbk", g, W2)
    with _autograd_on():
        (dZ,) = torch.autograd.grad(H, Zl, dH.reshape(N, B * m1))
    # X^T dZ (d, B m_1) then one transposed copy: 3x faster than dZ^T X with OpenBLAS here
    grads = {"W1": torch.mm(X.T, dZ).T.contiguous().view(B, m1, -1), "b1": dZ.sum(0).view(B, m1),
             "W2": dW2, "b2": G.sum(1)}
    return values.detach(), out, grads
