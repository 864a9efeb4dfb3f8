"""One BLAS thread for small dense work (a context manager).

SciPy's optimisers and small LAPACK calls gain nothing from BLAS threads, and when the
cores are busy (pytest -n 2, a sweep's workers, other jobs) OpenBLAS threads spin and
wait for each other: a 10-parameter L-BFGS run was measured 45x slower (27 s against
0.6 s) on a loaded 2-core machine. Wrap such calls in ``with one_blas_thread(): ...``.
"""

from __future__ import annotations

from threadpoolctl import ThreadpoolController

_CONTROLLER: ThreadpoolController | None = None


def one_blas_thread():
    """A context manager limiting every loaded BLAS library to one thread."""
    global _CONTROLLER
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")
