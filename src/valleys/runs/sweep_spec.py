"""What a sweep is: a named job, a grid of parameter values and seeds, expanded into tasks.

Everything here is plain data. A :class:`Task` is a job kind (``"experiment"``), a job
name, the full parameter dict and the module that registers the job; it crosses process
and machine boundaries as JSON-able values, never as a pickled closure. The whole grid is
parsed and every task's parameters validated before anything runs or is stored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameterError

EXPERIMENT = "experiment"
"""The task kind of a registered experiment (``valleys run NAME``)."""

SWEEP_PREFIX = "sweep-"
"""Every sweep id starts with this, so that ``valleys show`` can tell sweeps from runs."""

MAX_TASKS = 100_000
"""Largest number of tasks one sweep may expand to (a guard against typos like 0..1e9)."""

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_RANGE = re.compile(r"^\s*(-?\d+)\s*\.\.\s*(-?\d+)\s*$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Task:
    """One unit of work of a sweep, as plain data.

    Args:
        kind: the job kind (``"experiment"``; other kinds register with
            :func:`valleys.runs.sweep_task.register_task_kind`).
        name: the registered job name (e.g. the experiment name).
        module: the module that registers the job (imported by a worker that does not
            know the name yet; empty for jobs of the package itself).
        params: the full parameter dict (JSON types; tuples as lists), seed included.
        index: the task's position in the sweep (grid order, seeds innermost).
        point: the grid values of this task, key -> value, ``seed`` included.
    """

    kind: str
    name: str
    module: str
    params: dict[str, Any]
    index: int
    point: dict[str, Any]

    @property
    def key(self) -> str:
        """A content hash of (kind, name, params): the task's identity across resumes."""
        text = json.dumps([self.kind, self.name, self.params], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form sent to workers.

        Returns:
            Field name → value.
        """
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        """Rebuild a task from its :meth:`to_dict` (extra keys, such as the runner path, ignored).

        Args:
            data: the task dict.

        Returns:
            The :class:`Task`.
        """
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class SweepSpec:
    """A sweep as the user asked for it (what ``valleys sweep`` parses).

    Args:
        name: the job name (a registered experiment).
        grid: (key, values) pairs in the order given, values already typed.
        seeds: the seeds, each task is run once per seed.
        quick: start from the quick preset instead of the full one.
        fixed: ``key=value`` overrides applied to every task (``--set``).
        kind: the job kind.
    """

    name: str
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    seeds: tuple[int, ...]
    quick: bool = False
    fixed: tuple[str, ...] = ()
    kind: str = EXPERIMENT

    @property
    def sweep_id(self) -> str:
        """``sweep-<name>-<hash>``: the same command always names the same sweep (resume)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()[:10]
        safe = _UNSAFE.sub("_", self.name).strip("._") or "job"
        return f"{SWEEP_PREFIX}{safe}-{digest}"

    @property
    def n_tasks(self) -> int:
        n = len(self.seeds)
        for _, values in self.grid:
            n *= len(values)
        return n

    @property
    def grid_keys(self) -> list[str]:
        return [k for k, _ in self.grid]

    def to_dict(self) -> dict[str, Any]:
        """The spec as JSON-able data (stored with the sweep).

        Returns:
            A dict with ``kind``, ``name``, ``quick``, ``fixed``, ``seeds`` and ``grid`` (a list of
            ``[key, values]`` pairs, values as plain JSON).
        """
        return {"kind": self.kind, "name": self.name, "quick": self.quick,
                "fixed": list(self.fixed), "seeds": list(self.seeds),
                "grid": [[k, [_plain(v) for v in values]] for k, values in self.grid]}


def parse_seeds(text: str) -> tuple[int, ...]:
    """``"0..9"`` (inclusive), ``"0,3,7"`` or a mix ``"0..4,10"`` -> distinct seeds in order.

    Args:
        text: the ``--seeds`` value.

    Returns:
        The seeds, in the order given.

    Raises:
        InvalidParameterError: bad syntax, a negative seed, an empty range or a repeat.
    """
    seeds: list[int] = []
    parts = [p for p in str(text).split(",")]
    if not str(text).strip() or any(not p.strip() for p in parts):
        msg = f"--seeds expects a range like 0..9 or a list like 0,1,5. Got {text!r}."
        raise InvalidParameterError(msg)
    for part in parts:
        match = _RANGE.match(part)
        if match:
            lo, hi = int(match.group(1)), int(match.group(2))
            if hi < lo:
                msg = f"--seeds range {part.strip()!r} is empty (the end is below the start)."
                raise InvalidParameterError(msg)
            if hi - lo + 1 > MAX_TASKS:
                msg = f"--seeds range {part.strip()!r} has more than {MAX_TASKS} seeds."
                raise InvalidParameterError(msg)
            seeds.extend(range(lo, hi + 1))
            continue
        try:
            seeds.append(int(part.strip()))
        except ValueError:
            msg = f"--seeds expects integers, a range like 0..9 or a list like 0,1,5. Got {text!r}."
            raise InvalidParameterError(msg) from None
    if any(s < 0 for s in seeds):
        msg = f"Seeds must be >= 0. Got {text!r}."
        raise InvalidParameterError(msg)
    if len(set(seeds)) != len(seeds):
        msg = f"--seeds {text!r} names a seed twice. Give each seed once."
        raise InvalidParameterError(msg)
    return tuple(seeds)


def split_values(raw: str) -> list[str]:
    """Split ``v1,v2,...`` at the commas outside brackets, so ``(8,8),(16,16)`` is two values.

    Args:
        raw: the values' text.

    Returns:
        The values as stripped texts.

    Raises:
        InvalidParameterError: if the brackets do not balance.
    """
    values, depth, current = [], 0, []
    for char in raw:
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
            if depth < 0:
                break
        if char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if depth != 0:
        msg = f"Unbalanced brackets in grid values {raw!r}. Write tuples as (8,8),(16,16)."
        raise InvalidParameterError(msg)
    values.append("".join(current).strip())
    return values


def parse_grid(items: list[str], params_cls: type, base: Any = None) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    """Parse ``--grid key=v1,v2`` items into typed (key, values) pairs.

    Each value is parsed by :meth:`Params.with_overrides`, so it follows exactly the
    rules of ``valleys run --set``.

    Args:
        items: the ``--grid`` strings in command-line order.
        params_cls: the job's :class:`~valleys.experiments.Params` class.
        base: the parameters the values are parsed against (default ``params_cls()``; give
            one for classes without a valid default, such as the analyze parameters).

    Raises:
        InvalidParameterError: missing ``=``, an empty value list, an unknown key, a key
            given twice, ``seed`` in the grid, a value of the wrong type, a repeated value.

    Returns:
        ``(key, values)`` pairs in command-line order, values typed like the field.
    """
    base = params_cls() if base is None else base
    grid: list[tuple[str, tuple[Any, ...]]] = []
    seen: set[str] = set()
    for item in items:
        if "=" not in item:
            msg = f"--grid expects key=v1,v2,... Got {item!r}."
            raise InvalidParameterError(msg)
        key, raw = (s.strip() for s in item.split("=", 1))
        if not _KEY.fullmatch(key):
            msg = f"--grid expects key=v1,v2,... with a parameter name as key. Got {item!r}."
            raise InvalidParameterError(msg)
        if key == "seed":
            msg = "Sweep seeds with --seeds (e.g. --seeds 0..9), not --grid seed=..."
            raise InvalidParameterError(msg)
        if key in seen:
            msg = f"--grid key {key!r} is given twice. Put all its values in one --grid."
            raise InvalidParameterError(msg)
        texts = split_values(raw)
        if not raw or any(t == "" for t in texts):
            msg = f"--grid {key}= has an empty value list or an empty value. Got {item!r}."
            raise InvalidParameterError(msg)
        values = tuple(getattr(base.with_overrides([f"{key}={t}"]), key) for t in texts)
        if len(set(map(_hashable, values))) != len(values):
            msg = f"--grid {key} repeats a value ({raw}). Give each value once."
            raise InvalidParameterError(msg)
        seen.add(key)
        grid.append((key, values))
    return tuple(grid)


def expand(spec: SweepSpec, params_cls: type, module: str = "", base: Any = None) -> list[Task]:
    """Every task of ``spec`` (grid points in order, seeds innermost), each validated.

    Args:
        spec: the sweep.
        params_cls: the job's Params class.
        module: the module that registers the job ("" for the package's own).
        base: the parameters every task starts from (default: the spec's preset with its
            ``fixed`` overrides).

    Raises:
        InvalidParameterError: the sweep is empty or too large, or some task's parameters
            are invalid (the message names the grid point).

    Returns:
        One :class:`Task` per grid point and seed, ``index`` counting from 0.
    """
    if spec.n_tasks == 0:
        raise InvalidParameterError("The sweep has no tasks. Give --grid values and --seeds.")
    if spec.n_tasks > MAX_TASKS:
        msg = f"The sweep expands to {spec.n_tasks} tasks, more than {MAX_TASKS}. Use a smaller grid."
        raise InvalidParameterError(msg)
    if base is None:
        base = params_cls.preset(spec.quick).with_overrides(list(spec.fixed))
    keys = spec.grid_keys
    tasks = []
    combos = itertools.product(*[values for _, values in spec.grid]) if keys else [()]
    for combo in combos:
        point = dict(zip(keys, combo, strict=True))
        for seed in spec.seeds:
            seeded = _build(base, point, seed)
            _validate(seeded, {**point, "seed": seed})
            tasks.append(Task(spec.kind, spec.name, module, seeded.to_dict(), len(tasks),
                              {**{k: _plain(v) for k, v in point.items()}, "seed": seed}))
    keys_seen = {t.key for t in tasks}
    if len(keys_seen) != len(tasks):
        raise InvalidParameterError("Two grid points give the same parameters. Remove the repeat.")
    return tasks


def _build(base: Any, point: dict[str, Any], seed: int) -> Any:
    """The parameters of one task; the declared limits are checked as they are built."""
    try:
        return base.replace(**point, seed=seed)
    except InvalidParameterError as exc:
        where = ", ".join(f"{k}={_plain(v)}" for k, v in {**point, "seed": seed}.items())
        msg = f"Grid point {where}: {exc}"
        raise InvalidParameterError(msg) from None


def _validate(params: Any, point: dict[str, Any]) -> None:
    """Run the Params class's own checks (``validate()``, where the class has one)."""
    check = getattr(params, "validate", None)
    if not callable(check):
        return
    try:
        check()
    except InvalidParameterError as exc:
        where = ", ".join(f"{k}={_plain(v)}" for k, v in point.items())
        msg = f"Grid point {where}: {exc}"
        raise InvalidParameterError(msg) from None


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _hashable(value: Any) -> Any:
    return json.dumps(_plain(value), sort_keys=True)
