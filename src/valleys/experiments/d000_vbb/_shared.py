"""Document 000 (Venturi, Bandeira & Bruna): what several of its experiments share.

The source string of ``vbb-intrinsic-dimension`` and ``vbb-random-features`` (one module each in
this package).
"""

from __future__ import annotations

SOURCE_000 = "000 Davy, report on Venturi, Bandeira & Bruna, 'Spurious valleys in one-hidden-layer NN'"
