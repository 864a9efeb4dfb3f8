"""One API-reference page per public ``valleys`` subpackage or top-level module.

The package list is read from the source tree at build time, so a package added by a
restructuring gets its page without an edit here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import mkdocs_gen_files

SRC = Path(__file__).resolve().parents[2] / "src" / "valleys"
#: Top-level modules that are no part of the public API (entry points, wiring).
SKIP = {"__main__"}


def public_modules(root: Path = SRC) -> list[str]:
    """The names of the public subpackages and top-level modules of ``valleys``, sorted."""
    names = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith("_"):
            continue
        if entry.is_dir() and (entry / "__init__.py").exists():
            names.append(entry.name)
        elif entry.suffix == ".py" and entry.stem not in SKIP:
            names.append(entry.stem)
    return names


def summary_line(name: str, root: Path = SRC) -> str:
    """The first line of the docstring of ``valleys.<name>`` (read from the source, not imported)."""
    path = root / name / "__init__.py" if (root / name).is_dir() else root / f"{name}.py"
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0].replace("|", "\\|") if doc.strip() else ""


nav = mkdocs_gen_files.Nav()
with mkdocs_gen_files.open("reference/index.md", "w") as page:
    page.write("# API reference\n\nGenerated from the docstrings, one page per subpackage.\n\n")
    page.write("::: valleys\n    options:\n      show_submodules: false\n      show_root_heading: false\n\n")
    page.write("| page | what it holds |\n|---|---|\n")
    for name in public_modules():
        page.write(f"| [`valleys.{name}`]({name}.md) | {summary_line(name)} |\n")
nav["valleys"] = "index.md"
for name in public_modules():
    with mkdocs_gen_files.open(f"reference/{name}.md", "w") as page:
        page.write(f"::: valleys.{name}\n    options:\n      heading_level: 1\n")
    nav[f"valleys.{name}"] = f"{name}.md"

with mkdocs_gen_files.open("reference/SUMMARY.md", "w") as summary:
    summary.writelines(nav.build_literate_nav())
