"""Published reports never follow a link out of a run folder, and a stored surface too large
for a page is left out (decided from its .npy headers, before anything is decompressed)."""

import io
import json
import os
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from valleys.cli import main
from valleys.experiments import Params, Result, Verdict
from valleys.experiments.registry import Experiment
from valleys.runs import RunStore
from valleys.runs.errors import DamagedRunError
from valleys.runs.runfiles import UnsafeRunFileError, open_run_file
from valleys.runs.stored import read_surface
from valleys.runs.surface_cap import MAX_SURFACE_POINTS
from valleys.surface import Surface


@dataclass(frozen=True)
class _P(Params):
    LIMITS = {}


def _experiment(name="safe-demo", nx=7, ny=5):
    """A run with one figure and one nx x ny surface of known values (no computation)."""

    def run(p):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 2))
        fig.add_subplot(1, 1, 1).plot([0, 1], [1, 0])
        x, y = np.linspace(-1, 1, nx), np.linspace(-2, 2, ny)
        losses = np.add.outer(y ** 2, x ** 2)
        surf = Surface(x, y, losses, np.zeros(2), np.eye(2))
        v = Verdict()
        v.add("one", 1.0, 1.0, 0.0, True, kind="evidence")
        return Result(pd.DataFrame({"a": [1.0]}), v, {"line": fig}, {}, surfaces={"plane": surf})

    return Experiment(name, "000 test", "none", _P, run)


