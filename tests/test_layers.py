"""The house's floors: no module imports a higher layer or another package's private module.

Every ``import`` of ``valleys`` code is read from the source, function-local imports
included (``if TYPE_CHECKING:`` blocks excluded, since they never run). Each module is
mapped to its layer by its top-level package; an import is *upward* when the imported
package sits on a higher floor, and *sideways* when it is another package of the same floor.
Both are violations, as is importing another package's private (``_name``) module.

``KNOWN_VIOLATIONS`` lists the violations that existed when this test was written: the
restructuring removes them one by one and must delete each entry as it goes (the test
fails on an entry that no longer occurs, so the list can only shrink).
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "valleys"

#: Floors from bottom to top; packages on one floor may not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "_validation", "_progress", "_blas", "_atomic", "_deprecations", "__version__", "results",
     "claims"),
    ("core",),
    ("nets", "data"),
    ("curvature",),
    ("optim",),
    ("train",),
    ("critical",),
    ("paths", "surface", "basins", "expressivity"),
    ("literature",),
    ("record",),
    ("experiments", "analysis"),
    ("runs",),
    ("report",),
    ("cli", "__main__"),
)
#: Floors whose modules form one package: they may import each other.
ONE_PACKAGE_FLOORS = frozenset({0, len(LAYERS) - 1})
#: Imports forbidden although they point downwards: the run store runs anything with a name,
#: params and ``run()``; it never names the experiments or the analysis (they register
#: themselves as task kinds from the application layer).
FORBIDDEN: dict[str, frozenset[str]] = {"runs": frozenset({"experiments", "analysis"})}
#: The package facade ``valleys/__init__.py`` re-exports from every floor.
FACADE = "valleys"
FLOOR = {package: level for level, packages in enumerate(LAYERS) for package in packages}

#: (importing module, imported module) pairs present when the test was written, each deleted
#: as the restructuring removed it: none is left.
KNOWN_VIOLATIONS: frozenset[tuple[str, str]] = frozenset()


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    return skipped


def imported_modules(path: Path, root: Path = SRC) -> list[str]:
    """Every ``valleys`` module (or module attribute) imported anywhere in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    skipped = _type_checking_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.split(".")[0] == "valleys"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "valleys":
                found += [f"{target}.{alias.name}" for alias in node.names]
    return found


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else FACADE


def is_private_of_other(importer: str, imported: str) -> bool:
    inner = imported.split(".")[2:]
    return top_package(importer) != top_package(imported) and any(
        part.startswith("_") and not part.startswith("__") for part in inner[:-1])


def violations(root: Path = SRC) -> set[tuple[str, str]]:
    """(importing module, imported module) pairs that break the floors, under ``root``."""
    found = set()
    for path in sorted(root.rglob("*.py")):
        importer = module_name(path, root)
        source = top_package(importer)
        if source == FACADE:
            continue
        for imported in imported_modules(path, root):
            target = top_package(imported)
            if target in (source, FACADE) and target != FACADE:
                continue
            upward = FLOOR[target] > FLOOR[source] if target != FACADE else True
            sideways = (target != source and FLOOR.get(target) == FLOOR[source]
                        and FLOOR[source] not in ONE_PACKAGE_FLOORS)
            forbidden = target in FORBIDDEN.get(source, ())
            module = imported.rsplit(".", 1)[0] if imported.count(".") > 1 else imported
            if upward or sideways or forbidden or is_private_of_other(importer, imported):
                found.add((importer, module))
    return found


def test_every_package_has_a_floor():
    packages = {top_package(module_name(p)) for p in SRC.rglob("*.py")} - {FACADE}
    assert packages <= set(FLOOR), f"give these packages a floor in LAYERS: {packages - set(FLOOR)}"


def test_no_new_upward_sideways_or_private_import():
    new = violations() - KNOWN_VIOLATIONS
    assert not new, "imports that break the layers:\n" + "\n".join(f"  {a} -> {b}" for a, b in sorted(new))


def test_known_violations_only_shrink():
    gone = KNOWN_VIOLATIONS - violations()
    assert not gone, "delete these fixed entries from KNOWN_VIOLATIONS:\n" + "\n".join(
        f"  {a} -> {b}" for a, b in sorted(gone))


def test_the_reader_catches_function_local_upward_and_private_imports(tmp_path):
    root = tmp_path / "valleys"
    for package in ("core", "report", "curvature", "critical"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("", encoding="utf-8")
    (root / "core" / "probe.py").write_text(
        "def f():\n    from ..report import html\n    return html\n", encoding="utf-8")
    (root / "critical" / "probe.py").write_text(
        "from ..curvature._record import Record\n"
        "if TYPE_CHECKING:\n    from ..report import page\n", encoding="utf-8")
    assert violations(root) == {("valleys.core.probe", "valleys.report"),
                                ("valleys.critical.probe", "valleys.curvature._record")}
