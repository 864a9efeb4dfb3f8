"""The curvature solvers run on any device by construction (issue 23, item 7), checked on CPU.

A CUDA run fails where a solver allocates on the default device instead of the operator's,
or copies its vectors to the host inside the product loop. Both are made to fail here:

- the default device is set to ``"meta"`` (a device without data) while the operator lives
  on the CPU, so a tensor created without the operator's device meets the operator's tensors
  on another device, and the operation raises (or ``.item()`` of a meta tensor does);
- a ``TorchFunctionMode`` raises on ``numpy()``, ``cpu()`` and ``tolist()`` of any
  non-scalar tensor inside the loop (scalar stopping tests, one per step, are allowed).
"""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch.overrides import TorchFunctionMode

from valleys import Landscape
from valleys.curvature import eigs, trace
from valleys.curvature._operator import CurvatureOperator
from valleys.curvature.lanczos import lanczos_tridiag
from valleys.curvature.thick_restart import thick_restart_lanczos
from valleys.curvature.trace import hutchinson_trace, hutchpp_trace

N = 60
HOST_TRANSFERS = (torch.Tensor.numpy, torch.Tensor.cpu, torch.Tensor.tolist)


class NoHostTransfer(TorchFunctionMode):
    """Raises on a host copy of a tensor with more than one entry."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in HOST_TRANSFERS and args and args[0].numel() > 1:
            msg = f"{func.__name__}() of a tensor of shape {tuple(args[0].shape)} in the product loop"
            raise AssertionError(msg)
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def elsewhere():
    """Default device "meta" and no host transfers, restored afterwards."""
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        with NoHostTransfer():
            yield
    finally:
        torch.set_default_device(previous)


def diagonal_operator() -> tuple[CurvatureOperator, torch.Tensor]:
    lam = torch.linspace(-1.0, 2.0, N, dtype=torch.float64)
    return CurvatureOperator(lambda V: V * lam, N, torch.float64, "diag"), lam


def test_guards_catch_host_allocations_and_transfers():
    """The two guards fail on exactly what they are meant to catch."""
    op, _ = diagonal_operator()
    with pytest.raises((RuntimeError, NotImplementedError)), elsewhere():  # allocated on "meta"
        (op.matrows(torch.ones(1, N, dtype=torch.float64, device="cpu"))
         + torch.zeros(1, N, dtype=torch.float64)).sum().item()
    with pytest.raises(AssertionError, match="numpy"), elsewhere():
        op.matrows(torch.ones(2, N, dtype=torch.float64, device="cpu")).numpy()


@pytest.mark.parametrize("which", ["LA", "SA", "BE"])
def test_thick_restart_loop_stays_on_the_operator_device(which):
    op, lam = diagonal_operator()
    gen = torch.Generator().manual_seed(0)
    V0 = torch.randn(2, N, generator=gen, dtype=torch.float64)
    expected = thick_restart_lanczos(op, 3, which, 1e-10, 2000, V0, 12, gen)
    gen = torch.Generator().manual_seed(0)
    V0 = torch.randn(2, N, generator=gen, dtype=torch.float64)
    with elsewhere():
        ritz = thick_restart_lanczos(op, 3, which, 1e-10, 2000, V0, 12, gen)
    assert ritz.vectors.device.type == "cpu"
    torch.testing.assert_close(ritz.values, expected.values, rtol=0, atol=0)


def test_lanczos_tridiag_stays_on_the_operator_device():
    op, _ = diagonal_operator()
    V0 = torch.randn(3, N, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = lanczos_tridiag(op.matrows, V0, 15, keep_basis=True)
    with elsewhere():
        got = lanczos_tridiag(op.matrows, V0, 15, keep_basis=True)
    torch.testing.assert_close(got.alpha, expected.alpha, rtol=0, atol=0)


@pytest.mark.parametrize("estimator", [hutchinson_trace, hutchpp_trace])
def test_trace_probes_stay_on_the_operator_device(estimator):
    op, lam = diagonal_operator()
    expected = estimator(op, 12, torch.Generator().manual_seed(0))
    with elsewhere():
        got = estimator(op, 12, torch.Generator().manual_seed(0))
    assert got.estimate == expected.estimate


def test_eigs_and_trace_take_the_landscape_device():
    """The public calls: start vectors and probes drawn on the generator's (CPU) device are
    moved to the landscape's, bases allocated there (default device "meta" meanwhile)."""
    w = torch.linspace(0.5, 3.0, 250, dtype=torch.float64)
    land = Landscape.from_function(lambda t: (w * t**2).sum() + t[0] * t[1], 250)
    theta = torch.zeros(250, dtype=torch.float64)
    expected = eigs(land, theta, k=2, which="LA", dense=False, certify=False)
    expected_trace = trace(land, theta, num_matvecs=4).estimate
    previous = torch.get_default_device()
    torch.set_default_device("meta")
    try:
        got = eigs(land, theta, k=2, which="LA", dense=False, certify=False)
        estimate = trace(land, theta, num_matvecs=4).estimate
    finally:
        torch.set_default_device(previous)
    assert got.eigenvalues.tolist() == expected.eigenvalues.tolist()
    assert estimate == expected_trace
