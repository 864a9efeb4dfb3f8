"""The examples gallery: every ``examples/example_*.py`` is executed at build time (two at a
time), and its page shows the script, what it printed and the figures it wrote.

A script that exits with a non-zero status stops the build. Each script writes its figures
to ``$VALLEYS_EXAMPLE_OUT`` (a fresh temporary folder here); ``VALLEYS_EXAMPLE_QUICK=1``
(used by ``tests/test_examples.py``) shrinks its sizes.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("example_*.py"))
#: Seconds one example may take at build time (each is meant to take well under a minute).
TIMEOUT = 600


def run_example(script: Path) -> tuple[str, dict[str, bytes]]:
    """Run ``script`` in a temporary folder; its output (stdout, then stderr) and figures.

    Raises:
        RuntimeError: the script failed or ran past :data:`TIMEOUT`.
    """
    with tempfile.TemporaryDirectory(prefix=f"{script.stem}-") as out:
        env = dict(os.environ, VALLEYS_EXAMPLE_OUT=out, MPLBACKEND="Agg")
        env.pop("VALLEYS_EXAMPLE_QUICK", None)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH", "")]))
        try:
            done = subprocess.run([sys.executable, str(script)], cwd=out, env=env, capture_output=True,
                                  text=True, timeout=TIMEOUT)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"{script.name} ran past {TIMEOUT} s") from exc
        if done.returncode != 0:
            raise RuntimeError(f"{script.name} failed with status {done.returncode}:\n{done.stderr[-3000:]}")
        figures = {p.name: p.read_bytes() for p in sorted(Path(out).glob("*.png"))}
        return done.stdout.replace(out, "<out>"), figures


def split_docstring(source: str) -> tuple[str, str, str]:
    """(title, the docstring's other paragraphs, the code after the docstring)."""
    tree = ast.parse(source)
    doc = ast.get_docstring(tree) or ""
    body = source
    if doc and tree.body and isinstance(tree.body[0], ast.Expr):
        body = "\n".join(source.splitlines()[tree.body[0].end_lineno:]).lstrip("\n")
    title, _, rest = doc.partition("\n")
    return title.strip().rstrip("."), rest.strip(), body


def page(script: Path, output: str, figures: dict[str, bytes]) -> str:
    title, intro, code = split_docstring(script.read_text(encoding="utf-8"))
    parts = [f"# {title}\n", intro + "\n",
             f"Run it: `python examples/{script.name}` (figures go to `$VALLEYS_EXAMPLE_OUT`, default the current "
             "folder). This page was produced by running it during the build.\n",
             "## Output\n", "```text\n" + output.rstrip() + "\n```\n"]
    if figures:
        parts.append("## Figures\n")
        parts.extend(f"![{name}]({script.stem}/{name})\n" for name in figures)
    parts += ["## The script\n", "```python\n" + code.rstrip() + "\n```\n"]
    return "\n".join(parts)


def main() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run_example, EXAMPLES))
    nav = mkdocs_gen_files.Nav()
    index = ["# Examples\n", "Runnable scripts in `examples/`, each executed when this site is built "
             "(`make docs`); `make test` runs their quick variants (`tests/test_examples.py`).\n",
             "| example | what it shows |", "|---|---|"]
    nav["Gallery"] = "index.md"
    for script, (output, figures) in zip(EXAMPLES, results, strict=True):
        title, intro, _ = split_docstring(script.read_text(encoding="utf-8"))
        with mkdocs_gen_files.open(f"examples/{script.stem}.md", "w") as handle:
            handle.write(page(script, output, figures))
        for name, data in figures.items():
            with mkdocs_gen_files.open(f"examples/{script.stem}/{name}", "wb") as handle:
                handle.write(data)
        first = intro.split("\n\n")[0].replace("\n", " ")
        index.append(f"| [{title}]({script.stem}.md) | {first} |")
        nav[title] = f"{script.stem}.md"
    with mkdocs_gen_files.open("examples/index.md", "w") as handle:
        handle.write("\n".join(index) + "\n")
    with mkdocs_gen_files.open("examples/SUMMARY.md", "w") as handle:
        handle.writelines(nav.build_literate_nav())


main()
