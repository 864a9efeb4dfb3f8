"""``valleys analyze`` inputs and refusals: regression data, tuple outputs, batch-norm models,
torch.func limits, the data seed, plane caps and one clean error line (exit 2, nothing stored)."""

import json
import logging
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from valleys.analysis import analyze
from valleys.analysis.inputs import DEFAULT_DATA_SEED
from valleys.analysis.options import MAX_PLANE_POINTS, MIN_GRID_STEP, AnalysisOptions
from valleys.cli import main
from valleys.data import digits
from valleys.errors import InvalidParameterError, ModelError, NonFiniteError

FACTORY = textwrap.dedent("""
    import logging
    import warnings

    import torch
    from torch import nn


    def mlp(seed=0):
        torch.manual_seed(seed)
        return nn.Sequential(nn.Linear(64, 6), nn.Tanh(), nn.Linear(6, 10))


    def reg2():
        torch.manual_seed(3)
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


    def reg1():
        torch.manual_seed(4)
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(5)
            self.body = nn.Sequential(nn.Linear(64, 6), nn.Tanh(), nn.Linear(6, 10))

        def forward(self, x):
            return self.body(x), x.sum(1)


    def pair():
        return Pair()


    def batchnorm():
        torch.manual_seed(6)
        return nn.Sequential(nn.Linear(64, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Linear(6, 10))


    class Attention(nn.Module):
        def __init__(self, need_weights):
            super().__init__()
            torch.manual_seed(7)
            self.need_weights = need_weights
            self.att = nn.MultiheadAttention(8, 2, batch_first=True)
            self.out = nn.Linear(64, 10)

        def forward(self, x):
            x = x.reshape(len(x), 8, 8)
            a, _ = self.att(x, x, x, need_weights=self.need_weights)
            return self.out(a.reshape(len(x), 64))


    def attention():
        return Attention(need_weights=False)


    def nan_output():
        torch.manual_seed(8)

        class Nan(nn.Module):
            def forward(self, x):
                return x * float("nan")

        return nn.Sequential(nn.Linear(64, 10), Nan())


    def noisy():
        warnings.warn("a warning line from the user's code")
        logging.getLogger("torch._export.non_strict_utils").warning("a torch log line")
        raise RuntimeError("\\x1b[31mcoloured\\x1b[0m failure")


    def noisy_ok():
        warnings.warn("a warning line from the user's code")
        return mlp()
""")
N = 50


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A folder with the factories, digits as .npz, NaN weights and regression data files."""
    (tmp_path / "nets.py").write_text(FACTORY)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("nets", None)
    data = digits(n=N, seed=0)
    np.savez(tmp_path / "digits.npz", X=data.X.numpy(), y=data.y.numpy())
    state = _mlp().state_dict()
    state["0.weight"][1, 2] = float("nan")
    torch.save(state, tmp_path / "nan.pt")
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(30, 3)), rng.normal(size=(30, 2))
    np.savez(tmp_path / "reg.npz", X=X, y=Y)
    y1 = rng.normal(size=30)
    lines = ["a,b,c,target"] + [",".join(repr(float(v)) for v in [*x, t]) for x, t in zip(X, y1, strict=True)]
    (tmp_path / "reg.csv").write_text("\n".join(lines) + "\n")
    return tmp_path


def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(64, 6), nn.Tanh(), nn.Linear(6, 10))


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _analyze(*args):
    return ["analyze", "--runs-dir", "runs", *args]


def _refused(user, capsys, argv, needle):
    code, out, err = _run(argv, capsys)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle.lower() in lines[0].lower(), err
    assert "\x1b" not in err
    assert not (user / "runs").exists(), "nothing is stored for a refused command"
    return lines[0]


# -- regression data (item 15) -------------------------------------------------------------


def _dense_mse(model, X, Y):
    """Loss and Hessian eigenvalues of mean_i ||f(x_i) - y_i||^2, written out by hand."""
    model = model.double()
    names = [n for n, _ in model.named_parameters()]
    shapes = [p.shape for _, p in model.named_parameters()]
    theta = torch.cat([p.detach().reshape(-1) for _, p in model.named_parameters()])

    def loss(flat):
        params, i = {}, 0
        for name, shape in zip(names, shapes, strict=True):
            size = int(np.prod(shape))
            params[name] = flat[i:i + size].reshape(shape)
            i += size
        out = torch.func.functional_call(model, params, (X,))
        return ((out.reshape(len(X), -1) - Y.reshape(len(X), -1)) ** 2).sum(1).mean()

    H = torch.autograd.functional.hessian(loss, theta)
    return float(loss(theta)), torch.linalg.eigvalsh(H).numpy()


@pytest.mark.parametrize(("factory", "data"), [("reg2", "reg.npz"), ("reg1", "reg.csv")])
def test_regression_files_from_the_cli_and_the_library_agree_with_a_dense_loss(user, capsys, factory, data):
    import nets

    label = ["--label", "target"] if data.endswith(".csv") else []
    code, out, err = _run(_analyze("--model", f"nets.py:{factory}", "--data", data, "--task", "regression",
                                   "--loss", "mse", "--eigs", "1", "--json", *label), capsys)
    assert code == 0, err
    report = json.loads(out)
    if data.endswith(".npz"):
        with np.load(user / data) as f:
            X, Y = torch.as_tensor(f["X"]), torch.as_tensor(f["y"])
    else:
        table = np.loadtxt(user / data, delimiter=",", skiprows=1)
        X, Y = torch.as_tensor(table[:, :3]), torch.as_tensor(table[:, 3])
    value, lam = _dense_mse(getattr(nets, factory)(), X, Y)
    summary = report["summary"]
    assert summary["loss"] == pytest.approx(value, rel=1e-12)
    assert summary["lambda_max"] == pytest.approx(lam.max(), rel=1e-6)
    assert summary["lambda_min"] == pytest.approx(lam.min(), rel=1e-6, abs=1e-9)
    assert report["params"]["task"] == "regression"
    res = analyze(getattr(nets, factory)(), data, "mse", task="regression", eigs=1, trace=False,
                  label=label[1] if label else "y")
    assert res.summary["loss"] == pytest.approx(summary["loss"], rel=1e-14)
    assert res.metadata["data"]["task"] == "regression"


def test_regression_file_without_task_or_label_says_how(user, capsys):
    _refused(user, capsys, _analyze("--model", "nets.py:reg2", "--data", "reg.npz", "--loss", "mse"),
             "--task regression")
    _refused(user, capsys, _analyze("--model", "nets.py:reg1", "--data", "reg.csv", "--loss", "mse",
                                    "--task", "regression"), "--label NAME")
    with pytest.raises(InvalidParameterError, match="task"):
        analyze(_mlp(), "digits", task="regression")  # a named data set has its own task


# -- tuple outputs (item 15) ---------------------------------------------------------------


def test_tuple_output_is_selected_with_output(user, capsys):
    import nets

    line = _refused(user, capsys, _analyze("--model", "nets.py:pair", "--data", "digits.npz"), "--output")
    assert "output=0" in line and "Landscape(" not in line
    code, out, err = _run(_analyze("--model", "nets.py:pair", "--data", "digits.npz", "--output", "0",
                                   "--eigs", "1", "--trace", "--json"), capsys)
    assert code == 0, err
    summary = json.loads(out)["summary"]
    model = nets.pair()
    data = digits(n=N, seed=0)
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model.double()(data.X.double())[0], data.y)
    assert summary["loss"] == pytest.approx(float(expected), rel=1e-12)
    res = analyze(nets.pair(), (data.X, data.y), output=0, eigs=1, trace=False)
    assert res.summary["loss"] == pytest.approx(summary["loss"], rel=1e-14)
    assert res.summary["lambda_max"] == pytest.approx(summary["lambda_max"], rel=1e-8)
    with pytest.raises(ModelError, match="output=0"):
        analyze(nets.pair(), (data.X, data.y), eigs=1)


# -- batch-norm in training mode (item 15) -------------------------------------------------


def test_batchnorm_model_is_analysed_in_eval_mode_and_says_so(user, capsys):
    import nets

    code, out, err = _run(_analyze("--model", "nets.py:batchnorm", "--data", "digits.npz", "--eigs", "1"),
                          capsys)
    assert code == 0, err
    assert "note: the model was analysed in eval mode" in out and "BatchNorm1d" in out
    run_id = out.split()[1]
    stored = json.loads((user / "runs" / run_id / "metadata.json").read_text())
    assert any("eval mode" in note for note in stored["result"]["notes"])
    model = nets.batchnorm()
    data = digits(n=N, seed=0)
    res = analyze(model, (data.X, data.y), eigs=1, trace=False)
    assert model.training and model[1].training, "the caller's model keeps its mode"
    assert any("BatchNorm1d" in note for note in res.metadata["notes"])
    with torch.no_grad():
        expected = nn.functional.cross_entropy(nets.batchnorm().double().eval()(data.X.double()), data.y)
    assert res.summary["loss"] == pytest.approx(float(expected), rel=1e-12)
    assert f"{res.summary['loss']:.6g}" in out
    plain = analyze(_mlp(), (data.X, data.y), eigs=1, trace=False)
    assert plain.metadata["notes"] == []


# -- torch.func limitation (item 15) -------------------------------------------------------


def test_attention_that_torch_func_cannot_transform_is_refused_with_the_workaround(user, capsys):
    import nets

    line = _refused(user, capsys, _analyze("--model", "nets.py:attention", "--data", "digits.npz", "--eigs", "1"),
                    "need_weights=True")
    assert "internal error" not in line and "sdpa_kernel" in line
    data = digits(n=10, seed=0)
    model = nets.attention()
    model.need_weights = True  # the workaround
    res = analyze(model, (data.X, data.y), eigs=1, trace=False)
    assert np.isfinite(res.summary["lambda_max"])


# -- data seed (item 16) -------------------------------------------------------------------


def test_seed_does_not_resample_the_data_subset(user, capsys):
    hashes = {}
    for extra in (["--seed", "0"], ["--seed", "1"], ["--seed", "1", "--data-seed", "5"]):
        code, out, err = _run(_analyze("--model", "nets.py:mlp", "--data", "digits.npz", "--n", "20",
                                       "--eigs", "1", "--json", *extra), capsys)
        assert code == 0, err
        report = json.loads(out)
        stored_params = json.loads((user / "runs" / report["run_id"] / "params.json").read_text())
        hashes[" ".join(extra)] = stored_params["data_sha256"]
        stored = json.loads((user / "runs" / report["run_id"] / "metadata.json").read_text())
        assert stored["result"]["data"]["subset_seed"] == (5 if "--data-seed" in extra else DEFAULT_DATA_SEED)
    assert hashes["--seed 0"] == hashes["--seed 1"]
    assert hashes["--seed 1 --data-seed 5"] != hashes["--seed 1"]
    data = digits(n=N, seed=0)
    a = analyze(_mlp(), (data.X, data.y), n=20, seed=0, eigs=0, trace=False)
    b = analyze(_mlp(), (data.X, data.y), n=20, seed=3, eigs=0, trace=False)
    assert a.metadata["data"]["data_sha256"] == b.metadata["data"]["data_sha256"]
    assert a.summary["loss"] == b.summary["loss"]


# -- plane grid cap and resolution (items 4 and 10) ----------------------------------------


def test_plane_grid_is_capped_before_anything_runs(user, capsys):
    line = _refused(user, capsys, _analyze("--model", "nets.py:mlp", "--data", "digits.npz", "--plane=-1:1:3000"),
                    "--max-plane-points")
    assert "9,000,000" in line
    with pytest.raises(InvalidParameterError, match="max_plane_points"):
        analyze(_mlp(), "digits", plane="-1:1:3000")
    side = int(MAX_PLANE_POINTS ** 0.5)
    assert AnalysisOptions(plane=f"-1:1:{side}").plane.points <= MAX_PLANE_POINTS
    with pytest.raises(InvalidParameterError):
        AnalysisOptions(plane=f"-1:1:{side + 1}")
    assert AnalysisOptions(plane="-1:1:300", max_plane_points=90_000).plane.num == 300


def test_cli_help_states_the_library_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"default {MAX_PLANE_POINTS} =" in text
    assert f"default {DEFAULT_DATA_SEED};" in text


@pytest.mark.parametrize("grid", ["0:1e-320:3", f"0:{MIN_GRID_STEP / 10:g}:2", "-1e308:1e308:3"])
def test_unresolvable_plane_grid_is_a_user_error_and_stores_nothing(user, capsys, grid):
    _refused(user, capsys, _analyze("--model", "nets.py:mlp", "--data", "digits.npz", f"--plane={grid}"),
             "plane grid")


# -- user errors are exit 2, one clean line, nothing stored (item 10) -------------------------


def test_input_shape_that_is_not_integers(user, capsys):
    _refused(user, capsys, _analyze("--model", "nets.py:mlp", "--data", "digits.npz", "--input-shape", "a,b"),
             "--input-shape")


def test_non_finite_weights_and_nan_outputs_are_refused_before_storing(user, capsys):
    _refused(user, capsys, _analyze("--model", "nets.py:mlp", "--weights", "nan.pt", "--data", "digits.npz"),
             "NaN")
    _refused(user, capsys, _analyze("--model", "nets.py:nan_output", "--data", "digits.npz"), "nan")
    import nets

    with pytest.raises(NonFiniteError):
        analyze(nets.nan_output(), "digits", eigs=1)


def test_warnings_and_ansi_codes_stay_out_of_the_error_line(user, capsys):
    line = _refused(user, capsys, _analyze("--model", "nets.py:noisy", "--data", "digits.npz"),
                    "coloured failure")
    assert "[31m" not in line
    handlers = list(logging.getLogger("torch._export.non_strict_utils").handlers)
    code, out, err = _run(_analyze("--model", "nets.py:noisy_ok", "--data", "digits.npz", "--eigs", "1"), capsys)
    assert code == 0, err
    assert "valleys: warning: UserWarning: a warning line from the user's code" in err
    assert logging.getLogger("torch._export.non_strict_utils").handlers == handlers, "torch's logging is restored"


def test_argparse_errors_name_the_program_once(capsys):
    code, out, err = _run(["nosuchcommand"], capsys)
    assert code == 2 and err.startswith("valleys: error: argument COMMAND") and err.count("valleys:") == 1
    code, out, err = _run(["analyze", "--model", "m.py:f", "--data", "digits", "--eigs", "x"], capsys)
    assert code == 2 and err.startswith("valleys: error: analyze: argument --eigs"), err
    assert err.count("valleys:") == 1


@pytest.fixture(autouse=True)
def _forget_user_modules():
    yield
    sys.modules.pop("nets", None)
