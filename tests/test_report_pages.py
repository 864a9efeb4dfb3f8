"""The layout of the report pages: figure grids with full-size links, scrolling tables,
headline numbers first on analyze pages, a 3-D surface frame that fits its content, and
long messages folded in the index."""

import json
import re
from html.parser import HTMLParser
from types import SimpleNamespace

import numpy as np
import pandas as pd

from valleys.experiments import Verdict
from valleys.report import RunPage, render_index, render_run
from valleys.report.environment import SHORT_SUMMARY
from valleys.report.interactive import SURFACE_EYE, SURFACE_HEIGHT, surface_div
from valleys.report.sweep_report import PANEL_SIZE, SweepPage, render_sweep, sweep_figures


class _Tree(HTMLParser):
    """Start tags with their attributes and the stack of open tags above each."""

    VOID = {"img", "br", "meta", "link", "input", "hr"}

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, dict]] = []
        self.tags: list[tuple[str, dict, list[tuple[str, dict]]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs, list(self.stack)))
        if tag not in self.VOID:
            self.stack.append((tag, attrs))

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()[0] == tag:
                break


def _tree(html: str) -> _Tree:
    tree = _Tree()
    tree.feed(html)
    return tree


def _classes(attrs: dict) -> set[str]:
    return set((attrs.get("class") or "").split())


def _assert_figures_in_a_grid_linking_full_size(html: str, figures: dict[str, str]) -> None:
    imgs = [(a, up) for tag, a, up in _tree(html).tags if tag == "img"]
    assert [a["src"] for a, _ in imgs] == list(figures.values())
    for attrs, above in imgs:
        assert any(t == "div" and "fig-grid" in _classes(a) for t, a in above)
        assert above[-1] == ("a", {"href": attrs["src"], "title": "open the full-size image"})
    assert ".fig-grid { display: grid;" in html and "auto-fill, minmax(" in html


def _assert_tables_scroll(html: str) -> None:
    for tag, _, above in _tree(html).tags:
        if tag == "table":
            assert above and above[-1][0] == "div" and "table-wrap" in _classes(above[-1][1])
    assert ".table-wrap { overflow-x: auto;" in html


