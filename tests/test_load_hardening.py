"""load_file on hostile input: damaged archives, lying headers, size caps, absurd labels."""

import io
import zipfile

import numpy as np
import pytest
import torch

from valleys.data import files as files_module
from valleys.data.files import DEFAULT_MAX_BYTES, MAX_CLASSES, load_file
from valleys.errors import DataError, InvalidParameterError


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def test_header_claiming_a_huge_shape_is_refused_before_allocating(tmp_path):
    # A ~1 KB archive whose X header claims shape (1e11, 10): 8 TB of float64.
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10 ** 11, 10)})
    path = tmp_path / "huge.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", header.getvalue() + b"\0" * 800)
        zf.writestr("y.npy", _npy_bytes(np.zeros(3, dtype=np.int64)))
    assert path.stat().st_size < 2048
    for cap in (None, 10 ** 13):  # refused from the header, whatever the cap
        with pytest.raises(DataError, match=r"header claims shape \(100000000000, 10\)"):
            load_file(path, max_bytes=cap)


def test_truncated_member_is_reported_as_truncated_not_as_objects(tmp_path):
    data = _npy_bytes(np.arange(100, dtype=np.float64).reshape(50, 2))
    path = tmp_path / "cut.npz"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("X.npy", data[: len(data) // 2])
        zf.writestr("y.npy", _npy_bytes(np.zeros(50, dtype=np.int64)))
    with pytest.raises(DataError, match="truncated or corrupt") as info:
        load_file(path)
    assert "Python objects" not in str(info.value)


def test_corrupted_member_bytes_are_a_data_error(tmp_path):
    path = _npz(tmp_path / "bad.npz", X=np.ones((40, 3)), y=np.zeros(40, dtype=int))
    raw = bytearray(path.read_bytes())
    start = raw.find(b"\x93NUMPY") + 200  # inside X's data: the CRC check fails
    raw[start:start + 16] = b"\xff" * 16
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="damaged"):
        load_file(path)


def test_compressed_member_with_corrupt_stream_is_a_data_error(tmp_path):
    path = tmp_path / "z.npz"
    np.savez_compressed(path, X=np.random.default_rng(0).normal(size=(200, 4)),
                        y=np.zeros(200, dtype=int))
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 3
    raw[mid:mid + 32] = b"\x00" * 32
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError):
        load_file(path)


def test_garbage_and_single_npy_files_are_data_errors(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="not a valid .npz archive"):
        load_file(junk)
    single = tmp_path / "one.npz"
    np.save(single.with_suffix(".npy"), np.ones((3, 2)))
    single.write_bytes(single.with_suffix(".npy").read_bytes())
    with pytest.raises(DataError, match="a single .npy array"):
        load_file(single)


def test_object_arrays_are_refused_from_the_header(tmp_path):
    path = tmp_path / "obj.npz"
    with zipfile.ZipFile(path, "w") as zf:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False,
                                                   "shape": (2, 2)})
        zf.writestr("X.npy", buf.getvalue() + b"\0" * 64)
        zf.writestr("y.npy", _npy_bytes(np.zeros(2, dtype=np.int64)))
    with pytest.raises(DataError, match="holds Python objects"):
        load_file(path)


def test_unreadable_file_is_a_data_error(tmp_path, monkeypatch):
    path = _npz(tmp_path / "locked.npz", X=np.ones((4, 2)), y=np.zeros(4, dtype=int))
    real_open = open

    def deny(file, *args, **kwargs):
        if str(file) == str(path):
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(DataError, match="permission denied"):
        load_file(path)


def test_size_cap_default_override_and_environment(tmp_path, monkeypatch):
    assert DEFAULT_MAX_BYTES == 2 * 1024 ** 3
    path = _npz(tmp_path / "d.npz", X=np.ones((100, 10)), y=np.zeros(100, dtype=int))
    assert load_file(path).n_samples == 100
    with pytest.raises(DataError, match="above the size cap of 1,000 bytes"):
        load_file(path, max_bytes=1000)
    monkeypatch.setenv("VALLEYS_MAX_DATA_BYTES", "1000")
    with pytest.raises(DataError, match="size cap"):
        load_file(path)
    assert load_file(path, max_bytes=10 ** 6).n_samples == 100
    monkeypatch.setenv("VALLEYS_MAX_DATA_BYTES", "lots")
    with pytest.raises(InvalidParameterError, match="VALLEYS_MAX_DATA_BYTES"):
        load_file(path)
    monkeypatch.delenv("VALLEYS_MAX_DATA_BYTES")
    csv = tmp_path / "d.csv"
    csv.write_text("a,b,y\n" + "1,2,0\n" * 200)
    with pytest.raises(DataError, match="above the size cap"):
        load_file(csv, max_bytes=100)
    with pytest.raises(InvalidParameterError, match="max_bytes"):
        load_file(csv, max_bytes=0)


@pytest.mark.parametrize("bad", [1e12, 2.0 ** 70, -1e12, MAX_CLASSES])
def test_absurd_class_labels_are_refused(tmp_path, bad):
    y = np.array([0.0, 1.0, bad])
    path = _npz(tmp_path / "lab.npz", X=np.ones((3, 2)), y=y)
    with pytest.raises(DataError, match="class indices 0..K-1|must be >= 0"):
        load_file(path)
    with pytest.raises(InvalidParameterError, match="n_classes"):
        load_file(path, n_classes=MAX_CLASSES + 1)


def test_image_shaped_inputs_are_accepted(tmp_path):
    X = np.random.default_rng(1).normal(size=(6, 3, 4, 5))
    path = _npz(tmp_path / "img.npz", X=X, y=np.arange(6) % 2)
    data = load_file(path)
    assert tuple(data.X.shape) == (6, 3, 4, 5) and data.X.dtype == torch.float64
    assert data.n_features == 60 and data.n_classes == 2
    assert torch.equal(data.X, torch.from_numpy(X))
    with pytest.raises(DataError, match="4-D image batch"):
        load_file(_npz(tmp_path / "three.npz", X=np.ones((6, 3, 4)), y=np.zeros(6, dtype=int)))


def test_every_reader_failure_is_a_data_error(tmp_path, monkeypatch):
    """Whatever the zip layer raises while reading a member ends as a DataError."""
    path = _npz(tmp_path / "ok.npz", X=np.ones((4, 2)), y=np.zeros(4, dtype=int))

    def explode(*args, **kwargs):
        raise zipfile.BadZipFile("Bad CRC-32 for file 'X.npy'")

    monkeypatch.setattr(files_module.read_npz.__globals__["np"].lib.format, "read_array", explode)
    with pytest.raises(DataError, match="damaged and cannot be read"):
        load_file(path)
