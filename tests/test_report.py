"""HTML reports: escaping, verdict badges, figures, the data table and the index page."""

import uuid
from dataclasses import dataclass
from html.parser import HTMLParser

import pandas as pd
import pytest

from valleys.experiments import REGISTRY, Params, Result, Verdict, experiment
from valleys.experiments import registry as registry_module
from valleys.report import MAX_TABLE_ROWS, RunPage, format_value, render_index, render_run
from valleys.report.run_report import is_threshold_name, provenance_rows
from valleys.runs import RunStore

INJECTED = "<script>alert('x')</script>"


class TagCollector(HTMLParser):
    """Every start tag of a document, with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = TagCollector()
    parser.feed(html)
    return parser.tags


def _page(**changes) -> RunPage:
    verdict = Verdict()
    verdict.add(f"eigenvalue {INJECTED}", 2.0000000001, 2.0, 1e-8, True, note=INJECTED, kind="evidence")
    verdict.add("nullity", 3, 4, None, False, kind="evidence")
    fields = dict(run_id="exp-20260101T000000000Z-abcdef", experiment=f"exp{INJECTED}",
                  source=f"src {INJECTED}", claim=f"claim {INJECTED}", status="failed",
                  params={"seed": 3, "label": INJECTED, "rank_tol": 1e-9, "n_steps": 10},
                  verdict=verdict.to_dict(),
                  table=pd.DataFrame({INJECTED: [INJECTED, "b"], "x": [0.5, 1.5]}),
                  figures={f"fig {INJECTED}": "figures/fig_script.png"},
                  metadata={"wall_time_s": 1.25, "versions": {"torch": "2.13.0"},
                            "result": {"note": INJECTED}},
                  started="2026-01-01T00:00:00+00:00")
    fields.update(changes)
    return RunPage(**fields)


def test_run_page_escapes_every_injected_string():
    html = render_run(_page())
    assert "script" not in [tag for tag, _ in _tags(html)]
    assert "<script" not in html
    # every injected place: experiment, source, claim, check name, note, param, figure name,
    # table header and cell, metadata
    assert html.count("&lt;script&gt;") >= 10


def test_run_page_shows_verdict_badge_and_check_rows():
    html = render_run(_page())
    assert "DISAGREES" in html and "AGREES</span>" not in html.replace("DISAGREES", "")
    assert html.count('class="badge pass">PASS') == 1
    assert html.count('class="badge fail">FAIL') == 1
    assert '<td class="val" title="2">2</td>' in html  # 2.0000000001 shown to 6 significant digits
    assert '<td class="num">1e-08</td>' in html and '<td class="num">exact</td>' in html
    passing = render_run(_page(status="passed"))
    assert ">AGREES<" in passing


def test_run_page_embeds_figures_as_relative_images():
    imgs = [attrs for tag, attrs in _tags(render_run(_page())) if tag == "img"]
    assert imgs == [{"src": "figures/fig_script.png", "alt": f"fig {INJECTED}", "loading": "lazy"}]


def test_run_page_shows_only_the_first_rows_of_the_table():
    n = MAX_TABLE_ROWS + 50
    table = pd.DataFrame({"label": [f"row{i:04d}" for i in range(n)]})
    html = render_run(_page(table=table))
    assert f"row{MAX_TABLE_ROWS - 1:04d}" in html
    assert f"row{MAX_TABLE_ROWS:04d}" not in html
    assert f"{n} rows × 1 columns; showing the first {MAX_TABLE_ROWS}" in html


def test_run_page_is_responsive():
    html = render_run(_page())
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width: 1100px" in html and "overflow-x: auto" in html
    assert "figure img { max-width: 100%;" in html
    wrapped = html.count('<div class="table-wrap">')
    assert wrapped == html.count("<table") == 4  # verdict, params, data, provenance


def test_provenance_lists_seed_wall_time_thresholds_and_versions():
    rows = dict(provenance_rows(_page()))
    assert rows["seed"] == 3 and rows["wall time (s)"] == 1.25
    assert rows["thresholds (parameters)"] == {"rank_tol": 1e-9}
    assert rows["version.torch"] == "2.13.0" and rows["experiment.note"] == INJECTED


@pytest.mark.parametrize(("name", "expected"), [
    ("tol", True), ("rank_tol", True), ("zero_eig_tau", True), ("gap_ratio", True),
    ("n_steps", False), ("epochs", False), ("seed", False), ("stolen", False)])
def test_threshold_names_are_whole_words(name, expected):
    assert is_threshold_name(name) is expected


@pytest.mark.parametrize(("value", "text"), [
    (None, "—"), (1 / 3, "0.333333"), (float("nan"), "nan"), (True, "True"),
    ([1, 2.5, "a"], "[1, 2.5, a]"), (7, "7"), ("<b>", "<b>")])
def test_format_value(value, text):
    assert format_value(value) == text


@dataclass(frozen=True)
class TinyParams(Params):
    ok: bool = True


def _tiny(p: TinyParams) -> Result:
    verdict = Verdict()
    verdict.add(f"check {INJECTED}", 1, 1 if p.ok else 0, None, p.ok, kind="evidence")
    return Result(pd.DataFrame({"a": [1, 2]}), verdict)


def _boom(p: TinyParams) -> Result:
    raise ValueError(f"bad {INJECTED}")


@pytest.fixture
def tiny_experiments():
    names = {stem: f"test-{stem}-{uuid.uuid4().hex[:8]}" for stem in ("tiny", "boom")}
    experiment(names["tiny"], source="s", claim="c", params=TinyParams)(_tiny)
    experiment(names["boom"], source="s", claim="c", params=TinyParams)(_boom)
    yield {stem: registry_module.REGISTRY[name] for stem, name in names.items()}
    for name in names.values():
        REGISTRY.pop(name, None)
        registry_module.REGISTRY.pop(name, None)


def test_index_lists_runs_newest_first_with_badges_and_links(runs_dir, tiny_experiments):
    store = RunStore(runs_dir)
    agree = store.execute(tiny_experiments["tiny"], TinyParams(), progress=False)
    disagree = store.execute(tiny_experiments["tiny"], TinyParams(ok=False), progress=False)
    with pytest.raises(ValueError, match="bad"):
        store.execute(tiny_experiments["boom"], TinyParams(), progress=False)
    errored = store.list()[0]

    html = (runs_dir / "index.html").read_text()
    positions = [html.index(r.run_id) for r in (errored, disagree, agree)]
    assert positions == sorted(positions)
    links = [a["href"] for tag, a in _tags(html) if tag == "a"]
    assert links == [f"{disagree.run_id}/report.html", f"{agree.run_id}/report.html"]
    assert ">AGREES<" in html and ">DISAGREES<" in html and ">CRASHED<" in html
    assert "3 runs: 1 agrees, 1 disagrees, 1 crash." in html
    assert "<script" not in html and "bad &lt;script&gt;" in html
    for record in (agree, disagree):
        page = record.report_path.read_text()
        assert "<script" not in page and '<a href="../index.html">' in page


def test_rebuilt_report_equals_the_one_written_at_run_time(runs_dir, tiny_experiments):
    store = RunStore(runs_dir)
    record = store.execute(tiny_experiments["tiny"], TinyParams(), progress=False)
    original = record.report_path.read_text()
    record.report_path.unlink()
    assert store.rebuild_report(record.run_id) == record.report_path
    assert record.report_path.read_text() == original


def test_empty_index_says_how_to_start():
    html = render_index([])
    assert "0 runs." in html and "No runs yet" in html
