"""Tests of valleys.data: generators, shipped sets, user files and the registry."""

from __future__ import annotations

import csv
import math
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from valleys.data import (
    Dataset,
    auer_singleton,
    clustered,
    digits,
    full_rank,
    gaussian,
    get_dataset,
    list_datasets,
    load_file,
    low_rank,
    mnist1d,
    rotate_image,
    rotated_digits,
    singleton,
    teacher,
    two_class_regions,
)
from valleys.errors import DataError, InvalidParameterError, ShapeError

SMALL = {
    "gaussian": lambda s: gaussian(30, 4, seed=s, out_dim=2, noise=0.1),
    "teacher": lambda s: teacher(30, 4, 5, seed=s, bias=True),
    "low_rank": lambda s: low_rank(30, 8, 3, seed=s),
    "low_rank_relu": lambda s: low_rank(30, 8, 2, seed=s, targets="relu", max_norm=1.0),
    "full_rank": lambda s: full_rank(6, 9, seed=s),
    "clustered": lambda s: clustered(40, 10, 8, 1e-2, seed=s),
    "singleton": lambda s: singleton(25, 10, seed=s),
    "two_class_regions": lambda s: two_class_regions(60, seed=s, components=4),
    "rotated_digits": lambda s: rotated_digits(20, seed=s),
    "digits": lambda s: digits(n=50, seed=s),
}


def press_rank(A: torch.Tensor) -> int:
    """Numerical rank with the thesis' threshold 1/2 sqrt(m+n+1) s_max eps (CLAIMS.md)."""
    s = torch.linalg.svdvals(A)
    m, n = A.shape
    tol = 0.5 * math.sqrt(m + n + 1) * s[0] * torch.finfo(A.dtype).eps
    return int((s > tol).sum())


# ----------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("name", sorted(SMALL))
def test_same_seed_gives_same_data(name):
    a, b = SMALL[name](3), SMALL[name](3)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_different_seed_gives_different_data(name):
    a, b = SMALL[name](3), SMALL[name](4)
    assert not torch.equal(a.X, b.X)


@pytest.mark.parametrize("name", sorted(SMALL))
def test_generators_return_float64_datasets(name):
    ds = SMALL[name](0)
    assert isinstance(ds, Dataset) and ds.X.dtype == torch.float64 and ds.X.ndim == 2
    X, y = ds.as_pair()
    assert X is ds.X and y is ds.y and len(y) == ds.n_samples
    expected = torch.int64 if ds.task == "classification" else torch.float64
    assert ds.y.dtype == expected


def test_generator_seed_accepts_torch_generator():
    a = gaussian(5, 2, seed=torch.Generator().manual_seed(7))
    assert torch.equal(a.X, gaussian(5, 2, seed=7).X)


# ----------------------------------------------------------------------------- exact properties


def test_gaussian_targets_are_the_linear_map():
    ds = gaussian(50, 6, seed=1, out_dim=3, std=2.0)
    assert ds.X.shape == (50, 6) and ds.y.shape == (50, 3)
    np.testing.assert_allclose(ds.y.numpy(), ds.X.numpy() @ ds.meta["weights"].numpy().T,
                               rtol=1e-13, atol=1e-13)
    assert gaussian(50, 6, seed=1).y.shape == (50,)


