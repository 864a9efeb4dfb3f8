"""Issue 21's docstring requirement as a test: every public function, method and class of the
packages listed in :data:`COMPLETE` has a docstring with its ``Args:``, ``Returns:`` and
``Raises:`` sections, one ``name: description`` entry per argument (a dataclass's fields as
``Attributes:`` or their own docstrings), as judged by ``scripts/docstring_coverage.py``
(griffe, nothing imported), and every docstring section of those packages parses (what
``mkdocs build --strict`` needs).

A package joins :data:`COMPLETE` once all its public names are documented; the test then keeps
it so."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Dotted names (packages or modules) whose every public name must be fully documented.
COMPLETE = [
    "valleys.errors",
    "valleys.optim",
    "valleys.results",
    "valleys.claims",
    "valleys.critical",
    "valleys.surface",
    "valleys.report",
    "valleys.record",
    "valleys.analysis",
    "valleys.cli",
    "valleys.paths",
    "valleys.expressivity",
    "valleys.runs",
    "valleys.basins",
    "valleys.literature",
    "valleys.experiments",
    "valleys.core",
    "valleys.curvature",
    "valleys.nets",
    "valleys.data",
    "valleys.train",
]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


coverage_script = _load(ROOT / "scripts" / "docstring_coverage.py", "docstring_coverage")


@pytest.fixture(scope="module")
def coverage():
    return coverage_script.check()


def _file_of(dotted: str) -> str:
    """The source path fragment of a dotted name (a package folder or a module file)."""
    relative = Path(*dotted.split("."))
    return str(relative) + ("/" if (ROOT / "src" / relative).is_dir() else ".py")


def test_complete_packages_exist():
    for dotted in COMPLETE:
        relative = ROOT / "src" / Path(*dotted.split("."))
        assert relative.is_dir() or relative.with_suffix(".py").is_file(), dotted


def test_every_public_name_of_the_complete_packages_is_documented(coverage):
    lacking = coverage.within(COMPLETE)
    listing = "\n".join(f"{path}: {', '.join(lacks)}" for path, lacks in sorted(lacking.items()))
    assert not lacking, f"{len(lacking)} public names lack docstring sections:\n{listing}"


def test_every_docstring_section_of_the_complete_packages_parses(coverage):
    fragments = [_file_of(dotted) for dotted in COMPLETE]
    unparsed = [m for m in coverage.unparsed if any(f in m for f in fragments)]
    assert not unparsed, "\n".join(unparsed)


def test_the_checker_reports_what_a_docstring_lacks(tmp_path):
    package = tmp_path / "synthetic"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent('''
        def documented(a, b):
            """Add two numbers.

            Args:
                a: the first.
                b: the second.

            Returns:
                Their sum.

            Raises:
                TypeError: if they cannot be added.
            """
            if a is None:
                raise TypeError("a must be a number")
            return a + b


        def no_args(a, b):
            """Add two numbers.

            Returns:
                Their sum.
            """
            return a + b


        def no_raises(a):
            """Check a number.

            Args:
                a: the number.
            """
            if a < 0:
                raise ValueError("a must be non-negative")


        def undocumented(a):
            return a


        def _private(a):
            return a


        def unparsable(a):
            """Broken.

            Args:
                a (int
            """


        def two_in_one(a, b, c):
            """Two arguments in one entry, one forgotten.

            Args:
                a, b: the numbers.
            """


        @dataclasses.dataclass
        class Pair:
            """A pair.

            Attributes:
                first: the first.
            """

            first: int
            second: int
            third: int = 0
            """The third, documented where it is declared."""
    '''))
    (package / "__init__.py").write_text("import dataclasses\n" + (package / "__init__.py").read_text())
    coverage = coverage_script.check("synthetic", [tmp_path])
    assert coverage.objects == 7
    assert coverage.lacking == {
        "synthetic.no_args": ["Args"],
        "synthetic.no_raises": ["Raises"],
        "synthetic.undocumented": ["docstring"],
        "synthetic.unparsable": ["Args"],
        "synthetic.two_in_one": ["Args of a, b, c", "Args entry 'a, b'"],
        "synthetic.Pair": ["Args of second"],
    }
    assert coverage.within(["synthetic.no_args"]) == {"synthetic.no_args": ["Args"]}
    assert coverage.within(["synthetic.no"]) == {}
    assert len(coverage.unparsed) == 1 and "__init__.py" in coverage.unparsed[0]


def test_every_public_package_is_complete():
    """Issue 21: every public function and class of valleys is documented, so every public
    subpackage and module of ``valleys`` is in :data:`COMPLETE` (a new one must join it)."""
    import pkgutil

    import valleys

    public = {f"valleys.{m.name}" for m in pkgutil.iter_modules(valleys.__path__) if not m.name.startswith("_")}
    assert public - set(COMPLETE) == set()
