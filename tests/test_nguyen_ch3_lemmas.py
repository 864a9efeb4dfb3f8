"""Thesis ch. 3 path lemmas (valleys.literature.nguyen2019.lemmas / .wide) and Figure 3.1's phenomenon."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from valleys.core import Landscape
from valleys.errors import InvalidParameterError, ShapeError
from valleys.literature.nguyen2019 import (
    column_kernel_end,
    copy_layer_path,
    evard_jafari_path,
    full_rank_features_path,
    inverse_map,
    layer_features,
    polygon,
)
from valleys.nets import mlp
from valleys.nets.activations import get_activation
from valleys.paths import certify


def _land(widths, n, act="leaky_relu", seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, widths[0], generator=g, dtype=torch.float64)
    Y = torch.randn(n, widths[-1], generator=g, dtype=torch.float64)
    a = get_activation(act, alpha=0.1) if act == "leaky_relu" else get_activation(act)
    land = Landscape(mlp(widths, a), (X, Y), loss="mse")
    return land, torch.randn(land.theta0.numel(), generator=g, dtype=torch.float64)


def test_fig31_bad_valley_without_bad_local_minimum():
    """NG-Fig3.1's phenomenon on f(x) = -x exp(-x^2) (the thesis draws its functions without
    giving them): the only local minimum, x = 1/sqrt 2, is global, yet gradient descent from
    x_0 < -1/sqrt 2 runs to -infinity inside the valley {f < eps} whose infimum is 0 > min f."""
    f = lambda x: -x * np.exp(-x ** 2)  # noqa: E731
    df = lambda x: -(1 - 2 * x ** 2) * np.exp(-x ** 2)  # noqa: E731
    xs = np.linspace(-8, 8, 160001)
    sign = np.sign(df(xs))
    crit = xs[:-1][sign[:-1] != sign[1:]]
    assert np.allclose(crit, [-1 / math.sqrt(2), 1 / math.sqrt(2)], atol=1e-4)
    minima = [c for c in crit if f(c - 1e-3) > f(c) < f(c + 1e-3)]
    assert len(minima) == 1 and abs(f(minima[0]) - (-1 / math.sqrt(2 * math.e))) < 1e-6
    assert f(minima[0]) <= f(xs).min() + 1e-12  # the only local minimum is global
    x = -1.0
    values = []
    for _ in range(20000):
        x -= 0.5 * df(x)
        values.append(f(x))
    # it keeps descending (ever more slowly: f' ~ e^{-x^2}) towards inf f = 0 on the valley
    assert x < -3 and np.all(np.diff(values) <= 0) and 0 < values[-1] < 1e-5
    # the valley: the component (-inf, -R) of {f < eps} never reaches below 0 > min f
    eps = 0.05
    inside = f(xs) < eps
    starts = np.flatnonzero(np.diff(inside.astype(int)) != 0)
    assert inside[0] and len(starts) == 2  # two components on the grid: (-8, -R) and (-r, 8)
    valley = xs[: starts[0] + 1]
    assert valley.max() < -1.0 and f(valley).min() > 0 > f(minima[0])


def test_column_kernel_end_keeps_the_product_and_frees_the_columns():
    g = torch.Generator().manual_seed(1)
    F = torch.randn(7, 3, generator=g, dtype=torch.float64) @ torch.randn(3, 6, generator=g, dtype=torch.float64)
    W = torch.randn(6, 2, generator=g, dtype=torch.float64)
    end, E = column_kernel_end(F, W, [0, 1, 2])
    assert E.shape == (3, 3)
    assert torch.allclose(F @ end, F @ W, atol=1e-12)
    F2 = F.clone()
    F2[:, 3:] = torch.randn(7, 3, generator=g, dtype=torch.float64)
    assert torch.allclose(F2 @ end, F @ W, atol=1e-12)
    assert not torch.allclose(F2 @ W, F @ W, atol=1e-3)
    with pytest.raises(ShapeError):
        column_kernel_end(F, W.T, [0])


def test_evard_jafari_path_is_full_rank_and_refuses_square_matrices():
    g = torch.Generator().manual_seed(2)
    A, B = (torch.randn(3, 6, generator=g, dtype=torch.float64) for _ in range(2))
    path, bound = evard_jafari_path(A, B)
    assert torch.allclose(path(0.0), A, atol=1e-12) and torch.allclose(path(1.0), B, atol=1e-10)
    smin = min(float(torch.linalg.svdvals(path(t))[-1]) for t in np.linspace(0, 1, 51))
    assert smin >= bound * (1 - 1e-9) > 0
    with pytest.raises(ShapeError):
        evard_jafari_path(torch.eye(3, dtype=torch.float64), -torch.eye(3, dtype=torch.float64))


def test_inverse_map_realises_the_prescribed_features_and_needs_independent_data():
    land, theta = _land([8, 6, 4, 2], 5)
    A = torch.randn(5, 4, dtype=torch.float64)
    assert torch.allclose(layer_features(land, inverse_map(land, theta, A, 2))[2], A, atol=1e-10)
    wide, th = _land([3, 6, 4, 2], 5)  # N = 5 > d + 1 = 4: rank [X, 1] < N
    with pytest.raises(InvalidParameterError, match="rank"):
        inverse_map(wide, th, A, 2)


def test_full_rank_features_and_copy_paths_are_constant_and_exact():
    land, theta = _land([3, 12, 2], 6, act="relu")
    blocks = land.layout.unflatten(theta)
    src = torch.arange(12) % 2  # two distinct units: rank F_1 <= 2 < N
    blocks["W1"], blocks["b1"] = blocks["W1"][src].clone(), blocks["b1"][src].clone()
    theta = land.layout.flatten(blocks)
    L0 = float(land.loss(theta))
    corners, labels = full_rank_features_path(land, theta, 1, seed=3)
    cert = certify(polygon(corners, labels), land, claim="sublevel", level=L0, tol=1e-10 * max(1, L0))
    assert cert.holds and cert.kind == "exact"
    assert torch.linalg.matrix_rank(layer_features(land, corners[-1])[1]) == 6
    other = torch.randn(land.theta0.numel(), generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    cs, ls = copy_layer_path(land, corners[-1], other, 1)
    La = float(land.loss(corners[-1]))
    cert = certify(polygon(cs, ls), land, claim="sublevel", level=La, tol=1e-10 * max(1, La))
    spread = float(cert.pieces["upper"].max() - cert.pieces["lower"].min())
    assert cert.holds and spread <= 1e-10 * max(1, La)
    assert torch.equal(land.layout.unflatten(cs[-1])["W1"], land.layout.unflatten(other)["W1"])
    narrow, th = _land([3, 8, 2], 6, act="relu")
    with pytest.raises(InvalidParameterError, match="2N"):
        copy_layer_path(narrow, th, th, 1)
