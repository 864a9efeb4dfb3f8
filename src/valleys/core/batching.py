"""Many points or vectors at once: a loop, or vectorised chunks, whichever measures faster.

On CPU, ``torch.func.vmap`` pays for small models (tiny matrix products, Python overhead
per call) and costs for mid-size ones (batched intermediates fall out of cache; one
full-batch forward pass per point is already an efficient matrix product). ``batching="auto"``
therefore:

- vectorises in chunks of ``chunk_size`` when a point costs little (N * d <= :data:`SMALL_WORK`,
  or a landscape of a plain function), so toys stay fast and deterministic;
- otherwise, on the first call with at least :data:`CALIBRATE_MIN` rows, runs the first rows
  through each candidate (a loop, and vectorised chunks of the sizes in :data:`PROBE_CHUNKS`),
  keeps the fastest per row for this landscape and operation, and runs the rest with it
  (every probed row is part of the answer: calibration costs no extra work);
- runs a loop for smaller calls before calibration.

``batching="vmap"`` or ``"loop"`` fixes the choice. The plans chosen are in
``Landscape.batch_plans`` (operation -> (method, chunk)).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from .._progress import progress_bar

#: The ways :class:`~valleys.Landscape` may evaluate batches (see the module docstring).
BATCHING = ("auto", "vmap", "loop")
#: Below this many sample-parameter products per point (N * d), "auto" always vectorises.
SMALL_WORK = 2**20
#: Vectorised chunk sizes probed by "auto" (capped by the landscape's ``chunk_size``).
PROBE_CHUNKS = (4, 32)
#: Rows probed by the loop candidate.
LOOP_PROBE = 4
#: A call needs this many rows to calibrate (fewer rows run as a loop).
CALIBRATE_MIN = 64

#: A candidate: (method name, chunk size, function mapping a chunk of rows to results).
Candidate = tuple[str, int, Callable[[torch.Tensor], torch.Tensor]]


class BatchPlans(dict):
    """Per-landscape cache: operation name -> (method, chunk size) chosen by calibration."""


def _sync(device: torch.device | None) -> None:
    if device is not None and device.type == "cuda":
        torch.cuda.synchronize(device)


def run_batched(rows: torch.Tensor, candidates: list[Candidate], *, plans: BatchPlans, op: str,
                mode: str, small: bool, device: torch.device | None = None,
                progress: bool | None = None, desc: str = "") -> torch.Tensor:
    """Evaluate ``rows`` (k, ...) with the fastest candidate (see the module docstring).

    Args:
        rows: the points or vectors, one per row.
        candidates: ``[("loop", 1, fn), ("vmap", c, fn), ...]``; the first is the loop,
            the second the default vectorised method.
        plans: the landscape's cache of choices.
        op: the operation's name in ``plans``.
        mode: ``"auto"``, ``"vmap"`` or ``"loop"``.
        small: whether a point costs little (then "auto" vectorises without timing).
        device: the landscape's device (CUDA timings synchronise).
        progress: progress bar (None: only on a terminal, after a few seconds).
        desc: progress bar label.
    """
    k = rows.shape[0]
    by_name = {(name, chunk): fn for name, chunk, fn in candidates}
    loop = candidates[0]
    vec = candidates[1] if len(candidates) > 1 else loop
    if mode == "loop":
        plan = (loop[0], loop[1])
    elif mode == "vmap" or small:
        plan = (vec[0], vec[1])
    else:
        plan = plans.get(op)
    out: list[torch.Tensor] = []
    done = 0
    if plan is not None and progress is not True and k <= plan[1]:  # one chunk: no bar, no overhead
        try:
            return by_name[plan](rows)
        except RuntimeError:
            if plan[0] == "loop":
                raise
            plans[op] = (loop[0], loop[1])
            return loop[2](rows)
    with progress_bar(k, desc, progress) as bar:
        if plan is None and k >= CALIBRATE_MIN:
            timings = {}
            for name, chunk, fn in candidates:
                size = LOOP_PROBE if name == "loop" else chunk
                if done + size > k:
                    break
                _sync(device)
                start = time.perf_counter()
                try:
                    result = fn(rows[done:done + size])
                except RuntimeError:  # an operation without a batched rule: not a candidate
                    continue
                _sync(device)
                timings[(name, chunk)] = (time.perf_counter() - start) / size
                out.append(result)
                done += size
                bar.update(size)
            plan = min(timings, key=timings.get) if timings else (loop[0], loop[1])
            plans[op] = plan
        elif plan is None:
            plan = (loop[0], loop[1])
        fn, chunk = by_name[plan], plan[1]
        for C in rows[done:].split(chunk) if done < k else ():
            try:
                out.append(fn(C))
            except RuntimeError:  # no batched rule for an operation of the model: loop for good
                if plan[0] == "loop":
                    raise
                plan = (loop[0], loop[1])
                plans[op] = plan
                fn = loop[2]
                out.append(fn(C))
            bar.update(C.shape[0])
    return torch.cat(out) if out else candidates[0][2](rows)
