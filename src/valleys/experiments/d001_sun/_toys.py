"""Document 001 (Sun et al. survey): the two-parameter toy landscapes.

Shared by the experiments ``sun-single-point``, ``sun-toy-relu``, ``sun-toy-uv`` (one module
each in this package).
"""

from __future__ import annotations

SOURCE_001 = "001 Prado, survey of Sun et al., 'The global landscape of neural networks'"
