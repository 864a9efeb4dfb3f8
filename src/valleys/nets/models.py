"""The model zoo of the seeds: MLPs, Safran–Shamir two-layer nets, deep linear nets,
polynomial nets, skip-to-output nets (thesis ch. 4) and a small conv net (thesis Table 2.2).

Parameters have short mathematical names (``W1, b1, W2, ...``) so that a
landscape's layout reads like the papers: ``W_i`` has shape ``(m_i, m_{i-1})``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .._validation import check_generator, check_int
from ..core.layout import ParamLayout
from ..errors import InvalidParameterError, ModelError
from .activations import Activation, get_activation

if TYPE_CHECKING:
    from ..core import Landscape


def _uniform(shape, bound, gen):
    return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound


def check_widths(widths: Sequence[int], where: str, min_len: int = 2) -> list[int]:
    """Check ``[m_0, ..., m_L]``: at least ``min_len`` entries, each an int >= 1.

    Args:
        widths: the widths, input first.
        where: the caller's name, for the message.
        min_len: the fewest entries allowed.

    Returns:
        The widths as a list of ints.

    Raises:
        InvalidParameterError: for too few entries or a width that is not an int >= 1.
    """
    widths = list(widths)
    if len(widths) < min_len:
        msg = (f"The 'widths' parameter of {where} needs at least {min_len} entries (input, ..., output). "
               f"Got {widths!r}.")
        raise InvalidParameterError(msg)
    return [check_int(w, "widths", where, min_val=1) for w in widths]


def mlp_layout(widths: Sequence[int], bias: bool = True) -> ParamLayout:
    """The parameter layout of :func:`mlp` (``W1, b1, ..., WL, bL``) without building the net.

    Raises:
        InvalidParameterError: if fewer than two widths or a width below 1.

    Args:
        widths: ``[m_0, ..., m_L]``.
        bias: include the biases.

    Returns:
        The :class:`~valleys.core.ParamLayout` of the net's flat parameters.
    """
    widths = check_widths(widths, "mlp_layout")
    names, shapes = [], []
    for i in range(1, len(widths)):
        names.append(f"W{i}")
        shapes.append((widths[i], widths[i - 1]))
        if bias:
            names.append(f"b{i}")
            shapes.append((widths[i],))
    return ParamLayout(tuple(names), tuple(shapes))


def widths_of(land: Landscape, /) -> tuple[int, ...]:
    """Recover ``(m_0, ..., m_l)`` from a landscape of a biased MLP (``W1, b1, ..., Wl, bl``).

    The inverse of :func:`mlp_layout` (``bias=True``) on a landscape's layout.

    Args:
        land: a :class:`~valleys.core.Landscape` (anything with a ``layout``).

    Returns:
        The widths, input first.

    Raises:
        ModelError: if the layout is not that of ``valleys.nets.mlp(..., bias=True)``.
    """
    layout = land.layout
    depth = len(layout.names) // 2
    expected = tuple(n for i in range(1, depth + 1) for n in (f"W{i}", f"b{i}"))
    if depth < 1 or layout.names != expected:
        msg = (f"widths_of needs a biased MLP (Cooper's loci, duplication points) with blocks W1, b1, ..., Wl, bl "
               f"(valleys.nets.mlp(widths, bias=True)). Got blocks {layout.names}.")
        raise ModelError(msg)
    shapes = dict(zip(layout.names, layout.shapes, strict=True))
    widths = [shapes["W1"][1]] + [shapes[f"W{i}"][0] for i in range(1, depth + 1)]
    return tuple(int(w) for w in widths)


class MLP(nn.Module):
    """Fully connected net x -> W_L s(... s(W_1 x + b_1) ...) + b_L.

    Args:
        widths: ``[m_0, m_1, ..., m_L]`` (input, hidden..., output).
        activation: a name or :class:`Activation`, applied after every hidden layer.
        bias: include the biases ``b_i``.
        seed: seed of the PyTorch-default initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
    """

    def __init__(self, widths: Sequence[int], activation: str | Activation = "tanh", *,
                 bias: bool = True, seed: int = 0):
        super().__init__()
        self.widths = check_widths(widths, "mlp")
        self.bias = bias
        act = get_activation(activation)
        gen = check_generator(seed)
        for i, (m_in, m_out) in enumerate(zip(self.widths[:-1], self.widths[1:], strict=True), 1):
            bound = 1.0 / math.sqrt(m_in)
            setattr(self, f"W{i}", nn.Parameter(_uniform((m_out, m_in), bound, gen)))
            if bias:
                setattr(self, f"b{i}", nn.Parameter(_uniform((m_out,), bound, gen)))
        self.acts = nn.ModuleList(copy.deepcopy(act) for _ in range(len(self.widths) - 2))

    @property
    def depth(self) -> int:
        """Number of affine layers L."""
        return len(self.widths) - 1

    @property
    def activation(self) -> Activation:
        return self.acts[0] if len(self.acts) else get_activation("identity")

    def forward_hidden(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The output and the list of hidden-layer outputs ``[h_1, ..., h_{L-1}]``.

        Args:
            x: inputs (N, m_0) (or one input (m_0,)).

        Returns:
            The output (N, m_L) and the hidden-layer outputs, each (N, m_l).
        """
        h, hidden = x, []
        for i in range(1, self.depth + 1):
            h = h @ getattr(self, f"W{i}").T
            if self.bias:
                h = h + getattr(self, f"b{i}")
            if i < self.depth:
                h = self.acts[i - 1](h)
                hidden.append(h)
        return h, hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The net's output.

        Args:
            x: inputs (N, m_0) (or one input (m_0,)).

        Returns:
            The outputs (N, m_L).
        """
        return self.forward_hidden(x)[0]

    def feature_layers(self) -> list[nn.Module]:
        """The activation modules, one per hidden layer (for ``Landscape.features``).

        Returns:
            The activation modules, first hidden layer first.
        """
        return list(self.acts)

    def affine_stack(self) -> tuple[tuple[str, ...], tuple[str | None, ...], tuple[nn.Module, ...]]:
        """(weight names, bias names or None, activations): the chain read by ``core.plane``.

        Returns:
            The weight names, the bias names (None without biases) and the activations, one per layer.
        """
        L = self.depth
        return (tuple(f"W{i}" for i in range(1, L + 1)),
                tuple(f"b{i}" if self.bias else None for i in range(1, L + 1)), tuple(self.acts))


def mlp(widths: Sequence[int], activation: str | Activation = "tanh", bias: bool = True, *,
        seed: int = 0) -> MLP:
    """A fully connected net with parameters ``W1, b1, ..., WL, bL`` (see :class:`MLP`).

    Args:
        widths: ``[m_0, ..., m_L]`` (input, hidden..., output).
        activation: a name or :class:`Activation`.
        bias: include the biases.
        seed: seed of the initialisation.

    Returns:
        The :class:`MLP` (float64).
    """
    return MLP(widths, activation, bias=bias, seed=seed)


def deep_linear(widths: Sequence[int], *, seed: int = 0) -> MLP:
    """A deep linear net x -> W_L ... W_1 x (no biases).

    Args:
        widths: ``[m_0, ..., m_L]``.
        seed: seed of the initialisation.

    Returns:
        An :class:`MLP` with the identity activation and no biases.
    """
    return MLP(widths, "identity", bias=False, seed=seed)


def poly_net(widths: Sequence[int], coeffs: Sequence[float], *, bias: bool = False,
             seed: int = 0) -> MLP:
    """An MLP with the polynomial activation c0 + c1 t + ... (``coeffs=[0, 0, 1]``: quadratic net).

    Args:
        widths: ``[m_0, ..., m_L]``.
        coeffs: the activation's coefficients c0, c1, ...
        bias: include the biases.
        seed: seed of the initialisation.

    Returns:
        The :class:`MLP`.
    """
    from .activations import poly

    return MLP(widths, poly(coeffs), bias=bias, seed=seed)


class TwoLayer(nn.Module):
    """Safran–Shamir's one-hidden-layer net f(x) = sum_j v_j s(<w_j, x> (+ b_j)).

    Parameters ``W`` (n, d) and ``v`` (n,) (and ``b`` (n,) with ``bias=True``), scalar output.
    Initialisation: rows of W ~ N(0, I/d), v ~ N(0, 1/n).

    Args:
        n: number of hidden units.
        d: input dimension.
        activation: a name or :class:`Activation`.
        bias: include the hidden biases b.
        seed: seed of the initialisation.

    Raises:
        InvalidParameterError: if n or d is below 1.
    """

    def __init__(self, n: int, d: int, activation: str | Activation = "relu", *,
                 bias: bool = False, seed: int = 0):
        super().__init__()
        n = check_int(n, "n", "two_layer", min_val=1)
        d = check_int(d, "d", "two_layer", min_val=1)
        gen = check_generator(seed)
        self.W = nn.Parameter(torch.randn(n, d, generator=gen, dtype=torch.float64) / math.sqrt(d))
        if bias:
            self.b = nn.Parameter(torch.zeros(n, dtype=torch.float64))
        self.v = nn.Parameter(torch.randn(n, generator=gen, dtype=torch.float64) / math.sqrt(n))
        self.bias = bias
        self.act = get_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The output sum_j v_j s(<w_j, x> (+ b_j)).

        Args:
            x: inputs (N, d).

        Returns:
            The scalar outputs (N,).
        """
        pre = x @ self.W.T
        if self.bias:
            pre = pre + self.b
        return self.act(pre) @ self.v

    def feature_layers(self) -> list[nn.Module]:
        """The hidden layer (for ``Landscape.features``).

        Returns:
            The activation module.
        """
        return [self.act]

    def affine_stack(self) -> tuple[tuple[str, ...], tuple[str | None, ...], tuple[nn.Module, ...]]:
        """(weight names, bias names or None, activations): the chain read by ``core.plane``.

        Returns:
            The weight names (``W``, ``v``), the bias names (``b`` or None, then None) and the activation.
        """
        return ("W", "v"), ("b" if self.bias else None, None), (self.act,)


