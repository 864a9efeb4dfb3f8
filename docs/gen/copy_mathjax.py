"""Copy MathJax (SVG output, every TeX extension in one file) from the installed
``django-static-mathjax`` wheel into the site, so math renders without a network."""

from __future__ import annotations

from pathlib import Path

import mkdocs_gen_files

try:
    import mathjax  # the django-static-mathjax distribution installs this package
except ImportError as exc:  # pragma: no cover - the docs extra is missing
    raise SystemExit("MathJax is missing: pip install -e '.[docs]' (django-static-mathjax ships it)") from exc

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5" / "tex-svg-full.js"

with mkdocs_gen_files.open("javascripts/mathjax/tex-svg-full.js", "wb") as out:
    out.write(SOURCE.read_bytes())
