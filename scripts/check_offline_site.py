"""Check that a built site loads nothing from the network.

Every script, stylesheet, font, image, frame and CSS ``url(...)`` / ``@import`` of every
``.html`` and ``.css`` file under the site folder must be a relative path (or a ``data:``
URL). Plain hyperlinks (``<a href="https://...">``) are allowed: they are not loaded.

Usage: ``python scripts/check_offline_site.py [site]`` — exits 1 and lists each external
resource, or prints how many files it read.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

EXTERNAL = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//", re.ASCII)
CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]+)['\"]?\s*\)|@import\s+['\"]([^'\"]+)['\"]")
#: (tag, attribute) pairs that make a browser fetch something.
LOADED = {("script", "src"), ("link", "href"), ("img", "src"), ("iframe", "src"), ("source", "src"),
          ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data"), ("img", "srcset")}


def is_external(url: str) -> bool:
    """Whether ``url`` would be fetched from another host (``http:``, ``https:``, ``//host``)."""
    return bool(EXTERNAL.match(url)) and not url.strip().lower().startswith(("data:", "file:"))


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link" and (attrs.get("rel") or "") in ("canonical", "alternate", "author", "license"):
            return  # metadata, never fetched
        for (t, a) in LOADED:
            if t == tag and attrs.get(a):
                self.found.append(attrs[a])
        if attrs.get("style"):
            self.found.extend(css_urls(attrs["style"]))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.found.extend(css_urls(data))


def css_urls(text: str) -> list[str]:
    """The URLs a stylesheet loads (``url(...)`` and ``@import``)."""
    return [a or b for a, b in CSS_URL.findall(text)]


def external_resources(site: Path) -> list[tuple[Path, str]]:
    """Every (file, url) under ``site`` whose url a browser would fetch from the network."""
    bad: list[tuple[Path, str]] = []
    for path in sorted(site.rglob("*")):
        if path.suffix == ".html":
            parser = _Resources()
            parser.feed(path.read_text(encoding="utf-8", errors="replace"))
            urls = parser.found
        elif path.suffix == ".css":
            urls = css_urls(path.read_text(encoding="utf-8", errors="replace"))
        else:
            continue
        bad.extend((path, u) for u in urls if is_external(u))
    return bad


def main(argv: list[str]) -> int:
    site = Path(argv[1] if len(argv) > 1 else "site")
    if not site.is_dir():
        print(f"No site folder {site}: build it first with 'make docs'.")
        return 2
    bad = external_resources(site)
    for path, url in bad:
        print(f"{path.relative_to(site)}: loads {url}")
    if bad:
        print(f"{len(bad)} external resource(s): the site would not work offline.")
        return 1
    n = sum(1 for p in site.rglob("*") if p.suffix in (".html", ".css"))
    print(f"offline check: {n} HTML/CSS files, no external script, style, font or image.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
