"""paths.escape: certified escapes, and barriers measured against closed forms."""

import math

import numpy as np
import pytest
import torch

from valleys import InvalidParameterError, Landscape, ShapeError
from valleys.nets import mlp
from valleys.paths import EscapeResult, escape

torch.set_num_threads(1)
D = torch.float64


def _double_well():
    """L(x, y) = x^4 + 5x^3 + 6x^2 + y^2 (Cooper's f lifted to 2-D): x = 0 is a strict local,
    non-global minimum; the saddle sits at x* = (-15 + sqrt 33)/8, the global minimum at
    (-15 - sqrt 33)/8."""
    def f(x):
        return x ** 4 + 5 * x ** 3 + 6 * x ** 2

    land = Landscape.from_function(lambda t: f(t[..., 0]) + t[..., 1] ** 2, 2, rowwise=True)
    return land, f, (-15 + math.sqrt(33)) / 8, (-15 - math.sqrt(33)) / 8


def _teacher_student(act: str, width: int) -> Landscape:
    """A [2, width, 1] student on 12 points labelled by a [2, 2, 1] teacher of the same activation."""
    X = torch.randn(12, 2, generator=torch.Generator().manual_seed(0), dtype=D)
    with torch.no_grad():
        Y = mlp([2, 2, 1], act, seed=5).double()(X)[:, 0]
    return Landscape(mlp([2, width, 1], act, seed=1), (X, Y), loss="mse")


def test_spurious_valley_reports_the_analytic_barrier():
    land, f, x_saddle, x_global = _double_well()
    theta0 = torch.tensor([0.3, 0.5], dtype=D)
    L0 = f(0.3) + 0.25
    r = escape(land, theta0, f(x_global) + 0.01, n_starts=4, start_scale=2.0, train_steps=300,
               max_anchors=1, cycles=(100, 100, 200))
    assert isinstance(r, EscapeResult)
    assert r.status == "barrier" and not r.certified
    # descent went down to the local minimum at the origin and stalled there
    assert r.stall_loss < 1e-12
    # any path from the origin's basin to x < x* crosses {x = x*}, where L >= f(x*): barrier >= f(x*) - L0
    analytic = f(x_saddle) - L0
    assert abs(r.barrier - analytic) < 1e-5 * analytic
    assert r.end_loss <= f(x_global) + 0.01
    assert "evidence" in r.note and "not a proof" in r.note
    # the path starts at theta0, and its maximum by independent dense sampling matches
    t = torch.linspace(0, 1, 20001, dtype=D)
    vals = land.losses(r.path(t))
    assert torch.allclose(r.path.start, theta0)
    assert float(vals.max()) - L0 <= r.barrier + 1e-12
    assert float(vals.max()) - L0 > analytic - 1e-4
    d = r.to_dict()
    assert d["status"] == "barrier" and len(r.to_frame()) == len(d["attempts"]) >= 2
    assert "barrier" in repr(r)


def test_sun_relu_toy_plateau_escapes_with_an_exact_certificate():
    # (u relu(v) - 1)^2 as an MLP [1, 1, 1] (x = 1, y = 1): theta = (v, u). From the flat
    # plateau (v, u) = (-1, 0) the gradient vanishes (descent cannot move), yet {L <= 1} is
    # connected through v = 0 (CLAIMS SUN-Ex-relu): the line to (1, 1) has
    # L = (t relu(2t - 1) - 1)^2, equal to 1 for t <= 1/2 and decreasing after.
    land = Landscape(mlp([1, 1, 1], "relu", bias=False), (torch.ones(1, 1), torch.ones(1)), loss="mse")
    theta0 = torch.tensor([-1.0, 0.0], dtype=D)
    r = escape(land, theta0, 1e-8, anchors=torch.tensor([[1.0, 1.0]]))
    assert r.status == "certified" and r.certificate.kind == "exact" and r.certificate.holds is True
    assert r.descent_steps == 0 and r.stage == "line"
    assert r.barrier == 0.0 and r.end_loss == 0.0
    # independent check of the closed form along the path
    t = torch.linspace(0, 1, 1001, dtype=D)
    closed = (t * torch.relu(2 * t - 1) - 1) ** 2
    assert torch.allclose(land.losses(r.path(t)), closed, atol=1e-12)


