"""A griffe extension: read valleys' docstrings (Google sections with reST inline roles and
doctests) as Markdown without editing them.

* ``:math:`x``` becomes ``\\(x\\)`` (MathJax through arithmatex);
* ``:class:`~a.b.C``` and the other object roles become the code span ```C``` (or
  ```a.b.C``` without ``~``);
* a run of ``>>>`` / ``...`` lines and their output becomes a fenced ``pycon`` block;
* ``][`` and ``](`` outside code are broken apart, so that text such as ``[W b](t)``
  is not read as a Markdown link.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|attr|data|exc|obj|const|ref|term):`(~?)([^`]+)`")
MATH = re.compile(r":math:`([^`]+)`")
CODE_SPAN = re.compile(r"(``?)(?:(?!\1).)+?\1")


def _role(match: re.Match) -> str:
    target = match.group(3).strip()
    if match.group(2):  # ~ shows the last component only
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def _protect_links(line: str) -> str:
    """Break ``][`` and ``](`` outside code spans (they would be read as links)."""
    out, last = [], 0
    for m in CODE_SPAN.finditer(line):
        out.append(line[last:m.start()].replace("][", "]&#8203;[").replace("](", "]&#8203;("))
        out.append(m.group(0))
        last = m.end()
    out.append(line[last:].replace("][", "]&#8203;[").replace("](", "]&#8203;("))
    return "".join(out)


def _fence_doctests(lines: list[str]) -> list[str]:
    """Wrap each ``>>>`` run (with its output, up to a blank line) in a pycon fence."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip()
        if stripped.startswith(">>>"):
            indent = lines[i][: len(lines[i]) - len(stripped)]
            out.append(f"{indent}```pycon")
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            out.append(f"{indent}```")
            continue
        out.append(lines[i])
        i += 1
    return out


def markdown_docstring(text: str) -> str:
    """The docstring ``text`` rewritten as Markdown (see the module docstring)."""
    lines = _fence_doctests(text.splitlines())
    result, in_fence = [], False
    for line in lines:
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            result.append(line)
            continue
        if in_fence:
            result.append(line)
            continue
        line = MATH.sub(lambda m: "\\(" + m.group(1) + "\\)", line)
        line = ROLE.sub(_role, line)
        result.append(_protect_links(line))
    return "\n".join(result)


class ValleysDocstrings(griffe.Extension):
    """Rewrite every docstring once, when its object is created."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: D102
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
