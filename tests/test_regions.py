"""Decision regions, paths in input space and the one-step targeted perturbation."""

import math

import numpy as np
import pytest
import torch

from valleys.errors import InvalidParameterError, ModelError, ValleysError
from valleys.expressivity.regions import (
    TIE,
    classify_path,
    count_components,
    decision_regions,
    fgsm_targeted,
    refined_status,
    regions_by_window,
    smallest_fgsm,
    window_status,
)


def scores_from_mask(mask_fn):
    """Class 0 where mask_fn(X) > 0, class 1 where < 0 (scores (m, 0))."""
    def f(X):
        m = mask_fn(X)
        return torch.stack([m, torch.zeros_like(m)], 1)
    return f


def test_two_discs_are_two_interior_components():
    f = scores_from_mask(lambda X: torch.maximum(1 - X.norm(dim=1),
                                                 1 - (X - torch.tensor([3.0, 0.0])).norm(dim=1)))
    r = decision_regions(f, (-3, 6), 181)
    assert r.count(0) == 2 and r.status(0) == "disconnected"
    assert r.classes[0].interior == 2
    assert r.count(1) == 1 and r.status(1) == "connected"
    # both discs have the same area: pixel counts agree within the grid error
    a, b = r.classes[0].sizes
    assert abs(a - b) / a < 0.05
    area = a * (9 / 180) ** 2
    assert abs(area - math.pi) / math.pi < 0.05


def test_edge_touching_split_is_inconclusive_and_stable_over_windows():
    f = scores_from_mask(lambda X: X[:, 0].abs() - 1)
    r = decision_regions(f, (-3, 3), 121)
    assert r.count(0) == 2 and r.status(0) == "inconclusive"
    assert all(r.classes[0].touches_edge)
    wins = regions_by_window(f, (-3, 3), 121, (1, 2, 4))
    assert window_status(wins, 0) == ("stable", 2)
    assert window_status(wins, 1) == ("connected", 1)


def test_edge_split_that_joins_outside_the_window_is_connected_in_a_larger_one():
    # class 0 = outside the bounded band |x1| <= 1, |x2| <= 5: connected around the band's ends
    f = scores_from_mask(lambda X: torch.maximum(X[:, 0].abs() - 1, X[:, 1].abs() - 5))
    small = decision_regions(f, (-4, 4), 161)
    assert small.count(0) == 2 and small.status(0) == "inconclusive"
    wins = regions_by_window(f, (-4, 4), 161, (1, 4))
    assert window_status(wins, 0) == ("connected", 1)


def test_single_half_plane_touching_the_edge_is_connected():
    r = decision_regions(scores_from_mask(lambda X: X[:, 0] + 2 * X[:, 1] - 0.3), (-1, 1), 51)
    assert (r.count(0), r.status(0), r.classes[0].touches_edge) == (1, "connected", (True,))
    assert (r.count(1), r.status(1)) == (1, "connected")


def test_ties_belong_to_no_region():
    # f0 = f1 on the strip |x1| <= 1 (exactly), f0 > f1 outside: the red class is empty
    def f(X):
        blue = torch.clamp(X[:, 0].abs() - 1, min=0.0)
        return torch.stack([blue, torch.zeros_like(blue)], 1)
    r = decision_regions(f, ((-4, 4), (-1, 1)), (161, 11))
    assert r.status(1) == "empty" and r.count(1) == 0
    assert r.count(0) == 2
    xs = np.repeat(r.xs[None, :], len(r.ys), 0)
    assert np.array_equal(r.labels == TIE, np.abs(xs) <= 1)


def test_eight_connectivity_joins_diagonal_pixels():
    mask = np.eye(5, dtype=bool)
    assert count_components(mask, connectivity=1)[0].count == 5
    assert count_components(mask, connectivity=2)[0].count == 1


def test_refinement_confirms_a_split_seen_on_both_grids():
    # two disjoint discs: interior components on the grid and on the 2x finer grid
    f = scores_from_mask(lambda X: torch.maximum(1 - X.norm(dim=1),
                                                 1 - (X - torch.tensor([2.5, 0.0])).norm(dim=1)))
    assert refined_status(f, (-3, 5), 81) == ["disconnected", "connected"]


def test_bad_input_raises_one_line_errors():
    f = scores_from_mask(lambda X: X[:, 0])
    for box in [(1, 1), (2, 1), ((0, 1), (3, -3)), "abc", (0, float("nan"))]:
        with pytest.raises(InvalidParameterError):
            decision_regions(f, box, 10)
    for res in (1, 0, 2.5):
        with pytest.raises(InvalidParameterError):
            decision_regions(f, (0, 1), res)
    bad_models = [lambda X: X[None], lambda X: "scores", lambda X: X[:3],
                  lambda X: X.sum().reshape(1, 1), lambda X: torch.zeros(len(X), 2, dtype=torch.int64)]
    for g in bad_models:
        with pytest.raises(ModelError):
            decision_regions(g, (0, 1), 5)

    def broken(X):
        return X @ torch.ones(3, 2, dtype=X.dtype)
    with pytest.raises(ModelError) as exc:
        decision_regions(broken, (0, 1), 5)
    assert "\n" not in str(exc.value)
    with pytest.raises(ValleysError):
        decision_regions(lambda X: X / 0.0 * 0.0, (0, 1), 5)


