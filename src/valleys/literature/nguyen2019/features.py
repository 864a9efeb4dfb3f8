r"""The constructions of thesis ch. 2: linearly independent features (NG-A1), exact zero
loss (NG-A2) and the gradient bounds of NG-L2.4.9.

NG-A1 (proof of NG-T2.4.4). Neuron j of the wide layer gets a direction a_j (for a
convolution, the filter a^t of its channel, applied to its patch p) and a sample γ(j),
the remaining sample with the smallest projection; with

.. math::
    w_j = -\alpha a_j, \qquad b_j = \alpha\langle a_j, x_{\gamma(j)}\rangle + \beta,

the entry of sample i is :math:`\sigma(\alpha\langle a_j, x_{\gamma(j)} - x_i\rangle + \beta)`.
Rows ordered by γ make the first N columns upper triangular as α → ∞ (entries below the
diagonal tend to :math:`\mu_- = 0`), so :math:`\det \to \sigma(\beta)^N \ne 0`. Here α is
given through the *scale* :math:`c = \alpha \min_j \mathrm{gap}_j`, so every entry below
the diagonal is at most :math:`\sigma(\beta - c)` (a closed-form bound the tests check).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from ..._validation import check_float, check_generator, check_int
from ...errors import InvalidParameterError, ShapeError
from ...expressivity.features import activation_derivative, conv_features, conv_patches, fc_forward
from ...nets.activations import Activation, get_activation

INVERTIBLE = ("sigmoid", "softplus")


@dataclass(frozen=True, eq=False)
class IndependentFeatures:
    """The result of NG-A1.

    Attributes:
        features: F (N, n), rows in the data order.
        order: γ as a (N,) tensor: ``order[j]`` is the sample of neuron j (j < N).
        alpha: the weight scale α = scale / min_gap.
        beta: the bias offset β.
        scale: c = α · min_gap.
        min_gap: smallest projection gap over the first N neurons.
        weights: (d, n) for FC, or the (T, l) filters of a convolution (already times -α).
        bias: (n,).
        lower_max: largest |entry| strictly below the diagonal of F[order, :N].
        arguments: pre-activations minus β divided by α·min_gap, i.e. the sign pattern
            that fixes the α → ∞ limit (N, n).
    """

    features: torch.Tensor = field(repr=False)
    order: torch.Tensor = field(repr=False)
    alpha: float
    beta: float
    scale: float
    min_gap: float
    weights: torch.Tensor = field(repr=False)
    bias: torch.Tensor = field(repr=False)
    lower_max: float
    arguments: torch.Tensor = field(repr=False)

    @property
    def square(self) -> torch.Tensor:
        """F[order, :N]: the (nearly) upper triangular block whose determinant tends to σ(β)^N."""
        N = self.order.numel()
        return self.features[self.order, :N]

    def limit(self, activation: str | Activation) -> torch.Tensor:
        """The α → ∞ limit of the features for a bounded σ with μ_- = 0 (sigmoid): μ_+ where
        the argument is positive, 0 where negative, σ(β) where it is zero (i = γ(j)).

        Args:
            activation: the activation (name or instance).

        Returns:
            The limit features (N, n).
        """
        act = get_activation(activation)
        top = float(act(torch.tensor(60.0, dtype=torch.float64)))
        at_beta = float(act(torch.tensor(self.beta, dtype=torch.float64)))
        A = self.arguments
        out = torch.where(A > 0, top, 0.0).to(torch.float64)
        return torch.where(A == 0, at_beta, out)


def _assign(proj: torch.Tensor, n_first: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy γ: neuron j takes the remaining sample of smallest projection ``proj[:, j]``.

    Returns the order (n_first,) and the gap of each neuron to the next remaining sample.
    """
    N = proj.shape[0]
    remaining = torch.ones(N, dtype=torch.bool)
    order = torch.empty(n_first, dtype=torch.int64)
    gaps = torch.full((n_first,), math.inf, dtype=torch.float64)
    for j in range(n_first):
        col = torch.where(remaining, proj[:, j], math.inf)
        i = int(torch.argmin(col))
        order[j] = i
        remaining[i] = False
        if remaining.any():
            gaps[j] = float(torch.where(remaining, proj[:, j], math.inf).min() - col[i])
    return order, gaps