def test_good_basin_of_a_relu_net_gives_an_exact_descent_certificate():
    land = _teacher_student("relu", 8)
    L0 = float(land.loss(land.theta0))
    target = L0 / 20
    r = escape(land, land.theta0, target, steps=500)
    assert r.status == "certified" and r.certificate.kind == "exact" and r.stage == "descent"
    assert r.end_loss <= target and r.descent_steps >= 1
    # independent: dense sampling along the path never rises by more than the tolerance
    t = torch.linspace(0, 1, 4001, dtype=D)
    vals = land.losses(r.path(t)).numpy()
    if r.certificate.claim == "nonincreasing":
        assert np.max(vals - np.minimum.accumulate(vals)) <= r.certificate.tol
    assert vals.max() <= L0 + r.certificate.tol


def test_sampled_landscapes_are_never_certified():
    land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
    r = escape(land, torch.tensor([1.0, -2.0], dtype=D), 1e-6)
    assert r.status == "sampled" and r.certificate.kind == "sampled" and r.certificate.holds is None
    assert r.end_loss <= 1e-6 and r.barrier <= 0.0
    assert "not a proof" in r.note


def test_no_low_point_is_reported_not_invented():
    # L = (x^2 - 1)^2 + 1 >= 1 everywhere: a target below 1 cannot be reached
    land = Landscape.from_function(lambda t: (t[0] ** 2 - 1) ** 2 + 1, 1)
    r = escape(land, torch.tensor([0.5], dtype=D), 0.5, n_starts=2, train_steps=20)
    assert r.status == "no_low_point" and math.isnan(r.barrier)


def test_escape_checks_its_arguments():
    land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
    with pytest.raises(ShapeError):
        escape(land, torch.zeros(3, dtype=D), 0.0)
    with pytest.raises(ShapeError):
        escape(land, torch.zeros(2, dtype=D), 0.0, anchors=torch.zeros(2, 3))
    with pytest.raises(InvalidParameterError):
        escape(land, torch.zeros(2, dtype=D), float("nan"))
    with pytest.raises(InvalidParameterError):
        escape(land, torch.zeros(2, dtype=D), 0.0, cycles=())


def test_a_step_jumping_over_a_barrier_is_not_taken_for_an_escape():
    # 1-D: L = x^2 + 5 exp(-(x - 1/4)^2 / 0.01). From x = 1 a first step of size 0.75 lands at
    # -0.5 (loss 0.25, Armijo accepts it) right over the bump of height ~5: the descent polygon
    # is refuted, the descent is rerun with smaller steps, stalls right of the bump, and the
    # barrier is the bump's top minus L(1).
    def f(x):
        return x ** 2 + 5 * torch.exp(-((x - 0.25) ** 2) / 0.01)

    land = Landscape.from_function(lambda t: f(t[..., 0]), 1, rowwise=True)
    r = escape(land, torch.tensor([1.0], dtype=D), 0.02, lr=0.75, n_starts=6, train_steps=300, train_lr=0.002,
               max_anchors=1, cycles=(50, 50, 100))
    assert r.status == "barrier"
    assert r.stall_loss > 0.02 and r.to_frame()["stage"].str.startswith("descent, lr").any()
    xs = torch.linspace(-1, 1, 400001, dtype=D)
    top = float(f(xs).max())
    L0 = float(f(torch.tensor(1.0, dtype=D)))
    assert abs(r.barrier - (top - L0)) < 1e-6 * top
    assert "not a proof" in r.note and "stalled" in r.note


def test_smooth_net_escape_is_certified_by_the_curvature_bound():
    land = _teacher_student("tanh", 6)
    L0 = float(land.loss(land.theta0))
    r = escape(land, land.theta0, L0 / 5, steps=500)
    assert r.status == "certified" and r.certificate.kind == "bound" and r.barrier_kind == "bound"
    vals = land.losses(r.path(torch.linspace(0, 1, 4001, dtype=D))).numpy()
    assert vals.max() <= r.start_loss + r.barrier + 1e-12  # the bound is above every sample
    assert vals[-1] <= L0 / 5


def test_readme_call_with_target_as_a_keyword_runs():
    """The README's call ``paths.escape(land, theta0, target=1e-3)`` (issue 18, item 15)."""
    from valleys import paths

    land = Landscape.from_function(lambda t: (t ** 2).sum(), 2)
    theta0 = torch.tensor([1.0, 0.5], dtype=D)
    r = paths.escape(land, theta0, target=1e-3)
    assert isinstance(r, EscapeResult) and r.target == 1e-3 and r.end_loss <= 1e-3
    assert r.status == escape(land, theta0, 1e-3).status  # positional and keyword agree
