import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from valleys import ParamLayout, ShapeError
from valleys.errors import InvalidParameterError

shapes = st.lists(st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple),
                  min_size=1, max_size=5)


@given(shapes)
@settings(max_examples=60, deadline=None)
def test_flatten_unflatten_round_trip(block_shapes):
    names = tuple(f"p{i}" for i in range(len(block_shapes)))
    layout = ParamLayout(names, tuple(block_shapes))
    theta = torch.randn(layout.dim)
    params = layout.unflatten(theta)
    assert [tuple(t.shape) for t in params.values()] == list(block_shapes)
    assert torch.equal(layout.flatten(params), theta)


@given(shapes, st.integers(1, 3))
@settings(max_examples=30, deadline=None)
def test_unflatten_batch_matches_rows(block_shapes, batch):
    names = tuple(f"p{i}" for i in range(len(block_shapes)))
    layout = ParamLayout(names, tuple(block_shapes))
    thetas = torch.randn(batch, layout.dim)
    blocks = layout.unflatten(thetas)
    for i in range(batch):
        row = layout.unflatten(thetas[i])
        for n in names:
            assert torch.equal(blocks[n][i], row[n])


def test_slices_cover_vector_in_order():
    layout = ParamLayout(("W", "b"), ((2, 3), (2,)))
    assert layout.slice("W") == slice(0, 6) and layout.slice("b") == slice(6, 8)
    assert layout.block_of(7) == "b"
    assert layout.mask(["b"]).tolist() == [False] * 6 + [True] * 2


def test_wrong_length_names_the_blocks():
    layout = ParamLayout(("W", "b"), ((2, 3), (2,)))
    with pytest.raises(ShapeError, match=r"length d = 8 .*W\[2, 3\]"):
        layout.unflatten(torch.zeros(7))


def test_unknown_block_and_duplicate_names():
    layout = ParamLayout(("W",), ((2,),))
    with pytest.raises(InvalidParameterError, match="No parameter block named 'x'"):
        layout.slice("x")
    with pytest.raises(InvalidParameterError, match="unique"):
        ParamLayout(("a", "a"), ((1,), (1,)))
