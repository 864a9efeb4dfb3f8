"""Document 001 (Sun et al. survey): what several of its experiments share.

The source string (the toys ``sun-toy-uv``, ``sun-toy-relu``, ``sun-single-point`` and the
neurons of Sec. 4), and for ``sun-exponential-neuron`` and ``sun-requ`` (one module each in this
package): L-BFGS from a start (:func:`valleys.optim.lbfgs`), and the SUN-T4.3 (regularised one-layer ReQU network)
objective with its analytic gradient (``requ_fun_grad``) and predictions.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from ...optim import lbfgs as optim_lbfgs

SOURCE_001 = "001 Prado, survey of Sun et al., 'The global landscape of neural networks'"


def lbfgs(fun_grad, theta0: np.ndarray, *, maxiter: int, gtol: float) -> tuple[np.ndarray, float, float]:
    """L-BFGS (:func:`valleys.optim.lbfgs`, SciPy engine: 20 pairs, 30 line-search steps,
    2 x maxiter evaluations, no value tolerance) on an analytic ``fun_grad(theta) -> (value,
    gradient)``; returns the end point, its value and its gradient norm."""
    res = optim_lbfgs(fun_grad, theta0, max_iter=maxiter, max_fun=2 * maxiter, grad_tol=gtol, value_tol=0.0,
                      history_size=20, max_linesearch=30)
    value, g = fun_grad(res.x)
    return res.x, float(value), float(np.linalg.norm(g))


# ----------------------------------------------------------------------------- ReQU
def requ_predict(t: np.ndarray, x: np.ndarray, m: int) -> np.ndarray:
    """f(x_i) = sum_j a_j relu(w_j x_i + b_j)^2."""
    a, w, b = t[:m], t[m:2 * m], t[2 * m:]
    return (np.maximum(np.outer(x, w) + b, 0.0) ** 2) @ a


def requ_fun_grad(x: np.ndarray, y: np.ndarray, lam: np.ndarray):
    """Value and analytic gradient of sum_i log(1 + exp(-y_i f(x_i))) +
    (1/3) sum_j lam_j (|a_j|^3 + 2 (w_j^2 + b_j^2)^{3/2})."""
    m = len(lam)

    def fg(t: np.ndarray):
        a, w, b = t[:m], t[m:2 * m], t[2 * m:]
        r = np.maximum(np.outer(x, w) + b, 0.0)
        f = (r ** 2) @ a
        z = -y * f
        s = np.sqrt(w * w + b * b)
        value = float(np.logaddexp(0.0, z).sum() + (lam * (np.abs(a) ** 3 + 2 * s ** 3)).sum() / 3)
        gi = -y * expit(z)  # d/df_i log(1 + exp(-y_i f_i))
        ga = (r ** 2).T @ gi + lam * np.abs(a) * a
        inner = 2 * r * a * gi[:, None]
        gw = inner.T @ x + 2 * lam * s * w
        gb = inner.sum(0) + 2 * lam * s * b
        return value, np.concatenate([ga, gw, gb])

    return fg