@pytest.mark.parametrize("activation, fn", [
    ("relu", lambda z: np.maximum(z, 0.0)),
    ("tanh", np.tanh),
    ("sigmoid", lambda z: 1.0 / (1.0 + np.exp(-z))),
    ("leaky_relu", lambda z: np.where(z > 0, z, 0.1 * z)),
    ("cube", lambda z: z**3),
])
def test_teacher_targets_reproduce_the_teacher(activation, fn):
    ds = teacher(40, 5, 7, activation=activation, seed=2, bias=True, out_dim=2)
    m = {k: ds.meta[k].numpy() for k in ("W1", "b1", "W2")}
    expected = fn(ds.X.numpy() @ m["W1"].T + m["b1"]) @ m["W2"].T
    np.testing.assert_allclose(ds.y.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_teacher_noise_moves_targets_away_from_the_teacher():
    clean = teacher(200, 3, 4, seed=5)
    noisy = teacher(200, 3, 4, seed=5, noise=0.5)
    assert torch.equal(clean.X, noisy.X)
    resid = (noisy.y - clean.y).std().item()
    assert 0.4 < resid < 0.6


@pytest.mark.parametrize("n, d, rank", [(30, 8, 1), (30, 8, 3), (10, 40, 10), (50, 20, 19)])
def test_low_rank_has_exact_numerical_rank(n, d, rank):
    ds = low_rank(n, d, rank, seed=rank)
    assert press_rank(ds.X) == rank
    basis = ds.meta["basis"]
    assert torch.allclose(basis.T @ basis, torch.eye(rank, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(ds.X @ basis @ basis.T, ds.X, atol=1e-10)


def test_low_rank_relu_targets_are_realizable_within_norm_bound():
    ds = low_rank(30, 8, 2, seed=0, targets="relu", max_norm=1.0, teacher_width=3)
    assert ds.X.norm(dim=1).max().item() == pytest.approx(1.0, abs=1e-14)
    W1, W2 = ds.meta["W1"], ds.meta["W2"]
    assert torch.all(W2.abs()[0] * W1.norm(dim=1) <= 1.0 + 1e-14)
    expected = torch.relu(ds.X @ W1.T) @ W2.T
    assert torch.allclose(ds.y, expected[:, 0], atol=1e-14)
    assert press_rank(ds.X) == 2


@pytest.mark.parametrize("n, d", [(1, 1), (5, 5), (20, 25), (50, 55)])
def test_full_rank_has_rank_n(n, d):
    ds = full_rank(n, d, seed=n)
    assert ds.X.shape == (n, d) and press_rank(ds.X) == n


def test_full_rank_with_explicit_rank():
    ds = full_rank(30, 12, 7, seed=1, out_dim=2)
    assert ds.X.shape == (30, 12) and ds.y.shape == (30, 2) and press_rank(ds.X) == 7
    assert torch.equal(full_rank(5, 9, 5, seed=2).X, full_rank(5, 9, seed=2).X)


def test_full_rank_refuses_impossible_ranks():
    with pytest.raises(InvalidParameterError, match="'n' parameter of full_rank"):
        full_rank(11, 10)
    with pytest.raises(InvalidParameterError, match="'m' parameter of full_rank .* <= 10"):
        full_rank(20, 10, 11)


def test_singleton_rows_have_exactly_one_nonzero():
    ds = singleton(300, 50, seed=3, low=0.25, high=2.0)
    nonzero = ds.X != 0
    assert torch.all(nonzero.sum(dim=1) == 1)
    coord = nonzero.to(torch.int64).argmax(dim=1)
    assert torch.equal(coord, ds.meta["coordinate"])
    mag = ds.X.abs().sum(dim=1)
    assert torch.all((mag >= 0.25) & (mag < 2.0))
    assert set(coord.tolist()) == set(range(50))  # n >= d covers every coordinate
    assert (ds.X > 0).any() and (ds.X < 0).any()


def test_auer_singleton_basins_have_distinct_minima():
    ds = auer_singleton(4, targets=(1.0, 2.0))
    assert torch.equal(ds.X, torch.cat([torch.eye(4), -torch.eye(4)]).to(torch.float64))

    def loss(w):  # single bias-free ReLU neuron, squared loss
        return ((torch.relu(ds.X @ w) - ds.y) ** 2).sum().item()

    w = torch.zeros(4, dtype=torch.float64)
    w_pos, w_neg = w.clone(), w.clone()
    w_pos[0], w_neg[0] = 1.0, -2.0  # the minimiser of each basin of coordinate 0
    base = loss(w)
    assert base - loss(w_pos) == pytest.approx(1.0)  # positive basin removes t_+^2 = 1
    assert base - loss(w_neg) == pytest.approx(4.0)  # negative basin removes t_-^2 = 4


def test_clustered_points_lie_within_delta_of_their_centre():
    ds = clustered(160, 10, 8, 3e-3, seed=4, lipschitz=2.0)
    C, a = ds.meta["centers"], ds.meta["assignment"]
    assert torch.allclose(C.norm(dim=1), torch.ones(8, dtype=torch.float64), atol=1e-14)
    assert torch.all((ds.X - C[a]).norm(dim=1) <= 3e-3 * (1 + 1e-12))
    assert torch.equal(torch.cdist(ds.X, C).argmin(dim=1), a)
    assert torch.equal(torch.bincount(a), torch.full((8,), 20))
    assert press_rank(C) == 8  # general position
    same = a[:, None] == a[None, :]
    dy = (ds.y[:, None] - ds.y[None, :]).abs()
    dx = torch.cdist(ds.X, ds.X)
    assert torch.all(dy[same] <= 2.0 * dx[same] + 1e-14)


def test_clustered_refuses_overlapping_clusters():
    with pytest.raises(InvalidParameterError, match="half the smallest distance"):
        clustered(20, 3, 3, 5.0, seed=0)


@pytest.mark.parametrize("components", [2, 4])
def test_two_class_regions_separates_blue_parts_by_red(components):
    ds = two_class_regions(2001, seed=0, components=components, radius=1.0, band=1.0)
    X, y = ds.X, ds.y
    assert int((y == 1).sum()) == 1000 and int((y == 0).sum()) == 1001
    assert torch.all(X.abs() <= 4.0)
    blue, comp = X[y == 1], ds.meta["component"][y == 1]
    centres = ds.meta["blob_centers"]
    assert torch.all((blue - centres[comp]).norm(dim=1) <= 1.0 + 1e-12)
    assert torch.equal(torch.bincount(comp), torch.full((components,), 1000 // components))
    red = X[y == 0]
    in_band = red[:, 0].abs() <= 1.0
    if components == 4:
        in_band = in_band | (red[:, 1].abs() <= 1.0)
    assert torch.all(in_band)
    outside = blue[:, 0].abs() > 1.0
    if components == 4:
        outside = outside & (blue[:, 1].abs() > 1.0)
    assert torch.all(outside)


def test_two_class_regions_cross_is_uniform():
    ds = two_class_regions(40000, seed=1, components=4)
    red = ds.X[ds.y == 0]
    # area of the vertical band (2 * 8) over area of the cross (16 + 2 * 6): 16/28
    frac = (red[:, 0].abs() <= 1.0).double().mean().item()
    se = math.sqrt((16 / 28) * (12 / 28) / len(red))
    assert abs(frac - 16 / 28) < 4 * se
    right_arm = red[red[:, 0] > 1.0]
    assert abs(right_arm[:, 0].mean().item() - 2.5) < 0.05


def test_rotated_digits_angles_and_images():
    ds = rotated_digits(300, seed=2)
    angle, y = ds.meta["angle"], ds.y
    assert ds.X.shape == (600, 64) and ds.n_classes == 2
    assert torch.all(angle[y == 0].abs() <= 5.0)
    blue = angle[y == 1].abs()
    assert torch.all((blue >= 15.0) & (blue <= 20.0))
    assert (angle[y == 1] > 0).any() and (angle[y == 1] < 0).any()
    assert ds.X.min() >= 0.0 and ds.X.max() <= 1.0
    src = ds.meta["source_image"].numpy()
    np.testing.assert_allclose(rotate_image(src, float(angle[7])).ravel() / 16.0,
                               ds.X[7].numpy(), atol=1e-14)
    np.testing.assert_allclose(rotate_image(src, 0.0), src, atol=1e-12)
    from sklearn.datasets import load_digits

    b = load_digits()
    assert np.array_equal(src, b.images[np.flatnonzero(b.target == 1)[0]])


def test_rotated_digits_classes_separate_by_distance_from_the_source():
    ds = rotated_digits(200, seed=0, normalize=False)
    dist = (ds.X - ds.meta["source_image"].reshape(-1)).norm(dim=1)
    assert dist[ds.y == 1].min() > dist[ds.y == 0].max() > 0
    corr = np.corrcoef(ds.meta["angle"].abs().numpy(), dist.numpy())[0, 1]
    assert corr > 0.9


def test_digits_is_the_full_scikit_learn_set():
    ds = digits()
    assert ds.X.shape == (1797, 64) and ds.n_classes == 10
    assert torch.equal(torch.bincount(ds.y), torch.bincount(ds.y, minlength=10))
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    raw = digits(normalize=False)
    assert torch.equal(raw.X, ds.X * 16.0)
    sub = digits(n=200, seed=9)
    assert sub.X.shape == (200, 64)
    assert torch.equal(sub.X, ds.X[sub.meta["indices"]])
    assert torch.equal(sub.y, ds.y[sub.meta["indices"]])


@pytest.fixture(scope="module")
def standard_mnist1d():
    return mnist1d()


def test_mnist1d_shape_and_classes(standard_mnist1d):
    ds = standard_mnist1d
    assert ds.X.shape == (4000, 40) and ds.y.shape == (4000,)
    assert ds.n_classes == 10 and set(ds.y.tolist()) == set(range(10))
    assert abs(ds.X.mean().item()) < 0.05 and abs(ds.X.std().item() - 1.0) < 0.05


def test_mnist1d_matches_the_package_generator_and_keeps_global_rng(standard_mnist1d):
    from mnist1d.data import get_dataset_args, make_dataset

    np.random.seed(11)
    random.seed(11)
    expect_np, expect_py = np.random.rand(), random.random()
    np.random.seed(11)
    random.seed(11)
    small = mnist1d(n=25, seed=42, split="test")
    assert np.random.rand() == expect_np and random.random() == expect_py
    ref = make_dataset(get_dataset_args())
    assert np.array_equal(standard_mnist1d.X.numpy(), ref["x"])
    assert np.array_equal(small.X.numpy(), ref["x_test"][:25])
    assert np.array_equal(small.y.numpy(), ref["y_test"][:25])


def test_mnist1d_seed_and_size():
    a = mnist1d(n=30, seed=1, num_samples=200, split="all")
    b = mnist1d(n=30, seed=2, num_samples=200, split="all")
    assert a.X.shape == (30, 40) and not torch.equal(a.X, b.X)
    with pytest.raises(InvalidParameterError, match="multiple of 10"):
        mnist1d(num_samples=205)


# ----------------------------------------------------------------------------- Dataset record


def test_dataset_split_is_a_partition():
    ds = digits(n=100, seed=0)
    train, test = ds.split(70, seed=1)
    assert train.n_samples == 70 and test.n_samples == 30
    idx = torch.cat([train.meta["indices"], test.meta["indices"]])
    assert torch.equal(idx.sort().values, torch.arange(100))
    assert torch.equal(train.X, ds.X[train.meta["indices"]]) and train.n_classes == 10


def test_dataset_refuses_inconsistent_fields():
    X = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ShapeError, match="2-D tensor"):
        Dataset(torch.zeros(4, dtype=torch.float64), torch.zeros(4), "x", "regression")
    with pytest.raises(ShapeError, match="one target per row"):
        Dataset(X, torch.zeros(3, dtype=torch.float64), "x", "regression")
    with pytest.raises(DataError, match="int64 tensor"):
        Dataset(X, torch.zeros(4, dtype=torch.float64), "x", "classification")
    with pytest.raises(InvalidParameterError, match="'task' parameter"):
        Dataset(X, torch.zeros(4, dtype=torch.float64), "x", "ranking")


# ----------------------------------------------------------------------------- argument checks


@pytest.mark.parametrize("call, match", [
    (lambda: gaussian(0, 3), "'n' parameter of gaussian must be an int >= 1"),
    (lambda: gaussian(5, 2.5), "'d' parameter of gaussian must be an int"),
    (lambda: gaussian(5, 2, std=0.0), "'std' parameter of gaussian must be > 0"),
    (lambda: gaussian(5, 2, seed=-1), "'seed' parameter of gaussian"),
    (lambda: gaussian(5, 2, seed="a"), "'seed' parameter of gaussian"),
    (lambda: teacher(5, 2, 3, activation="swish"), "'activation' parameter of teacher"),
    (lambda: teacher(5, 2, 3, bias=1), "'bias' parameter of teacher must be a bool"),
    (lambda: low_rank(5, 4, 5), "'rank' parameter of low_rank must be an int <= 4"),
    (lambda: low_rank(5, 4, 2, targets="poly"), "'targets' parameter of low_rank"),
    (lambda: clustered(10, 3, 4, 0.01), "'k' parameter of clustered must be an int <= 3"),
    (lambda: clustered(2, 5, 3, 0.01), "'n' parameter of clustered must be an int >= 3"),
    (lambda: clustered(10, 5, 3, -1.0), "'delta' parameter of clustered must be > 0"),
    (lambda: singleton(5, 3, low=1.0, high=1.0), "'high' parameter of singleton"),
    (lambda: auer_singleton(3, targets=(1.0,)), "'targets' parameter of auer_singleton"),
    (lambda: two_class_regions(10, components=3), "must be 2 or 4"),
    (lambda: two_class_regions(10, band=2.0), "'band' parameter of two_class_regions"),
    (lambda: rotated_digits(5, digit=10), "'digit' parameter of rotated_digits"),
    (lambda: rotated_digits(5, blue_angles=(3.0, 20.0)), "'blue_angles\\[0\\]' parameter"),
    (lambda: digits(n=1798), "'n' parameter of digits must be an int <= 1797"),
    (lambda: mnist1d(split="val"), "'split' parameter of mnist1d"),
])
def test_generators_refuse_bad_arguments(call, match):
    with pytest.raises(InvalidParameterError, match=match):
        call()


# ----------------------------------------------------------------------------- registry


def test_registry_builds_every_listed_set_by_name():
    names = list_datasets()
    assert {"gaussian", "teacher", "digits", "mnist1d", "clustered", "singleton"} <= set(names)
    ds = get_dataset("gaussian", n=7, d=3, seed=4)
    assert torch.equal(ds.X, gaussian(7, 3, seed=4).X)
    assert get_dataset("two-class-regions", n=10).name == "two_class_regions"


def test_registry_suggests_close_names():
    with pytest.raises(InvalidParameterError, match="Did you mean 'gaussian'"):
        get_dataset("gausian", n=3, d=2)
    with pytest.raises(InvalidParameterError, match="Known data sets: auer_singleton"):
        get_dataset("zzz")


def test_registry_refuses_unknown_arguments():
    with pytest.raises(InvalidParameterError, match="does not accept these arguments.*takes: n, d"):
        get_dataset("gaussian", n=3, d=2, width=4)


def test_registry_loads_files_by_path(tmp_path):
    path = tmp_path / "mine.npz"
    np.savez(path, X=np.ones((3, 2)), y=np.array([0, 1, 1]))
    ds = get_dataset(str(path), n_classes=3)
    assert ds.name == "mine" and ds.n_classes == 3


# ----------------------------------------------------------------------------- bad files


def write_csv(path, text):
    path.write_text(text)
    return path


def test_load_file_missing(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_file(tmp_path / "nope.csv")


def test_load_file_unsupported_extension(tmp_path):
    p = write_csv(tmp_path / "d.txt", "a,y\n1,0\n")
    with pytest.raises(DataError, match=r"unsupported extension '\.txt'.*Use \.npz"):
        load_file(p)


def test_load_file_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataError, match="is not a file"):
        load_file(tmp_path / "d.csv")


@pytest.mark.parametrize("ext", [".csv", ".npz"])
def test_load_file_empty_file(tmp_path, ext):
    p = tmp_path / f"e{ext}"
    p.write_bytes(b"")
    with pytest.raises(DataError, match=r"is empty \(0 bytes\)"):
        load_file(p)


def test_load_file_csv_header_only(tmp_path):
    p = write_csv(tmp_path / "h.csv", "a,b,y\n\n")
    with pytest.raises(DataError, match="header but no data rows"):
        load_file(p)


def test_load_file_csv_blank_lines_only(tmp_path):
    p = write_csv(tmp_path / "b.csv", "\n  \n")
    with pytest.raises(DataError, match="only blank lines"):
        load_file(p)


def test_load_file_npz_zero_rows(tmp_path):
    p = tmp_path / "z.npz"
    np.savez(p, X=np.zeros((0, 3)), y=np.zeros(0))
    with pytest.raises(DataError, match="holds no samples"):
        load_file(p)


def test_load_file_csv_nan(tmp_path):
    p = write_csv(tmp_path / "n.csv", "a,b,y\n1,2,0\n3,nan,1\n")
    with pytest.raises(DataError, match="1 NaN or Inf value.*line 3.*impute"):
        load_file(p)


def test_load_file_npz_inf_in_targets(tmp_path):
    p = tmp_path / "i.npz"
    np.savez(p, X=np.ones((3, 2)), y=np.array([0.0, np.inf, 1.0]))
    with pytest.raises(DataError, match="Label 'y'.*NaN or Inf.*row 1"):
        load_file(p, task="regression")


def test_load_file_csv_ragged_rows(tmp_path):
    p = write_csv(tmp_path / "r.csv", "a,b,y\n1,2,0\n3,1\n")
    with pytest.raises(DataError, match="Line 3 .* has 2 fields but the header has 3"):
        load_file(p)


def test_load_file_npz_length_mismatch(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, X=np.ones((4, 2)), y=np.array([0, 1, 0]))
    with pytest.raises(DataError, match="same number of samples. Got 4 rows in X and 3 in y"):
        load_file(p)


def test_load_file_npz_missing_X(tmp_path):
    p = tmp_path / "x.npz"
    np.savez(p, features=np.ones((4, 2)), y=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match=r"no array 'X'; it holds 'features', 'y'.*savez"):
        load_file(p)


def test_load_file_npz_missing_labels(tmp_path):
    p = tmp_path / "y.npz"
    np.savez(p, X=np.ones((4, 2)), target=np.array([0, 1, 0, 1]))
    with pytest.raises(DataError, match="no array 'y'.*pass label="):
        load_file(p)
    assert load_file(p, label="target").n_samples == 4


def test_load_file_csv_missing_label_column(tmp_path):
    p = write_csv(tmp_path / "l.csv", "a,b,class\n1,2,0\n")
    with pytest.raises(DataError, match="no label column 'y'; its columns are 'a', 'b', 'class'"):
        load_file(p)
    assert load_file(p, label="class").meta["columns"] == ["a", "b"]


def test_load_file_non_integer_labels(tmp_path):
    p = write_csv(tmp_path / "f.csv", "a,y\n1,0\n2,0.5\n")
    with pytest.raises(DataError, match="must be integers. Got 0.5 at line 3.*regression"):
        load_file(p)


def test_load_file_negative_labels(tmp_path):
    p = tmp_path / "neg.npz"
    np.savez(p, X=np.ones((3, 2)), y=np.array([0, -1, 1]))
    with pytest.raises(DataError, match="must be >= 0.*Got -1 at row 1"):
        load_file(p)


def test_load_file_labels_out_of_range(tmp_path):
    p = tmp_path / "big.npz"
    np.savez(p, X=np.ones((3, 2)), y=np.array([0, 3, 1]))
    with pytest.raises(DataError, match=r"\[0, n_classes\) = \[0, 3\). Got 3 at row 1"):
        load_file(p, n_classes=3)
    assert load_file(p).n_classes == 4


def test_load_file_npz_string_features(tmp_path):
    p = tmp_path / "s.npz"
    np.savez(p, X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))
    with pytest.raises(DataError, match="X in .* must hold real numbers. Got dtype <U1"):
        load_file(p)


def test_load_file_npz_object_array_is_not_unpickled(tmp_path):
    p = tmp_path / "o.npz"
    np.savez(p, X=np.array([[1, "a"], [2, None]], dtype=object), y=np.array([0, 1]))
    with pytest.raises(DataError, match="dtype=object.*does not unpickle"):
        load_file(p)


def test_load_file_csv_text_in_features(tmp_path):
    p = write_csv(tmp_path / "t.csv", "a,b,y\n1,2,0\n3,red,1\n")
    with pytest.raises(DataError, match="Column 'b' .* holds 'red', not a number, at line 3"):
        load_file(p)


def test_load_file_csv_empty_cell(tmp_path):
    p = write_csv(tmp_path / "c.csv", "a,b,y\n1,,0\n")
    with pytest.raises(DataError, match="Column 'b' .* is empty at line 2"):
        load_file(p)


def test_load_file_npz_X_not_2d(tmp_path):
    p = tmp_path / "v.npz"
    np.savez(p, X=np.ones(5), y=np.zeros(5, dtype=int))
    expected = r"2-D array \(samples x features\) or a 4-D image batch \(N, C, H, W\). Got shape \(5,\)"
    with pytest.raises(DataError, match=expected):
        load_file(p)


def test_load_file_npz_that_is_not_an_archive(tmp_path):
    garbage = tmp_path / "g.npz"
    garbage.write_bytes(b"this is not a zip file")
    with pytest.raises(DataError, match="not a valid .npz archive"):
        load_file(garbage)
    single = tmp_path / "single.npz"
    with open(single, "wb") as fh:
        np.save(fh, np.ones((2, 2)))
    with pytest.raises(DataError, match="single .npy array"):
        load_file(single)


def test_load_file_csv_duplicate_columns(tmp_path):
    p = write_csv(tmp_path / "dup.csv", "a,a,y\n1,2,0\n")
    with pytest.raises(DataError, match="repeats column name"):
        load_file(p)


def test_load_file_refuses_bad_options(tmp_path):
    p = write_csv(tmp_path / "ok.csv", "a,y\n1,0\n")
    with pytest.raises(InvalidParameterError, match="'task' parameter of load_file"):
        load_file(p, task="ranking")
    with pytest.raises(InvalidParameterError, match="applies to task='classification'"):
        load_file(p, task="regression", n_classes=2)


def test_load_file_csv_with_bom_whitespace_and_blank_lines(tmp_path):
    p = tmp_path / "w.csv"
    p.write_text("\ufeff a , y \n 1.5 , 2 \n\n-3e0,0\n", encoding="utf-8")
    ds = load_file(p, n_classes=3)
    assert torch.equal(ds.X, torch.tensor([[1.5], [-3.0]], dtype=torch.float64))
    assert torch.equal(ds.y, torch.tensor([2, 0])) and ds.n_classes == 3


# ----------------------------------------------------------------------------- round trips

finite = st.floats(allow_nan=False, allow_infinity=False, width=64, min_value=-1e300,
                   max_value=1e300)


@st.composite
def xy_pairs(draw):
    n = draw(st.integers(1, 12))
    d = draw(st.integers(1, 5))
    X = draw(hnp.arrays(np.float64, (n, d), elements=finite))
    task = draw(st.sampled_from(["classification", "regression"]))
    if task == "classification":
        y = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, 6)))
    else:
        y = draw(hnp.arrays(np.float64, (n,), elements=finite))
    return X, y, task


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(xy_pairs())
def test_valid_data_round_trips_through_npz_and_csv(tmp_path, pair):
    X, y, task = pair
    npz = tmp_path / "rt.npz"
    np.savez(npz, X=X, y=y)
    path_csv = tmp_path / "rt.csv"
    with open(path_csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([f"x{j}" for j in range(X.shape[1])] + ["y"])
        for row, target in zip(X, y, strict=True):
            writer.writerow([repr(float(v)) for v in row] + [repr(target.item())])
    for path in (npz, path_csv):
        ds = load_file(path, task=task)
        assert np.array_equal(ds.X.numpy(), X)
        assert np.array_equal(ds.y.numpy(), y)
        assert ds.task == task and ds.name == "rt"
