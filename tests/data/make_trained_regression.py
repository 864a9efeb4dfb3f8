"""Make ``trained_regression_4_10_2.npz``: the stored point of
``test_trust_curvature.py::test_trained_mlp_small_values_are_not_called_converged_without_their_sign``.

A tanh MLP 4-10-2 on 100 samples (inputs x30) after 300 L-BFGS steps: near a minimum,
lambda_max ~ 3e2, tiny eigenvalues of both signs. Where 300 L-BFGS steps stop depends on
the CPU's kernels (lambda_min -7.3e-4 with AVX-512 or AVX2 kernels, -7.6e-5 with scalar
ones, -3.8e-3 on another CPU), so the test loads the point from the file instead, and
checks with a dense Hessian that it has the properties the test needs. The stored file was
made with the default kernels on an AVX-512 CPU (AMD EPYC, torch 2.13.0, MKL):

    PYTHONPATH=src python tests/data/make_trained_regression.py tests/data/trained_regression_4_10_2.npz

The file holds float64 arrays only (``np.savez``; load with ``allow_pickle=False``):
``inputs`` (100, 4), already multiplied by 30; ``targets`` (100, 2); ``theta`` (72,),
the parameters of ``valleys.nets.mlp([4, 10, 2], "tanh")`` in ``Landscape`` order.
"""

import sys

import numpy as np
import torch

from valleys import Landscape
from valleys.nets import mlp


def trained_point() -> dict[str, np.ndarray]:
    """The data and the point after 300 L-BFGS steps from the seed-0 initialisation."""
    gen = torch.Generator().manual_seed(0)
    X = torch.randn(100, 4, generator=gen, dtype=torch.float64)
    Y = torch.stack([torch.sin(X[:, 0] + X[:, 1]), torch.tanh(X[:, 2] * X[:, 3])], 1)
    land = Landscape(mlp([4, 10, 2], "tanh", seed=0), (X * 30, Y), loss="mse")
    theta = land.theta0.clone().requires_grad_(True)
    opt = torch.optim.LBFGS([theta], lr=1, max_iter=300, tolerance_grad=1e-14,
                            tolerance_change=0, history_size=50, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = land.loss(theta)
        value.backward()
        return value

    opt.step(closure)
    return {"inputs": (X * 30).numpy(), "targets": Y.numpy(), "theta": theta.detach().numpy()}


if __name__ == "__main__":
    np.savez(sys.argv[1], **trained_point())
