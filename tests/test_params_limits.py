"""Params.LIMITS: the clause grammar, automatic checks, and refusals before anything runs."""

import math
from dataclasses import dataclass
from typing import ClassVar

import pytest

from valleys.errors import InvalidParameterError
from valleys.experiments.params import SEED_LIMIT, Params, parse_limits


@dataclass(frozen=True)
class P(Params):
    n_starts: int = 3
    lr: float = 0.1
    widths: tuple[int, ...] = (2, 3)
    tol: float = 0.0
    frac: float = 0.5
    init: str = "gaussian"
    names: tuple[str, ...] = ("a",)
    flag: bool = True
    LIMITS: ClassVar[dict[str, str]] = {"n_starts": ">= 1", "lr": "> 0", "widths": "nonempty, >= 1",
                                        "tol": ">= 0", "frac": "in [0, 1]",
                                        "init": "one of gaussian|sphere", "names": "one of a|b",
                                        "flag": "one of True|False"}


def test_defaults_pass():
    assert P().n_starts == 3


@pytest.mark.parametrize(("change", "fragment"), [
    ({"n_starts": 0}, "parameter n_starts must be >= 1. Got 0."),
    ({"n_starts": -5}, "parameter n_starts must be >= 1. Got -5."),
    ({"lr": 0.0}, "parameter lr must be > 0"),
    ({"lr": math.nan}, "parameter lr must be finite. Got nan."),
    ({"lr": math.inf}, "parameter lr must be finite"),
    ({"widths": ()}, "parameter widths must be nonempty"),
    ({"widths": (3, 0)}, "parameter widths every element must be >= 1"),
    ({"tol": -1e-9}, "parameter tol must be >= 0"),
    ({"frac": 1.5}, "parameter frac must be in [0, 1]"),
    ({"frac": -0.1}, "parameter frac must be in [0, 1]"),
    ({"init": "uniform"}, "parameter init must be one of gaussian, sphere"),
    ({"names": ("a", "c")}, "parameter names must be one of a, b"),
    ({"seed": -1}, "parameter seed must be an int in [0, 2^63). Got -1."),
    ({"seed": SEED_LIMIT}, "parameter seed must be an int in [0, 2^63)"),
    ({"seed": 1.5}, "parameter seed must be an int"),
    ({"n_starts": 2.0}, "parameter n_starts must be an int"),
    ({"n_starts": True}, "parameter n_starts must be an int"),
    ({"lr": "fast"}, "parameter lr must be a float"),
    ({"widths": (1.5,)}, "parameter widths must hold only an int"),
    ({"flag": 1}, "parameter flag must be a bool"),
])
def test_violations_raise_one_line_naming_the_parameter(change, fragment):
    with pytest.raises(InvalidParameterError) as info:
        P().replace(**change)
    text = str(info.value)
    assert fragment in text and "\n" not in text
    assert text.startswith("P: ")  # unregistered classes are named by their class


def test_boundaries_are_inclusive_or_strict_as_written():
    P(n_starts=1, tol=0.0, frac=0.0)
    P(frac=1.0, seed=SEED_LIMIT - 1)
    P(lr=1e-300)


def test_registered_experiments_name_themselves_in_errors():
    from valleys.experiments import get_experiment

    exp = get_experiment("sun-toy-uv")
    with pytest.raises(InvalidParameterError, match="^sun-toy-uv: parameter n_starts must be >= 1"):
        exp.params.preset(quick=True).with_overrides(["n_starts=-5"])
    with pytest.raises(InvalidParameterError, match="^sun-toy-uv: parameter lr must be finite"):
        exp.params.preset(quick=True).with_overrides(["lr=nan"])
    with pytest.raises(InvalidParameterError, match="^sun-toy-uv: unknown parameter 'nope'"):
        exp.params().with_overrides(["nope=1"])
    with pytest.raises(InvalidParameterError, match="^sun-ntk-pl: parameter widths must be nonempty"):
        get_experiment("sun-ntk-pl").params().with_overrides(["widths=()"])


def test_lists_become_tuples():
    assert P(widths=[4, 5]).widths == (4, 5)


@pytest.mark.parametrize("spec", [">= 1, <= 3", "> -2.5", "< 1e-3", "in [-1, 1]", "nonempty",
                                  "one of x|y", "nonempty, in [0, 1e2]", ">= -inf"])
def test_grammar_accepts_every_clause(spec):
    assert parse_limits(spec)


@pytest.mark.parametrize("spec", ["positive", ">= one", "in [2, 1]", "in (0, 1)", "one of",
                                  "!= 0", ">="])
def test_grammar_refuses_anything_else_at_class_creation(spec):
    with pytest.raises(ValueError, match="LIMITS"):
        @dataclass(frozen=True)
        class Bad(Params):
            x: float = 1.0
            LIMITS: ClassVar[dict[str, str]] = {"x": spec}


def test_numeric_clause_on_text_is_reported():
    @dataclass(frozen=True)
    class Odd(Params):
        s: str = "a"
        LIMITS: ClassVar[dict[str, str]] = {"s": ">= 0"}

    with pytest.raises(InvalidParameterError, match="parameter s must be a number"):
        Odd()


@pytest.mark.parametrize(("name", "assignment", "fragment"), [
    ("sun-deep-linear", "architectures=2,6-2,x", "architectures: every entry must be hidden widths"),
    ("cooper-star-core", "shapes=2:1:3:4:5,2:1:3", "A shape must be 5 positive ints"),
    ("cooper-global-manifold", "shapes=2:1:12:3:x", "A shape must be 5 positive ints"),
    ("cooper-dimensions", "widths=3/5/4,3/0/4", "Widths must be at least three positive ints"),
    ("cooper-dimensions", "figure_shape=3:1", "A shape must be 3 positive ints 'a:b:l'"),
    ("cooper-wide-flat", "zero_loss_nets=2/30/21/1,2/30", "Widths must be at least three"),
    ("cooper-fibre", "nets=24/1,24", "Widths must be at least three"),
])
def test_structured_entries_are_parsed_when_the_params_are_built(name, assignment, fragment):
    """Params.validate parses every element of a structured list up front, not mid-run."""
    from valleys.experiments import get_experiment

    params = get_experiment(name).params
    params.preset(quick=True), params.preset(quick=False)  # the presets themselves parse
    with pytest.raises(InvalidParameterError, match=f"^{name}: .*{fragment}"):
        params.preset(quick=True).with_overrides([assignment])


def test_validate_hook_runs_on_every_construction_and_names_the_experiment():
    @dataclass(frozen=True)
    class Pair(Params):
        low: int = 1
        high: int = 2
        EXPERIMENT: ClassVar[str] = "test-pair"

        def validate(self):
            if self.low >= self.high:
                raise InvalidParameterError(f"low must be < high. Got {self.low}, {self.high}.")

    with pytest.raises(InvalidParameterError, match="^test-pair: low must be < high. Got 3, 2."):
        Pair(low=3)
    with pytest.raises(InvalidParameterError, match="^test-pair: low must be < high"):
        Pair().replace(high=0)
    assert Pair().with_overrides(["low=5", "high=9"]).low == 5  # checked once, all changes made
