"""Critical points: finders (minima and saddles), classification, closed-form constructions.

Also Cooper's critical loci (:mod:`.cooper`) and neuron-duplication critical points
(:mod:`.duplication`).
"""

from ..curvature.ntk import ntk_gram, ntk_lambda_min
from .classify import CriticalPoint, Probe, classify, probe_null_space
from .cooper import (
    FibreMinimum,
    FibreSplit,
    FlatFibreBounds,
    LineProfile,
    Locus,
    LocusDimension,
    Prop61,
    constraint_residual,
    core_components,
    core_dim_formula,
    equal_widths,
    fibre_minimum,
    fibre_split,
    flat_fibre_bounds,
    global_manifold_dim,
    line_to_fibre_minimum,
    locus_bias,
    locus_dim_formula,
    locus_dimension,
    locus_dimensions,
    locus_mask,
    mlp_layout,
    param_count,
    param_count_equal,
    prop61,
    sample_locus,
    star_components,
    star_dim_formula,
    widths_of,
)
from .dedup import Clusters, deduplicate
from .deep_linear import (
    BaldiHornikPoint,
    RegressionSpectrum,
    baldi_hornik_point,
    baldi_hornik_points,
    reduced_rank_optimum,
    regression_spectrum,
)
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
    # deep linear networks; the NTK Gram (ntk_*) lives in valleys.curvature, re-exported here for one release
    "RegressionSpectrum", "BaldiHornikPoint", "regression_spectrum", "reduced_rank_optimum",
    "baldi_hornik_point", "baldi_hornik_points", "ntk_gram", "ntk_lambda_min",
    # Cooper's critical loci (cooper.py)
    "Locus", "star_components", "core_components", "locus_bias", "locus_mask",
    "sample_locus", "constraint_residual", "LocusDimension", "locus_dim_formula",
    "locus_dimension", "locus_dimensions", "param_count", "param_count_equal",
    "star_dim_formula", "core_dim_formula", "Prop61", "prop61", "global_manifold_dim",
    "equal_widths", "mlp_layout", "widths_of", "FibreSplit", "fibre_split", "FibreMinimum",
    "fibre_minimum", "LineProfile", "line_to_fibre_minimum", "FlatFibreBounds",
    "flat_fibre_bounds",
    # neuron-duplication critical points (duplication.py)
    "TrainedCritical", "train_to_critical", "DuplicationEmbedding", "duplicate_last_hidden",
    "round_robin_sources", "DuplicationPoint", "duplication_critical_point",
]