def _cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _files(folder: Path):
    """Every entry below ``folder`` (links included, not followed)."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            yield Path(root) / name


def _assert_clean(out: Path, secrets: list[bytes]) -> None:
    entries = list(_files(out))
    assert entries, "nothing was published"
    assert not [p for p in entries if p.is_symlink()], "a link was published"
    for path in entries:
        if path.is_file():
            data = path.read_bytes()
            for secret in secrets:
                assert secret not in data, f"{secret!r} leaked into {path}"


def test_report_all_out_never_follows_a_link_out_of_a_run_folder(tmp_path, capsys):
    secret = f"SECRET-{uuid.uuid4().hex}".encode()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(secret + b"\n")
    (outside / "secret.json").write_text(json.dumps({"seed": secret.decode()}))
    (outside / "figs").mkdir()
    (outside / "figs" / "line.png").write_bytes(secret)
    x = np.array([0.0, 1.0])
    np.savez(outside / "plane.npz", x=x, y=x, losses=np.full((2, 2), 7777.125),
             origin=np.zeros(2), directions=np.eye(2))

    store = RunStore(tmp_path / "runs")
    listed, unlisted, swapped, figdir, params = (store.execute(_experiment(), progress=False)
                                                 for _ in range(5))
    # a listed figure that is a link, and an unlisted link next to the real figure
    folder = Path(listed.path)
    (folder / "figures" / "leak.png").symlink_to(outside / "secret.txt")
    meta = json.loads((folder / "metadata.json").read_text())
    meta["figures"]["leak"] = "figures/leak.png"
    (folder / "metadata.json").write_text(json.dumps(meta))
    (Path(unlisted.path) / "figures" / "passwd.png").symlink_to(outside / "secret.txt")
    # the real figure and surface replaced by links
    (Path(swapped.path) / "figures" / "line.png").unlink()
    (Path(swapped.path) / "figures" / "line.png").symlink_to(outside / "secret.txt")
    (Path(swapped.path) / "surfaces" / "plane.npz").unlink()
    (Path(swapped.path) / "surfaces" / "plane.npz").symlink_to(outside / "plane.npz")
    # the whole figures folder a link
    for f in (Path(figdir.path) / "figures").iterdir():
        f.unlink()
    (Path(figdir.path) / "figures").rmdir()
    (Path(figdir.path) / "figures").symlink_to(outside / "figs")
    # params.json a link to a JSON file elsewhere: the run cannot be shown, it is skipped
    (Path(params.path) / "params.json").unlink()
    (Path(params.path) / "params.json").symlink_to(outside / "secret.json")

    out = tmp_path / "published"
    code, stdout, err = _cli(capsys, "--runs-dir", tmp_path / "runs", "report", "--all", "--out", out)
    assert code == 0 and stdout.strip() == str(out / "index.html")
    _assert_clean(out, [secret, b"7777.125"])
    lines = err.strip().splitlines()
    assert all(line.startswith("valleys: warning: ") for line in lines)
    assert sum("symbolic link" in line for line in lines) == 5  # leak, line, plane, figures, params
    assert any(params.run_id in line and "skipped run" in line for line in lines)
    assert not (out / unlisted.run_id / "figures" / "passwd.png").exists()  # only the page's figures
    assert (out / unlisted.run_id / "figures" / "line.png").is_file()  # real figures are published
    swapped_page = (out / swapped.run_id / "report.html").read_text(encoding="utf-8")
    assert "Left out of this report" in swapped_page and 'src="figures/line.png"' not in swapped_page
    assert "Plotly.newPlot" not in swapped_page
    # rebuilding in place refuses the same links (the pages link only checked files)
    assert store.rebuild_reports(warn=lambda note: None).keys() == {params.run_id}
    assert 'src="figures/leak.png"' not in Path(listed.report_path).read_text(encoding="utf-8")


def test_open_run_file_refuses_links_climbing_and_special_files(tmp_path):
    (tmp_path / "run" / "figures").mkdir(parents=True)
    (tmp_path / "run" / "figures" / "ok.png").write_bytes(b"png")
    (tmp_path / "secret").write_bytes(b"s")
    (tmp_path / "run" / "link").symlink_to(tmp_path / "secret")
    os.mkfifo(tmp_path / "run" / "fifo")
    with open_run_file(tmp_path / "run", "figures/ok.png") as handle:
        assert handle.read() == b"png"
    for rel, match in [("link", "symbolic link"), ("../secret", "leaves"), ("/etc/passwd", "leaves"),
                       ("fifo", "not a regular file"), ("figures\\..\\link", "not a file name")]:
        with pytest.raises(UnsafeRunFileError, match=match):
            open_run_file(tmp_path / "run", rel)
    with pytest.raises(DamagedRunError, match="missing"):
        open_run_file(tmp_path / "run", "figures/none.png")


def _npz_claiming(path: Path, shape: tuple[int, ...], zeros: int = 0) -> None:
    """An .npz whose ``losses`` header claims ``shape`` float64; its data are ``zeros``
    compressed zero bytes (streamed: nothing of that size is held in memory)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in (("x", np.linspace(-1, 1, shape[1])), ("y", np.linspace(-1, 1, shape[0]))):
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, array)
            archive.writestr(f"{name}.npy", buffer.getvalue())
        with archive.open("losses.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                          "shape": shape})
            chunk = bytes(1 << 20)
            for start in range(0, zeros, len(chunk)):
                member.write(chunk[: min(len(chunk), zeros - start)])


def test_a_tampered_oversized_surface_is_left_out_and_the_page_stays_small(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    rec = store.execute(_experiment(), progress=False)
    npz = Path(rec.path) / "surfaces" / "plane.npz"
    _npz_claiming(npz, (6000, 6000), zeros=6000 * 6000 * 8)  # the 300 KB file
    assert npz.stat().st_size < 1_000_000
    out = tmp_path / "out"
    code, _, err = _cli(capsys, "--runs-dir", tmp_path / "runs", "report", "--all", "--out", out)
    assert code == 0
    assert "36000000 grid points" in err and "--max-surface-points" in err and str(MAX_SURFACE_POINTS) in err
    page = out / rec.run_id / "report.html"
    assert page.stat().st_size < 200_000
    html = page.read_text(encoding="utf-8")
    assert "Plotly.newPlot" not in html and "--max-surface-points" in html


def test_the_surface_cap_is_read_from_the_headers_before_decompressing(tmp_path):
    (tmp_path / "surfaces").mkdir()
    # the header claims 6000 x 6000 but holds no data: a load would fail as damaged, the cap
    # check refuses it first
    _npz_claiming(tmp_path / "surfaces" / "p.npz", (6000, 6000))
    with pytest.raises(Exception, match="36000000 grid points") as info:
        read_surface(tmp_path, "p", "surfaces/p.npz", max_points=MAX_SURFACE_POINTS)
    assert not isinstance(info.value, DamagedRunError)
    with pytest.raises(DamagedRunError):  # uncapped, the same file reads as damaged
        read_surface(tmp_path, "p", "surfaces/p.npz")


def test_raising_the_surface_cap_shows_the_surface(tmp_path, capsys):
    store = RunStore(tmp_path / "runs")
    rec = store.execute(_experiment(nx=7, ny=5), progress=False)  # 35 grid points
    out = tmp_path / "out"
    code, _, err = _cli(capsys, "--runs-dir", tmp_path / "runs", "report", "--all", "--out", out,
                        "--max-surface-points", "34")
    assert code == 0 and "35 grid points" in err
    assert "Plotly.newPlot" not in (out / rec.run_id / "report.html").read_text(encoding="utf-8")
    code, _, err = _cli(capsys, "--runs-dir", tmp_path / "runs", "report", "--all", "--out", out,
                        "--max-surface-points", "35")
    assert code == 0 and err == ""
    assert "Plotly.newPlot" in (out / rec.run_id / "report.html").read_text(encoding="utf-8")
    code, _, err = _cli(capsys, "--runs-dir", tmp_path / "runs", "report", "--all", "--max-surface-points", "0")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_surfaces_on_one_page_share_the_cap(tmp_path):
    store = RunStore(tmp_path / "runs")
    rec = store.execute(_experiment(nx=7, ny=5), progress=False)
    folder = Path(rec.path)
    meta = json.loads((folder / "metadata.json").read_text())
    meta["surfaces"] = {f"copy {i}": "surfaces/plane.npz" for i in range(3)}  # 3 x 35 points
    (folder / "metadata.json").write_text(json.dumps(meta))
    notes = []
    html = store.rebuild_report(rec.run_id, max_surface_points=80, warn=notes.append).read_text()
    assert html.count("Plotly.newPlot") == 2
    assert len(notes) == 1 and "'copy 2'" in notes[0] and "room for 10 of at most 80" in notes[0]


class _Marker:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_a_pickled_surface_array_is_never_unpickled(tmp_path):
    marker = tmp_path / "ran"
    store = RunStore(tmp_path / "runs")
    rec = store.execute(_experiment(), progress=False)
    npz = Path(rec.path) / "surfaces" / "plane.npz"
    x = np.linspace(-1, 1, 7)
    np.savez(npz, x=x, y=np.linspace(-2, 2, 5), losses=np.array([_Marker(marker)] * 35, dtype=object).reshape(5, 7),
             origin=np.zeros(2), directions=np.eye(2))
    with pytest.raises(DamagedRunError, match="not numeric"):
        store.rebuild_report(rec.run_id)
    with pytest.raises(DamagedRunError, match="not numeric"):
        store.load_result(rec.run_id)
    assert not marker.exists()


def test_pages_written_at_run_time_apply_the_same_cap():
    from valleys.runs.surface_cap import limit_surfaces

    small, big = {"losses": np.zeros((5, 7))}, {"losses": np.zeros((20, 20))}
    kept, notes = limit_surfaces({"small": small, "big": big, "again": small}, cap=100)
    assert list(kept) == ["small", "again"]
    assert notes == ["surface 'big' left out: it has 400 grid points and the page has room for 65 of at "
                     "most 100 (MAX_SURFACE_POINTS); raise the cap with 'valleys report --all "
                     "--max-surface-points N'."]


def test_report_help_states_the_surface_cap(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    assert f"(default {MAX_SURFACE_POINTS})" in " ".join(capsys.readouterr().out.split())
