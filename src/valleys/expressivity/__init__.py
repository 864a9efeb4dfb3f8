"""Expressivity: feature-matrix rank, skip-to-output nets (thesis ch. 4), decision regions
(ch. 5), intrinsic dimension, random features, shift ranks.

The constructions of thesis ch. 2 (independent features, zero loss, gradient bounds) moved to
:mod:`valleys.literature.nguyen2019`; their old names here still work for one release, with a
:class:`DeprecationWarning`.
"""

from .._deprecations import moved_names
from .features import conv_features, conv_patches, fc_forward, features_of
from .intrinsic import filter_matrix, intrinsic_rank, polynomial_dimension
from .random_features import random_feature_excess, sphere_directions
from .rank import FeatureRank, feature_rank, matrix_feature_rank, rank_vs_width
from .regions import (
    TIE,
    DecisionRegions,
    PathPrediction,
    classify_path,
    classify_segment,
    decision_regions,
    fgsm_targeted,
    plot_regions,
    regions_by_window,
    smallest_fgsm,
)
from .shift import bias_span_matrix, bias_span_rank, shift_matrix, shift_rank
from .skip import keras_init_, psi_matrix, psi_rank, skip_net, skip_stack

__all__ = [
    # feature rank
    "FeatureRank", "feature_rank", "matrix_feature_rank", "rank_vs_width", "features_of",
    "fc_forward", "conv_patches", "conv_features",
    # skip-to-output nets (ch. 4)
    "psi_matrix", "psi_rank", "keras_init_", "skip_net", "skip_stack",
    # decision regions (thesis ch. 5)
    "TIE", "DecisionRegions", "PathPrediction", "decision_regions", "regions_by_window",
    "classify_path", "classify_segment", "fgsm_targeted", "smallest_fgsm", "plot_regions",
    # intrinsic dimension (document 000)
    "filter_matrix", "intrinsic_rank", "polynomial_dimension",
    # random features (VBB-T3.4)
    "sphere_directions", "random_feature_excess",
    # shift independence and bias span (NG-L3.4.3, NG-L3.4.11)
    "shift_matrix", "shift_rank", "bias_span_matrix", "bias_span_rank",
]

#: Names that moved to valleys.literature.nguyen2019.features: served with a warning for one release.
__getattr__ = moved_names(__name__, dict.fromkeys((
    "IndependentFeatures", "independent_features", "independent_conv_features", "ZeroLoss",
    "zero_loss_construction", "inverse_activation", "GradientBounds", "gradient_bounds"),
    "valleys.literature.nguyen2019.features"))
