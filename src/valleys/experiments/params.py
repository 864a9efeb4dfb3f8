"""Experiment parameters: a dataclass with full defaults, a quick preset and typed overrides."""

from __future__ import annotations

import dataclasses
import json
import typing
from dataclasses import dataclass
from typing import Any, ClassVar

from ..errors import InvalidParameterError


@dataclass(frozen=True)
class Params:
    """Base class of experiment parameters.

    Subclasses are frozen dataclasses whose defaults are the *full* preset and whose
    ``QUICK`` class variable holds the overrides of the *quick* preset (well under a
    minute on 2 cores). Every tolerance an experiment uses is a field, so it is stored
    with the run.
    """

    seed: int = 0
    QUICK: ClassVar[dict[str, Any]] = {}

    @classmethod
    def preset(cls, quick: bool = False) -> Params:
        """The full preset, or the quick one."""
        return cls(**cls.QUICK) if quick else cls()

    def replace(self, **changes) -> Params:
        """A copy with some fields changed (unknown names raise InvalidParameterError)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            msg = (f"Unknown parameter(s) {', '.join(unknown)} for {type(self).__name__}. "
                   f"Known: {', '.join(sorted(names))}.")
            raise InvalidParameterError(msg)
        return dataclasses.replace(self, **changes)

    def with_overrides(self, assignments: list[str]) -> Params:
        """Apply ``key=value`` strings, parsing each value by the field's type."""
        hints = typing.get_type_hints(type(self))
        changes = {}
        for item in assignments:
            if "=" not in item:
                msg = f"--set expects key=value. Got {item!r}."
                raise InvalidParameterError(msg)
            key, raw = item.split("=", 1)
            key = key.strip()
            if key not in {f.name for f in dataclasses.fields(self)}:
                known = ", ".join(f.name for f in dataclasses.fields(self))
                msg = f"Unknown parameter {key!r} for {type(self).__name__}. Known: {known}."
                raise InvalidParameterError(msg)
            changes[key] = parse_value(raw.strip(), hints[key], key)
        return self.replace(**changes)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def parse_value(raw: str, hint, key: str):
    """Parse ``raw`` as the type ``hint`` (int, float, bool, str or a tuple of those)."""
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
        msg = f"Parameter {key!r} must be of type {name}. Got {raw!r}."
        raise InvalidParameterError(msg) from None