def _check_a1(X, n, activation, scale, beta, where):
    if X.ndim != 2:
        msg = f"{where} needs X of shape (N, d). Got {tuple(X.shape)}."
        raise ShapeError(msg)
    check_float(scale, "scale", where, min_val=0.0, open_min=True)
    check_float(beta, "beta", where)
    act = get_activation(activation)
    if float(act(torch.tensor(beta, dtype=torch.float64))) == 0.0:
        msg = f"{where} needs sigma(beta) != 0 (Step 2 of NG-A1). Got beta={beta!r} for {act.name}."
        raise InvalidParameterError(msg)
    if n < X.shape[0]:
        msg = f"{where} needs at least N = {X.shape[0]} neurons in the wide layer. Got {n}."
        raise InvalidParameterError(msg)
    return act


def _alpha(gaps, scale, N, where) -> tuple[float, float]:
    """alpha = scale / min_gap over the first N neurons (refusing equal projections)."""
    min_gap = float(gaps[:N].min()) if N > 1 else 1.0
    if not min_gap > 0 or not math.isfinite(min_gap):
        msg = (f"{where}: two samples (or patches) have equal projections (gap {min_gap}); the data "
               f"violate Assumption 2.4.1 (distinct samples/patches). Add tiny noise.")
        raise InvalidParameterError(msg)
    alpha = scale / min_gap
    return alpha, min_gap


def independent_features(X: torch.Tensor, width: int, activation: str | Activation = "sigmoid", *,
                         scale: float = 20.0, beta: float = 1.0,
                         seed: int | torch.Generator | None = 0) -> IndependentFeatures:
    """NG-A1 for a fully connected wide layer on inputs X (N, d): rank F = N for large ``scale``.

    Args:
        X: distinct inputs (N, d) (the features of the layer below, or the data).
        width: neurons n >= N.
        activation: σ satisfying Assumption 2.4.2 with μ_- = 0 (ReLU, sigmoid, softplus).
        scale: c = α · min_gap; entries below the diagonal are <= σ(β - c).
        beta: bias offset with σ(β) != 0.
        seed: seed of the directions a_j (Gaussian).

    Returns:
        An :class:`IndependentFeatures`; ``weights`` is W (d, n) in the thesis convention.

    Raises:
        InvalidParameterError: if width < N, σ(β) = 0, or two samples project equally.
    """
    where = "independent_features"
    width = check_int(width, "width", where, min_val=1)
    X = torch.as_tensor(X, dtype=torch.float64)
    act = _check_a1(X, width, activation, scale, beta, where)
    N, d = X.shape
    A = torch.randn(width, d, generator=check_generator(seed, where), dtype=torch.float64)
    proj = X @ A.T  # (N, n): <a_j, x_i>
    order, gaps = _assign(proj, N)
    alpha, min_gap = _alpha(gaps, scale, N, where)
    anchor = torch.cat([proj[order, torch.arange(N)], proj[:, N:].median(0).values])
    W = -alpha * A.T
    b = alpha * anchor + beta
    args = (anchor[None, :] - proj) / min_gap
    Fm = act(X @ W + b)
    return _result(Fm, order, alpha, beta, scale, min_gap, W, b, args)


def independent_conv_features(X: torch.Tensor, in_shape: Sequence[int], kernel: int, channels: int,
                              activation: str | Activation = "sigmoid", *, scale: float = 20.0,
                              beta: float = 1.0,
                              seed: int | torch.Generator | None = 0) -> IndependentFeatures:
    """NG-A1 for a convolutional wide layer (filters shared over patches, untied biases).

    Neuron j = p T + t applies the filter a^t to patch p. With P patches, n = P T >= N.

    Args:
        X: inputs (N, prod(in_shape)).
        in_shape: the image shape.
        kernel: the filter size.
        channels: T, the number of filters.
        activation: σ (Assumption 2.4.2).
        scale: how far the arguments go past the gaps (α grows with it).
        beta: the value at the anchor, σ(β) != 0.
        seed: seed or generator of the directions a^t.

    Returns:
        An :class:`IndependentFeatures`; ``weights`` are the (T, l) filters -α a^t.

    Raises:
        InvalidParameterError: if P T < N, σ(β) = 0, or two patches project equally
            (Assumption 2.4.1).
    """
    where = "independent_conv_features"
    channels = check_int(channels, "channels", where, min_val=1)
    X = torch.as_tensor(X, dtype=torch.float64)
    patches = conv_patches(X, in_shape, kernel)  # (N, P, l)
    N, P, ell = patches.shape
    act = _check_a1(X, P * channels, activation, scale, beta, where)
    A = torch.randn(channels, ell, generator=check_generator(seed, where), dtype=torch.float64)
    proj = (patches @ A.T).reshape(N, P * channels)  # column p T + t: <a^t, x_i^p>
    order, gaps = _assign(proj, N)
    alpha, min_gap = _alpha(gaps, scale, N, where)
    anchor = torch.cat([proj[order, torch.arange(N)], proj[:, N:].median(0).values])
    b = alpha * anchor + beta
    Fm = conv_features(X, -alpha * A, b, in_shape, kernel, act)
    args = (anchor[None, :] - proj) / min_gap
    return _result(Fm, order, alpha, beta, scale, min_gap, -alpha * A, b, args)


