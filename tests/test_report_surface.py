"""Interactive 3-D surfaces in run reports: one offline plotly bundle per runs folder."""

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from valleys import Landscape
from valleys.experiments import Params, Result, Verdict
from valleys.experiments.registry import Experiment
from valleys.report.interactive import ASSETS_DIR, plotly_asset_name
from valleys.runs import RunStore
from valleys.surface import plane

torch.set_num_threads(1)


@dataclass(frozen=True)
class _P(Params):
    LIMITS = {}


def _experiment(name="surface-demo"):
    def run(p):
        land = Landscape.from_function(lambda t: (t[..., 0] ** 2 - 1) ** 2 + 0.5 * t[..., 1] ** 2, 2,
                                       rowwise=True)
        surf = plane(land, torch.tensor([0.3, -0.2], dtype=torch.float64), grid="-1:1:7", grid_y="-2:2:5",
                     directions=torch.eye(2, dtype=torch.float64), normalization="none")
        v = Verdict()
        v.add("center", surf.center_loss, float(land.loss(torch.tensor([0.3, -0.2], dtype=torch.float64))),
              1e-12, True, kind="evidence")
        return Result(surf.to_frame(), v, {}, {}, surfaces={"toy <plane>": surf})

    return Experiment(name, "000 test", "none", _P, run)


def _newplot_data(html: str) -> list[dict]:
    """The data argument of every Plotly.newPlot(...) call, parsed as JSON."""
    out = []
    dec = json.JSONDecoder()
    for m in re.finditer(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*", html):
        data, _ = dec.raw_decode(html, m.end())
        out.append(data)
    return out


def test_two_reports_share_one_offline_plotly_bundle(tmp_path):
    store = RunStore(tmp_path)
    exp = _experiment()
    r1 = store.execute(exp)
    asset = tmp_path / ASSETS_DIR / plotly_asset_name()
    assert asset.is_file() and asset.stat().st_size > 1_000_000
    stamp = asset.stat().st_mtime_ns
    r2 = store.execute(exp)
    assert asset.stat().st_mtime_ns == stamp  # written once, not rewritten
    assert sorted(p.name for p in (tmp_path / ASSETS_DIR).iterdir()) == [plotly_asset_name()]  # no temp files
    for rec in (r1, r2):
        html = Path(rec.report_path).read_text(encoding="utf-8")
        srcs = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", html)
        assert srcs == [f"../{ASSETS_DIR}/{plotly_asset_name()}"]
        assert (Path(rec.report_path).parent / srcs[0]).resolve() == asset.resolve()
        assert not re.search(r"https?://[^\s\"'<>]*(cdn|plot\.ly|plotly)", html, re.I)
        assert "&lt;plane&gt;" in html and "<plane>" not in html  # the name is escaped
        # the embedded data are the surface values
        (data,) = _newplot_data(html)
        assert data[0]["type"] == "surface"
        surf = np.load(Path(rec.path) / "surfaces" / "toy_plane.npz")
        np.testing.assert_array_equal(np.array(data[0]["z"], dtype=float), surf["losses"])
        np.testing.assert_array_equal(np.array(data[0]["x"]), surf["x"])
        np.testing.assert_array_equal(np.array(data[0]["y"]), surf["y"])
        # independent: the loss at grid point (i, j) is L(center + x_j e1 + y_i e2)
        x, y = np.meshgrid(surf["x"], surf["y"])
        u, w = 0.3 + x, -0.2 + y
        np.testing.assert_allclose(np.array(data[0]["z"]), (u ** 2 - 1) ** 2 + 0.5 * w ** 2, rtol=1e-12)


def test_rebuilt_reports_keep_the_surface_and_write_the_bundle_where_asked(tmp_path):
    store = RunStore(tmp_path / "runs")
    rec = store.execute(_experiment())
    before = Path(rec.report_path).read_text(encoding="utf-8")
    store.rebuild_report(rec.run_id)
    assert _newplot_data(Path(rec.report_path).read_text(encoding="utf-8")) == _newplot_data(before)
    out = tmp_path / "elsewhere"
    path = store.rebuild_report(rec.run_id, out=out)
    assert (out / ASSETS_DIR / plotly_asset_name()).is_file()
    assert f"../{ASSETS_DIR}/{plotly_asset_name()}" in path.read_text(encoding="utf-8")


def test_pages_without_surfaces_load_no_script(tmp_path):
    @dataclass(frozen=True)
    class _Q(Params):
        LIMITS = {}

    def run(p):
        v = Verdict()
        v.add("x", 1.0, 1.0, 0.0, True, kind="evidence")
        import pandas as pd

        return Result(pd.DataFrame({"a": [1]}), v)

    store = RunStore(tmp_path)
    rec = store.execute(Experiment("no-surface", "000 test", "none", _Q, run))
    assert "<script" not in Path(rec.report_path).read_text(encoding="utf-8")
    assert not (tmp_path / ASSETS_DIR).exists()


def test_analyze_plane_hands_its_surface_to_the_run_store():
    from valleys.analysis.analysis import run_analysis
    from valleys.analysis.options import AnalysisOptions
    from valleys.analysis.stored import as_result
    from valleys.nets import mlp

    X = torch.randn(6, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    land = Landscape(mlp([2, 3, 1], "tanh"), (X, X[:, 0]), loss="mse")
    res = run_analysis(land, AnalysisOptions(eigs=0, trace=False, plane="-1:1:5"), {}, {})
    assert set(res.figures) == {"plane"}  # the Surface is not among the figures
    (surf,) = res.surfaces.values()
    direct = plane(land, land.theta0, grid="-1:1:5", seed=0)
    np.testing.assert_array_equal(surf.losses, direct.losses)
    assert as_result(res).surfaces == res.surfaces


def test_load_result_rebuilds_the_surfaces(tmp_path):
    store = RunStore(tmp_path)
    rec = store.execute(_experiment())
    (surf,) = store.load_result(rec.run_id).surfaces.values()
    direct = _experiment().run().surfaces["toy <plane>"]
    for key in ("x", "y", "losses", "origin", "directions"):
        np.testing.assert_array_equal(getattr(surf, key), getattr(direct, key))


def test_damaged_or_escaping_surface_files_are_reported(tmp_path):
    import pytest

    from valleys.errors import RunStoreError

    store = RunStore(tmp_path)
    rec = store.execute(_experiment())
    npz = Path(rec.path) / "surfaces" / "toy_plane.npz"
    npz.write_bytes(b"not an npz")
    with pytest.raises(RunStoreError, match="surface"):
        store.rebuild_report(rec.run_id)
    meta_path = Path(rec.path) / "metadata.json"
    meta = json.loads(meta_path.read_text())
    meta["surfaces"] = {"x": "../../outside.npz"}
    meta_path.write_text(json.dumps(meta))
    notes = []
    path = store.rebuild_report(rec.run_id, warn=notes.append)  # left out, with a warning
    assert len(notes) == 1 and "leaves the run folder" in notes[0]
    html = path.read_text(encoding="utf-8")
    assert "leaves the run folder" in html and not _newplot_data(html)
