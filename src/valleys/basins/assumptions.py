"""Which data assumptions of Safran & Shamir's theorems a data set satisfies.

- SS-T2: every ``x_t`` is a singleton (exactly one nonzero coordinate).
- SS-T3: ``||x_t|| <= 1`` (realizability is a property of the targets, checked by the
  experiment with an exact basin value of 0).
- SS-T4: ``rank X = m``.
- SS-T5 (clustered data, k clusters with centres ``c_j``): ``k <= d``; every point within
  ``delta_j`` of a unique centre; ``delta_j / ||c_j|| <= 2 sin(sqrt(2 pi) / (16 d sqrt d))``;
  ``||c_j|| >= c > 0``; ``||x_t|| <= B``; targets ``gamma``-Lipschitz inside a cluster.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..curvature import RankResult, matrix_rank
from ..errors import ShapeError
from .partition import as_data, as_targets


def angular_bound(d: int) -> float:
    r"""SS-T5's bound on the cluster radii, \(\delta_j / \|c_j\| \le 2 \sin(\sqrt{2\pi} / (16 d \sqrt d))\).

    Args:
        d: Input dimension.

    Returns:
        The bound \(2 \sin(\sqrt{2\pi} / (16 d \sqrt d))\).
    """
    return 2.0 * math.sin(math.sqrt(2.0 * math.pi) / (16.0 * d * math.sqrt(d)))


@dataclass
class AssumptionReport:
    """One row per assumption: theorem, name, measured value, requirement, holds.

    Attributes:
        rows: One dict per assumption with keys ``theorem``, ``assumption``, ``value``,
            ``required`` and ``holds``.
        ranks: The :class:`~valleys.curvature.RankResult` behind each rank row (by
            assumption name), with the spectral gap that decided it.
    """

    rows: list[dict]
    ranks: dict[str, RankResult] = field(default_factory=dict)

    def holds(self, theorem: str) -> bool:
        """Whether every assumption of ``theorem`` holds.

        Args:
            theorem: ``"SS-T2"``, ``"SS-T3"``, ``"SS-T4"`` or ``"SS-T5"``.

        Returns:
            True when the theorem has rows and every one holds.
        """
        own = [r for r in self.rows if r["theorem"] == theorem]
        return bool(own) and all(r["holds"] for r in own)

    def failed(self, theorem: str) -> list[str]:
        """The assumptions of ``theorem`` that fail.

        Args:
            theorem: ``"SS-T2"``, ``"SS-T3"``, ``"SS-T4"`` or ``"SS-T5"``.

        Returns:
            Their names, in row order.
        """
        return [r["assumption"] for r in self.rows if r["theorem"] == theorem and not r["holds"]]

    def to_frame(self) -> pd.DataFrame:
        """The rows as a table.

        Returns:
            A DataFrame with one row per assumption.
        """
        return pd.DataFrame(self.rows)

    def to_dict(self) -> dict:
        """A JSON-ready form.

        Returns:
            ``{"rows": [...]}`` (the ranks are left out).
        """
        return {"rows": self.rows}

    def __repr__(self) -> str:
        theorems = sorted({r["theorem"] for r in self.rows})
        return "AssumptionReport(" + ", ".join(f"{t}: {'holds' if self.holds(t) else 'fails'}"
                                                for t in theorems) + ")"


def data_assumptions(X, y, *, centers=None, rank_rtol: float = 1e-10) -> AssumptionReport:
    """Check the data assumptions of SS-T2, SS-T3 (norms), SS-T4 and, given centres, SS-T5.

    Args:
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        centers: Optional cluster centres ``(k, d)``; each point is assigned to its
            nearest centre and ``delta_j`` is the largest distance to centre j.
        rank_rtol: Relative singular-value threshold of the rank of X (the ``"relative"``
            policy of :func:`~valleys.curvature.matrix_rank`).

    Returns:
        An :class:`AssumptionReport` (its ``ranks`` hold each rank with its gap).

    Raises:
        ShapeError: If ``centers`` is not ``(k, d)``, or X and y do not match.
        DataError: If X has zero rows or is not numeric.
        NonFiniteError: If X or y holds NaN or Inf.
    """
    Xa = as_data(X, "data_assumptions")
    ya = as_targets(y, len(Xa), "data_assumptions")
    m, d = Xa.shape
    rows, ranks = [], {}

    def add(theorem, name, value, required, holds):
        rows.append({"theorem": theorem, "assumption": name, "value": value, "required": required,
                     "holds": bool(holds)})

    nnz = (Xa != 0).sum(1)
    add("SS-T2", "every x_t is a singleton", int((nnz == 1).sum()), f"== {m}", (nnz == 1).all())
    norms = np.linalg.norm(Xa, axis=1)
    add("SS-T3", "max ||x_t||", float(norms.max()), "<= 1", norms.max() <= 1.0)
    ranks["rank X"] = matrix_rank(Xa, tau=rank_rtol, warn=False)
    add("SS-T4", "rank X", ranks["rank X"].count, f"== m = {m}", ranks["rank X"].count == m)
    if centers is not None:
        C = np.asarray(centers.detach().cpu() if hasattr(centers, "detach") else centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[1] != d:
            msg = f"centers of data_assumptions must have shape (k, {d}). Got {C.shape}."
            raise ShapeError(msg)
        ranks.update(_clusters(Xa, ya, C, add))
    return AssumptionReport(rows, ranks)


def _clusters(X, y, C, add) -> dict[str, RankResult]:
    """Add the SS-T5 rows; returns the rank of the centres (NumPy's default threshold,
    ``max(k, d) eps sigma_max``) by its assumption name."""
    m, d = X.shape
    k = len(C)
    dist = np.linalg.norm(X[:, None, :] - C[None, :, :], axis=2)  # (m, k)
    assign = dist.argmin(1)
    delta = np.array([dist[assign == j, j].max(initial=0.0) for j in range(k)])
    cnorm = np.linalg.norm(C, axis=1)
    add("SS-T5", "k <= d", k, f"<= {d}", k <= d)
    # a unique centre within delta_j: no point is also within delta_i of another centre i
    others = dist <= delta[None, :] + 0.0
    unique = (others.sum(1) == 1).all()
    add("SS-T5", "every point within delta_j of a unique centre", bool(unique), "True", unique)
    ratio = float((delta / cnorm).max())
    bound = angular_bound(d)
    add("SS-T5", "max delta_j / ||c_j||", ratio, f"<= 2 sin(sqrt(2 pi)/(16 d sqrt d)) = {bound:.4g}",
        ratio <= bound)
    add("SS-T5", "min ||c_j|| (the constant c)", float(cnorm.min()), "> 0", cnorm.min() > 0)
    rank_c = matrix_rank(C, tau=max(C.shape) * float(np.finfo(C.dtype).eps), warn=False)
    add("SS-T5", "rank C (centres in general position)", rank_c.count, f"== k = {k}", rank_c.count == k)
    gamma = 0.0
    for j in range(k):
        idx = np.flatnonzero(assign == j)
        if len(idx) > 1:
            dx = np.linalg.norm(X[idx, None] - X[None, idx], axis=2)
            dy = np.abs(y[idx, None] - y[None, idx])
            off = dx > 0
            gamma = max(gamma, float((dy[off] / dx[off]).max(initial=0.0)))
    add("SS-T5", "within-cluster Lipschitz constant gamma (finite)", gamma, "finite", np.isfinite(gamma))
    return {"rank C (centres in general position)": rank_c}
