"""Checks of sampled quantities with stated power: exact binomial intervals and measured errors.

A probabilistic claim ("P[start in a good basin] >= 1 - 2d(3/4)^n") is judged from draws.
The normal approximation ``p_hat +- z SE`` is wrong where it matters most (near 0 and 1,
few draws), so proportions are judged with the exact Clopper–Pearson interval: the data
contradict ``p >= b`` only when the interval lies wholly below ``b``. Before any decision:

- fewer than ``min_draws`` draws -> the check reports ``insufficient draws``;
- a bound that no outcome at this size could contradict (``p >= b`` with ``b <= 0``;
  ``p <= b`` with ``b >= 1`` or ``b`` below the resolution ``1 / draws``) -> ``vacuous``.

Means of sampled continuous quantities are judged within ``n_se`` *measured* standard
errors, at most :data:`MAX_STANDARD_ERRORS`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.stats import beta

from .result import Check, Verdict

#: Default confidence of the exact intervals (two-sided).
CONFIDENCE = 0.99
#: Default minimum number of draws below which a probabilistic check does not decide.
MIN_DRAWS = 20
#: The widest tolerance a sampled mean may get, in measured standard errors.
MAX_STANDARD_ERRORS = 4.0


def clopper_pearson(successes: int, draws: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    r"""The exact (Clopper–Pearson) two-sided interval for a binomial proportion.

    With \(\alpha = 1 - \text{confidence}\) and \(B(q; a, b)\) the \(q\)-quantile of the
    Beta(a, b) distribution, the interval is
    \([B(\alpha/2; k, n-k+1),\ B(1-\alpha/2; k+1, n-k)]\).

    Args:
        successes: number of successes ``k`` (``0 <= k <= draws``).
        draws: number of draws ``n >= 1``.
        confidence: two-sided coverage ``1 - alpha``.

    Returns:
        ``(lower, upper)`` with ``lower = B(alpha/2; k, n-k+1)`` (0 when k = 0) and
        ``upper = B(1-alpha/2; k+1, n-k)`` (1 when k = n), ``B`` the beta quantile.

    Raises:
        ValueError: if the counts or the confidence are out of range.
    """
    k, n = int(successes), int(draws)
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= successes <= draws and draws >= 1, got {k} of {n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


def proportion_check(verdict: Verdict, name: str, successes: int, draws: int, *,
                     at_least: float | None = None, at_most: float | None = None,
                     equals: float | None = None, confidence: float = CONFIDENCE,
                     min_draws: int = MIN_DRAWS, kind: str = "evidence", note: str = "") -> Check:
    """Judge a proportion ``successes / draws`` against one bound with its exact interval.

    Exactly one of ``at_least`` (the claim ``p >= b``), ``at_most`` (``p <= b``) and
    ``equals`` (``p = b``, e.g. an exact probability computed by separate code) is given.
    The check fails only when the Clopper–Pearson interval excludes the claim.

    Args:
        verdict: the verdict to add the check to.
        name: what is checked.
        successes: the number of draws where the event happened.
        draws: the number of draws.
        at_least: the bound b of the claim \\(p \\ge b\\), or None.
        at_most: the bound b of the claim \\(p \\le b\\), or None.
        equals: the value b of the claim \\(p = b\\), or None.
        confidence: coverage of the interval (default :data:`CONFIDENCE`).
        min_draws: below this many draws the check reports ``insufficient draws``.
        kind: the check's kind (see :data:`~valleys.record.result.KINDS`).
        note: extra explanation, prepended to the interval's description.

    Returns:
        The added check; ``measured`` is the estimate, ``tolerance`` the interval's
        half-width, and the note states the interval, the draws and any reason it did not
        decide.

    Raises:
        ValueError: if not exactly one bound is given.
    """
    given = [(word, b) for word, b in (("at_least", at_least), ("at_most", at_most), ("equals", equals))
             if b is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of at_least, at_most, equals")
    word, bound = given[0]
    bound = float(bound)
    symbol = {"at_least": ">=", "at_most": "<=", "equals": "="}[word]
    expected = f"{symbol} {bound:.6g}"
    k, n = int(successes), int(draws)
    estimate = k / n if n else float("nan")
    prefix = f"{note}; " if note else ""
    if n < min_draws:
        return verdict.add(name, estimate, expected, None, False,
                           f"{prefix}{n} draws < the minimum {min_draws}: no decision",
                           kind=kind, status="insufficient draws")
    if _vacuous(word, bound, n):
        return verdict.add(name, estimate, expected, None, False,
                           f"{prefix}the bound {bound:.3g} cannot be contradicted by {n} draws "
                           f"(resolution 1/{n})", kind=kind, status="vacuous")
    lower, upper = clopper_pearson(k, n, confidence)
    holds = {"at_least": upper >= bound, "at_most": lower <= bound,
             "equals": lower <= bound <= upper}[word]
    return verdict.add(name, estimate, expected, (upper - lower) / 2, holds,
                       f"{prefix}{k}/{n}; exact {confidence:.0%} interval [{lower:.4g}, {upper:.4g}]",
                       kind=kind)


def _vacuous(word: str, bound: float, draws: int) -> bool:
    resolution = 1.0 / draws
    if word == "at_least":
        return bound <= 0.0
    if word == "at_most":
        return bound >= 1.0 or bound < resolution
    return False


def mean_check(verdict: Verdict, name: str, samples: Sequence[float], expected: float, *,
               n_se: float = MAX_STANDARD_ERRORS, min_draws: int = MIN_DRAWS,
               kind: str = "evidence", note: str = "") -> Check:
    r"""Judge the mean of sampled values against ``expected`` within ``n_se`` measured SEs.

    The check passes when \(|\bar x - \mu| \le n_{se}\, s/\sqrt{n}\), with \(\bar x\)
    and \(s\) the mean and standard deviation (divisor \(n - 1\)) of the \(n\) samples
    and \(\mu\) = ``expected``.

    Args:
        verdict: the verdict to add the check to.
        name: what is checked.
        samples: the sampled values (finite).
        expected: the theory's value of the mean (computed by separate code).
        n_se: tolerance in measured standard errors ``std(samples, ddof=1) / sqrt(n)``; at
            most :data:`MAX_STANDARD_ERRORS`.
        min_draws: below this many samples the check reports ``insufficient draws``.
        kind: the check's kind.
        note: extra explanation.

    Returns:
        The added check (``tolerance`` = ``n_se`` measured standard errors).

    Raises:
        ValueError: if ``n_se`` exceeds :data:`MAX_STANDARD_ERRORS` or is not positive.
    """
    if not 0.0 < n_se <= MAX_STANDARD_ERRORS:
        raise ValueError(f"n_se must lie in (0, {MAX_STANDARD_ERRORS}], got {n_se}")
    x = np.asarray(samples, dtype=np.float64)
    prefix = f"{note}; " if note else ""
    mean = float(x.mean()) if x.size else float("nan")
    if x.size < min_draws:
        return verdict.add(name, mean, float(expected), None, False,
                           f"{prefix}{x.size} samples < the minimum {min_draws}: no decision",
                           kind=kind, status="insufficient draws")
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    tol = n_se * se
    return verdict.add(name, mean, float(expected), tol, abs(mean - float(expected)) <= tol,
                       f"{prefix}{x.size} samples, measured SE {se:.3g}, tolerance {n_se:g} SE",
                       kind=kind)


def proportion_rows(verdict: Verdict, name: str, rows, *, word: str, expected: str,
                    confidence: float = CONFIDENCE, min_draws: int = MIN_DRAWS, kind: str = "evidence",
                    note: str = "") -> Check:
    """One check of several sampled proportions, each against its own bound, with exact intervals.

    Each row is judged by its Clopper–Pearson interval at the Bonferroni-corrected
    confidence ``1 - (1 - confidence) / r`` (``r`` the rows that decide), so the check as a
    whole has coverage ``confidence``. A row with fewer than ``min_draws`` draws does not
    decide ("insufficient draws"), nor does a row whose bound no outcome could contradict
    ("vacuous": ``at_least`` a bound <= 0; ``equals`` a probability p with
    ``min(p, 1 - p) * draws < 1``, fewer than one expected exception).

    Args:
        verdict: the verdict to add the check to.
        name: what is checked.
        rows: ``(label, successes, draws, bound)`` per row.
        word: ``"at_least"`` (p >= bound) or ``"equals"`` (p = bound, an exact probability
            computed by separate code).
        expected: the claim in words, e.g. ``">= 1 - 2d(3/4)^n"``.
        confidence: the check's overall coverage.
        min_draws: the minimum draws for a row to decide.
        kind: the check's kind.
        note: extra explanation, prepended.

    Returns:
        The added check: passed when every deciding row holds; ``insufficient draws`` or
        ``vacuous`` when no row decides (insufficient if any row had too few draws).

    Raises:
        ValueError: for an unknown ``word``.
    """
    if word not in ("at_least", "equals"):
        raise ValueError(f"word must be at_least or equals, got {word!r}")
    rows = [(str(label), int(k), int(n), float(b)) for label, k, n, b in rows]
    few = [r for r in rows if r[2] < min_draws]
    vacuous = [r for r in rows if r[2] >= min_draws and (
        r[3] <= 0.0 if word == "at_least" else min(r[3], 1.0 - r[3]) * r[2] < 1.0)]
    deciding = [r for r in rows if r not in few and r not in vacuous]
    prefix = f"{note}; " if note else ""
    left = ""
    if few:
        left += f"; {len(few)} rows with < {min_draws} draws ({' | '.join(r[0] for r in few)})"
    if vacuous:
        left += f"; {len(vacuous)} vacuous rows ({' | '.join(r[0] for r in vacuous)})"
    if not deciding:
        status = "insufficient draws" if few else "vacuous"
        return verdict.add(name, f"0 of {len(rows)} rows decide", expected, None, False,
                           f"{prefix}no row decides{left}", kind=kind, status=status)
    level = 1.0 - (1.0 - confidence) / len(deciding)
    failed, widest = [], 0.0
    for label, k, n, b in deciding:
        low, high = clopper_pearson(k, n, level)
        widest = max(widest, (high - low) / 2)
        holds = high >= b if word == "at_least" else low <= b <= high
        if not holds:
            failed.append(f"{label}: {k}/{n}, interval [{low:.4g}, {high:.4g}] vs {b:.4g}")
    text = (f"{prefix}{len(deciding) - len(failed)} of {len(deciding)} deciding rows hold; exact "
            f"intervals at {level:.4%} each (Bonferroni over {len(deciding)} rows, {confidence:.0%} overall)"
            f"{left}")
    if failed:
        text += "; failing: " + "; ".join(failed)
    return verdict.add(name, f"{len(deciding) - len(failed)} of {len(deciding)} rows", expected, widest,
                       not failed, text, kind=kind)


def mean_exceeds_check(verdict: Verdict, name: str, samples: Sequence[float], bound: float = 0.0, *,
                       n_se: float = 3.0, min_draws: int = MIN_DRAWS, kind: str = "evidence",
                       note: str = "") -> Check:
    r"""Judge the claim "the mean of the sampled values exceeds ``bound``" within ``n_se`` measured SEs.

    With the measured standard error \(\mathrm{SE} = s / \sqrt{n}\) (``s`` the sample standard
    deviation, ``ddof=1``) the interval is \(\bar x \pm n_{se}\,\mathrm{SE}\). The check passes
    when the whole interval lies above ``bound`` (the data show the excess), fails when it lies
    wholly at or below it (the data contradict the claim) and otherwise reports ``insufficient
    draws`` (the interval straddles the bound: more draws are needed to decide). For paired
    comparisons (the same seeds in both arms) pass the per-seed differences.

    Args:
        verdict: the verdict to add the check to.
        name: what is checked.
        samples: the sampled values (finite), e.g. per-seed differences of two arms.
        bound: the claim is ``mean > bound``.
        n_se: the interval's half-width in measured standard errors; at most
            :data:`MAX_STANDARD_ERRORS`.
        min_draws: below this many samples the check reports ``insufficient draws``.
        kind: the check's kind.
        note: extra explanation, prepended.

    Returns:
        The added check (``tolerance`` = ``n_se`` measured standard errors).

    Raises:
        ValueError: if ``n_se`` exceeds :data:`MAX_STANDARD_ERRORS` or is not positive.
    """
    if not 0.0 < n_se <= MAX_STANDARD_ERRORS:
        raise ValueError(f"n_se must lie in (0, {MAX_STANDARD_ERRORS}], got {n_se}")
    x = np.asarray(samples, dtype=np.float64)
    prefix = f"{note}; " if note else ""
    mean = float(x.mean()) if x.size else float("nan")
    expected = f"> {float(bound):.6g}"
    if x.size < max(min_draws, 2):
        return verdict.add(name, mean, expected, None, False,
                           f"{prefix}{x.size} samples < the minimum {max(min_draws, 2)}: no decision",
                           kind=kind, status="insufficient draws")
    se = float(x.std(ddof=1) / math.sqrt(x.size))
    low, high = mean - n_se * se, mean + n_se * se
    text = f"{prefix}{x.size} samples, measured SE {se:.3g}, interval [{low:.4g}, {high:.4g}] ({n_se:g} SE)"
    if low <= bound < high:
        return verdict.add(name, mean, expected, n_se * se, False,
                           f"{text} contains the bound: more draws needed to decide", kind=kind,
                           status="insufficient draws")
    return verdict.add(name, mean, expected, n_se * se, low > bound, text, kind=kind)
