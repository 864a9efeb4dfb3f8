"""Deprecated home of the per-sample losses: they live in :mod:`valleys.core.losses`.

The landscape core needs its losses, so they sit below the nets (``core`` never imports
``nets``). This module re-exports them for one release and warns on import; import from
:mod:`valleys.core.losses` (or :mod:`valleys.nets`, which re-exports the public names).
"""

import warnings

from ..core.losses import (
    LOSSES,
    Loss,
    TorchLoss,
    cross_entropy,
    from_torch,
    get_loss,
    logistic,
    multiclass_hinge,
    polynomial_hinge,
    squared,
)

warnings.warn("valleys.nets.losses is deprecated and will be removed in the next release; "
              "import from valleys.core.losses (or valleys.nets) instead.",
              DeprecationWarning, stacklevel=2)

__all__ = ["Loss", "LOSSES", "get_loss", "squared", "cross_entropy", "multiclass_hinge", "logistic",
           "polynomial_hinge", "TorchLoss", "from_torch"]