def _result(Fm, order, alpha, beta, scale, min_gap, W, b, args) -> IndependentFeatures:
    N = order.numel()
    block = Fm[order, :N]
    lower = torch.tril(block, diagonal=-1)
    args = args.clone()
    args[order, torch.arange(N)] = 0.0  # exact zeros on the assigned entries
    return IndependentFeatures(Fm, order, alpha, beta, scale, min_gap, W, b,
                               float(lower.abs().max()) if N > 1 else 0.0, args)


# ----------------------------------------------------------------------------- NG-A2
def inverse_activation(activation: str | Activation, t: torch.Tensor) -> torch.Tensor:
    """σ^{-1}(t) for sigmoid (logit) and softplus_α (log(e^{α t} - 1)/α) on their ranges.

    Args:
        activation: sigmoid or softplus (name or instance).
        t: values in the range of σ.

    Returns:
        σ^{-1}(t), elementwise.

    Raises:
        InvalidParameterError: for other activations or values outside the range of σ.
    """
    act = get_activation(activation)
    name = act.name
    if name == "sigmoid":
        if not ((t > 0) & (t < 1)).all():
            msg = "sigmoid^{-1} needs values in (0, 1)."
            raise InvalidParameterError(msg)
        return torch.logit(t)
    if name.startswith("softplus"):
        alpha = float(name[9:-1]) if "(" in name else 1.0
        if not (t > 0).all():
            msg = "softplus^{-1} needs values > 0."
            raise InvalidParameterError(msg)
        return torch.log(torch.expm1(alpha * t)) / alpha
    msg = f"NG-A2 needs an invertible activation with a closed-form inverse ({', '.join(INVERTIBLE)}). Got {name}."
    raise InvalidParameterError(msg)


def _range_sample(act: Activation, shape, gen) -> torch.Tensor:
    """Entries inside the range of σ, away from its ends: U(0.2, 0.8) (sigmoid) or U(0.2, 1.5)."""
    hi = 0.8 if act.name == "sigmoid" else 1.5
    return 0.2 + (hi - 0.2) * torch.rand(shape, generator=gen, dtype=torch.float64)


