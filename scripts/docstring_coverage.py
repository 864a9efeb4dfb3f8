"""Which public names of valleys lack a docstring or its Args / Returns / Raises sections.

Reads the source with griffe (nothing is imported). A public name is a function, method or
class of a public module (no ``_`` in its dotted path below ``valleys``) whose own name does
not start with ``_``; aliases (re-exports) are counted once, where they are defined.

* no docstring;
* no ``Args:`` section although the callable takes parameters (``self``/``cls`` aside; a
  class is judged by its ``__init__`` when the class docstring has no Args/Attributes);
* a parameter without its own ``name: description`` entry (``Args of x, y``; a class's
  fields may instead have their own attribute docstrings), or, for a function, an entry
  that names no parameter (``Args entry 'x, y'``: two arguments in one entry);
* no ``Returns:`` (or ``Yields:``) section although the function returns a value (its
  annotation is not ``None``, or, unannotated, its body has a ``return <value>``);
* no ``Raises:`` section although the body raises.

Also lists the docstring sections griffe cannot parse (what the docs build reports as
"could not parse"). Usage: ``python scripts/docstring_coverage.py [--list]``; prints the
counts (and with ``--list`` every name), exits 0. :func:`check` returns the same as data
(tests/test_docstrings.py asserts on it).
"""

from __future__ import annotations

import ast
import dataclasses
import logging
import sys
from collections import Counter
from pathlib import Path

import griffe

ROOT = Path(__file__).resolve().parents[1]
SECTION_KINDS = {"parameters": "Args", "returns": "Returns", "yields": "Returns", "raises": "Raises",
                 "attributes": "Args"}


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def _sections(obj) -> set[str]:
    if obj.docstring is None:
        return set()
    parsed = obj.docstring.parse("google", warn_missing_types=False, warn_unknown_params=False)
    return {SECTION_KINDS[s.kind.value] for s in parsed if s.kind.value in SECTION_KINDS}


def _body(obj) -> ast.AST | None:
    try:
        source = obj.source
    except Exception:  # noqa: BLE001 - builtins or generated objects have no source
        return None
    import textwrap

    try:
        return ast.parse(textwrap.dedent(source))
    except SyntaxError:
        return None


def _returns_value(func) -> bool:
    if func.returns is not None:
        return str(func.returns) not in ("None", "NoReturn")
    tree = _body(func)
    if tree is None:
        return False
    nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.Lambda)) and f is not tree.body[0]
              for n in ast.walk(f)}
    return any(isinstance(n, ast.Return) and n.value is not None and id(n) not in nested for n in ast.walk(tree))


def _raises(func) -> bool:
    tree = _body(func)
    return tree is not None and any(isinstance(n, ast.Raise) for n in ast.walk(tree))


def _params(func) -> list[str]:
    return [p.name for p in func.parameters if p.name not in ("self", "cls")]


def _documented(obj) -> set[str]:
    """The names of the Args / Attributes entries of ``obj``'s docstring (stars stripped)."""
    if obj.docstring is None:
        return set()
    parsed = obj.docstring.parse("google", warn_missing_types=False, warn_unknown_params=False)
    return {p.name.lstrip("*") for s in parsed if s.kind.value in ("parameters", "attributes", "other parameters")
            for p in s.value}


def _entries(obj, func, documented: set[str], *, unknown: bool) -> list[str]:
    """``Args of <names>`` for parameters without an entry, ``Args entry <name>`` for an entry
    that names no parameter (``a, b: ...`` is not one entry per argument)."""
    names = [p.name for p in func.parameters]
    out = []
    undocumented = [n for n in _params(func) if n not in documented]
    if undocumented:
        out.append(f"Args of {', '.join(undocumented)}")
    if unknown:
        out += [f"Args entry {n!r}" for n in sorted(documented - set(names))]
    return out


