"""Document 000 (Venturi, Bandeira & Bruna): intrinsic dimension and random features.

Shared by the experiments ``vbb-intrinsic-dimension``, ``vbb-random-features`` (one module each
in this package).
"""

from __future__ import annotations

SOURCE_000 = "000 Davy, report on Venturi, Bandeira & Bruna, 'Spurious valleys in one-hidden-layer NN'"