def _solve_with_null(F: torch.Tensor, T: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    """W with F W = T exactly (F full row rank): F^+ T plus R projected on the null space of F."""
    Fp = torch.linalg.pinv(F)
    return Fp @ T + R - Fp @ (F @ R)


@dataclass(frozen=True, eq=False)
class ZeroLoss:
    """The result of NG-A2: weights ``W_l (n_{l-1}, n_l)`` and biases of a zero-loss network.

    Attributes:
        weights: the layer weights ``W_l (n_{l-1}, n_l)`` (thesis convention).
        biases: the layer biases ``b_l (n_l,)`` (zero above the wide layer).
        k: the wide layer.
        outputs: F_L (N, m).
        targets: Y (N, m) = Z[y].
        residual: max |F_L - Y|.
        rank_Fk: Press rank of F_k.
        ranks_U: (Press rank, full rank it should have) of U_{k+2}, ..., U_L.
    """

    weights: list[torch.Tensor] = field(repr=False)
    biases: list[torch.Tensor] = field(repr=False)
    k: int
    outputs: torch.Tensor = field(repr=False)
    targets: torch.Tensor = field(repr=False)
    residual: float
    rank_Fk: int
    ranks_U: list[tuple[int, int]]


def zero_loss_construction(X: torch.Tensor, y: torch.Tensor, widths: Sequence[int], k: int,
                           activation: str | Activation = "sigmoid", *,
                           code: torch.Tensor | None = None,
                           seed: int | torch.Generator | None = 0) -> ZeroLoss:
    """NG-A2: a network with F_L = Y exactly, for a wide layer k (n_k >= N) and a pyramidal top.

    Layers 1..k are random (Gaussian, so F_k has rank N almost surely, NG-T2.4.5). Layer
    k+1 maps each sample of class j to the code row E_{k+1}[j] (entries in the range of σ)
    by solving F_k W = σ^{-1}(E[y]); each later hidden layer maps class codes to new codes
    the same way, and the output layer solves E_{L-1} W_L = Z. Every solve adds a random
    null-space component, which keeps the outputs and makes U_{k+2}, ..., U_L full rank
    (the set S_k of NG-T2.4.11). For k = L-1 this is Case 1, for k = L-2 Case 2 of the
    thesis; for k <= L-3 the class codes replace the thesis' use of T2.4.4 on the subnetwork.

    Args:
        X: inputs (N, d).
        y: labels (N,) in [0, m).
        widths: [d, n_1, ..., n_L = m], with n_k >= N and n_{k+1} >= ... >= n_L.
        k: the wide layer (1 <= k <= L-1).
        activation: ``"sigmoid"`` or ``"softplus"`` (σ^{-1} in closed form).
        code: the class code Z (m, m), full rank (identity by default).
        seed: seed or generator of the random layers and null-space components.

    Returns:
        A :class:`ZeroLoss` with the weights, biases and the checks of the construction.

    Raises:
        InvalidParameterError: if the widths violate n_k >= N or the pyramid, or k is out of range.
    """
    from ...expressivity.rank import matrix_feature_rank

    where = "zero_loss_construction"
    act = get_activation(activation)
    inverse_activation(act, torch.full((1,), 0.5, dtype=torch.float64))  # refuses others early
    widths = [int(w) for w in widths]
    L = len(widths) - 1
    X = torch.as_tensor(X, dtype=torch.float64)
    N, m = X.shape[0], widths[-1]
    k = check_int(k, "k", where, min_val=1, max_val=L - 1)
    if widths[k] < N or any(a < b for a, b in zip(widths[k + 1:], widths[k + 2:], strict=False)):
        msg = (f"{where} needs n_k >= N = {N} and n_{{k+1}} >= ... >= n_L. Got widths {widths} "
               f"with k = {k}.")
        raise InvalidParameterError(msg)
    Z = torch.eye(m, dtype=torch.float64) if code is None else code.to(torch.float64)
    gen = check_generator(seed, where)
    weights, biases = [], []
    Fk = X
    for i in range(1, k + 1):
        W = torch.randn(widths[i - 1], widths[i], generator=gen, dtype=torch.float64) / math.sqrt(widths[i - 1])
        b = torch.randn(widths[i], generator=gen, dtype=torch.float64)
        weights.append(W)
        biases.append(b)
        Fk = act(Fk @ W + b)
    prev, rows = Fk, y  # the matrix whose rows are solved for, and how samples map to them
    for i in range(k + 1, L + 1):
        R = torch.randn(widths[i - 1], widths[i], generator=gen, dtype=torch.float64)
        if i < L:
            E = _range_sample(act, (m, widths[i]), gen)
            target = inverse_activation(act, E)
        else:
            target = Z
        W = _solve_with_null(prev, target[rows] if i == k + 1 else target, R)
        weights.append(W)
        biases.append(torch.zeros(widths[i], dtype=torch.float64))
        if i < L:
            prev = E
    _, Fs = fc_forward(X, weights, biases, act)
    Y = Z[y]
    ranks = [(matrix_feature_rank(weights[i - 1]).rank, min(weights[i - 1].shape)) for i in range(k + 2, L + 1)]
    return ZeroLoss(weights, biases, k, Fs[-1], Y, float((Fs[-1] - Y).abs().max()),
                    matrix_feature_rank(Fs[k]).rank, ranks)


# ----------------------------------------------------------------------------- NG-L2.4.9
@dataclass(frozen=True)
class GradientBounds:
    r"""NG-L2.4.9 at one point: lower <= ||grad_{U_{k+1}} Φ||_F <= upper (Φ = ½||F_L - Y||²).

    Attributes:
        lower: the lower bound \(\sigma_{\min}(F_k)\prod_{l}\sigma_{\min}(U_{l+1})\|\sigma'(G_l)\|_{\min}
            \|F_L - Y\|_F\) (see :func:`gradient_bounds`).
        upper: the upper bound, the same product with the largest singular values and
            \(\|\sigma'(G_l)\|_{\max}\).
        grad_norm: ||F_k^T Δ_{k+1}||_F from the backprop recursion of Lemma 2.6.2.
        residual_norm: ||F_L - Y||_F.
    """

    lower: float
    grad_norm: float
    upper: float
    residual_norm: float


def backprop_deltas(weights, Gs, Fs, Y, activation) -> list[torch.Tensor]:
    """Δ_L = F_L - Y and Δ_l = (Δ_{l+1} U_{l+1}^T) ∘ σ'(G_l) (Lemma 2.6.2); returns [Δ_1..Δ_L].

    Args:
        weights: U_1..U_L.
        Gs: pre-activations G_1..G_{L-1}.
        Fs: features F_0..F_L.
        Y: targets.
        activation: the activation.

    Returns:
        [Delta_1, ..., Delta_L].
    """
    L = len(weights)
    deltas = [Fs[-1] - Y]
    for idx in range(L - 1, 0, -1):  # layer l = idx
        deltas.insert(0, (deltas[0] @ weights[idx].T) * activation_derivative(activation, Gs[idx - 1]))
    return deltas


def gradient_bounds(X: torch.Tensor, Y: torch.Tensor, weights: Sequence[torch.Tensor],
                    biases: Sequence[torch.Tensor], activation: str | Activation,
                    k: int) -> GradientBounds:
    r"""The bounds of NG-L2.4.9 on :math:`\|\nabla_{U_{k+1}}\Phi\|_F` for the square loss ½||F_L - Y||².

    .. math::
        \sigma_{\min}(F_k)\prod_{l=k+1}^{L-1}\sigma_{\min}(U_{l+1})\|\sigma'(G_l)\|_{\min}\|F_L-Y\|_F
        \le \|\nabla_{U_{k+1}}\Phi\|_F \le
        \sigma_{\max}(F_k)\prod_{l=k+1}^{L-1}\sigma_{\max}(U_{l+1})\|\sigma'(G_l)\|_{\max}\|F_L-Y\|_F

    σ_min(F_k) is the N-th singular value (n_k >= N) and σ_min(U) the n_{l+1}-th.

    Args:
        X: inputs (N, d).
        Y: targets (N, m).
        weights: U_1..U_L (fully connected, :func:`fc_forward` convention).
        biases: b_1..b_L.
        activation: the activation (name or instance).
        k: the layer whose outgoing weights U_{k+1} the gradient is taken in (0 <= k <= L-1).

    Returns:
        A :class:`GradientBounds` (lower bound, gradient norm, upper bound, residual norm).

    Raises:
        InvalidParameterError: if k is not in [0, L-1].
    """
    L = len(weights)
    k = check_int(k, "k", "gradient_bounds", min_val=0, max_val=L - 1)
    Gs, Fs = fc_forward(X, weights, biases, activation)
    deltas = backprop_deltas(weights, Gs, Fs, Y, activation)
    grad = Fs[k].T @ deltas[k]  # ∇_{U_{k+1}}: F_k^T Δ_{k+1} (the thesis prints F_L^T Δ_{k+1})
    sF = torch.linalg.svdvals(Fs[k])
    lo, hi = float(sF[min(Fs[k].shape) - 1]), float(sF[0])
    for l in range(k + 1, L):  # noqa: E741 - the thesis' index
        U = weights[l]  # U_{l+1}
        sU = torch.linalg.svdvals(U)
        dsig = activation_derivative(activation, Gs[l - 1]).abs()
        lo *= float(sU[min(U.shape) - 1]) * float(dsig.min())
        hi *= float(sU[0]) * float(dsig.max())
    res = float((Fs[-1] - Y).norm())
    return GradientBounds(lo * res, float(grad.norm()), hi * res, res)
