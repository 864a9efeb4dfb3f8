"""Loading a user's model runs none of the file's code, and refuses what it cannot load faithfully.

Crafted ``.pt2`` archives carry each way ``torch.export.load`` would run code (pickled weights,
opaque-object constants, sample inputs that need full unpickling, ``guards_code`` that
``ExportedProgram.module()`` executes, symbolic expressions that ``sympify`` evaluates); each
payload creates a marker file when it runs. ``valleys analyze`` and ``valleys sweep analyze``
must refuse them in one line with exit 2, store nothing, and never create the marker. Corrupted
checkpoints, files that are not checkpoints, sparse/meta state dicts and user code that calls
``sys.exit`` are refused the same way.
"""

import io
import json
import os
import pickle
import re
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

from valleys.analysis import load_exported, load_factory, read_state_dict
from valleys.cli import main
from valleys.errors import DataError, ModelError, UnsafeModelError

N, D_IN, CLASSES = 24, 4, 3


class Payload:
    """Pickles to ``open(marker, "w")``: unpickling it with code allowed creates the marker."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(D_IN, 8), nn.Tanh(), nn.Linear(8, CLASSES)).double()


def _data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((N, D_IN)), rng.integers(0, CLASSES, N)


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A folder with a benign exported MLP (dynamic batch), its data, and no runs yet."""
    monkeypatch.chdir(tmp_path)
    X, y = _data()
    np.savez(tmp_path / "data.npz", X=X, y=y)
    program = torch.export.export(_mlp(), (torch.zeros(5, D_IN, dtype=torch.float64),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    torch.export.save(program, tmp_path / "benign.pt2")
    return tmp_path


def _tsave(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def _rewrite(src, dst, change):
    """Copy the archive ``src`` to ``dst`` with ``change(members)`` applied to its members."""
    with zipfile.ZipFile(src) as zin:
        root = zin.namelist()[0].split("/")[0]
        members = {i.filename[len(root) + 1:]: zin.read(i) for i in zin.infolist()}
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for rel, data in change(members).items():
            zout.writestr(f"{root}/{rel}", data)
    return dst


def _config(members, kind):
    return json.loads(members[f"data/{kind}/model_{kind}_config.json"])


def _set_config(members, kind, config):
    members[f"data/{kind}/model_{kind}_config.json"] = json.dumps(config).encode()


def pickled_weight(members, marker):
    config = _config(members, "weights")
    entry = config["config"]["0.weight"]
    entry["use_pickle"] = True
    _set_config(members, "weights", config)
    members[f"data/weights/{entry['path_name']}"] = _tsave(Payload(marker))
    return members


def opaque_constant(members, marker):
    config = _config(members, "constants")
    config["config"]["evil"] = {"path_name": "opaque_obj_0", "is_param": False, "use_pickle": True,
                                "tensor_meta": None}
    _set_config(members, "constants", config)
    members["data/constants/opaque_obj_0"] = pickle.dumps(Payload(marker))
    return members


def sample_inputs(members, marker):
    members["data/sample_inputs/model.pt"] = _tsave(((Payload(marker),), {}))
    return members


def guards_code(members, marker):
    program = json.loads(members["models/model.json"])
    program["guards_code"] = [f"open({str(marker)!r}, 'w') is not None"]
    members["models/model.json"] = json.dumps(program).encode()
    return members


def sympy_expression(members, marker):
    program = json.loads(members["models/model.json"])

    def poison(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "expr_str":
                    node[key] = f"open({str(marker)!r}, 'w') and {value}"
                    return True
                if poison(value):
                    return True
        if isinstance(node, list):
            return any(poison(item) for item in node)
        return False

    assert poison(program["graph_module"]), "the benign export has a symbolic batch size"
    members["models/model.json"] = json.dumps(program).encode()
    return members


def graph_call(members, marker):
    program = json.loads(members["models/model.json"])
    program["graph_module"]["graph"]["nodes"].insert(0, {
        "target": "torch.os.system", "name": "evil", "metadata": {}, "is_hop_single_tensor_return": None,
        "inputs": [{"name": "command", "arg": {"as_string": f"touch {marker}"}, "kind": 1}],
        "outputs": [{"as_none": True}]})
    members["models/model.json"] = json.dumps(program).encode()
    return members


def compiled_library(members, marker):
    members["data/aotinductor/model/model.so"] = b"\x7fELF" + b"\0" * 60
    return members


def legacy_weights(members, marker):
    members["data/weights/model.pt"] = _tsave({"0.weight": Payload(marker)})
    return members


def custom_object(members, marker):
    config = _config(members, "constants")
    config["config"]["obj"] = {"path_name": "custom_obj_0", "is_param": False, "use_pickle": False,
                               "tensor_meta": None}
    _set_config(members, "constants", config)
    members["data/constants/custom_obj_0"] = pickle.dumps(Payload(marker))
    return members


PAYLOADS = [pickled_weight, opaque_constant, sample_inputs, guards_code, sympy_expression,
            graph_call, compiled_library, legacy_weights, custom_object]
#: The payloads that ran the marker code (with exit 0 for the last three) before the check.
RAN_BEFORE = [pickled_weight, opaque_constant, sample_inputs, guards_code, sympy_expression]


def _crafted(user, craft):
    marker = user / f"MARKER_{craft.__name__}"
    path = _rewrite(user / "benign.pt2", user / f"{craft.__name__}.pt2", lambda m: craft(m, marker))
    return path, marker


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_refused(code, out, err, user, fragment=""):
    lines = err.strip().splitlines()
    assert code == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("valleys: error: "), err
    assert fragment in lines[0], lines[0]
    assert not (user / "runs").exists()


@pytest.mark.parametrize("craft", PAYLOADS, ids=lambda f: f.__name__)
def test_crafted_archive_is_refused_before_torch_loads_it(user, craft):
    path, marker = _crafted(user, craft)
    with pytest.raises(UnsafeModelError, match="Refusing"):
        load_exported(path)
    assert not marker.exists()


@pytest.mark.parametrize("craft", RAN_BEFORE, ids=lambda f: f.__name__)
def test_analyze_refuses_each_payload_in_one_line_and_stores_nothing(user, capsys, craft):
    path, marker = _crafted(user, craft)
    code, out, err = _run(capsys, "analyze", "--model", path.name, "--data", "data.npz",
                          "--runs-dir", "runs")
    _assert_refused(code, out, err, user, "Refusing")
    assert not marker.exists()


@pytest.mark.parametrize("craft", RAN_BEFORE, ids=lambda f: f.__name__)
def test_sweep_analyze_refuses_each_payload(user, capsys, craft):
    path, marker = _crafted(user, craft)
    code, out, err = _run(capsys, "--runs-dir", "runs", "sweep", "analyze", "--set",
                          f"model={path.name}", "data=data.npz", "--grid", "n=10,20", "--workers", "0")
    _assert_refused(code, out, err, user, "Refusing")
    assert not marker.exists()


def test_duplicate_members_or_prepended_bytes_are_refused(user):
    with zipfile.ZipFile(user / "benign.pt2") as zin:
        members = [(i.filename, zin.read(i)) for i in zin.infolist()]
    with pytest.warns(UserWarning, match="Duplicate name"), \
            zipfile.ZipFile(user / "twice.pt2", "w", zipfile.ZIP_STORED) as zout:
        for name, data in members + [m for m in members if m[0].endswith("models/model.json")]:
            zout.writestr(name, data)
    with pytest.raises(UnsafeModelError, match="same member name twice"):
        load_exported(user / "twice.pt2")
    (user / "prefixed.pt2").write_bytes(b"#!" + b"x" * 98 + (user / "benign.pt2").read_bytes())
    with pytest.raises(UnsafeModelError, match="bytes precede"):
        load_exported(user / "prefixed.pt2")


@pytest.mark.parametrize("text, safe", [
    ("Symbol('s31', positive=True, integer=True)", True),
    ("2*s0 + FloorDiv(s1, 4)", True),
    ("Max(1, s0) <= 1024", True),
    ("open('m', 'w') and s0", False),
    ("s0.__class__", False),
    ("Symbol('s0', positive=__import__('os'))", False),
    ("(lambda: s0)()", False),
])
def test_symbolic_expression_grammar(text, safe):
    from valleys.analysis.archive import _safe_sym_expr

    assert _safe_sym_expr(text) is safe


@pytest.mark.parametrize("text, safe", [
    ("L['x'].size()[0] <= 1024", True),
    ("2 <= L['input'].size()[0] and L['x'].stride()[1] == 1", True),
    ("L['x'].size()[0] == L['y'].size()[1] * 2", True),
    ("L['x'].__class__", False),
    ("L['x\"+open(1)+\"'].size()[0] > 1", False),
    ("__import__('os').system('true') == 0", False),
    ("L['x'].size(dim=0) > 1", False),
])
def test_guard_grammar(text, safe):
    from valleys.analysis.archive import _safe_guard

    assert _safe_guard(text) is safe


def test_benign_archive_still_loads_and_gives_the_plain_torch_loss(user, capsys):
    code, out, err = _run(capsys, "analyze", "--model", "benign.pt2", "--data", "data.npz",
                          "--runs-dir", "runs", "--json")
    assert code == 0, err
    X, y = _data()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(_mlp()(torch.as_tensor(X)), torch.as_tensor(y))
    assert json.loads(out)["summary"]["loss"] == pytest.approx(float(expected), rel=1e-12)


def test_archive_with_a_tensor_constant_and_a_batch_norm_loads(tmp_path):
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.GELU(approximate="tanh"))
            self.k = torch.tensor([1.0, 2.0, 3.0, 4.0])  # exported as a tensor constant

        def forward(self, x):
            return self.net(x) * self.k + x.shape[0]

    model = Scaled().eval()
    x = torch.randn(6, 3)
    torch.export.save(torch.export.export(model, (x,), dynamic_shapes=({0: torch.export.Dim("b")},)),
                      tmp_path / "m.pt2")
    loaded = load_exported(tmp_path / "m.pt2")
    torch.testing.assert_close(loaded(x[:4]), model(x[:4]))


def _flip(path, pick, nbytes):
    """XOR ``nbytes`` bytes inside the largest stored member whose name satisfies ``pick``."""
    with zipfile.ZipFile(path) as zf:
        info = max((i for i in zf.infolist() if pick(i.filename)), key=lambda i: i.file_size)
    assert info.compress_type == zipfile.ZIP_STORED and info.file_size >= nbytes
    raw = bytearray(path.read_bytes())
    local = info.header_offset
    name_len, extra_len = int.from_bytes(raw[local + 26:local + 28], "little"), int.from_bytes(
        raw[local + 28:local + 30], "little")
    start = local + 30 + name_len + extra_len
    raw[start:start + nbytes] = bytes(b ^ 0x5A for b in raw[start:start + nbytes])
    path.write_bytes(bytes(raw))


def test_opaque_or_damaged_pt2_is_exit_2(user, capsys):
    (user / "random.pt2").write_bytes(np.random.default_rng(1).bytes(3000))
    (user / "folder.pt2").mkdir()
    (user / "flipped.pt2").write_bytes((user / "benign.pt2").read_bytes())
    _flip(user / "flipped.pt2", lambda name: "/data/weights/weight_" in name, 16)
    for name, fragment in [("random.pt2", "not a torch.export archive"), ("folder.pt2", "is a directory"),
                           ("flipped.pt2", "corrupted")]:
        code, out, err = _run(capsys, "analyze", "--model", name, "--data", "data.npz", "--runs-dir", "runs")
        _assert_refused(code, out, err, user, fragment)


# -- checkpoints --------------------------------------------------------------------------------

FACTORY = """
import torch
from torch import nn

def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).double()

def quits():
    raise SystemExit(0)

def interrupted():
    raise KeyboardInterrupt
"""


@pytest.fixture
def factory(user):
    (user / "nets.py").write_text(FACTORY)
    (user / "exits.py").write_text("import sys\nsys.exit(0)\n")
    return user


def _analyze_weights(capsys, weights):
    return _run(capsys, "analyze", "--model", "nets.py:mlp", "--weights", weights, "--data", "data.npz",
                "--runs-dir", "runs")


def test_checkpoint_with_flipped_bytes_in_a_storage_is_refused(factory, capsys):
    torch.manual_seed(3)
    state = {k: torch.randn_like(v) for k, v in _mlp().state_dict().items()}
    torch.save(state, factory / "w.pt")
    _flip(factory / "w.pt", lambda name: "/data/" in name, 64)
    damaged = torch.load(factory / "w.pt", weights_only=True)  # torch itself does not notice
    assert any(not torch.equal(damaged[k], state[k]) for k in state)
    code, out, err = _analyze_weights(capsys, "w.pt")
    _assert_refused(code, out, err, factory, "corrupted")


def test_random_bytes_and_a_directory_as_weights_are_named_as_such(factory, capsys):
    (factory / "noise.pt").write_bytes(np.random.default_rng(2).bytes(4000))
    code, out, err = _analyze_weights(capsys, "noise.pt")
    _assert_refused(code, out, err, factory, "not a torch checkpoint")
    assert "unpickling" not in err
    (factory / "ckpt").mkdir()
    code, out, err = _analyze_weights(capsys, "ckpt")
    _assert_refused(code, out, err, factory, "is a directory")


@pytest.mark.parametrize("kind", ["sparse", "meta"])
def test_sparse_or_meta_state_dict_is_exit_2(factory, capsys, kind):
    state = _mlp().state_dict()
    state["0.weight"] = state["0.weight"].to_sparse() if kind == "sparse" else torch.empty(8, 4, device="meta")
    torch.save(state, factory / "w.pt")
    with pytest.raises(DataError, match="0.weight"):
        read_state_dict(factory / "w.pt")
    code, out, err = _analyze_weights(capsys, "w.pt")
    _assert_refused(code, out, err, factory, "dense tensors")


# -- user code that exits -----------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["exits.py:mlp", "nets.py:quits"])
def test_user_code_calling_sys_exit_is_one_line_exit_2(factory, capsys, spec):
    code, out, err = _run(capsys, "analyze", "--model", spec, "--data", "data.npz", "--runs-dir", "runs")
    _assert_refused(code, out, err, factory, "sys.exit(0)")
    code, out, err = _run(capsys, "--runs-dir", "runs", "sweep", "analyze", "--set", f"model={spec}",
                          "data=data.npz", "--grid", "n=10,20", "--workers", "0")
    _assert_refused(code, out, err, factory, "sys.exit(0)")


def test_sys_exit_in_an_imported_module_is_a_model_error(factory, monkeypatch):
    monkeypatch.syspath_prepend(str(factory))
    with pytest.raises(ModelError, match=r"Importing 'exits' called sys.exit\(0\)"):
        load_factory("exits:mlp")


def test_keyboard_interrupt_in_user_code_still_propagates(factory):
    with pytest.raises(KeyboardInterrupt):
        load_factory("nets.py:interrupted")


# -- the suggested export fix -------------------------------------------------------------------

def test_suggested_export_fix_works_for_nn_sequential(user, capsys):
    model = _mlp()
    fixed = torch.export.export(model, (torch.zeros(5, D_IN, dtype=torch.float64),))  # batch fixed to 5
    torch.export.save(fixed, user / "fixed.pt2")
    code, out, err = _run(capsys, "analyze", "--model", "fixed.pt2", "--data", "data.npz", "--runs-dir", "runs")
    _assert_refused(code, out, err, user, "dynamic")
    snippet = re.search(r"dimension: (torch\.export\.save\(.*'model\.pt2'\))", err).group(1)
    x = torch.zeros(5, D_IN, dtype=torch.float64)
    exec(snippet, {"torch": torch, "model": model, "x": x})  # noqa: S102 - valleys' own message
    assert os.path.isfile(user / "model.pt2")
    code, out, err = _run(capsys, "analyze", "--model", "model.pt2", "--data", "data.npz",
                          "--runs-dir", "runs", "--json")
    assert code == 0, err
    X, y = _data()
    with torch.no_grad():
        expected = nn.functional.cross_entropy(model(torch.as_tensor(X)), torch.as_tensor(y))
    assert json.loads(out)["summary"]["loss"] == pytest.approx(float(expected), rel=1e-12)