def _summary(n_tasks=4):
    rows = [{"task": i, "seed": i % 2, "a": [1.0, 2.0][i // 2], "passed": True,
             "check:slope": float(i), "check:a very long check name " * 3: 0.5} for i in range(n_tasks)]
    return pd.DataFrame(rows)


def test_sweep_figures_are_one_panel_each():
    summary = _summary()
    figures = sweep_figures(summary, ["a"], ["a"])
    assert list(figures) == ["passed vs a", "check:slope vs a", f"{'check:a very long check name ' * 3} vs a"]
    for fig in figures.values():
        assert len(fig.axes) == 1 and tuple(fig.get_size_inches()) == PANEL_SIZE


def test_sweep_page_lays_figures_in_a_grid_and_scrolls_its_tables():
    record = SimpleNamespace(name="toy", sweep_id="sweep-toy-1", status="incomplete", summary="3/4 done",
                             kind="experiment", spec={"grid": [["a", [1.0, 2.0]]], "seeds": [0, 1],
                                                      "quick": True, "fixed": []},
                             executor="local", started="2026-01-01T00:00:00+00:00", wall_time=1.0,
                             message=None)
    long_error = "ValueError: " + "a long reason " * 40
    tasks = [SimpleNamespace(idx=i, point={"a": 1.0, "seed": i}, status="done", passed=True, message=None)
             for i in range(3)] + [SimpleNamespace(idx=3, point={"a": 2.0, "seed": 1}, status="failed",
                                                   passed=False, message=long_error)]
    figures = {"passed vs a": "figures/passed_vs_a.png", "check:slope vs a": "figures/check_slope_vs_a.png"}
    html = render_sweep(SweepPage(record=record, tasks=tasks, figures=figures, grid_keys=["a"],
                                  summary=_summary()))
    _assert_figures_in_a_grid_linking_full_size(html, figures)
    _assert_tables_scroll(html)
    assert "table.dataframe th { white-space: normal;" in html  # long column names wrap
    _assert_folded(html, long_error)


def _analyze_page(**changes) -> RunPage:
    summary = {"lambda_max": 1.5126355344320503, "trace": 4.6046345929947154, "loss": 2.37}
    fields = dict(run_id="analyze-net-20260101T000000000Z-abcdef", experiment="analyze-net",
                  source="user model (valleys analyze)", claim="measurement only", status="passed",
                  params={"seed": 0, "eigs": 3}, verdict=Verdict().to_dict(),
                  table=pd.DataFrame({"quantity": ["loss"], "value": [2.37]}),
                  figures={"eigenvalues": "figures/eigenvalues.png", "plane": "figures/plane.png"},
                  metadata={"wall_time_s": 1.0, "result": {"summary": summary, "dim": 610}},
                  started="2026-01-01T00:00:00+00:00")
    fields.update(changes)
    return RunPage(**fields)


def test_analyze_page_shows_its_headline_numbers_first_and_no_empty_verdict_table():
    page = _analyze_page()
    html = render_run(page)
    assert 'class="checks"' not in html and "made no checks" not in html and "<h2>Verdict</h2>" not in html
    headline = html.index("<h2>Headline numbers</h2>")
    assert headline < html.index("<h2>Parameters</h2>") < html.index("<h2>Figures</h2>")
    section = html[headline:html.index("<h2>Parameters</h2>")]
    for name, text in (("lambda_max", "1.51264"), ("trace", "4.60463"), ("loss", "2.37")):
        assert re.search(rf"<th>{name}</th><td class=\"num\">{re.escape(text)}</td>", section)
    _assert_figures_in_a_grid_linking_full_size(html, page.figures)
    _assert_tables_scroll(html)


def test_theorem_pages_keep_their_verdict_table_and_say_when_no_check_was_made():
    verdict = Verdict()
    verdict.add("slope", 1.0, 1.0, 1e-9, True, kind="evidence")
    html = render_run(_analyze_page(experiment="toy", verdict=verdict.to_dict(), metadata={}))
    assert 'class="checks"' in html and "Headline numbers" not in html
    html = render_run(_analyze_page(experiment="toy", metadata={}))
    assert "The experiment made no checks." in html and 'class="checks"' not in html


def test_notes_say_what_was_left_out_of_a_page():
    html = render_run(_analyze_page(notes=("figure 'x' left out: <b>link</b>",)))
    assert "Left out of this report" in html and "&lt;b&gt;link&lt;/b&gt;" in html


def _plotly_layout(html: str) -> dict:
    start = re.search(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", html).end()
    decoder = json.JSONDecoder()
    _, end = decoder.raw_decode(html, start)  # the data
    layout, _ = decoder.raw_decode(html, html.index("{", end))
    return layout


def test_surface_frame_fits_the_whole_box():
    x, y = np.linspace(-1, 1, 5), np.linspace(-1, 1, 4)
    html = str(surface_div(x, y, np.add.outer(y, x), div_id="s"))
    layout = _plotly_layout(html)
    assert layout["height"] == SURFACE_HEIGHT and layout["margin"]["b"] > 0
    assert layout["scene"]["camera"]["eye"] == SURFACE_EYE
    # plotly's default eye (1.25, 1.25, 1.25) with a cube clips the lower corner: the box is
    # flattened and seen from farther out and lower
    eye = SURFACE_EYE
    assert np.hypot(eye["x"], eye["y"]) > np.hypot(1.25, 1.25) and eye["z"] < 1.25
    assert layout["scene"]["aspectratio"]["z"] < 1


def _run(run_id, message=None, summary=None, status="error"):
    return SimpleNamespace(run_id=run_id, experiment="demo", status=status, started=None, wall_time=0.0,
                           verdict_summary=summary, message=message, completed=status != "error")


def _assert_folded(html: str, text: str) -> None:
    escaped = text.replace("'", "&#39;")
    match = re.search(r'<details class="long"><summary title="([^"]*)">([^<]*)</summary><div>([^<]*)</div></details>',
                      html)
    assert match, "the long text is not folded"
    title, shown, full = match.groups()
    assert title == escaped and full == escaped
    assert len(shown.replace("&#39;", "'")) == SHORT_SUMMARY and shown.endswith("…")


def test_index_folds_long_messages_and_keeps_short_ones():
    long_message = "ValueError: the route 'x' failed " + "/a/very/long/path/without/spaces" * 20
    html = render_index([_run("r1", message=long_message), _run("r2", summary="agrees (2/2)", status="passed")])
    _assert_folded(html, long_message)
    assert '<td class="summary">agrees (2/2)</td>' in html
    assert "td.summary {" in html and "overflow-wrap: anywhere" in html
    _assert_tables_scroll(html)
