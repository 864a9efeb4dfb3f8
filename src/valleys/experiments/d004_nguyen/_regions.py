"""Document 004 (Nguyen's thesis), chapter 5: connectivity of decision regions.

Shared by the experiments ``nguyen-adversarial-path``, ``nguyen-regions-analytic``,
``nguyen-regions-trained`` (one module each in this package).
"""

from __future__ import annotations

SOURCE_004 = "004 Nguyen, PhD thesis 'Optimization landscape of deep neural networks', ch. 5"
