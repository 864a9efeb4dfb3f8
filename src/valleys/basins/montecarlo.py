"""Monte Carlo of the initial basin: ``P[Bas(W0, v0) <= alpha]`` with exact intervals.

Draws follow Assumption 1: every hidden neuron's ``w_i`` and the output vector ``v`` are
drawn independently from a spherically symmetric law (``"gaussian"``: ``N(0, scale^2 I)``;
``"sphere"``: uniform on the sphere of radius ``scale``). On singleton and full-rank data
the exact sign criteria (:mod:`valleys.basins.criteria`) give each draw's basin value in
closed form, vectorised over draws; elsewhere each draw's basin value is an exact QP.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import beta

from .._validation import check_choice, check_float, check_int, check_rng
from ..curvature import matrix_rank
from ..errors import InvalidParameterError
from .criteria import FullRankCriterion, SingletonCriterion
from .partition import BasinPattern, as_data, as_targets, check_widths
from .value import BasinSolver, BasinTolerances

INITS = ("gaussian", "sphere")
METHODS = ("auto", "singleton", "full_rank", "qp")


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper–Pearson) two-sided interval for a binomial proportion ``k / n``.

    Args:
        k: Successes, ``0 <= k <= n``.
        n: Trials, >= 1.
        level: Coverage in (0, 1].

    Returns:
        ``(low, high)``: the Beta quantiles \\(B(a/2; k, n-k+1)\\) and
        \\(B(1-a/2; k+1, n-k)\\) with \\(a = 1 - \\text{level}\\) (0 and 1 at the ends).

    Raises:
        InvalidParameterError: If ``k``, ``n`` or ``level`` is out of range.
    """
    k = check_int(k, "k", "clopper_pearson", min_val=0)
    n = check_int(n, "n", "clopper_pearson", min_val=1)
    if k > n:
        raise InvalidParameterError(f"clopper_pearson needs k <= n. Got k={k}, n={n}.")
    level = check_float(level, "level", "clopper_pearson", min_val=0.0, max_val=1.0, open_min=True)
    a = 1.0 - level
    low = 0.0 if k == 0 else float(beta.ppf(a / 2, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a / 2, k + 1, n - k))
    return low, high


