"""Parameters of an experiment or analysis: a dataclass with full defaults, a quick preset, typed overrides and
declared limits checked before anything runs.

Each ``Params`` subclass declares the constraint of every field (except ``seed``) in
``LIMITS``, a mapping from field name to comma-separated clauses:

- ``>= x``, ``> x``, ``<= x``, ``< x``: numeric bounds;
- ``in [a, b]``: the closed interval;
- ``nonempty``: a tuple or string with at least one element;
- ``one of a|b|c``: one of the listed words.

Numeric and ``one of`` clauses apply to each element of a tuple. Independently of
``LIMITS``, every float (and every float element of a tuple) must be finite, fields must
have their declared type (int, float, bool, str or a tuple of those), and ``seed`` must be
an int in [0, 2^63). What ``LIMITS`` cannot say (a string entry with structure, such as
the hidden widths ``"6-2"``) a subclass checks in :meth:`Params.validate`, by parsing every
element with the parser the experiment itself uses. A violation raises
:class:`InvalidParameterError` with one line naming the experiment and the parameter, when
the instance is built: presets, ``--set``, ``--seed`` and :meth:`Params.replace` are all
checked before a run is created.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import re
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import InvalidParameterError

SEED_LIMIT = 2 ** 63
"""Seeds are ints in [0, 2^63) (what ``torch.Generator.manual_seed`` accepts unchanged)."""

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf"
_BOUND = re.compile(rf"^(>=|<=|>|<)\s*({_NUMBER})$")
_INTERVAL = re.compile(rf"^in\s*\[\s*({_NUMBER})\s*,\s*({_NUMBER})\s*\]$")
_ONE_OF = re.compile(r"^one of\s+(\S+)$")
_OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Limit:
    """One parsed clause of a ``LIMITS`` entry.

    Attributes:
        kind: ``"bound"``, ``"interval"``, ``"nonempty"`` or ``"one_of"``.
        text: the clause as written (used in error messages).
        op: the comparison of a bound (``>=``, ``>``, ``<=``, ``<``).
        low: the bound of a ``bound`` clause (whatever its ``op``), or the interval's
            lower end.
        high: the interval's upper end (unused by a bound).
        choices: the allowed words of ``one of``.
    """

    kind: str
    text: str
    op: str = ""
    low: float = -math.inf
    high: float = math.inf
    choices: tuple[str, ...] = ()

    def violation(self, value) -> str | None:
        """Why ``value`` breaks this clause (None when it satisfies it).

        A tuple or list value must satisfy the clause in every element (``nonempty`` aside,
        which applies to the sequence itself).

        Args:
            value: a parameter's value.

        Returns:
            The reason, e.g. ``"must be >= 1"``, or None.
        """
        if self.kind == "nonempty":
            ok = isinstance(value, tuple | list | str) and len(value) > 0
            return None if ok else f"must be nonempty ({self.text})"
        items = value if isinstance(value, tuple | list) else (value,)
        for item in items:
            if self.kind == "one_of":
                if str(item) not in self.choices:
                    return f"must be one of {', '.join(self.choices)}"
                continue
            if isinstance(item, bool) or not isinstance(item, int | float):
                return f"must be a number ({self.text})"
            ok = (_OPS[self.op](item, self.low) if self.kind == "bound"
                  else self.low <= item <= self.high)
            if not ok:
                where = "every element " if isinstance(value, tuple | list) else ""
                return f"{where}must be {self.text}"
        return None


def parse_limits(spec: str) -> tuple[Limit, ...]:
    """Parse one ``LIMITS`` entry such as ``"nonempty, >= 1"`` into its clauses.

    Args:
        spec: comma-separated clauses: ``'>= x'``, ``'> x'``, ``'<= x'``, ``'< x'``,
            ``'in [a, b]'``, ``'nonempty'``, ``'one of a|b|c'``.

    Returns:
        The :class:`Limit` of each clause, in order.

    Raises:
        ValueError: for a clause outside the grammar or an empty interval (a programming
            error of the experiment, reported when its module is imported).
    """
    clauses = [c.strip() for c in re.split(r",(?![^\[]*\])", spec)]
    out = []
    for clause in clauses:
        if m := _BOUND.match(clause):
            out.append(Limit("bound", clause, op=m.group(1), low=float(m.group(2))))
        elif m := _INTERVAL.match(clause):
            low, high = float(m.group(1)), float(m.group(2))
            if low > high:
                raise ValueError(f"Empty interval in LIMITS clause {clause!r}.")
            out.append(Limit("interval", clause, low=low, high=high))
        elif clause == "nonempty":
            out.append(Limit("nonempty", clause))
        elif m := _ONE_OF.match(clause):
            out.append(Limit("one_of", clause, choices=tuple(m.group(1).split("|"))))
        else:
            msg = (f"Unknown LIMITS clause {clause!r} in {spec!r}. Clauses: '>= x', '> x', "
                   f"'<= x', '< x', 'in [a, b]', 'nonempty', 'one of a|b|c'.")
            raise ValueError(msg)
    return tuple(out)


@dataclass(frozen=True)
class Params:
    """Base class of experiment parameters.

    Subclasses are frozen dataclasses whose defaults are the *full* preset and whose
    ``QUICK`` class variable holds the overrides of the *quick* preset (a few seconds on
    one core). Every tolerance an experiment uses is a field, so it is stored with the run.
    ``LIMITS`` declares each field's constraint (see the module docstring); instances
    that break it cannot be built.

    Attributes:
        seed: the seed of every random draw of the experiment.

    Raises:
        InvalidParameterError: when built with a value that breaks ``LIMITS`` or the
            subclass's ``validate``.
    """

    seed: int = 0
    QUICK: ClassVar[dict[str, Any]] = {}
    LIMITS: ClassVar[dict[str, str]] = {}
    EXPERIMENT: ClassVar[str] = ""
    """The registered experiment name (set by ``@experiment``), used in error messages."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        try:
            cls._PARSED = {key: parse_limits(spec) for key, spec in cls.LIMITS.items()}
        except ValueError as exc:
            raise ValueError(f"{cls.__name__}.LIMITS: {exc}") from None

    def __post_init__(self):
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, list):
                value = tuple(value)
                object.__setattr__(self, f.name, value)
            problem = self._problem(f.name, value)
            if problem:
                got = value if not isinstance(value, str) else repr(value)
                msg = f"{self._owner()} parameter {f.name} {problem}. Got {got}."
                raise InvalidParameterError(_one_line(msg))
        try:
            self.validate()
        except InvalidParameterError as exc:
            text, owner = _one_line(str(exc)), self._owner()
            raise InvalidParameterError(text if text.startswith(owner) else f"{owner} {text}") \
                from None

    def validate(self) -> None:
        """Checks beyond ``LIMITS``, run whenever an instance is built (none here).

        Subclasses parse every element of a structured parameter here (with the same
        parser the experiment uses), so that a bad entry is refused before anything runs.

        Raises:
            InvalidParameterError: a parameter the experiment could not use.
        """

    @classmethod
    def _owner(cls) -> str:
        return f"{cls.EXPERIMENT}:" if cls.EXPERIMENT else f"{cls.__name__}:"

    @classmethod
    def limits(cls) -> dict[str, tuple[Limit, ...]]:
        """The parsed ``LIMITS`` of this class, by field name.

        Returns:
            Field name → its :class:`Limit` clauses (a copy).
        """
        return dict(getattr(cls, "_PARSED", {}))

    def _problem(self, name: str, value) -> str | None:
        hint = field_types(type(self)).get(name)
        problem = _type_problem(value, hint)
        if problem:
            return problem
        items = value if isinstance(value, tuple) else (value,)
        if any(isinstance(v, float) and not math.isfinite(v) for v in items):
            return "must be finite"
        if name == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < SEED_LIMIT:
                return "must be an int in [0, 2^63)"
        for limit in self.limits().get(name, ()):
            why = limit.violation(value)
            if why:
                return why
        return None

    @classmethod
    def preset(cls, quick: bool = False) -> Params:
        """The full preset, or the quick one.

        Args:
            quick: build the quick preset (the defaults overridden by ``QUICK``).

        Returns:
            An instance of the class.
        """
        return cls(**cls.QUICK) if quick else cls()

    def replace(self, **changes) -> Params:
        """A copy with some fields changed (unknown names raise InvalidParameterError).

        Args:
            **changes: field name → new value.

        Returns:
            A new instance (checked against the limits like any other).

        Raises:
            InvalidParameterError: if a name is not a field, or a value breaks the limits.
        """
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            msg = (f"{self._owner()} unknown parameter(s) {', '.join(unknown)}. "
                   f"Known: {', '.join(sorted(names))}.")
            raise InvalidParameterError(msg)
        return dataclasses.replace(self, **changes)

    def with_overrides(self, assignments: list[str]) -> Params:
        """Apply ``key=value`` strings, parsing each value by the field's type.

        Args:
            assignments: ``key=value`` texts (``--set`` of the CLI); a tuple field takes
                comma-separated values.

        Returns:
            A new instance with the changes.

        Raises:
            InvalidParameterError: if an item has no ``=``, names an unknown field, or its value
                does not parse as the field's type or breaks the limits.
        """
        hints = field_types(type(self))
        changes = {}
        for item in assignments:
            if "=" not in item:
                msg = f"--set expects key=value. Got {item!r}."
                raise InvalidParameterError(msg)
            key, raw = item.split("=", 1)
            key = key.strip()
            if key not in {f.name for f in dataclasses.fields(self)}:
                known = ", ".join(f.name for f in dataclasses.fields(self))
                msg = f"{self._owner()} unknown parameter {key!r}. Known: {known}."
                raise InvalidParameterError(msg)
            try:
                changes[key] = parse_value(raw.strip(), hints[key], key)
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"{self._owner()} {exc}") from None
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as plain JSON-able values.

        Returns:
            Field name → value (tuples as lists).
        """
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        """The fields as one line of JSON.

        Returns:
            The JSON text of :meth:`to_dict`, keys sorted.
        """
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Params:
        """Rebuild an instance from its :meth:`to_dict` (lists become tuples where typed so).

        Args:
            data: field name → value, exactly the class's fields.

        Returns:
            The instance.

        Raises:
            InvalidParameterError: a field is missing or unknown, or a value breaks the limits.
        """
        names = [f.name for f in dataclasses.fields(cls)]
        if set(names) != set(data):
            msg = (f"Task parameters do not match {cls.__name__}: missing "
                   f"{sorted(set(names) - set(data))}, unknown {sorted(set(data) - set(names))}.")
            raise InvalidParameterError(msg)
        hints = field_types(cls)
        values = {}
        for name in names:
            value = data[name]
            if typing.get_origin(hints[name]) is tuple and isinstance(value, list):
                value = tuple(value)
            values[name] = value
        return cls(**values)


_HINTS: dict[type, dict[str, Any]] = {}


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type hints of a ``Params`` class, by field name (cached).

    Args:
        cls: a :class:`Params` subclass.

    Returns:
        Field name → its resolved type.
    """
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


