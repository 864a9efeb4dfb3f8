r"""Feature matrices in the thesis' notation: F_k = sigma(F_{k-1} W_k + 1 b_k^T), F_0 = X.

Fully connected layers use the thesis' convention :math:`W_k \in \mathbb{R}^{n_{k-1}\times n_k}`
(the transpose of ``nn.Linear``); a convolutional layer with untied biases is
:math:`f(x)_h = \sigma(\langle w^t, x^p\rangle + b_h)`, :math:`h = p T + t` (0-based), over
the patches :math:`x^p` of the input.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..core import Landscape
from ..errors import ShapeError
from ..nets.activations import Activation, get_activation


def fc_forward(X: torch.Tensor, weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor],
               activation: str | Activation) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    r"""Pre-activations ``[G_1..G_L]`` and features ``[F_0 = X, F_1, ..., F_L]`` of a FC net.

    ``weights[l-1]`` is ``W_l (n_{l-1}, n_l)``; \(G_l = F_{l-1} W_l + b_l\),
    \(F_l = \sigma(G_l)\), and the last layer is linear (\(F_L = G_L\)).

    Args:
        X: inputs, shape (N, n_0).
        weights: the L weight matrices, ``weights[l-1]`` of shape (n_{l-1}, n_l).
        biases: the L bias vectors, ``biases[l-1]`` of shape (n_l,).
        activation: an activation name or :class:`~valleys.nets.Activation`.

    Returns:
        ``(Gs, Fs)``: the L pre-activations and the L + 1 feature matrices.

    Raises:
        ShapeError: if the shapes do not chain.
    """
    act = get_activation(activation)
    Fs, Gs = [X], []
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        if W.shape[0] != Fs[-1].shape[1] or b.shape != (W.shape[1],):
            msg = (f"Layer {i + 1}: W must be ({Fs[-1].shape[1]}, n) and b (n,). "
                   f"Got W {tuple(W.shape)} and b {tuple(b.shape)}.")
            raise ShapeError(msg)
        G = Fs[-1] @ W + b
        Gs.append(G)
        Fs.append(G if i == len(weights) - 1 else act(G))
    return Gs, Fs


def conv_patches(X: torch.Tensor, in_shape: Sequence[int], kernel: int) -> torch.Tensor:
    r"""The patches x^p of every sample: (N, P, l) for a ``kernel`` x ``kernel`` stride-1 convolution.

    ``X`` holds flat rows of shape ``in_shape = (C, H, W)``; \(l = C k^2\) and
    \(P = (H - k + 1)(W - k + 1)\) with k = ``kernel`` (no padding).

    Args:
        X: flat inputs, shape (N, C H W).
        in_shape: the input shape (C, H, W).
        kernel: the square kernel's side k.

    Returns:
        The patches, shape (N, P, l), in the order of :func:`torch.nn.functional.unfold`.

    Raises:
        ShapeError: if ``X`` is not (N, C H W).
    """
    C, H, W = (int(s) for s in in_shape)
    if X.ndim != 2 or X.shape[1] != C * H * W:
        msg = f"X must be (N, {C * H * W}) for in_shape {tuple(in_shape)}. Got {tuple(X.shape)}."
        raise ShapeError(msg)
    return F.unfold(X.reshape(-1, C, H, W), kernel).transpose(1, 2)


def conv_features(X: torch.Tensor, filters: torch.Tensor, bias: torch.Tensor,
                  in_shape: Sequence[int], kernel: int,
                  activation: str | Activation) -> torch.Tensor:
    r"""Features of a convolutional layer with untied biases: (N, P T), column ``p T + t``.

    Entry \((i, pT + t)\) is \(\sigma(\langle w^t, x_i^p\rangle + b_{pT+t})\).

    Args:
        X: flat inputs, shape (N, C H W).
        filters: (T, l) filters w^t (flattened like :func:`conv_patches`).
        bias: (P T,) one bias per neuron.
        in_shape: the input shape (C, H, W).
        kernel: the square kernel's side.
        activation: an activation name or :class:`~valleys.nets.Activation`.

    Returns:
        The feature matrix, shape (N, P T).

    Raises:
        ShapeError: if ``X`` does not match ``in_shape`` or ``bias`` does not have P T entries.
    """
    patches = conv_patches(X, in_shape, kernel)  # (N, P, l)
    pre = patches @ filters.T  # (N, P, T)
    N, P, T = pre.shape
    if bias.shape != (P * T,):
        msg = f"bias must have one entry per neuron, shape ({P * T},). Got {tuple(bias.shape)}."
        raise ShapeError(msg)
    return get_activation(activation)(pre.reshape(N, P * T) + bias)


def _zero_loss(outputs, targets):
    return outputs.sum(-1) * 0.0


def features_of(model: torch.nn.Module, X: torch.Tensor, k: int) -> torch.Tensor:
    """F_k of an ``nn.Module`` on inputs X (through :meth:`valleys.Landscape.features`).

    Args:
        model: the model.
        X: its inputs (converted to float64).
        k: the hidden layer (1-based).

    Returns:
        The feature matrix F_k, shape (N, n_k).
    """
    X = torch.as_tensor(X, dtype=torch.float64)
    land = Landscape(model, (X, torch.zeros(X.shape[0], 1, dtype=torch.float64)), loss=_zero_loss,
                     check_deterministic=False)
    with torch.no_grad():
        return land.features(land.theta0, k)


def activation_derivative(activation: str | Activation, G: torch.Tensor) -> torch.Tensor:
    r"""\(\sigma'(G)\) elementwise, by autograd (exact for any differentiable activation).

    Args:
        activation: an activation name or :class:`~valleys.nets.Activation`.
        G: pre-activations, a tensor of any shape.

    Returns:
        A tensor of ``G``'s shape.

    Raises:
        InvalidParameterError: for an unknown activation name.
    """
    act = get_activation(activation)
    with torch.inference_mode(False), torch.enable_grad():
        leaf = G.detach().clone().requires_grad_(True)
        return torch.autograd.grad(act(leaf).sum(), leaf)[0]
