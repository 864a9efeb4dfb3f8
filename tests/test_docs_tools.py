"""The documentation's own tools: the offline check of a built site, the stored verdicts the
theory catalogue is generated from, and the griffe extension that reads docstrings as Markdown."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from valleys.experiments.registry import all_experiments

ROOT = Path(__file__).resolve().parents[1]


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


offline = _load(ROOT / "scripts" / "check_offline_site.py", "check_offline_site")


def _site(tmp_path: Path, html: str, css: str = "") -> Path:
    (tmp_path / "index.html").write_text(html)
    (tmp_path / "style.css").write_text(css)
    return tmp_path


def test_offline_check_accepts_relative_resources_and_plain_links(tmp_path):
    site = _site(tmp_path, '<link rel="stylesheet" href="assets/a.css"><script src="js/m.js"></script>'
                           '<a href="https://example.org/paper">paper</a><img src="data:image/png;base64,AA">',
                 "@font-face { src: url(fonts/x.woff2) }")
    assert offline.external_resources(site) == []
    assert offline.main(["x", str(site)]) == 0


@pytest.mark.parametrize(("html", "css"), [
    ('<script src="https://cdn.example/mathjax.js"></script>', ""),
    ('<link rel="stylesheet" href="//fonts.example/css">', ""),
    ('<img src="http://example.org/x.png">', ""),
    ('<div style="background: url(https://example.org/bg.png)"></div>', ""),
    ("<p>x</p>", "@import 'https://fonts.example/roboto.css';"),
    ("<p>x</p>", "@font-face { src: url('https://fonts.example/r.woff2') }"),
])
def test_offline_check_finds_external_resources(tmp_path, html, css):
    site = _site(tmp_path, html, css)
    assert len(offline.external_resources(site)) == 1
    assert offline.main(["x", str(site)]) == 1


def test_stored_quick_verdicts_cover_every_experiment_at_its_current_preset():
    """docs/verdicts/quick holds one run per registered experiment, made with today's quick preset
    (refresh with ``make docs-verdicts`` when this fails)."""
    folder = ROOT / "docs" / "verdicts" / "quick"
    experiments = {e.name: e for e in all_experiments()}
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == sorted(experiments)
    for name, exp in experiments.items():
        stored = json.loads((folder / name / "params.json").read_text())
        assert stored == json.loads(exp.params.preset(True).to_json()), f"{name}: stale, run make docs-verdicts"
        verdict = json.loads((folder / name / "verdict.json").read_text())
        assert {"passed", "summary", "checks"} <= set(verdict)
        run = json.loads((folder / name / "run.json").read_text())
        assert run["experiment"] == name


def test_collect_verdicts_sorts_runs_by_preset_and_skips_overrides(tmp_path):
    collect = _load(ROOT / "scripts" / "collect_verdicts.py", "collect_verdicts")
    exp = next(e for e in all_experiments() if e.name == "sun-toy-uv")
    quick = json.loads(exp.params.preset(True).to_json())
    runs = tmp_path / "runs"
    for i, (params, ended) in enumerate([(quick, "2026-01-01"), (quick, "2026-01-02"),
                                         (dict(quick, n_starts=7), "2026-01-03")]):
        folder = runs / f"sun-toy-uv-{i}"
        (folder / "figures").mkdir(parents=True)
        (folder / "figures" / "f.png").write_bytes(b"png")
        (folder / "params.json").write_text(json.dumps(params))
        (folder / "verdict.json").write_text(json.dumps({"passed": True, "summary": str(i), "checks": []}))
        (folder / "metadata.json").write_text(json.dumps({"experiment": "sun-toy-uv", "ended": ended,
                                                          "run_id": folder.name, "versions": {}}))
    assert collect.main(["x", str(runs), str(tmp_path / "out")]) == 0
    target = tmp_path / "out" / "quick" / "sun-toy-uv"
    assert json.loads((target / "run.json").read_text())["run_id"] == "sun-toy-uv-1"  # newest preset run
    assert (target / "figures" / "f.png").read_bytes() == b"png"
    assert not (tmp_path / "out" / "full").exists()


def test_docstrings_become_markdown():
    rst = _load(ROOT / "docs" / "gen" / "griffe_rst.py", "griffe_rst")
    text = ("Uses :math:`\\lambda_{\\min}` and :class:`~valleys.core.Landscape`.\n\n"
            "Example:\n    >>> f([1, 2])[0]\n    [1, 2]\n\nSee [W b](t) and ``a][b``.")
    out = rst.markdown_docstring(text)
    assert "\\(\\lambda_{\\min}\\)" in out and "`Landscape`" in out
    assert "    ```pycon\n    >>> f([1, 2])[0]\n    [1, 2]\n    ```" in out
    assert "]&#8203;(t)" in out and "``a][b``" in out
