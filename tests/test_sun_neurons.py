"""Analytic gradients of the single-neuron objectives (SUN-T4.2, SUN-T4.3) against autograd."""

import numpy as np
import pytest
import torch

from valleys.experiments.d001_sun._shared import requ_fun_grad, requ_predict
from valleys.experiments.d001_sun.exponential_neuron import (
    exp_datasets,
    exp_fun_grad,
    exp_objective,
    log_loss_bins,
)


def test_exponential_neuron_gradient_matches_autograd():
    x, y = exp_datasets(7)["non-separable"]
    gen = torch.Generator().manual_seed(3)
    for neuron in (True, False):
        F, k = exp_objective(x, y, 3, 0.2, 3, neuron)
        fg, k2 = exp_fun_grad(x.numpy(), y.numpy(), 3, 0.2, 3, neuron)
        assert k == k2
        for _ in range(3):
            t = torch.randn(k + 3 if neuron else k, generator=gen, dtype=torch.float64)
            t.requires_grad_(True)
            value = F(t)
            (g,) = torch.autograd.grad(value, t)
            v2, g2 = fg(t.detach().numpy())
            assert abs(float(value) - v2) <= 1e-12 * max(1.0, abs(v2))
            assert np.allclose(g.numpy(), g2, rtol=1e-10, atol=1e-12)


def test_requ_gradient_matches_autograd():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(6, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.tensor([1.0, -1, 1, 1, -1, -1], dtype=torch.float64)
    lam = torch.rand(7, generator=gen, dtype=torch.float64)
    m = 7

    def F(t):
        a, w, b = t[:m], t[m:2 * m], t[2 * m:]
        f = (torch.clamp(x[:, None] * w + b, min=0.0) ** 2) @ a
        reg = (lam * (a.abs() ** 3 + 2 * (w * w + b * b) ** 1.5)).sum() / 3
        return torch.nn.functional.softplus(-y * f).sum() + reg, f

    fg = requ_fun_grad(x.numpy(), y.numpy(), lam.numpy())
    for _ in range(3):
        t = torch.randn(3 * m, generator=gen, dtype=torch.float64).requires_grad_(True)
        value, f = F(t)
        (g,) = torch.autograd.grad(value, t)
        v2, g2 = fg(t.detach().numpy())
        assert abs(float(value) - v2) <= 1e-12 * abs(v2)
        assert np.allclose(g.numpy(), g2, rtol=1e-10, atol=1e-12)
        assert np.allclose(requ_predict(t.detach().numpy(), x.numpy(), m), f.detach().numpy())


def test_exponential_neuron_hessian_matches_differences_of_the_analytic_gradient():
    from valleys.experiments.d001_sun.exponential_neuron import ExpNeuronParams, hessian_extremes, second_order_kind

    p = ExpNeuronParams.preset(True)
    x, y = exp_datasets(p.n)["non-separable"]
    fg, k = exp_fun_grad(x.numpy(), y.numpy(), p.width, p.lam, p.power, True)
    t = np.random.default_rng(1).standard_normal(k + 3) * 0.5
    h = 1e-5  # central differences of the analytic gradient: an independent Hessian
    H = np.stack([(fg(t + h * e)[1] - fg(t - h * e)[1]) / (2 * h) for e in np.eye(len(t))])
    eig = np.linalg.eigvalsh((H + H.T) / 2)
    lo, hi = hessian_extremes(x, y, p, True, t)
    assert abs(lo - eig[0]) <= 1e-5 * max(1.0, abs(eig[-1]))
    assert abs(hi - eig[-1]) <= 1e-5 * max(1.0, abs(eig[-1]))
    assert second_order_kind(-1e-3, 2.0, 1e-7) == "saddle"
    assert second_order_kind(1e-3, 2.0, 1e-7) == "minimum"
    assert second_order_kind(1e-9, 2.0, 1e-7) == "degenerate"
    assert second_order_kind(float("nan"), 2.0, 1e-7) == "unknown"


def test_exponential_neuron_quick_preset_keeps_a_margin_on_its_run_counts():
    """The count check ">= 1 run ends at a finite critical point" passes with a margin of at
    least 2 runs on both data sets, so other CPU kernels (other L-BFGS trajectories) do not
    flip it (measured 3-5 of 16 under the default, AVX2 and scalar kernels; the former quick
    preset measured exactly 1 of 8 on the non-separable data, 0 under AVX2)."""
    from valleys.experiments import get_experiment

    exp = get_experiment("sun-exponential-neuron")
    result = exp.run(exp.params.preset(quick=True))
    counts = {c.name: c.measured for c in result.verdict.checks if "finite critical point" in c.name}
    assert len(counts) == 2 and all(c.expected == ">= 1" for c in result.verdict.checks if c.name in counts)
    assert min(counts.values()) >= 3, counts


def test_loss_histogram_bins_where_every_run_ends_at_the_same_loss():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # every run ends at F = 2 up to a few ulp: numpy refuses 30 bins over so narrow a range
    values = np.log10(2.0) + np.arange(8) * np.spacing(np.log10(2.0))
    with pytest.raises(ValueError, match="Too many bins"):
        np.histogram(values, bins=30)
    fig, ax = plt.subplots()
    counts, edges, _ = ax.hist(values, bins=log_loss_bins(values))
    plt.close(fig)
    assert counts.sum() == 8 and edges[0] < values.min() and edges[-1] > values.max()
    spread = np.array([-3.0, -1.0, 0.5])
    assert log_loss_bins(spread) == 30 and log_loss_bins(np.array([np.inf, np.nan])) == 30


def test_exponential_neuron_escape_test_leaves_a_degenerate_critical_point_above_the_best_value():
    """theta = 0 on the balanced, symmetric quick data (x = -2, -2/3, 2/3, 2; y = +, -, -, +) is
    a critical point of F~ with F~ = 4 > 0 = the global value: f = 0, every gradient carries
    v, a or sum_i y_i (x_i) = 0. Its Hessian is positive semidefinite (degenerate: no
    saddle), so the Hessian alone cannot tell; moving w then stepping a lowers F~ (the sum
    -3 sum_i y_i exp(w x_i) is nonzero for w != 0), and the judge's test must say so."""
    import pandas as pd

    from valleys.experiments.d001_sun.exponential_neuron import (
        ExpNeuronParams,
        descent_drop,
        hessian_extremes,
        local_minimum_mask,
        second_order_kind,
    )

    p = ExpNeuronParams(n=4)
    x, y = exp_datasets(p.n)["separable"]
    fg, k = exp_fun_grad(x.numpy(), y.numpy(), p.width, p.lam, p.power, True)
    t = np.zeros(k + 3)
    value, grad = fg(t)
    assert value == 4.0 and np.abs(grad).max() < 1e-14
    lo, hi = hessian_extremes(x, y, p, True, t)
    assert second_order_kind(lo, hi, p.eig_tol) == "degenerate"
    F, _ = exp_objective(x, y, p.width, p.lam, p.power, True)
    escape, probe = descent_drop(F, t, k, np.random.default_rng(0), escape_dirs=p.escape_dirs,
                                 radii=p.escape_radii, steps=p.escape_steps)
    assert escape > 1e3 * p.drop_tol * value
    row = pd.DataFrame([{"loss": value, "critical": True, "bounded": True, "kind": "degenerate",
                         "escape_drop": escape, "probe_drop": probe, "a": 0.0}])
    assert not local_minimum_mask(row, p).iloc[0]
    assert local_minimum_mask(row.assign(escape_drop=0.0, probe_drop=0.0), p).iloc[0]