def two_layer(n: int, d: int, activation: str | Activation = "relu", bias: bool = False, *,
              seed: int = 0) -> TwoLayer:
    """Safran–Shamir (W, v) net with n hidden units on R^d (see :class:`TwoLayer`).

    Args:
        n: number of hidden units.
        d: input dimension.
        activation: a name or :class:`Activation`.
        bias: include hidden biases.
        seed: seed of the initialisation.

    Returns:
        The :class:`TwoLayer` net.
    """
    return TwoLayer(n, d, activation, bias=bias, seed=seed)


class SkipToOutput(nn.Module):
    """Thesis ch. 4: a base MLP plus ``num_skip`` random hidden neurons wired to the output.

    f(x) = base(x) + V psi(x), where psi(x) collects the chosen hidden neurons (over
    all hidden layers) and V (m_L, num_skip) are independent output weights.

    Args:
        base: the base :class:`MLP` (kept, not copied).
        num_skip: number M of skip neurons, at most the number of hidden neurons.
        seed: seed of the choice of neurons and of V ~ N(0, 1/M).

    Raises:
        InvalidParameterError: if ``num_skip`` is out of range.
    """

    def __init__(self, base: MLP, num_skip: int, *, seed: int = 0):
        super().__init__()
        hidden_total = sum(base.widths[1:-1])
        num_skip = check_int(num_skip, "num_skip", "skip_to_output", min_val=1, max_val=hidden_total)
        gen = check_generator(seed)
        self.base = base
        self.register_buffer("skip_index", torch.randperm(hidden_total, generator=gen)[:num_skip].sort()[0])
        self.V = nn.Parameter(torch.randn(base.widths[-1], num_skip, generator=gen,
                                          dtype=torch.float64) / math.sqrt(num_skip))

    def skip_features(self, x: torch.Tensor) -> torch.Tensor:
        """psi(x): the skipped hidden neurons, shape (N, num_skip).

        Args:
            x: inputs (N, m_0) (or one input (m_0,)).

        Returns:
            psi(x), (N, num_skip).
        """
        return torch.cat(self.base.forward_hidden(x)[1], dim=-1)[..., self.skip_index]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The net's output: the base net's plus the skip neurons' contribution.

        Args:
            x: inputs (N, m_0) (or one input (m_0,)).

        Returns:
            base(x) + V psi(x), (N, m_L).
        """
        out, hidden = self.base.forward_hidden(x)
        psi = torch.cat(hidden, dim=-1)[..., self.skip_index]
        return out + psi @ self.V.T

    def feature_layers(self) -> list[nn.Module]:
        """The hidden layers of the base net (for ``Landscape.features``).

        Returns:
            The base MLP's activation modules.
        """
        return self.base.feature_layers()


def skip_to_output(base: MLP, num_skip: int, seed: int = 0) -> SkipToOutput:
    """Wire ``num_skip`` random hidden neurons of ``base`` to the output (thesis ch. 4).

    Args:
        base: a valleys :class:`MLP`.
        num_skip: number of skip neurons.
        seed: seed of the choice of neurons and of V.

    Returns:
        The :class:`SkipToOutput` net.

    Raises:
        InvalidParameterError: if ``base`` is not a valleys MLP or ``num_skip`` is out of range.
    """
    if not isinstance(base, MLP):
        msg = f"skip_to_output needs a valleys MLP as base. Got {type(base).__name__}."
        raise InvalidParameterError(msg)
    return SkipToOutput(base, num_skip, seed=seed)


class ConvNet(nn.Module):
    """conv (k x k, no padding) -> activation -> max-pool -> fully connected.

    Inputs are flat rows reshaped to ``in_shape`` (C, H, W), e.g. digits (1, 8, 8). With
    an 8 x 8 input and a 3 x 3 kernel the first hidden layer has 36 T_1 neurons (thesis
    Table 2.2). Parameters: ``K1`` (T_1, C, k, k), ``c1`` (T_1,), ``W2``, ``b2``.

    Args:
        in_shape: (C, H, W) of one input.
        channels: number of filters T_1.
        kernel_size: k, at most min(H, W).
        pool: max-pool size (1: no pooling).
        out_dim: number of outputs.
        activation: a name or :class:`Activation`.
        seed: seed of the initialisation U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    Raises:
        InvalidParameterError: if ``in_shape`` is not (C, H, W) or a size is out of range.
    """

    def __init__(self, in_shape: Sequence[int] = (1, 8, 8), channels: int = 10,
                 kernel_size: int = 3, pool: int = 2, out_dim: int = 10,
                 activation: str | Activation = "sigmoid", *, seed: int = 0):
        super().__init__()
        self.in_shape = tuple(int(s) for s in in_shape)
        if len(self.in_shape) != 3:
            msg = f"in_shape must be (channels, height, width). Got {in_shape!r}."
            raise InvalidParameterError(msg)
        c, h, w = self.in_shape
        k = check_int(kernel_size, "kernel_size", "conv_net", min_val=1, max_val=min(h, w))
        t = check_int(channels, "channels", "conv_net", min_val=1)
        self.pool = check_int(pool, "pool", "conv_net", min_val=1)
        gen = check_generator(seed)
        bound = 1.0 / math.sqrt(c * k * k)
        self.K1 = nn.Parameter(_uniform((t, c, k, k), bound, gen))
        self.c1 = nn.Parameter(_uniform((t,), bound, gen))
        self.act = get_activation(activation)
        flat = t * ((h - k + 1) // self.pool) * ((w - k + 1) // self.pool)
        bound = 1.0 / math.sqrt(flat)
        self.W2 = nn.Parameter(_uniform((out_dim, flat), bound, gen))
        self.b2 = nn.Parameter(_uniform((out_dim,), bound, gen))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolution, activation, max-pool, then the fully connected layer.

        Args:
            x: inputs as flat rows (N, C H W) or images (N, C, H, W).

        Returns:
            Outputs (N, out_dim).
        """
        z = self.act(F.conv2d(x.reshape(-1, *self.in_shape), self.K1, self.c1))
        if self.pool > 1:
            z = F.max_pool2d(z, self.pool)
        return z.flatten(1) @ self.W2.T + self.b2

    def feature_layers(self) -> list[nn.Module]:
        """The hidden layer of the net (for ``Landscape.features``).

        Returns:
            The activation module (its outputs are the hidden features).
        """
        return [self.act]


def conv_net(in_shape: Sequence[int] = (1, 8, 8), channels: int = 10, kernel_size: int = 3,
             pool: int = 2, out_dim: int = 10, activation: str | Activation = "sigmoid", *,
             seed: int = 0) -> ConvNet:
    """A small conv net (see :class:`ConvNet`).

    Args:
        in_shape: (C, H, W) of one input.
        channels: number of filters.
        kernel_size: kernel size k.
        pool: max-pool size (1: none).
        out_dim: number of outputs.
        activation: a name or :class:`Activation`.
        seed: seed of the initialisation.

    Returns:
        The :class:`ConvNet` (float64).
    """
    return ConvNet(in_shape, channels, kernel_size, pool, out_dim, activation, seed=seed)
