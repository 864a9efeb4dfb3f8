"""Venturi, Bandeira & Bruna, "Spurious valleys in one-hidden-layer neural network optimization
landscapes" (JMLR 2019; document 000, Davy's report).

- :mod:`.two_phase`: algorithm A3, :func:`vbb_two_phase` (VBB-C3.1, VBB-C3.2).
- :mod:`.quadratic`: algorithm A4 for quadratic nets, :func:`a4_path` with :func:`gram`,
  :func:`eigen_units` (algorithm A1) and :func:`quadratic_optimum` (VBB-P3.2).
"""

from .quadratic import a4_path, eigen_units, gram, quadratic_optimum
from .two_phase import vbb_two_phase

__all__ = ["vbb_two_phase", "a4_path", "gram", "eigen_units", "quadratic_optimum"]
