"""The result of a constructed path: the path and what its construction knows about it.

The paper constructions of :mod:`valleys.literature` return it; :func:`valleys.paths.certify`
proves (or refutes) what the construction claims about its ``path``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .path import Path


@dataclass(frozen=True, eq=False)
class ConstructedPath:
    """A constructed path and what the construction knows about it.

    Attributes:
        path: the path (chain of labelled segments).
        end: theta at the end.
        end_loss: L(end).
        target_loss: the value the construction aims at (the convex optimum), or None.
        info: construction facts (steps, ranks, ...).
    """

    path: Path
    end: torch.Tensor
    end_loss: float
    target_loss: float | None
    info: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """The path's summary as a JSON-able dict.

        Returns:
            A dict with ``segments`` (their count), ``labels``, ``end_loss``, ``target_loss`` and
            the entries of :attr:`info`.
        """
        return {"segments": len(self.path.segments), "labels": self.path.labels(),
                "end_loss": self.end_loss, "target_loss": self.target_loss, **self.info}

    def __repr__(self) -> str:
        return (f"ConstructedPath(segments={len(self.path.segments)}, end_loss={self.end_loss:.3g}, "
                f"target_loss={self.target_loss})")