def draw_init(draws: int, n: int, d: int, init: str, rng: np.random.Generator, scale: float = 1.0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Random initialisations of a two-layer net.

    Args:
        draws: Number of initialisations.
        n: Width.
        d: Input dimension.
        init: ``"gaussian"`` (i.i.d. standard normal entries) or ``"sphere"`` (each row of
            W and each v normalised to the unit sphere).
        rng: NumPy generator.
        scale: Factor applied to both W and v.

    Returns:
        ``(W, v)`` of shapes ``(draws, n, d)`` and ``(draws, n)``.
    """
    W = rng.standard_normal((draws, n, d))
    v = rng.standard_normal((draws, n))
    if init == "sphere":
        W /= np.linalg.norm(W, axis=2, keepdims=True)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
    return scale * W, scale * v


@dataclass
class BasinQuality:
    """Per width: the estimate of ``P[Bas <= threshold]``, its interval and the bound.

    Attributes:
        table: one row per width: ``width, draws, hits, estimate, ci_low, ci_high, se,
            threshold, alpha, bound, exact`` (``exact``: the closed-form probability where
            known, else NaN).
        values: width -> the basin value of every draw (for histograms).
        method: ``"singleton"``, ``"full_rank"`` or ``"qp"``.
        level: confidence level of the intervals.
    """

    table: pd.DataFrame
    values: dict[int, np.ndarray] = field(default_factory=dict)
    method: str = "qp"
    level: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """The table.

        Returns:
            A copy of ``table``.
        """
        return self.table.copy()

    def to_dict(self) -> dict:
        """A JSON-ready form.

        Returns:
            ``{"method", "level", "table"}`` (the table as records; the values left out).
        """
        return {"method": self.method, "level": self.level, "table": self.table.to_dict(orient="records")}

    def __repr__(self) -> str:
        parts = ", ".join(f"n={int(r.width)}: {r.estimate:.3f}" for r in self.table.itertuples())
        return f"BasinQuality({self.method}; {parts})"


def detect_method(X: np.ndarray, rank_rtol: float = 1e-10) -> str:
    """Which exact method a data set allows.

    Args:
        X: Data ``(m, d)``.
        rank_rtol: Relative singular-value threshold of the rank of X.

    Returns:
        ``"singleton"`` if every row has one nonzero, ``"full_rank"`` if rank X = m, else ``"qp"``.
    """
    if ((X != 0).sum(axis=1) == 1).all():
        return "singleton"
    return "full_rank" if matrix_rank(X, tau=rank_rtol, warn=False).count == len(X) else "qp"


def initial_basin_quality(X, y, widths, draws: int, init: str = "gaussian", seed=0, *,
                          method: str = "auto", threshold: float | None = None,
                          scale: float = 1.0, rel_tol: float = 1e-9, level: float = 0.95,
                          chunk: int = 1 << 22, tol: BasinTolerances | None = None,
                          progress=None) -> BasinQuality:
    """Estimate ``P[Bas(W0, v0) <= threshold]`` for each width, squared loss (SS-T2/T3/T4/T5).

    Args:
        X: Data ``(m, d)``.
        y: Targets ``(m,)``.
        widths: Hidden widths n (ints >= 1).
        draws: Initialisations per width.
        init: ``"gaussian"`` or ``"sphere"`` (both satisfy Assumption 1).
        seed: Seed (int >= 0 or ``numpy.random.Generator``).
        method: ``"singleton"`` / ``"full_rank"`` (exact sign criteria, vectorised over
            draws), ``"qp"`` (one exact basin QP per draw) or ``"auto"``.
        threshold: Count draws with ``Bas <= threshold``; None means ``alpha(n)``, the
            minimal objective at width n (known exactly for the two criteria; for
            ``"qp"`` it must be given).
        scale: Scale of the initialisation (basins do not depend on it).
        rel_tol: ``Bas <= threshold + rel_tol * max(1, mean y^2)`` counts as a hit.
        level: Confidence level of the Clopper–Pearson intervals.
        chunk: Largest number of sign entries (draws × n × max(m, d)) processed at once.
        tol: :class:`BasinTolerances` of the QPs.
        progress: Optional wrapper ``progress(iterable, desc)`` for a progress bar.

    Returns:
        A :class:`BasinQuality`.

    Raises:
        ShapeError: If X and y differ in length.
        InvalidParameterError: If widths < 1, draws < 1, an unknown init or method, or
            ``method="qp"`` without a threshold.
        DataError: If the data do not fit the chosen criterion.
    """
    where = "initial_basin_quality"
    Xa = as_data(X, where)
    ya = as_targets(y, len(Xa), where)
    widths = check_widths(widths, where)
    draws = check_int(draws, "draws", where, min_val=1)
    check_choice(init, "init", where, INITS)
    check_choice(method, "method", where, METHODS)
    scale = check_float(scale, "scale", where, min_val=0.0, open_min=True)
    chunk = check_int(chunk, "chunk", where, min_val=1)
    if threshold is not None:
        threshold = check_float(threshold, "threshold", where)
    rng = check_rng(seed, where)
    if method == "auto":
        method = detect_method(Xa)
    if method == "qp" and threshold is None:
        msg = (f"{where} with method='qp' needs a threshold (alpha is not known in closed form "
               f"there; see valleys.basins.best_basin_value).")
        raise InvalidParameterError(msg)
    crit = (SingletonCriterion(Xa, ya) if method == "singleton"
            else FullRankCriterion(Xa, ya) if method == "full_rank" else None)
    solver = BasinSolver(Xa, ya, tol=tol) if method == "qp" else None
    slack = rel_tol * max(1.0, float(np.mean(ya ** 2)))
    m, d = Xa.shape
    rows, values = [], {}
    for n in widths:
        vals = _draw_values(Xa, crit, solver, method, n, draws, init, rng, scale, chunk, progress)
        alpha = crit.alpha(n) if crit is not None else math.nan
        thr = threshold if threshold is not None else alpha
        hits = int((vals <= thr + slack).sum())
        low, high = clopper_pearson(hits, draws, level)
        est = hits / draws
        bound = (SingletonCriterion.bound(n, d) if method == "singleton"
                 else FullRankCriterion.bound(n, m) if method == "full_rank" else math.nan)
        exact = crit.probability(n) if method == "singleton" and threshold is None else math.nan
        rows.append({"width": n, "draws": draws, "hits": hits, "estimate": est, "ci_low": low,
                     "ci_high": high, "se": math.sqrt(max(est * (1 - est), 0.0) / draws),
                     "threshold": thr, "alpha": alpha, "bound": bound, "exact": exact})
        values[n] = vals
    return BasinQuality(pd.DataFrame(rows), values, method, level)


def _draw_values(X, crit, solver, method, n, draws, init, rng, scale, chunk, progress):
    m, d = X.shape
    out = np.empty(draws)
    if method == "qp":
        it = range(draws) if progress is None else progress(range(draws), f"basins n={n}")
        for i in it:
            W, v = draw_init(1, n, d, init, rng, scale)
            A = np.sign(W[0] @ X.T).astype(np.int8)
            out[i] = solver.value(BasinPattern(A, np.sign(v[0]).astype(np.int8)), check_empty=False).value
        return out
    step = max(1, chunk // (n * max(m, d)))
    for start in range(0, draws, step):
        size = min(step, draws - start)
        W, v = draw_init(size, n, d, init, rng, scale)
        if method == "singleton":
            out[start:start + size] = crit.values(np.sign(W), np.sign(v))
        else:
            out[start:start + size] = crit.values(np.sign(W @ X.T), np.sign(v))
    return out
