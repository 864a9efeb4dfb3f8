r"""Levenberg–Marquardt for squared losses: damped Gauss–Newton in the output space.

With residuals :math:`r = f_\theta(X) - Y` (N·m, sample-major), output Jacobian G and the
loss :math:`L = c\,s\,\|r\|^2` (c = 1 for ``"squared"``, 1/2 for ``"half_squared"``;
s = 1/N or 1 by reduction), each step minimises :math:`\|r + G\delta\|^2 + \mu\|\delta\|^2`:

.. math:: \delta = -G^T (K + \mu I)^{-1} r, \qquad K = G G^T,

one Cholesky solve of size N·m and one vector-Jacobian product, never a d × d system
(K by :func:`valleys.curvature.ntk.gram_function`, layer by layer for fully connected nets). The
damping follows Nielsen's rule: after an accepted step with gain ratio ρ,
:math:`\mu \leftarrow \mu \max(1/3, 1 - (2\rho - 1)^3)`; after a rejected one
:math:`\mu \leftarrow \nu\mu, \nu \leftarrow 2\nu`. Near a zero-loss point with K of full
rank the steps converge quadratically, which first-order methods on ill-conditioned
features (wide sigmoid layers) do not reach in any practical budget. The iteration is
:func:`valleys.optim.gauss_newton_lm`; this module supplies the residuals, the Gram matrix
and the stopping rules of :func:`valleys.train.fit`.
"""

from __future__ import annotations

import torch
from torch.func import vjp

from ..curvature.ntk import gram_function
from ..errors import InvalidParameterError
from ..optim.newton import GN_DAMPING, MAX_DAMPING, gauss_newton_lm
from ._common import STEPS_DONE, bar

#: Loss names Levenberg–Marquardt accepts, with c in L = c s ||r||^2.
LM_LOSSES = {"squared": 1.0, "half_squared": 0.5}
#: Initial damping relative to the largest diagonal entry of K.
LM_DAMPING = GN_DAMPING
#: Damping (relative to max diag K) above which no step can make progress.
LM_MAX_DAMPING = MAX_DAMPING


def check_lm_loss(land, where: str) -> float:
    """The factor c of ``land``'s squared loss ``L = c s ||r||^2``.

    Args:
        land: the landscape to train.
        where: the caller's name, for the message.

    Returns:
        c: 1 for ``"mse"``/``"squared"``, 0.5 for ``"half_squared"``.

    Raises:
        InvalidParameterError: for any other loss.
    """
    name = land.loss_fn.name
    if name not in LM_LOSSES:
        msg = (f"method='lm' of {where} needs a squared loss ('mse', 'squared' or 'half_squared'). "
               f"Got {name!r}; use method='lbfgs' or 'gd'.")
        raise InvalidParameterError(msg)
    return LM_LOSSES[name]


def levenberg_marquardt(run, theta: torch.Tensor, mask: torch.Tensor, c: float, progress: bool):
    """Run Levenberg–Marquardt under the stopping rules of ``run`` (see :func:`valleys.train.fit`).

    One step is one trial step (accepted or rejected); the history's ``lr`` column holds
    the damping μ.

    Args:
        run: the run's settings and stopping rules (``fit``'s internal ``_Run``).
        theta: the start, length d.
        mask: 1 for trainable coordinates, 0 for frozen ones.
        c: the factor of the squared loss (:func:`check_lm_loss`).
        progress: show a progress bar.

    Returns:
        The :class:`~valleys.train.TrainResult` of the run.
    """
    land = run.land
    weight = c * float(land._scale)
    Y = run.Y.reshape(-1)
    gram = gram_function(land, mask)

    def residual(t):
        out, pull = vjp(lambda s: land.outputs(s).reshape(-1), t)
        return out - Y, pull

    with bar(run.steps, "fit (lm)", progress) as pbar:
        theta, reason, step, mu = gauss_newton_lm(residual, gram, theta, mask, weight, max_steps=run.steps,
                                                  check=run.check, on_trial=lambda: pbar.update(1))
    return run.result(theta, reason or STEPS_DONE, step, "lm", mu or 0.0)
