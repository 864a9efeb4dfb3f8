"""Critical points: finders (minima and saddles), classification, neuron-duplication critical
points (:mod:`.duplication`).

Cooper's critical loci and the Baldi–Hornik points of linear nets moved to
:mod:`valleys.literature` (``cooper2020``, ``baldi1989``); their old names here still work for
one release, with a :class:`DeprecationWarning`.
"""

from .._deprecations import moved_names
from ..curvature.ntk import ntk_gram, ntk_lambda_min
from .classify import CriticalPoint, Probe, classify, probe_null_space
from .dedup import Clusters, deduplicate
from .descent import BatchDescent, armijo_descent_batch, gradient_descent, gradient_descent_batch
from .duplication import (
    DuplicationEmbedding,
    DuplicationPoint,
    TrainedCritical,
    duplicate_last_hidden,
    duplication_critical_point,
    round_robin_sources,
    train_to_critical,
)
from .newton import damped_newton, newton_mr
from .newton_batch import BatchNewton, damped_newton_batch
from .quasi_newton import gradient_norm_min, lbfgs
from .result import FinderResult

__all__ = [
    # finders
    "FinderResult", "gradient_descent", "lbfgs", "newton_mr", "gradient_norm_min",
    "damped_newton", "BatchNewton", "damped_newton_batch", "BatchDescent",
    "gradient_descent_batch", "armijo_descent_batch", "Clusters", "deduplicate",
    # classification
    "CriticalPoint", "Probe", "classify", "probe_null_space",
    # the NTK Gram (ntk_*) lives in valleys.curvature, re-exported here for one release
    "ntk_gram", "ntk_lambda_min",
    # neuron-duplication critical points (duplication.py)
    "TrainedCritical", "train_to_critical", "DuplicationEmbedding", "duplicate_last_hidden",
    "round_robin_sources", "DuplicationPoint", "duplication_critical_point",
]

_COOPER = "valleys.literature.cooper2020"
_BALDI = "valleys.literature.baldi1989"
#: Names that moved to valleys.literature (and nets): served with a warning for one release.
__getattr__ = moved_names(__name__, {
    **{name: _BALDI for name in (
        "RegressionSpectrum", "BaldiHornikPoint", "regression_spectrum", "reduced_rank_optimum",
        "baldi_hornik_point", "baldi_hornik_points")},
    **{name: _COOPER for name in (
        "Locus", "star_components", "core_components", "locus_bias", "locus_mask",
        "sample_locus", "constraint_residual", "LocusDimension", "locus_dim_formula",
        "locus_dimension", "locus_dimensions", "param_count", "param_count_equal",
        "star_dim_formula", "core_dim_formula", "Prop61", "prop61", "global_manifold_dim",
        "equal_widths", "FibreSplit", "fibre_split", "FibreMinimum", "fibre_minimum",
        "LineProfile", "line_to_fibre_minimum", "FlatFibreBounds", "flat_fibre_bounds")},
    "mlp_layout": "valleys.nets.models",
    "widths_of": "valleys.nets.models",
})
