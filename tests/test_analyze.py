"""``valleys analyze`` end to end: a user's CNN factory, weights and data file -> a stored run
whose numbers equal direct library calls; a torch.export round trip; every bad input."""

import json
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from valleys import Landscape
from valleys.analysis import AnalyzeParams, analyze, load_weights, prepare, read_state_dict
from valleys.cli import main
from valleys.core.products import chunk_rows
from valleys.curvature import eigs, numerical_rank, spectrum, trace
from valleys.data import digits
from valleys.errors import DataError, DenseTooLargeError, InvalidParameterError, ModelError, ValleysError

FACTORY = textwrap.dedent("""
    import torch
    from torch import nn

    def cnn(seed=0):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 10))

    def broken():
        raise RuntimeError("cannot build")

    def not_a_model():
        return 3
""")
N = 60


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A temporary package with a CNN factory, two checkpoints and digits as .npz."""
    pkg = tmp_path / "userpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    sys.modules.pop("userpkg", None)
    sys.modules.pop("userpkg.models", None)
    model = _cnn(1)
    torch.save(model.state_dict(), tmp_path / "w1.pt")
    torch.save(_cnn(2).state_dict(), tmp_path / "w2.pt")
    data = digits(n=N, seed=0)
    np.savez(tmp_path / "digits.npz", X=data.X.numpy(), y=data.y.numpy())
    return tmp_path


def _cnn(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 1, 3), nn.ReLU(), nn.Flatten(), nn.Linear(36, 10))


def _direct_landscape(tmp_path, seed=1):
    model = _cnn(seed)
    model.load_state_dict(torch.load(tmp_path / "w1.pt", weights_only=True))
    with np.load(tmp_path / "digits.npz") as f:
        X, y = torch.as_tensor(f["X"]).reshape(-1, 1, 8, 8), torch.as_tensor(f["y"])
    return Landscape(model, (X, y), "ce")


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


BASE = ["analyze", "--model", "userpkg.models:cnn", "--weights", "w1.pt", "--data", "digits.npz",
        "--input-shape", "1,8,8", "--loss", "ce", "--runs-dir", "runs"]


def test_cli_run_is_stored_and_equals_direct_library_calls(user, capsys):
    code, out, err = _run(BASE + ["--eigs", "2", "--trace", "--nullity", "--classify", "--density",
                                  "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["run_id"].startswith("analyze-cnn-")
    summary = report["summary"]
    land = _direct_landscape(user)
    theta = land.theta0
    assert summary["dim"] == land.dim == 10 + 36 * 10 + 10
    assert summary["loss"] == pytest.approx(float(land.loss(theta)), rel=1e-12)
    assert summary["grad_norm"] == pytest.approx(float(land.grad(theta).norm()), rel=1e-10)
    spec = spectrum(land, theta)
    assert summary["lambda_max"] == pytest.approx(spec.eigenvalues.max(), rel=1e-6)
    assert summary["lambda_min"] == pytest.approx(spec.eigenvalues.min(), rel=1e-6, abs=1e-9)
    assert summary["nullity"] == numerical_rank(spec.eigenvalues, warn=False).nullity
    tr = trace(land, theta, "hutch++", num_matvecs=100, seed=0)
    assert summary["trace"] == pytest.approx(tr.estimate, rel=1e-10)
    assert abs(summary["trace"] - spec.eigenvalues.sum()) <= 4 * summary["trace_se"] + 1e-12
    assert summary["class"] == "not-critical"  # random weights: the gradient is far from zero

    params = json.loads((user / "runs" / report["run_id"] / "params.json").read_text())
    assert params["model"] == "userpkg.models:cnn" and len(params["weights_sha256"]) == 64
    assert len(params["data_sha256"]) == 64
    import pandas as pd
    table = pd.read_parquet(user / "runs" / report["run_id"] / "results.parquet")
    top = table[table.quantity == "eig_top"].sort_values("value").value.to_numpy()
    np.testing.assert_allclose(top, np.sort(spec.eigenvalues)[-2:], rtol=1e-6)
    assert (user / "runs" / report["run_id"] / "figures" / "density.png").is_file()
    # the evaluation routes are stored with the run (chosen by a rule of N, d and the chunk size)
    metadata = json.loads((user / "runs" / report["run_id"] / "metadata.json").read_text())["result"]
    assert metadata["batch_plans"]["hvp_rows"] == ["graph", chunk_rows(land)]
    assert (user / "runs" / report["run_id"] / "report.html").is_file()


def test_cli_prints_a_short_table_by_default(user, capsys):
    code, out, err = _run(BASE + ["--eigs", "1"], capsys)
    assert code == 0, err
    assert out.startswith("run analyze-cnn-")
    assert "lambda_max" in out and "report:" in out


def test_python_call_matches_and_returns_frames(user):
    land = _direct_landscape(user)
    model = _cnn(1)
    model.load_state_dict(torch.load(user / "w1.pt", weights_only=True))
    with np.load(user / "digits.npz") as f:
        X, y = torch.as_tensor(f["X"]), torch.as_tensor(f["y"])
    res = analyze(model, (X, y), loss="ce", eigs=2, trace=False, input_shape=(1, 8, 8))
    frame = res.to_frame()
    assert set(frame.quantity) >= {"loss", "grad_norm", "eig_top", "eig_bottom"}
    ref = eigs(land, land.theta0, k=2, which="LA")
    np.testing.assert_allclose(np.sort(frame[frame.quantity == "eig_top"].value), ref.eigenvalues, rtol=1e-6)
    json.dumps(res.to_dict(), default=str)
    assert len(repr(res)) < 400


def test_exported_pt2_round_trip(user, capsys):
    model = _cnn(1)
    model.load_state_dict(torch.load(user / "w1.pt", weights_only=True))
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (torch.zeros(2, 1, 8, 8),), dynamic_shapes={"input": {0: batch}})
    torch.export.save(program, user / "cnn.pt2")
    code, out, err = _run(["analyze", "--model", "cnn.pt2", "--data", "digits.npz", "--input-shape",
                           "1,8,8", "--eigs", "1", "--json", "--runs-dir", "runs"], capsys)
    assert code == 0, err
    summary = json.loads(out)["summary"]
    land = _direct_landscape(user)
    assert summary["loss"] == pytest.approx(float(land.loss(land.theta0)), rel=1e-12)
    assert summary["grad_norm"] == pytest.approx(float(land.grad(land.theta0).norm()), rel=1e-10)


def test_exported_pt2_with_a_fixed_batch_size_is_refused_with_the_fix(user, capsys):
    program = torch.export.export(_cnn(1), (torch.zeros(2, 1, 8, 8),))
    torch.export.save(program, user / "fixed.pt2")
    code, out, err = _run(["analyze", "--model", "fixed.pt2", "--data", "digits.npz", "--input-shape",
                           "1,8,8", "--runs-dir", "runs"], capsys)
    assert code == 2 and "dynamic_shapes" in err and len(err.strip().splitlines()) == 1
    assert not (user / "runs").exists()


def test_safetensors_weights(user, capsys):
    from safetensors.torch import save_file

    save_file(_cnn(1).state_dict(), str(user / "w1.safetensors"))
    assert read_state_dict(user / "w1.safetensors").keys() == _cnn(1).state_dict().keys()
    model = load_weights(_cnn(5), user / "w1.safetensors")
    torch.testing.assert_close(model[3].weight, _cnn(1)[3].weight)


BAD = [
    (["--model", "nosuchpkg.models:cnn"], "Cannot import module 'nosuchpkg.models'"),
    (["--model", "userpkg.models:nope"], "has no callable 'nope'"),
    (["--model", "userpkg.models:broken"], "raised RuntimeError: cannot build"),
    (["--model", "userpkg.models:not_a_model"], "must return a torch nn.Module"),
    (["--model", "userpkg.models"], "A model spec is"),
    (["--weights", "bad_shape.pt"], "has shape"),
    (["--weights", "missing_key.pt"], "missing key"),
    (["--weights", "pickled.pt"], "arbitrary unpickling"),
    (["--weights", "absent.pt"], "does not exist"),
    (["--input-shape", "1,8,9"], "--input-shape"),
    (["--input-shape", ""], "shape"),
    (["--data", "labels.npz"], "label"),
    (["--device", "cuda"], "cuda"),
    (["--dtype", "float16"], "invalid choice"),
    (["--plane", "1:0:5"], "min < max"),
    (["--eigs", "-1"], "eigs"),
    (["--certify"], "interpolate"),
    (["--nullity", "--max-dense", "10"], "max_dense"),
]


@pytest.mark.parametrize(("change", "needle"), BAD, ids=[c[1] for c in BAD])
def test_bad_input_is_one_line_exit_2_and_stores_nothing(user, capsys, change, needle):
    if "cuda" in change and torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so --device cuda is valid here")
    bad = _cnn(1).state_dict()
    bad["3.weight"] = torch.zeros(10, 35)
    torch.save(bad, user / "bad_shape.pt")
    torch.save({k: v for k, v in _cnn(1).state_dict().items() if k != "0.bias"}, user / "missing_key.pt")
    torch.save(_cnn(1), user / "pickled.pt")  # a whole pickled module: needs arbitrary unpickling
    data = digits(n=N, seed=0)
    np.savez(user / "labels.npz", X=data.X.numpy(), y=data.y.numpy() + 10)  # labels 10..19 on 10 outputs
    argv = list(BASE)
    for i in range(0, len(change)):
        flag = change[i]
        if flag.startswith("--") and flag in argv:
            j = argv.index(flag)
            argv[j + 1] = change[i + 1]
        elif flag.startswith("--") and i + 1 < len(change) and not change[i + 1].startswith("--"):
            argv += [flag, change[i + 1]]
        elif flag.startswith("--"):
            argv.append(flag)
    code, out, err = _run(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle.lower() in lines[0].lower(), err
    assert not (user / "runs").exists(), "nothing is stored for a refused command"


def test_prepare_refuses_before_computing(user):
    with pytest.raises(DenseTooLargeError):
        prepare(AnalyzeParams(model="userpkg.models:cnn", data="digits.npz", input_shape="1,8,8",
                              nullity=True, max_dense=5))
    with pytest.raises(DataError):
        prepare(AnalyzeParams(model="userpkg.models:cnn", weights="absent.pt", data="digits.npz"))
    with pytest.raises(ModelError):
        prepare(AnalyzeParams(model="userpkg.models:broken", data="digits.npz"))
    with pytest.raises(InvalidParameterError):
        analyze(nn.Linear, (torch.zeros(3, 2), torch.zeros(3, 1)))
    with pytest.raises(DataError):
        read_state_dict(user / "digits.npz")
    assert issubclass(DenseTooLargeError, ValleysError)


def test_cli_geometry_flags_match_direct_calls(user, capsys):
    from valleys.paths import certify, evaluate, linear
    from valleys.surface import plane

    code, out, err = _run(BASE + ["--eigs", "1", "--plane=-1:1:5", "--interpolate", "w2.pt", "--certify",
                                  "--connect", "w2.pt", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    summary = report["summary"]
    land = _direct_landscape(user)
    other = _cnn(2)
    other.load_state_dict(torch.load(user / "w2.pt", weights_only=True))
    b = land.layout.flatten({k: v.double() for k, v in other.named_parameters()})
    surf = plane(land, land.theta0, grid="-1:1:5", seed=0)
    assert summary["plane_min"] == pytest.approx(float(surf.losses.min()), rel=1e-10)
    rep = evaluate(linear(land.theta0, b), land)
    assert summary["line_barrier"] == pytest.approx(rep.barrier, rel=1e-10, abs=1e-12)
    cert = certify(linear(land.theta0, b), land, claim="sublevel", level=max(rep.start, rep.end))
    assert summary["certificate_kind"] == cert.kind
    assert summary["certificate_holds"] == cert.holds
    if cert.kind == "sampled":  # a user's Conv2d net: no bound is known, so nothing is proved
        assert cert.holds is not True and summary["certified_barrier_upper"] is None
    else:
        assert summary["certified_max_loss"] >= rep.max - 1e-9  # a proven bound is above every sample
    assert "curve_barrier" in summary
    folder = user / "runs" / report["run_id"] / "figures"
    assert {p.name for p in folder.iterdir()} >= {"plane.png", "interpolation.png", "connection.png"}


def test_report_badges_an_analysis_as_measured_not_agrees(user, capsys):
    code, out, err = _run(BASE + ["--eigs", "1", "--json"], capsys)
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    page = (user / "runs" / run_id / "report.html").read_text()
    index = (user / "runs" / "index.html").read_text()
    assert "MEASURED" in page and "AGREES" not in page
    assert "MEASURED" in index and "1 analysis" in index


def test_an_analysis_verdict_says_measured_never_agrees():
    """An analysis checks no theorem: its stored outcome is "measured" (status passed), and
    would be "measurement failed" (status failed) if one of its checks failed."""
    from valleys.analysis.stored import Measurement
    from valleys.record import Check
    from valleys.runs.record import completed_status

    done = Measurement()
    assert (done.outcome, done.passed, done.to_dict()["outcome"]) == ("measured", True, "measured")
    assert completed_status(done.to_dict()) == "passed"
    broken = Measurement()
    broken.checks.append(Check(name="x", kind="consistency", measured=1.0, expected=0.0, tolerance=0.0, passed=False))
    assert (broken.outcome, broken.passed) == ("measurement failed", False)
    assert completed_status(broken.to_dict()) == "failed"