_hints = field_types  # the former private name


def _type_problem(value, hint) -> str | None:
    """Why ``value`` is not of the simple type ``hint`` (None if it is or hint is not simple)."""
    if typing.get_origin(hint) is tuple:
        if not isinstance(value, tuple):
            return "must be a tuple"
        args = [a for a in typing.get_args(hint) if a is not Ellipsis]
        inner = args[0] if len(args) == 1 else None
        for item in value:
            problem = _type_problem(item, inner)
            if problem:
                return problem.replace("must be", "must hold only", 1)
        return None
    name = {int: "int", float: "float", bool: "bool", str: "str"}.get(hint)
    if name is None:
        return None
    ok = {int: lambda v: isinstance(v, int) and not isinstance(v, bool),
          float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
          bool: lambda v: isinstance(v, bool),
          str: lambda v: isinstance(v, str)}[hint](value)
    return None if ok else f"must be {'an' if name == 'int' else 'a'} {name}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def parse_value(raw: str, hint, key: str):
    """Parse ``raw`` as the type ``hint`` (int, float, bool, str or a tuple of those).

    Booleans accept ``1/true/yes/on`` and ``0/false/no/off``; a tuple is comma-separated,
    optionally in brackets or parentheses.

    Args:
        raw: the text.
        hint: the target type.
        key: the parameter's name, for the error message.

    Returns:
        The parsed value.

    Raises:
        InvalidParameterError: if the text does not parse as the type.
    """
    origin = typing.get_origin(hint)
    if origin is tuple:
        args = typing.get_args(hint)
        inner = args[0] if args else str
        parts = [p for p in raw.strip("()[] ").split(",") if p.strip()]
        return tuple(parse_value(p.strip(), inner, key) for p in parts)
    try:
        if hint is bool:
            low = raw.lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if hint is int:
            return int(raw)
        if hint is float:
            return float(raw)
        return raw
    except ValueError:
        name = getattr(hint, "__name__", str(hint))
        msg = f"parameter {key} must be of type {name}. Got {raw!r}."
        raise InvalidParameterError(msg) from None
