"""Expressivity: feature-matrix rank, wide-layer constructions (thesis ch. 2), skip-to-output nets (ch. 4)."""

from .constructions import (
    GradientBounds,
    IndependentFeatures,
    ZeroLoss,
    gradient_bounds,
    independent_conv_features,
    independent_features,
    inverse_activation,
    zero_loss_construction,
)
from .features import conv_features, conv_patches, fc_forward, features_of
from .rank import FeatureRank, feature_rank, matrix_feature_rank, rank_vs_width
from .skip import keras_init_, psi_matrix, psi_rank, skip_net, skip_stack

__all__ = [
    # feature rank
    "FeatureRank", "feature_rank", "matrix_feature_rank", "rank_vs_width", "features_of",
    "fc_forward", "conv_patches", "conv_features",
    # constructions (ch. 2)
    "IndependentFeatures", "independent_features", "independent_conv_features", "ZeroLoss",
    "zero_loss_construction", "inverse_activation", "GradientBounds", "gradient_bounds",
    # skip-to-output nets (ch. 4)
    "psi_matrix", "psi_rank", "keras_init_", "skip_net", "skip_stack",
]
