"""Many points or vectors at once: a loop, or vectorised chunks, chosen by a fixed cost rule.

On CPU, ``torch.func.vmap`` pays for small models (tiny matrix products, Python overhead
per call); for larger ones one full-batch forward pass per point is already an efficient
matrix product, and vectorised chunks only pay while their batched intermediates stay
moderate. ``batching="auto"`` chooses the route from the sizes alone (never from timings,
so that the same call returns bitwise the same numbers on every run):

- a point costs little (N * d <= :data:`SMALL_WORK`, or a landscape of a plain function):
  vectorise in chunks of the landscape's ``chunk_size``;
- otherwise vectorise in chunks of ``c = min(chunk_size, LARGE_CHUNK, CHUNK_WORK // (N * d))``
  points (see :func:`vector_chunk`), or run a loop when ``c < 2``.

``batching="vmap"`` (chunks of ``chunk_size``) or ``"loop"`` fixes the choice. An
operation of the model without a batched rule (a ``RuntimeError`` from the vectorised
route) switches that operation to the loop for good. The plans used are recorded in
``Landscape.batch_plans`` (operation -> (method, chunk)).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .._progress import progress_bar

#: The ways :class:`~valleys.Landscape` may evaluate batches (see the module docstring).
BATCHING = ("auto", "vmap", "loop")
#: Up to this many sample-parameter products per point (N * d), "auto" vectorises in
#: chunks of the landscape's ``chunk_size``.
SMALL_WORK = 2**20
#: Above :data:`SMALL_WORK`, "auto" vectorises at most this many points per chunk: the
#: calibration by timing that this rule replaces chose chunks of 32 on the benchmarked
#: sizes (losses of an MLP 64-128-128-10 and the dense Hessian of a CNN on digits,
#: N * d = 4.7e7 and 2.7e6; ``benchmarks/results/core.json``).
LARGE_CHUNK = 32
#: Above :data:`SMALL_WORK`, a vectorised chunk of c points holds at most this much work
#: (c * N * d); a landscape with N * d > CHUNK_WORK / 2 runs as a loop (each point is
#: then a large full-batch product already, and batched intermediates only add memory).
CHUNK_WORK = 2**31
#: Rows per call of a loop route (only the granularity of the progress bar).
LOOP_CHUNK = 64

#: A plan: (method name, chunk size).
Plan = tuple[str, int]


class BatchPlans(dict):
    """Per-landscape record: operation name -> (method, chunk size) used by its last call.

    ``unbatched`` holds the operations whose vectorised route raised (they loop for good).

    Args:
        *args: as ``dict`` (operation -> (method, chunk size)).
        **kwargs: as ``dict``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.unbatched: set[str] = set()


def vector_chunk(work: int, chunk_size: int) -> int:
    """Points per vectorised chunk above :data:`SMALL_WORK` (a pure function of the sizes).

    Args:
        work: sample-parameter products per point, N * d.
        chunk_size: the landscape's largest chunk.

    Returns:
        ``min(chunk_size, LARGE_CHUNK, CHUNK_WORK // work)``, at least 1 (1 means a loop).
    """
    return max(1, min(chunk_size, LARGE_CHUNK, CHUNK_WORK // max(1, work)))


def choose_plan(mode: str, small: bool, work: int, chunk_size: int, vector: str) -> Plan:
    """The plan of one operation: a pure function of the batching mode and the sizes.

    Args:
        mode: ``"auto"``, ``"vmap"`` or ``"loop"``.
        small: whether a point costs little (then "auto" vectorises in chunks of ``chunk_size``).
        work: N * d.
        chunk_size: the landscape's largest chunk.
        vector: the name of the operation's vectorised method (``"vmap"``, ``"functorch"``).

    Returns:
        ``(method, chunk)``: ``("loop", LOOP_CHUNK)`` or ``(vector, chunk)``.
    """
    if mode == "loop":
        return ("loop", LOOP_CHUNK)
    if mode == "vmap" or small:
        return (vector, chunk_size)
    chunk = vector_chunk(work, chunk_size)
    return (vector, chunk) if chunk > 1 else ("loop", LOOP_CHUNK)


def run_batched(rows: torch.Tensor, plan: Plan, methods: dict[str, Callable[[torch.Tensor], torch.Tensor]], *,
                plans: BatchPlans, op: str, progress: bool | None = None, desc: str = "") -> torch.Tensor:
    """Evaluate ``rows`` (k, ...) chunk by chunk with ``plan`` and record it in ``plans[op]``.

    Args:
        rows: the points or vectors, one per row.
        plan: ``(method, chunk)`` from :func:`choose_plan`.
        methods: method name -> function of a chunk of rows; holds ``"loop"`` and the
            vectorised method of ``plan``.
        plans: the landscape's record of plans.
        op: the operation's name in ``plans``.
        progress: progress bar (None: only on a terminal, after a few seconds).
        desc: progress bar label.

    Returns:
        The results of all rows, concatenated along the first dimension.
    """
    k = rows.shape[0]
    plan = ("loop", LOOP_CHUNK) if op in plans.unbatched else plan
    plans[op] = plan
    if progress is not True and k <= plan[1]:  # one chunk: no bar, no overhead
        return _call(rows, plan, methods, plans, op)
    out: list[torch.Tensor] = []
    with progress_bar(k, desc, progress) as bar:
        for C in rows.split(plan[1]):
            out.append(_call(C, plans[op], methods, plans, op))
            bar.update(C.shape[0])
    return torch.cat(out) if out else methods["loop"](rows)


def _call(C: torch.Tensor, plan: Plan, methods, plans: BatchPlans, op: str) -> torch.Tensor:
    """One chunk; an operation without a batched rule switches ``op`` to the loop for good."""
    try:
        return methods[plan[0]](C)
    except RuntimeError:
        if plan[0] == "loop":
            raise
        plans[op] = ("loop", LOOP_CHUNK)
        plans.unbatched.add(op)
        return methods["loop"](C)
