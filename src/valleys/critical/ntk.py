"""Deprecated home of the neural-tangent Gram matrix: it lives in :mod:`valleys.curvature.ntk`.

Training (Levenberg–Marquardt) needs K below the critical-point layer, so the module moved
to :mod:`valleys.curvature`. This module re-exports it for one release and warns on import;
:mod:`valleys.critical` still re-exports :func:`ntk_gram` and :func:`ntk_lambda_min`.
"""

import warnings

from ..curvature.ntk import gram_function, layered_gram, ntk_gram, ntk_lambda_min

warnings.warn("valleys.critical.ntk is deprecated and will be removed in the next release; "
              "import from valleys.curvature.ntk (or valleys.curvature) instead.",
              DeprecationWarning, stacklevel=2)

__all__ = ["ntk_gram", "ntk_lambda_min", "gram_function", "layered_gram"]