def test_scalar_output_is_a_binary_margin():
    r = decision_regions(lambda X: X[:, 0] - 0.5, (0, 1), 21)
    assert r.n_classes == 2 and r.count(0) == 1 and r.count(1) == 1
    assert (r.labels[:, r.xs > 0.5] == 1).all() and (r.labels[:, r.xs < 0.5] == 0).all()


def linear_model():
    W = torch.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=torch.float64)
    return (lambda X: X @ W.T), W


def test_fgsm_step_matches_the_hand_computed_gradient_sign():
    f, W = linear_model()
    x = torch.tensor([1.0, 1.0], dtype=torch.float64)
    # scores (-1, 3.5); d CE(target 0)/dx = W^T (p - e_0) = p_1 (-W[0] + W[1]) = p_1 (-0.5, 5)
    adv = fgsm_targeted(f, x, 0, 0.1)
    assert torch.equal(adv, torch.tensor([1.1, 0.9], dtype=torch.float64))
    # towards class 1 the sign flips
    assert torch.equal(fgsm_targeted(f, x, 1, 0.1), torch.tensor([0.9, 1.1], dtype=torch.float64))
    # batches and clipping
    batch = fgsm_targeted(f, torch.stack([x, x]), 0, 0.5, clip=(0.0, 1.0))
    assert torch.equal(batch, torch.tensor([[1.0, 0.5], [1.0, 0.5]], dtype=torch.float64))
    s = f(adv[None])[0]
    assert s[0] - s[1] > f(x[None])[0, 0] - f(x[None])[0, 1]
    with pytest.raises(InvalidParameterError):
        fgsm_targeted(f, x, 0, 0.0)
    with pytest.raises(InvalidParameterError):
        fgsm_targeted(f, x, 2, 0.1)


def test_smallest_fgsm_finds_the_first_successful_step():
    f, W = linear_model()
    x = torch.tensor([1.0, 1.0], dtype=torch.float64)
    # margin f0 - f1 at x - eps (-1, 1)... = (x1 + eps) - 2(x2 - eps) - 0.5(x1 + eps) - 3(x2 - eps)
    #   = -4.5 + 5.5 eps > 0  iff  eps > 9/11
    eps, adv = smallest_fgsm(f, x, 0, [0.5, 0.8, 0.9, 2.0])
    assert eps == 0.9
    assert smallest_fgsm(f, x, 0, [0.1, 0.5]) is None


def test_classify_path_crosses_where_the_margin_changes_sign():
    f, _ = linear_model()
    a = torch.tensor([2.0, 0.0], dtype=torch.float64)   # margin 0.5 * 2 = 1 > 0: class 0
    b = torch.tensor([0.0, 1.0], dtype=torch.float64)   # margin -5 < 0: class 1
    path = classify_path(f, [a, b, a], 1001)
    # margin along a -> b: (1 - l) * 1 + l * (-5) = 0 at l = 1/6
    lam = np.linspace(0, 1, 1001)
    assert path.fraction(0) == pytest.approx(2 * (lam < 1 / 6).sum() / 2002)
    assert len(path.t) == 2002 and path.segment.max() == 1
    assert path.min_prob(0) < 0.01 and path.to_frame().shape[0] == 2002


def test_grid_splits_of_pyramidal_nets_are_joined_by_inverse_mapped_paths():
    from valleys.experiments.d004_nguyen.regions_analytic import inverse_path, joined_by_paths, random_pyramidal
    from valleys.expressivity.regions import decision_regions

    split_seen = 0
    for seed in range(40):
        gen = torch.Generator().manual_seed(seed)
        for family in ("leaky_relu", "sigmoid"):
            f, Ws = random_pyramidal([2, 2, 2, 3], family, gen, 0.1)
            a, b = torch.tensor([3.0, -1.0], dtype=torch.float64), torch.tensor([-2.0, 4.0], dtype=torch.float64)
            path = inverse_path(f, Ws, a, b, samples=11)
            assert torch.allclose(path[0], a, atol=1e-8) and torch.allclose(path[-1], b, atol=1e-8)
            reg = decision_regions(f, ((-50, 50), (-50, 50)), 40, tie_tol=1e-9)  # coarse: thin regions split
            if any(reg.count(j) > 1 for j in range(3)):
                split_seen += 1
                assert joined_by_paths(f, Ws, reg, 1e-9)[0]
            # two points of different classes are never joined: the forward pass sees the switch
            labels = f(torch.stack([a, b])).argmax(1)
            if labels[0] != labels[1]:
                scores = f(inverse_path(f, Ws, a, b))
                assert not bool((scores.argmax(1) == labels[0]).all())
    assert split_seen > 0  # the coarse grid does split some connected regions
