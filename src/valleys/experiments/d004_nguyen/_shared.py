"""Document 004 (Nguyen, PhD thesis): what several of its experiments share.

- Chapter 2 (``nguyen-feature-rank``, ``nguyen-independent-features``, ``nguyen-zero-loss``,
  ``nguyen-gradient-bounds``): noisy digits and one-hot targets. The thesis' Table 2.2 is
  MNIST (N = 60000, GPU, single precision); the digits analogue (N = 1797, float64, CPU) can
  only be compared with it qualitatively: same pattern (full rank for every T_1), not the
  same numbers.
- Chapter 4 (``nguyen-skip``, ``nguyen-deep-skip``): the digits split, the activations, the
  ranks of Psi(U) and the spread by layer. The thesis trains VGG/DenseNet on CIFAR-10 for 300
  epochs on GPUs; these CPU analogues on digits (N = 1000) can only be compared with its
  tables qualitatively (who reaches 100% training accuracy, who collapses to chance, who
  generalises better), never number by number. All nets of one configuration train at once
  as one :class:`~valleys.train.MLPStack`.
- Chapter 5 (``nguyen-regions-analytic``, ``nguyen-regions-trained``,
  ``nguyen-adversarial-path``): the source string.
"""

from __future__ import annotations

import torch

from ..._validation import check_generator
from ...data import digits
from ...expressivity import matrix_feature_rank
from ...nets import get_activation

SOURCE_004_CH2 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 2"


def noisy_digits(n: int, noise_std: float, seed: int):
    """Digits (pixels / 16) plus N(0, noise_std^2) noise (Assumption 2.4.1: distinct patches)."""
    ds = digits(n=n, seed=seed)
    gen = check_generator(seed + 1)
    return ds.X + noise_std * torch.randn(ds.X.shape, generator=gen, dtype=torch.float64), ds.y


def one_hot(y: torch.Tensor, m: int = 10) -> torch.Tensor:
    return torch.nn.functional.one_hot(y, m).to(torch.float64)


SOURCE_004_CH4 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 4"


def digits_split(n_train: int, n_test: int, seed: int):
    """A random split of the 1797 digits (pixels / 16) into train and test parts."""
    ds = digits()
    perm = torch.randperm(len(ds.y), generator=check_generator(seed))
    tr, te = perm[:n_train], perm[n_train:n_train + n_test]
    return ds.X[tr], ds.y[tr], ds.X[te], ds.y[te]


def _activation(name: str, gamma: float):
    return get_activation("softplus", alpha=gamma) if name == "softplus" else get_activation(name)


def _psi_ranks(stack, X) -> tuple[list[dict], list[float]]:
    """Press rank and singular values of every net's Psi(U), and :func:`_spread_by_layer`
    (one forward pass for both)."""
    with torch.no_grad():
        _, hs = stack.forward(X, hidden=True)
    out = []
    for j, P in enumerate(stack.skip_columns(hs)):
        r = matrix_feature_rank(P)
        out.append({"net": j, "rank_psi": r.rank, "sigma_min_psi": r.sigma_min, "sigma_max_psi": r.sigma_max})
    return out, _spread_by_layer(hs)


def _spread_by_layer(hs: list[torch.Tensor]) -> list[float]:
    """Relative spread of each hidden layer's outputs over the samples, ||H - mean_n H|| / ||H||
    (the largest over the stack's nets; ``hs`` as from ``MLPStack.forward(..., hidden=True)``).
    0 means the layer gives every input the same vector, so its neurons cannot add to the
    rank of Psi(U) in floating point: the measured reason when a deep net's Psi is
    numerically rank-deficient although NG-L4.3.2 says full rank."""
    out = []
    for H in hs:  # (B, N, m)
        dev = (H - H.mean(1, keepdim=True)).flatten(1).norm(dim=1)
        out.append(float((dev / H.flatten(1).norm(dim=1).clamp_min(torch.finfo(H.dtype).tiny)).max()))
    return out


def _spread_note(spread: list[float]) -> str:
    L = len(spread)
    picks = sorted({1, max(1, L // 3), max(1, 2 * L // 3), L})
    return "relative spread of layer outputs over the samples: " + ", ".join(
        f"layer {k} {spread[k - 1]:.2g}" for k in picks)


SOURCE_004_CH5 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 5"


#: Skip-neuron activations of Assumption 4.3.1 (2a: bounded with lim_{-inf} sigma = 0; 2b: softplus);
#: tanh (lim_{-inf} = -1) and the others are outside NG-L4.3.2.
ASSUMPTION_431_ACTIVATIONS = ("sigmoid", "softplus")


def column_normalised_rank(P: torch.Tensor):
    """Press rank of ``P`` (samples x neurons) after scaling every nonzero column to unit norm.

    Scaling a column by a positive number cannot change the true rank, but nearly-off units
    (entries ~1e-12) put their columns below a threshold set by the largest column: a rank test
    must not depend on column scale. Zero columns stay zero.

    Returns:
        A :class:`~valleys.expressivity.FeatureRank` of the normalised matrix.
    """
    P = P.detach().to(torch.float64)
    norms = P.norm(dim=0)
    return matrix_feature_rank(P / torch.where(norms > 0, norms, torch.ones_like(norms)))
