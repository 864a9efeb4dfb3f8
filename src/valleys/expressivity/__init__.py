"""Expressivity: decision regions, intrinsic dimension, random features, shift ranks."""

from .intrinsic import filter_matrix, intrinsic_rank, polynomial_dimension
from .random_features import random_feature_excess, sphere_directions
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

__all__ = [
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