def missing(obj) -> list[str]:
    """What the docstring of ``obj`` (a griffe function or class) lacks.

    Args:
        obj: a griffe function or class.

    Returns:
        ``"docstring"``, or the sections it lacks (``"Args"``, ``"Returns"``, ``"Raises"``),
        parameters without an entry (``"Args of x, y"``) and, for functions, entries that
        name no parameter (``"Args entry 'x, y'"``).
    """
    if obj.docstring is None:
        return ["docstring"]
    have = _sections(obj)
    lacks = []
    if obj.is_class:
        init = obj.members.get("__init__")
        if init is not None and not init.is_alias and _params(init):
            if "Args" not in have and "Args" not in _sections(init):
                lacks.append("Args")
            else:
                own = {name for name, m in obj.members.items()  # fields with their own docstring
                       if not m.is_alias and m.is_attribute and m.docstring is not None}
                lacks += _entries(obj, init, _documented(obj) | _documented(init) | own, unknown=False)
        return lacks
    if _params(obj) and "Args" not in have:
        lacks.append("Args")
    elif _params(obj) or "Args" in have:
        lacks += _entries(obj, obj, _documented(obj), unknown=True)
    if "property" not in obj.labels and _returns_value(obj) and "Returns" not in have:
        lacks.append("Returns")
    if _raises(obj) and "Raises" not in have:
        lacks.append("Raises")
    return lacks


def public_objects(module) -> list:
    out = []
    for member in module.members.values():
        if member.is_alias or member.name.startswith("_"):
            continue
        if member.is_module:
            out.extend(public_objects(member))
        elif member.is_function or member.is_class:
            out.append(member)
            if member.is_class:
                out.extend(m for m in member.members.values() if not m.is_alias and m.is_function
                           and not m.name.startswith("_"))
    return out


@dataclasses.dataclass
class Coverage:
    """What the checker found in one package.

    Attributes:
        objects: number of public functions, methods and classes checked.
        lacking: dotted path → what its docstring lacks, for every public name that lacks
            something (``"docstring"``, ``"Args"``, ``"Returns"``, ``"Raises"``).
        unparsed: the messages of the docstring sections griffe cannot parse.
    """

    objects: int
    lacking: dict[str, list[str]]
    unparsed: list[str]

    def within(self, prefixes) -> dict[str, list[str]]:
        """The lacking names under some dotted prefixes.

        Args:
            prefixes: dotted names (``"valleys.paths"``, ``"valleys.results"``); a name is under
                a prefix when it equals it or continues it with a dot.

        Returns:
            The entries of :attr:`lacking` whose path is under one of ``prefixes``.
        """
        return {path: lacks for path, lacks in self.lacking.items()
                if any(path == p or path.startswith(p + ".") for p in prefixes)}


def check(package: str = "valleys", search_paths=None) -> Coverage:
    """Check every public name of a package (read with griffe, nothing imported).

    Args:
        package: the top-level package name.
        search_paths: folders to find it in; default the repository's ``src``.

    Returns:
        The :class:`Coverage` of the package.
    """
    handler = _Collect()
    logger = logging.getLogger("griffe")
    logger.addHandler(handler)
    try:
        paths = [str(p) for p in (search_paths or [ROOT / "src"])]
        loaded = griffe.load(package, search_paths=paths, docstring_parser="google")
        objects = public_objects(loaded)
        for obj in objects:  # parsing logs the sections griffe cannot read
            if obj.docstring is not None:
                obj.docstring.parse("google", warn_missing_types=False, warn_unknown_params=False)
        report = {obj.path: missing(obj) for obj in objects}
    finally:
        logger.removeHandler(handler)
    lacking = {path: lacks for path, lacks in report.items() if lacks}
    return Coverage(len(objects), lacking, sorted(set(handler.messages)))


def main(argv: list[str]) -> int:
    coverage = check()
    lacking = coverage.lacking
    counts = Counter(item for lacks in lacking.values() for item in lacks)
    print(f"{coverage.objects} public functions, methods and classes; {len(lacking)} lack something:")
    for item in ("docstring", "Args", "Returns", "Raises"):
        print(f"  {item:9s} missing: {counts[item]}")
    entries = sum(1 for lacks in lacking.values() if any(x.startswith("Args ") for x in lacks))
    print(f"  Args entries missing or naming no parameter: {entries}")
    print(f"  docstring sections griffe cannot parse: {len(coverage.unparsed)}")
    if "--list" in argv:
        for path, lacks in sorted(lacking.items()):
            print(f"{path}: {', '.join(lacks)}")
        for message in coverage.unparsed:
            print(f"unparsed: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
