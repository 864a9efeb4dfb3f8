"""Paper constructions, one module per source paper (named like curvlinops: author + year).

Each construction returns generic objects (:class:`~valleys.paths.Path` inside a
:class:`~valleys.paths.ConstructedPath`, tensors, records) that the generic layers certify
or measure (:func:`valleys.paths.certify`, :mod:`valleys.critical`, :mod:`valleys.expressivity`).

- :mod:`.venturi2019` — Venturi, Bandeira & Bruna, "Spurious valleys in one-hidden-layer
  neural network optimization landscapes" (JMLR 2019): the two-phase descent path A3
  (VBB-C3.1/C3.2), the quadratic-net path A4 (VBB-P3.2) and its n-unit rewrite A1.
- :mod:`.cooper2020` — Y. Cooper, "The critical locus of overparameterized neural networks"
  (arXiv 2020): star and core loci and their dimensions (COO-Def, COO-T3.1/T3.2, COO-P6.1),
  the fibre decomposition (COO-P5.7, COO-L5.14/T5.15) and the straight line COO-C5.9.
- :mod:`.safran2016` — Safran & Shamir, "On the quality of the initial basin in
  overspecified neural networks" (ICML 2016): the rescaling path SS-A1 (SS-T1, NG-1.2).
- :mod:`.nguyen2019` — Q. Nguyen, PhD thesis "Optimization landscape of deep neural
  networks" (Saarland 2019): independent features and zero-loss constructions (NG-A1/A2,
  NG-T2.4.4/T2.4.11, NG-L2.4.9), independent-data paths (NG-T3.4.9), the chapter-3 path lemmas
  (NG-L3.4.6-L3.4.15), one wide layer (NG-T3.4.13/T3.4.16) and wide-net paths (NG-T3.4.17).
- :mod:`.baldi1989` — Baldi & Hornik, "Neural networks and principal component analysis:
  learning from examples without local minima" (Neural Networks 1989): the critical points
  of one-hidden-layer linear nets (SUN-T2.1/T2.2, VBB-P3.1).
"""

from ..paths.constructed import ConstructedPath
from .baldi1989 import (
    BaldiHornikPoint,
    RegressionSpectrum,
    baldi_hornik_point,
    baldi_hornik_points,
    reduced_rank_optimum,
    regression_spectrum,
)
from .cooper2020 import (
    FibreMinimum,
    FibreSplit,
    FlatFibreBounds,
    LineProfile,
    Locus,
    LocusDimension,
    Prop61,
    constraint_residual,
    cooper_line,
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
    param_count,
    param_count_equal,
    prop61,
    sample_locus,
    star_components,
    star_dim_formula,
)
from .nguyen2019 import (
    GradientBounds,
    IndependentFeatures,
    ZeroLoss,
    backprop_deltas,
    canonical_path,
    column_kernel_end,
    copy_layer_path,
    evard_jafari_path,
    full_rank_features_path,
    full_rank_path,
    gradient_bounds,
    independent_columns,
    independent_conv_features,
    independent_features,
    independent_parts,
    inverse_activation,
    inverse_map,
    kernel_ray,
    layer_features,
    nguyen_connect,
    nguyen_descent,
    output_connect,
    output_descent,
    polygon,
    rescaling_ray,
    wide_connect,
    wide_descent,
    wide_ray,
    zero_loss_construction,
)
from .safran2016 import RescaledPath, rescaled_path
from .venturi2019 import a4_path, eigen_units, gram, quadratic_optimum, vbb_two_phase

__all__ = [
    # Venturi, Bandeira & Bruna 2019 (VBB-A1, VBB-A3, VBB-A4)
    "vbb_two_phase", "a4_path", "gram", "eigen_units", "quadratic_optimum",
    # Cooper 2020 (critical loci, fibres, COO-C5.9)
    "Locus", "star_components", "core_components", "locus_bias", "locus_mask", "sample_locus",
    "constraint_residual", "LocusDimension", "locus_dim_formula", "locus_dimension",
    "locus_dimensions", "param_count", "param_count_equal", "star_dim_formula",
    "core_dim_formula", "Prop61", "prop61", "global_manifold_dim", "equal_widths",
    "FibreSplit", "fibre_split", "FibreMinimum", "fibre_minimum", "LineProfile",
    "line_to_fibre_minimum", "FlatFibreBounds", "flat_fibre_bounds", "cooper_line",
    # Safran & Shamir 2016 (SS-A1)
    "RescaledPath", "rescaled_path",
    # Nguyen 2019 (thesis ch. 2 and 3)
    "IndependentFeatures", "independent_features", "independent_conv_features", "ZeroLoss",
    "zero_loss_construction", "inverse_activation", "GradientBounds", "gradient_bounds",
    "backprop_deltas", "independent_parts", "output_descent", "output_connect", "kernel_ray",
    "rescaling_ray", "nguyen_descent", "nguyen_connect",
    # ch. 3 path lemmas and one wide layer (NG-L3.4.6-L3.4.15, NG-T3.4.13/T3.4.16)
    "inverse_map", "canonical_path", "full_rank_path", "evard_jafari_path", "column_kernel_end",
    "full_rank_features_path", "copy_layer_path", "independent_columns", "layer_features", "polygon",
    "wide_descent", "wide_connect", "wide_ray",
    # Baldi & Hornik 1989 (deep linear critical points)
    "RegressionSpectrum", "BaldiHornikPoint", "regression_spectrum", "reduced_rank_optimum",
    "baldi_hornik_point", "baldi_hornik_points",
    # the generic result of a constructed path (defined in valleys.paths)
    "ConstructedPath",
]
