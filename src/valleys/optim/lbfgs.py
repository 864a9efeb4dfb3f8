"""The one L-BFGS of valleys, on a plain ``fun_grad(x) -> (value, gradient)``.

Two engines behind one entry point, :func:`lbfgs`:

* ``engine="scipy"`` (default): SciPy's L-BFGS-B without bounds (Moré–Thuente line
  search) on float64 NumPy vectors, under one BLAS thread. ``callback(x)`` is called after
  every iteration; returning True ends the run.
* ``engine="torch"``: ``torch.optim.LBFGS`` with the strong-Wolfe line search on a torch
  vector of any dtype or device. ``mask`` freezes coordinates (they keep their start
  values bit for bit); ``callback(x, value, grad)`` is called at every function
  evaluation with the masked gradient; returning True ends the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

from .._blas import one_blas_thread
from .._validation import check_choice, check_float, check_int
from ..results import Record

ENGINES = ("scipy", "torch")
#: SciPy's default relative value tolerance of L-BFGS-B (factr = 1e7 times float64 epsilon).
SCIPY_VALUE_TOL = 1e7 * float(np.finfo(np.float64).eps)
#: SciPy's default largest number of function evaluations of L-BFGS-B.
SCIPY_MAX_FUN = 15000


@dataclass(frozen=True, eq=False, repr=False)
class LBFGSResult(Record):
    """The end of one L-BFGS run.

    Attributes:
        x: the end point (NumPy for the SciPy engine, torch for the torch engine).
        value: the objective at ``x`` (SciPy) or at the last evaluated point (torch).
        grad_norm: the (masked) gradient norm there.
        iterations: L-BFGS iterations taken.
        evaluations: function evaluations made.
        stopped: True when the callback ended the run.
        message: the engine's own words on why it ended.
    """

    x: np.ndarray | torch.Tensor
    value: float
    grad_norm: float
    iterations: int
    evaluations: int
    stopped: bool
    message: str


class _Stop(Exception):  # noqa: N818 - control flow out of torch's L-BFGS closure
    pass


def lbfgs(fun_grad: Callable, x0, *, max_iter: int, engine: str = "scipy", history_size: int = 10,
          grad_tol: float = 1e-5, value_tol: float = SCIPY_VALUE_TOL, max_fun: int | None = None,
          max_linesearch: int = 20, lr: float = 1.0, mask: torch.Tensor | None = None,
          callback: Callable | None = None) -> LBFGSResult:
    """Minimise ``fun_grad``'s value by L-BFGS.

    Args:
        fun_grad: ``x -> (value, gradient)`` (NumPy float64 for ``"scipy"``, torch for ``"torch"``).
        x0: the start (d,).
        max_iter: the largest number of iterations (``"torch"``: 0 evaluates the start only).
        engine: ``"scipy"`` (L-BFGS-B, Moré–Thuente line search) or ``"torch"``
            (``torch.optim.LBFGS``, strong Wolfe).
        history_size: number of stored curvature pairs.
        grad_tol: the engine's gradient tolerance (SciPy: largest projected gradient
            entry; torch: largest gradient entry); 0 disables it.
        value_tol: the engine's value tolerance (SciPy: relative decrease ``ftol``; torch:
            ``tolerance_change``); 0 disables it. Default: SciPy's.
        max_fun: the largest number of evaluations (default: SciPy's 15000; torch: 1.25 x max_iter).
        max_linesearch: most line-search steps per iteration (SciPy engine).
        lr: the torch engine's step length factor.
        mask: torch engine only: 1 for the coordinates that move, 0 for frozen ones.
        callback: stop rule, see the module docstring; True ends the run.

    Returns:
        An :class:`LBFGSResult`.

    Example:
        >>> out = lbfgs(lambda x: (float(((x - 3) ** 2).sum()), 2 * (x - 3)), np.zeros(2), max_iter=50)
        >>> np.round(out.x, 6).tolist()
        [3.0, 3.0]
    """
    where = "lbfgs"
    engine = check_choice(engine, "engine", where, ENGINES)
    max_iter = check_int(max_iter, "max_iter", where, min_val=0)
    history_size = check_int(history_size, "history_size", where, min_val=1)
    grad_tol = check_float(grad_tol, "grad_tol", where, min_val=0.0)
    value_tol = check_float(value_tol, "value_tol", where, min_val=0.0)
    if engine == "torch":
        return _torch(fun_grad, x0, max_iter, history_size, grad_tol, value_tol, max_fun, lr, mask,
                      callback)
    return _scipy(fun_grad, x0, max_iter, history_size, grad_tol, value_tol,
                  SCIPY_MAX_FUN if max_fun is None else max_fun, max_linesearch, callback)


def _scipy(fun_grad, x0, max_iter, history_size, grad_tol, value_tol, max_fun, max_linesearch,
           callback) -> LBFGSResult:
    def stop(intermediate_result):
        if callback(intermediate_result.x):
            raise StopIteration

    options = {"maxiter": max_iter, "maxcor": history_size, "ftol": value_tol, "gtol": grad_tol,
               "maxfun": max_fun, "maxls": max_linesearch}
    with one_blas_thread():
        res = scipy.optimize.minimize(fun_grad, x0, jac=True, method="L-BFGS-B",
                                      callback=None if callback is None else stop, options=options)
    return LBFGSResult(x=res.x, value=float(res.fun), grad_norm=float(np.linalg.norm(res.jac)),
                       iterations=int(res.nit), evaluations=int(res.nfev), stopped=res.status == 99,
                       message=str(res.message))


def _torch(fun_grad, x0, max_iter, history_size, grad_tol, value_tol, max_fun, lr, mask,
           callback) -> LBFGSResult:
    frozen = x0.detach().clone()
    keep = None if mask is None else mask.bool()
    leaf = x0.detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([leaf], lr=lr, max_iter=max(max_iter, 1), max_eval=max_fun,
                            tolerance_grad=grad_tol, tolerance_change=value_tol,
                            history_size=history_size, line_search_fn="strong_wolfe")
    last = {"evals": 0, "value": float("nan"), "grad_norm": float("nan")}

    def closure():
        if keep is not None:
            with torch.no_grad():  # frozen coordinates stay at their start values
                leaf.copy_(torch.where(keep, leaf, frozen))
        value, g = fun_grad(leaf.detach())
        if mask is not None:
            g = g * mask
        last["evals"] += 1
        last["value"], last["grad_norm"] = float(value), float(g.norm())
        if callback is not None and callback(leaf.detach(), value, g):
            raise _Stop
        leaf.grad = g
        return value

    stopped = False
    try:
        if max_iter > 0:
            opt.step(closure)
        else:
            closure()
    except _Stop:
        stopped = True
    x = leaf.detach() if keep is None else torch.where(keep, leaf.detach(), frozen)
    state = opt.state.get(leaf, {})
    return LBFGSResult(x=x, value=last["value"], grad_norm=last["grad_norm"],
                       iterations=int(state.get("n_iter", 0)), evaluations=last["evals"],
                       stopped=stopped, message="stopped by callback" if stopped else "torch LBFGS ended")
