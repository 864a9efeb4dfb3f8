"""The Sun et al. experiments: deep linear networks and the NTK PL inequality."""

import numpy as np
import pytest
import scipy.optimize
import torch

from valleys.cli import main
from valleys.errors import InvalidParameterError
from valleys.experiments import get_experiment
from valleys.experiments.d001_sun.deep_linear import rank_constrained_optimum
from valleys.literature.baldi1989 import reduced_rank_optimum


@pytest.mark.parametrize("r", [1, 2])
def test_reduced_rank_optimum_two_routes_and_a_direct_minimisation(r):
    """The QR/SVD route, the spectral route and L-BFGS on W = A B (rank <= r) agree."""
    gen = torch.Generator().manual_seed(r)
    X = torch.randn(4, 12, generator=gen, dtype=torch.float64)
    Y = torch.randn(3, 12, generator=gen, dtype=torch.float64)
    qr_route = rank_constrained_optimum(X, Y, r)
    assert abs(qr_route - reduced_rank_optimum(X, Y, r)) <= 1e-12 * qr_route

    def loss(z):
        A, B = z[: 3 * r].reshape(3, r), z[3 * r:].reshape(r, 4)
        return float(((Y.numpy() - A @ B @ X.numpy()) ** 2).sum())

    best = min(scipy.optimize.minimize(loss, np.random.default_rng(s).normal(size=7 * r),
                                       method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12}).fun
               for s in range(5))
    assert abs(best - qr_route) <= 1e-7 * qr_route
    assert best >= qr_route - 1e-10  # nothing beats the optimum


def test_deep_linear_gap_check_is_two_sided():
    exp = get_experiment("sun-deep-linear")
    verdict = exp.run(exp.params.preset(quick=True).replace(architectures=("2",), n_runs=2)).verdict
    gap = next(c for c in verdict.checks if c.name.startswith("GD "))
    assert gap.kind == "evidence" and "two-sided" in gap.name and gap.passed


def test_deep_linear_disagrees_when_gd_stops_early():
    exp = get_experiment("sun-deep-linear")
    params = exp.params.preset(quick=True).replace(steps=20, architectures=("2",))
    verdict = exp.run(params).verdict
    assert not verdict.passed
    assert any(c.name.startswith("GD ") and not c.passed for c in verdict.checks)


def test_deep_linear_rejects_inconsistent_signal():
    exp = get_experiment("sun-deep-linear")
    with pytest.raises(InvalidParameterError, match="len\\(signal\\) == d_y"):
        exp.run(exp.params.preset(quick=True).replace(signal=(1.0, 2.0)))


@pytest.mark.parametrize("bad", ["<x>", "6--2", "6-0", "-1", "6-2.5"])
def test_deep_linear_refuses_a_bad_architecture_before_computing(capsys, runs_dir, bad):
    # the bad entry comes last: the experiment used to train the first two for minutes first
    code = main(["run", "sun-deep-linear", "--quick", "--set", f"architectures=2,6-2,{bad}"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("valleys: error: sun-deep-linear: parameter "
                                                    "architectures: every entry must be")
    assert f"Got '{bad}'." in err
    assert not runs_dir.exists()  # no store, no run folder: nothing was computed
    with pytest.raises(InvalidParameterError, match="architectures"):
        get_experiment("sun-deep-linear").params.preset(quick=True).replace(architectures=(bad,))


def test_ntk_pl_slack_is_nonnegative_at_every_iterate():
    exp = get_experiment("sun-ntk-pl")
    params = exp.params.preset(quick=True).replace(widths=(30, 120), max_steps=300)
    result = exp.run(params)
    table = result.table
    assert (table.slack >= -1e-10).all() and (table.lambda_min > 0).all()
    assert set(table.width) == {30, 120}
    # 300 steps are too few to reach F < 1e-10: check (iii) must say so.
    checks = {c.name.split(")")[0]: c for c in result.verdict.checks}
    assert not checks["(iii"].passed
