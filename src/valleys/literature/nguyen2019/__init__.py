"""Nguyen, PhD thesis "Optimization landscape of deep neural networks" (Saarland 2019; document 004).

- :mod:`.features` (ch. 2): linearly independent features (NG-A1, NG-T2.4.4), the exact
  zero-loss construction (NG-A2, NG-T2.4.11) and the gradient bounds (NG-L2.4.9).
- :mod:`.independent` (ch. 3): descent through the inverse map h and constant-loss rays for
  linearly independent data (NG-T3.4.9, NG-L3.4.6, NG-L3.4.10).
- :mod:`.paths` (ch. 3): descent and connecting paths of wide nets (NG-T3.4.17).
- :mod:`.lemmas` (ch. 3): the path lemmas as constructions (NG-L3.4.6, L3.4.7, P3.4.8,
  L3.4.10, L3.4.14, L3.4.15).
- :mod:`.wide` (ch. 3): one wide layer and a pyramidal top (NG-T3.4.13, NG-T3.4.16).
"""

from .features import (
    GradientBounds,
    IndependentFeatures,
    ZeroLoss,
    backprop_deltas,
    gradient_bounds,
    independent_conv_features,
    independent_features,
    inverse_activation,
    zero_loss_construction,
)
from .independent import independent_parts, kernel_ray, output_connect, output_descent, rescaling_ray
from .lemmas import (
    canonical_path,
    column_kernel_end,
    copy_layer_path,
    evard_jafari_path,
    full_rank_features_path,
    full_rank_path,
    independent_columns,
    inverse_map,
    layer_features,
    polygon,
)
from .paths import nguyen_connect, nguyen_descent
from .wide import wide_connect, wide_descent, wide_ray

__all__ = [
    # ch. 2: independent features, zero loss, gradient bounds
    "IndependentFeatures", "independent_features", "independent_conv_features", "ZeroLoss",
    "zero_loss_construction", "inverse_activation", "GradientBounds", "gradient_bounds",
    "backprop_deltas",
    # ch. 3: linearly independent data
    "independent_parts", "output_descent", "output_connect", "kernel_ray", "rescaling_ray",
    # ch. 3: wide nets
    "nguyen_descent", "nguyen_connect",
    # ch. 3: the path lemmas, one wide layer
    "column_kernel_end", "independent_columns", "inverse_map", "canonical_path", "full_rank_path",
    "evard_jafari_path", "full_rank_features_path", "copy_layer_path", "polygon", "layer_features",
    "wide_descent", "wide_connect", "wide_ray",
]
