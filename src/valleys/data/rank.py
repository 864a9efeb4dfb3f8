"""Data of a prescribed rank: low-rank inputs (Safran-Shamir SS-T3) and full row rank (SS-T4)."""

from __future__ import annotations

import math

import torch

from .._validation import check_choice, check_float, check_generator, check_int
from ._args import rand, randn, squeeze_targets
from ._targets import add_noise, linear_map, teacher_forward
from .dataset import Dataset

LOW_RANK_TARGETS = ("linear", "relu")


def low_rank(n: int, d: int, rank: int, *, seed: int | torch.Generator | None = 0,
             out_dim: int = 1, targets: str = "linear", teacher_width: int = 2,
             max_norm: float | None = None, noise: float = 0.0) -> Dataset:
    """Inputs ``X = A B / sqrt(rank)`` of exact rank ``rank`` (Gaussian A, B), with targets.

    ``A`` is ``(n, rank)`` and ``B`` is ``(rank, d)``, both standard normal, so
    ``rank X = rank`` with probability one. ``meta["basis"]`` is an orthonormal
    ``(d, rank)`` basis of the row space of ``X``.

    Targets are either a random linear map (``targets="linear"``, ``W ~ N(0, 1/d)``) or,
    for the realizable setting of Safran & Shamir Thm 3, a bias-free ReLU teacher
    ``y = sum_i v_i [<w_i, x>]_+`` of ``teacher_width`` units whose directions ``w_i``
    are unit vectors in the row space and ``v_i ~ U[-1, 1]``, so ``|v_i| ||w_i|| <= 1``.

    Args:
        n: Number of samples N >= 1.
        d: Input dimension >= 1.
        rank: Rank of X, ``1 <= rank <= min(n, d)``.
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        out_dim: Outputs of the linear map (``targets="linear"`` only).
        targets: ``"linear"`` or ``"relu"``.
        teacher_width: Units of the ReLU teacher (``targets="relu"`` only).
        max_norm: If given (> 0), X is scaled so its largest row norm equals it
            (SS-T3 takes ``||x_t|| <= 1``).
        noise: Standard deviation of additive target noise, >= 0.

    Returns:
        A regression :class:`Dataset`; ``meta`` holds ``basis`` and the target weights
        (``weights`` for linear targets; ``W1``, ``b1``, ``W2`` for the teacher).

    Raises:
        InvalidParameterError: If an argument has a wrong type or range.
    """
    where = "low_rank"
    n = check_int(n, "n", where, min_val=1)
    d = check_int(d, "d", where, min_val=1)
    rank = check_int(rank, "rank", where, min_val=1, max_val=min(n, d))
    out_dim = check_int(out_dim, "out_dim", where, min_val=1)
    check_choice(targets, "targets", where, LOW_RANK_TARGETS)
    teacher_width = check_int(teacher_width, "teacher_width", where, min_val=1)
    if max_norm is not None:
        max_norm = check_float(max_norm, "max_norm", where, min_val=0.0, open_min=True)
    noise = check_float(noise, "noise", where, min_val=0.0)
    gen = check_generator(seed, where)
    B = randn((rank, d), gen)
    X = randn((n, rank), gen) @ B / math.sqrt(rank)
    if max_norm is not None:
        X = X * (max_norm / X.norm(dim=1).max())
    basis = torch.linalg.qr(B.T).Q
    meta = {"rank": rank, "basis": basis, "targets": targets, "max_norm": max_norm,
            "noise": noise}
    if targets == "linear":
        W = linear_map(d, out_dim, gen)
        y, meta["weights"] = X @ W.T, W
    else:
        W1 = randn((teacher_width, rank), gen) @ basis.T
        W1 = W1 / W1.norm(dim=1, keepdim=True)
        b1 = torch.zeros(teacher_width, dtype=torch.float64)
        W2 = 2.0 * rand((1, teacher_width), gen) - 1.0
        y = teacher_forward(X, W1, b1, W2, "relu")
        meta.update(W1=W1, b1=b1, W2=W2, activation="relu")
    y = add_noise(y, noise, gen)
    return Dataset(X, squeeze_targets(y), "low_rank", "regression", meta)


def full_rank(n: int, d: int, m: int | None = None, *,
              seed: int | torch.Generator | None = 0, out_dim: int = 1,
              std: float = 1.0) -> Dataset:
    """Gaussian inputs of rank ``m`` (default ``n``: full row rank) with arbitrary targets.

    This is the setting of Safran & Shamir Thm 4, ``rank X = m`` with ``m`` the number
    of samples (so ``m <= d``): with ``m = n <= d``, ``X ~ N(0, std^2)`` entrywise has
    rank ``n`` with probability one. A smaller ``m < n`` gives ``X = std A B / sqrt(m)``
    (Gaussian ``A`` of shape ``(n, m)`` and ``B`` of shape ``(m, d)``), of rank ``m``.
    The targets are i.i.d. ``N(0, 1)`` (no structure; the theorem allows any targets).

    Args:
        n: Number of samples N >= 1.
        d: Input dimension >= 1.
        m: Rank of X, ``1 <= m <= min(n, d)``; None means ``n`` (then ``n <= d``).
        seed: Seed (int >= 0, ``torch.Generator`` or None for 0).
        out_dim: Number of outputs >= 1.
        std: Standard deviation of the inputs (of the entries when ``m = n``), > 0.

    Returns:
        A regression :class:`Dataset` with ``y`` of shape ``(N,)`` when ``out_dim == 1``
        and ``meta["rank"] = m``.

    Raises:
        InvalidParameterError: If an argument has a wrong type or range (``n > d`` with
            ``m = n`` cannot have full row rank).
    """
    where = "full_rank"
    d = check_int(d, "d", where, min_val=1)
    if m is None:
        n = check_int(n, "n", where, min_val=1, max_val=d)
        m = n
    else:
        n = check_int(n, "n", where, min_val=1)
        m = check_int(m, "m", where, min_val=1, max_val=min(n, d))
    out_dim = check_int(out_dim, "out_dim", where, min_val=1)
    std = check_float(std, "std", where, min_val=0.0, open_min=True)
    gen = check_generator(seed, where)
    if m == n:
        X = std * randn((n, d), gen)
    else:
        X = std * (randn((n, m), gen) @ randn((m, d), gen)) / math.sqrt(m)
    y = randn((n, out_dim), gen)
    meta = {"rank": m, "std": std, "out_dim": out_dim}
    return Dataset(X, squeeze_targets(y), "full_rank", "regression", meta)
